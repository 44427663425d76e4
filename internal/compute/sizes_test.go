package compute

import (
	"strings"
	"testing"
)

func TestSizesCatalog(t *testing.T) {
	// The sizes the brief and the 2019 articles name, with Azure's figures.
	for _, want := range []VMSize{
		{"STANDARD_D1_V2", 1, 3.5, 0, 51200, true, "standardDv2Family"},
		{"STANDARD_D2_V2", 2, 7, 0, 102400, true, "standardDv2Family"},
		{"STANDARD_D3_V2", 4, 14, 0, 204800, true, "standardDv2Family"},
		{"STANDARD_D4_V2", 8, 28, 0, 409600, true, "standardDv2Family"},
		{"STANDARD_D5_V2", 16, 56, 0, 819200, true, "standardDv2Family"},
		{"STANDARD_DS3_V2", 4, 14, 0, 28672, true, "standardDSv2Family"},
		{"STANDARD_D2_V3", 2, 8, 0, 51200, true, "standardDv3Family"},
		{"STANDARD_D4_V3", 4, 16, 0, 102400, true, "standardDv3Family"},
		{"STANDARD_D8_V3", 8, 32, 0, 204800, true, "standardDv3Family"},
		{"STANDARD_D16_V3", 16, 64, 0, 409600, true, "standardDv3Family"},
		{"STANDARD_F4S_V2", 4, 8, 0, 32768, true, "standardFSv2Family"},
		{"STANDARD_NC6", 6, 56, 1, 348160, true, "standardNCFamily"},
		{"STANDARD_NC12", 12, 112, 2, 696320, true, "standardNCFamily"},
		{"STANDARD_NC24", 24, 224, 4, 1474560, true, "standardNCFamily"},
		{"STANDARD_NC6S_V2", 6, 112, 1, 753664, true, "standardNCSv2Family"},
		{"STANDARD_NC6S_V3", 6, 112, 1, 753664, true, "standardNCSv3Family"},
		{"STANDARD_NV6", 6, 56, 1, 348160, true, "standardNVFamily"},
		{"STANDARD_ND6S", 6, 112, 1, 753664, true, "standardNDSFamily"},
		{"STANDARD_NC6_PROMO", 6, 56, 1, 348160, false, "standardNCPromoFamily"},
	} {
		got, ok := LookupSize("eastus", want.Name)
		if !ok {
			t.Errorf("%s is missing", want.Name)
			continue
		}
		if got != want {
			t.Errorf("LookupSize(%s) = %+v, want %+v", want.Name, got, want)
		}
	}
}

func TestSizesInvariants(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range catalog {
		if s.Name != strings.ToUpper(s.Name) || !strings.HasPrefix(s.Name, "STANDARD_") {
			t.Errorf("%s: names are upper case STANDARD_*, as supported_vmsizes gives them", s.Name)
		}
		if seen[s.Name] {
			t.Errorf("%s listed twice", s.Name)
		}
		seen[s.Name] = true
		if s.VCPUs <= 0 || s.MemoryGB <= 0 || s.MaxResourceVolumeMB <= 0 || s.Family == "" {
			t.Errorf("%s has a zero figure: %+v", s.Name, s)
		}
		gpu := strings.HasPrefix(s.Name, "STANDARD_N")
		if gpu != (s.GPUs > 0) {
			t.Errorf("%s: GPUs = %d, but N-series sizes and only they have GPUs", s.Name, s.GPUs)
		}
		if promo := strings.HasSuffix(s.Name, "_PROMO"); promo == s.LowPriorityCapable {
			t.Errorf("%s: LowPriorityCapable = %v; promo sizes and only they cannot run low priority", s.Name, s.LowPriorityCapable)
		}
	}
	if !seen[DefaultVMSize] {
		t.Errorf("the default size %s is not in the catalog", DefaultVMSize)
	}
	if !strings.HasPrefix(catalog[0].Name, "STANDARD_D1_V2") {
		t.Errorf("catalog order changed: first is %s", catalog[0].Name)
	}
}

func TestSizesByLocation(t *testing.T) {
	for _, loc := range []string{"eastus", "westus2", "westeurope", "East US", "WestEurope", " westus2 "} {
		if got := Sizes(loc); len(got) != len(catalog) {
			t.Errorf("Sizes(%q) has %d sizes, want %d", loc, len(got), len(catalog))
		}
		if _, ok := LookupSize(loc, "standard_nc6"); !ok {
			t.Errorf("LookupSize(%q, standard_nc6) failed", loc)
		}
	}
	for _, loc := range []string{"", "northeurope", "eastus3", "mars"} {
		if got := Sizes(loc); got != nil {
			t.Errorf("Sizes(%q) = %d sizes, want none", loc, len(got))
		}
		if s, ok := LookupSize(loc, DefaultVMSize); ok {
			t.Errorf("LookupSize(%q, default) = %+v in an unknown location", loc, s)
		}
	}
	for _, name := range []string{"Standard_NC6", "STANDARD_nc6", "standard_nc6"} {
		if s, ok := LookupSize("eastus", name); !ok || s.Name != "STANDARD_NC6" {
			t.Errorf("LookupSize(eastus, %q) = %+v, %v", name, s, ok)
		}
	}
	for _, name := range []string{"", "NC6", "STANDARD_NC6 ", "STANDARD_M128MS"} {
		if s, ok := LookupSize("eastus", name); ok {
			t.Errorf("LookupSize(eastus, %q) = %+v, want not found", name, s)
		}
	}
}

func TestSizesIsACopy(t *testing.T) {
	a := Sizes("eastus")
	a[0].Name = "mutated"
	if b := Sizes("eastus"); b[0].Name == "mutated" {
		t.Error("Sizes returns the catalog itself: callers can change it")
	}
}

func TestSuggestSizes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"STANDARD_D2_V22", "did you mean STANDARD_D2_V2"},
		{"standard_nc6s_v4", "did you mean STANDARD_NC6S_V2, STANDARD_NC6S_V3"},
		{"D2_V2", "did you mean STANDARD_D2_V2"},
		{"Standard_M128ms", "supported_vmsizes lists the"},
	} {
		if got := suggestSizes("eastus", tc.in); !strings.Contains(got, tc.want) {
			t.Errorf("suggestSizes(%q) = %q, want %q in it", tc.in, got, tc.want)
		}
	}
}
