package compute

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/armerror"
)

const (
	testSub    = "11111111-2222-3333-4444-555555555555"
	testSubnet = "/subscriptions/" + testSub + "/resourceGroups/netrg/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/train"
)

var testCtx = SpecContext{WorkspaceSubscription: testSub, WorkspaceLocation: "eastus"}

// sshKey builds an OpenSSH public key line whose blob starts with typ.
func sshKey(typ string) string {
	var blob []byte
	for _, field := range [][]byte{[]byte(typ), make([]byte, 32)} {
		blob = binary.BigEndian.AppendUint32(blob, uint32(len(field)))
		blob = append(blob, field...)
	}
	return typ + " " + base64.StdEncoding.EncodeToString(blob) + " user@laptop"
}

// minimal is the smallest body the SDK sends: provisioning_configuration(max_nodes=4).
func minimal() map[string]any {
	return map[string]any{
		"location": "eastus",
		"properties": map[string]any{
			"computeType": "AmlCompute",
			"properties": map[string]any{
				"scaleSettings": map[string]any{"maxNodeCount": 4},
			},
		},
	}
}

// full sets every field.
func full() map[string]any {
	return map[string]any{
		"location": "eastus",
		"tags":     map[string]any{"team": "vision"},
		"properties": map[string]any{
			"computeType": "AmlCompute",
			"description": "GPU cluster in the VNet",
			"properties": map[string]any{
				"vmSize":     "Standard_NC6s_v3",
				"vmPriority": "lowpriority",
				"scaleSettings": map[string]any{
					"minNodeCount":                1,
					"maxNodeCount":                8,
					"nodeIdleTimeBeforeScaleDown": "PT2M",
				},
				"userAccountCredentials": map[string]any{
					"adminUserName":         "azureuser",
					"adminUserPassword":     "Passw0rd",
					"adminUserSshPublicKey": sshKey("ssh-ed25519"),
				},
				"subnet":                      map[string]any{"id": testSubnet},
				"remoteLoginPortPublicAccess": "NotSpecified",
				"enableNodePublicIp":          false,
			},
		},
	}
}

// set sets (or, with del, deletes) the value at a dotted path of doc,
// creating objects on the way.
func set(doc map[string]any, path string, v any) map[string]any {
	keys := strings.Split(path, ".")
	m := doc
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok || next == nil {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	if v == del {
		delete(m, keys[len(keys)-1])
	} else {
		m[keys[len(keys)-1]] = v
	}
	return doc
}

var del = &struct{ deleted bool }{}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// leaves lists the single errors of err: its details, or itself.
func leaves(t testing.TB, err error) []*armerror.Error {
	t.Helper()
	e, ok := err.(*armerror.Error)
	if !ok {
		t.Fatalf("error %v (%T) is not an *armerror.Error", err, err)
	}
	if len(e.Details) > 0 {
		if e.Code != CodeInvalidContent {
			t.Errorf("wrapper code = %q, want %q", e.Code, CodeInvalidContent)
		}
		return e.Details
	}
	return []*armerror.Error{e}
}

// finding is an expected error: code, target and a phrase of its message.
type finding struct{ code, target, phrase string }

func checkFindings(t *testing.T, err error, want []finding) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", want)
	}
	got := leaves(t, err)
	if len(got) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(got), len(want), err)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			if g.Code == w.code && g.Target == w.target && strings.Contains(g.Message, w.phrase) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("missing {%s %s %q} in:\n%v", w.code, w.target, w.phrase, err)
		}
	}
}

func TestDecodeSpecDefaults(t *testing.T) {
	got, err := DecodeSpec(mustJSON(t, minimal()), testCtx)
	if err != nil {
		t.Fatal(err)
	}
	want := Spec{
		Location:                    "eastus",
		VMSize:                      "STANDARD_NC6",
		VMPriority:                  "Dedicated",
		MinNodes:                    0,
		MaxNodes:                    4,
		IdleBeforeScaleDown:         1800 * time.Second,
		EnableNodePublicIP:          true,
		RemoteLoginPortPublicAccess: "Enabled",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("DecodeSpec(minimal) (-want +got):\n%s", d)
	}
}

func TestDecodeSpecFull(t *testing.T) {
	got, err := DecodeSpec(mustJSON(t, full()), testCtx)
	if err != nil {
		t.Fatal(err)
	}
	want := Spec{
		Location:                    "eastus",
		Tags:                        map[string]string{"team": "vision"},
		Description:                 "GPU cluster in the VNet",
		VMSize:                      "STANDARD_NC6S_V3",
		VMPriority:                  "LowPriority",
		MinNodes:                    1,
		MaxNodes:                    8,
		IdleBeforeScaleDown:         120 * time.Second,
		AdminUserName:               "azureuser",
		AdminUserPassword:           "Passw0rd",
		AdminUserSSHKey:             sshKey("ssh-ed25519"),
		SubnetID:                    testSubnet,
		EnableNodePublicIP:          false,
		RemoteLoginPortPublicAccess: "Disabled",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("DecodeSpec(full) (-want +got):\n%s", d)
	}
}

// edit changes a test document; at and both build edits.
type edit = func(map[string]any) map[string]any

func at(path string, v any) edit {
	return func(d map[string]any) map[string]any { return set(d, path, v) }
}

func both(edits ...edit) edit {
	return func(d map[string]any) map[string]any {
		for _, e := range edits {
			d = e(d)
		}
		return d
	}
}

// TestDecodeSpecAccepts covers what is valid but not the default.
func TestDecodeSpecAccepts(t *testing.T) {
	const (
		aml   = "properties.properties."
		scale = aml + "scaleSettings."
	)
	anyCase := func(map[string]any) map[string]any {
		return map[string]any{"Properties": map[string]any{"COMPUTETYPE": "amlcompute", "Properties": map[string]any{
			"ScaleSettings": map[string]any{"MaxNodeCount": 3, "minnodecount": 1}, "VMSIZE": "standard_d2_v2"}}}
	}
	for _, tc := range []struct {
		name  string
		edit  edit
		check func(Spec) bool
	}{
		{"location from workspace", at("location", del), func(s Spec) bool { return s.Location == "eastus" }},
		{"location as a display name", at("location", "East US"), func(s Spec) bool { return s.Location == "eastus" }},
		{"keys in any case", anyCase, func(s Spec) bool { return s.MaxNodes == 3 && s.MinNodes == 1 && s.VMSize == "STANDARD_D2_V2" }},
		{"vm size in any case", at(aml+"vmSize", "standard_d2_V2"), func(s Spec) bool { return s.VMSize == "STANDARD_D2_V2" }},
		{"empty vm size is the default", at(aml+"vmSize", ""), func(s Spec) bool { return s.VMSize == DefaultVMSize }},
		{"priority Dedicated", at(aml+"vmPriority", "Dedicated"), func(s Spec) bool { return s.VMPriority == PriorityDedicated }},
		{"priority LOWPRIORITY", at(aml+"vmPriority", "LOWPRIORITY"), func(s Spec) bool { return s.VMPriority == PriorityLowPriority }},
		{"min null is 0", at(scale+"minNodeCount", nil), func(s Spec) bool { return s.MinNodes == 0 }},
		{"max 0", at(scale+"maxNodeCount", 0), func(s Spec) bool { return s.MaxNodes == 0 }},
		{"max = min", at(scale+"minNodeCount", 4), func(s Spec) bool { return s.MinNodes == 4 && s.MaxNodes == 4 }},
		{"integral float count", at(scale+"maxNodeCount", json.Number("4.0")), func(s Spec) bool { return s.MaxNodes == 4 }},
		{"empty idle is the default", at(scale+"nodeIdleTimeBeforeScaleDown", ""),
			func(s Spec) bool { return s.IdleBeforeScaleDown == DefaultIdleBeforeScaleDown }},
		{"idle PT0S", at(scale+"nodeIdleTimeBeforeScaleDown", "PT0S"), func(s Spec) bool { return s.IdleBeforeScaleDown == 0 }},
		{"idle PT1H30M", at(scale+"nodeIdleTimeBeforeScaleDown", "PT1H30M"),
			func(s Spec) bool { return s.IdleBeforeScaleDown == 90*time.Minute }},
		{"remote login enabled in a VNet", both(at(aml+"subnet.id", testSubnet), at(aml+"remoteLoginPortPublicAccess", "enabled")),
			func(s Spec) bool { return s.RemoteLoginPortPublicAccess == RemoteLoginEnabled }},
		{"remote login disabled outside a VNet", at(aml+"remoteLoginPortPublicAccess", "Disabled"),
			func(s Spec) bool { return s.RemoteLoginPortPublicAccess == RemoteLoginDisabled }},
		{"not specified outside a VNet is enabled", at(aml+"remoteLoginPortPublicAccess", "NotSpecified"),
			func(s Spec) bool { return s.RemoteLoginPortPublicAccess == RemoteLoginEnabled }},
		{"not specified in a VNet is disabled", at(aml+"subnet.id", testSubnet),
			func(s Spec) bool { return s.RemoteLoginPortPublicAccess == RemoteLoginDisabled && s.EnableNodePublicIP }},
		{"subnet id in other casing is canonical", at(aml+"subnet.id", strings.ToLower(testSubnet)),
			func(s Spec) bool { return s.SubnetID == testSubnet }},
		{"subnet id null is no subnet", at(aml+"subnet", map[string]any{"id": nil}),
			func(s Spec) bool { return s.SubnetID == "" && s.RemoteLoginPortPublicAccess == RemoteLoginEnabled }},
		{"enableNodePublicIp true outside a VNet", at(aml+"enableNodePublicIp", true), func(s Spec) bool { return s.EnableNodePublicIP }},
		{"ssh key only", at(aml+"userAccountCredentials", map[string]any{"adminUserName": "azureuser", "adminUserSshPublicKey": sshKey("ssh-rsa")}),
			func(s Spec) bool { return s.AdminUserSSHKey != "" && s.AdminUserPassword == "" }},
		{"empty strings are absent credentials", at(aml+"userAccountCredentials", map[string]any{"adminUserName": "", "adminUserPassword": "", "adminUserSshPublicKey": nil}),
			func(s Spec) bool { return s.AdminUserName == "" }},
		{"tags empty", at("tags", map[string]any{}), func(s Spec) bool { return s.Tags == nil }},
		{"only scale settings", at("properties.properties", map[string]any{"scaleSettings": map[string]any{"maxNodeCount": 1}}),
			func(s Spec) bool { return s.MaxNodes == 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := DecodeSpec(mustJSON(t, tc.edit(minimal())), testCtx)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(s) {
				t.Errorf("unexpected spec %+v", s)
			}
		})
	}
}

func TestDecodeSpecErrors(t *testing.T) {
	const (
		aml   = "properties.properties."
		scale = aml + "scaleSettings."
		creds = aml + "userAccountCredentials."
	)
	for _, tc := range []struct {
		name string
		edit edit
		ctx  *SpecContext
		want []finding
	}{
		// computeType
		{"computeType missing", at("properties.computeType", del), nil,
			[]finding{{CodeUserError, "properties.computeType", "is required"}}},
		{"computeType AKS", at("properties.computeType", "AKS"), nil,
			[]finding{{CodeUserError, "properties.computeType", `Invalid computeType "AKS"`}}},
		{"properties missing", at("properties", del), nil,
			[]finding{{CodeInvalidContent, "properties", `has no "properties"`}}},

		// location
		{"location elsewhere", at("location", "westeurope"), nil,
			[]finding{{CodeUserError, "location", "differs from the workspace location"}}},
		{"location unknown", at("location", "mars"), &SpecContext{WorkspaceSubscription: testSub},
			[]finding{{CodeUserError, "location", `"mars" is not a region`}}},
		{"location nowhere", at("location", del), &SpecContext{WorkspaceSubscription: testSub},
			[]finding{{CodeUserError, "location", "is required"}}},

		// vmSize and vmPriority
		{"vm size typo", at(aml+"vmSize", "STANDARD_D2_V22"), nil,
			[]finding{{CodeUserError, aml + "vmSize", "did you mean STANDARD_D2_V2"}}},
		{"vm size without prefix", at(aml+"vmSize", "NC6"), nil,
			[]finding{{CodeUserError, aml + "vmSize", "did you mean STANDARD_NC6"}}},
		{"vm size unknown", at(aml+"vmSize", "Standard_M128ms"), nil,
			[]finding{{CodeUserError, aml + "vmSize", `The specified vmSize "Standard_M128ms" is not supported by AmlCompute in location "eastus"`}}},
		{"vm size wrong type", at(aml+"vmSize", 6), nil,
			[]finding{{CodeInvalidContent, aml + "vmSize", "must be a string"}}},
		{"priority spot", at(aml+"vmPriority", "spot"), nil,
			[]finding{{CodeUserError, aml + "vmPriority", `use "dedicated" or "lowpriority"`}}},
		{"low priority on a promo size", both(at(aml+"vmSize", "standard_nc6_promo"), at(aml+"vmPriority", "lowpriority")), nil,
			[]finding{{CodeUserError, aml + "vmPriority", "STANDARD_NC6_PROMO cannot run low priority nodes"}}},

		// scale settings: the SDK's three max errors, one at a time.
		{"max missing", at(scale+"maxNodeCount", del), nil,
			[]finding{{CodeUserError, scale + "maxNodeCount", "Invalid provisioning configuration, max nodes count is mandatory"}}},
		{"max null", at(scale+"maxNodeCount", nil), nil,
			[]finding{{CodeUserError, scale + "maxNodeCount", "max nodes count is mandatory"}}},
		{"scale settings missing", at(aml+"scaleSettings", del), nil,
			[]finding{{CodeUserError, scale + "maxNodeCount", "max nodes count is mandatory"}}},
		{"max negative", at(scale+"maxNodeCount", -1), nil,
			[]finding{{CodeUserError, scale + "maxNodeCount", "Invalid provisioning configuration, max nodes count must be greater than or equal to 0"}}},
		{"max negative and below min: one error", both(at(scale+"maxNodeCount", -1), at(scale+"minNodeCount", 2)), nil,
			[]finding{{CodeUserError, scale + "maxNodeCount", "must be greater than or equal to 0"}}},
		{"max below min", at(scale+"minNodeCount", 5), nil,
			[]finding{{CodeUserError, scale + "maxNodeCount", "Invalid provisioning configuration, max nodes count must be greater than or equal to min nodes count (max 4 < min 5)"}}},
		{"min negative", at(scale+"minNodeCount", -1), nil,
			[]finding{{CodeUserError, scale + "minNodeCount", "min nodes count must be greater than or equal to 0"}}},
		{"max fractional", at(scale+"maxNodeCount", 2.5), nil,
			[]finding{{CodeInvalidContent, scale + "maxNodeCount", "must be an integer"}}},
		{"max a string", at(scale+"maxNodeCount", "4"), nil,
			[]finding{{CodeInvalidContent, scale + "maxNodeCount", `"maxNodeCount" must be an integer, not a string`}}},
		{"max too large", at(scale+"maxNodeCount", json.Number("3000000000")), nil,
			[]finding{{CodeInvalidContent, scale + "maxNodeCount", "must be an integer between"}}},
		{"scale settings an array", at(aml+"scaleSettings", []any{1}), nil,
			[]finding{{CodeInvalidContent, aml + "scaleSettings", "must be a JSON object, not an array"}}},
		{"idle garbage", at(scale+"nodeIdleTimeBeforeScaleDown", "30 minutes"), nil,
			[]finding{{CodeUserError, scale + "nodeIdleTimeBeforeScaleDown", "Invalid input, provide ISO-8601 formatted duration string"}}},
		{"idle seconds as a number", at(scale+"nodeIdleTimeBeforeScaleDown", 1800), nil,
			[]finding{{CodeInvalidContent, scale + "nodeIdleTimeBeforeScaleDown", "must be a string"}}},
		{"idle in months", at(scale+"nodeIdleTimeBeforeScaleDown", "P1M"), nil,
			[]finding{{CodeUserError, scale + "nodeIdleTimeBeforeScaleDown", "years or months"}}},

		// credentials: validate_configuration's messages.
		{"password without user", at(aml+"userAccountCredentials", map[string]any{"adminUserPassword": "Passw0rd"}), nil,
			[]finding{{CodeUserError, creds + "adminUserName", "Invalid user credentials, admin username must be provided along with either a password or SSH key information."}}},
		{"key without user", at(aml+"userAccountCredentials", map[string]any{"adminUserSshPublicKey": sshKey("ssh-rsa")}), nil,
			[]finding{{CodeUserError, creds + "adminUserName", "admin username must be provided"}}},
		{"user without secret", at(aml+"userAccountCredentials", map[string]any{"adminUserName": "azureuser"}), nil,
			[]finding{{CodeUserError, "properties.properties.userAccountCredentials", "Invalid user credentials, no password or key information provided. Please provide either a password or SSH key information."}}},
		{"weak password", at(aml+"userAccountCredentials", map[string]any{"adminUserName": "azureuser", "adminUserPassword": "password1"}), nil,
			[]finding{{CodeUserError, creds + "adminUserPassword", "Invalid admin user password provided. The admin user password must have 3 of the following: 1 lowercase character, 1 uppercase character, 1 number, and 1 special character `~!@#$%^&*()=+_[]{}|;:./'\",<>?"}}},
		{"bad key", at(aml+"userAccountCredentials", map[string]any{"adminUserName": "azureuser", "adminUserSshPublicKey": "ssh-rsa AAAA!!"}), nil,
			[]finding{{CodeUserError, creds + "adminUserSshPublicKey", "not valid base64"}}},
		{"user name with spaces", at(aml+"userAccountCredentials", map[string]any{"adminUserName": " azureuser", "adminUserPassword": "Passw0rd"}), nil,
			[]finding{{CodeUserError, creds + "adminUserName", "leading or trailing spaces"}}},
		{"credentials wrong type", at(aml+"userAccountCredentials", "azureuser:Passw0rd"), nil,
			[]finding{{CodeInvalidContent, "properties.properties.userAccountCredentials", "must be a JSON object, not a string"}}},

		// network
		{"subnet id not an id", at(aml+"subnet.id", "train"), nil,
			[]finding{{CodeUserError, aml + "subnet.id", "is not a resource id"}}},
		{"subnet id names a vnet", at(aml+"subnet.id", strings.TrimSuffix(testSubnet, "/subnets/train")), nil,
			[]finding{{CodeUserError, aml + "subnet.id", "it names a Microsoft.Network/virtualNetworks"}}},
		{"subnet in another subscription", at(aml+"subnet.id", strings.Replace(testSubnet, testSub, "99999999-0000-0000-0000-000000000000", 1)), nil,
			[]finding{{CodeUserError, aml + "subnet.id", "needs the virtual network in the workspace's subscription"}}},
		{"no public IP outside a VNet", at(aml+"enableNodePublicIp", false), nil,
			[]finding{{CodeUserError, aml + "enableNodePublicIp", "can be false only for a compute in a virtual network"}}},
		{"no public IP with a bad subnet: one error", both(at(aml+"enableNodePublicIp", false), at(aml+"subnet.id", "x")), nil,
			[]finding{{CodeUserError, aml + "subnet.id", "is not a resource id"}}},
		{"enableNodePublicIp a string", at(aml+"enableNodePublicIp", "false"), nil,
			[]finding{{CodeInvalidContent, aml + "enableNodePublicIp", "must be true or false"}}},
		{"remote login bogus", at(aml+"remoteLoginPortPublicAccess", "Open"), nil,
			[]finding{{CodeUserError, aml + "remoteLoginPortPublicAccess", `use "Enabled", "Disabled" or "NotSpecified"`}}},

		// strict decoding
		{"unknown top field", at("identity", map[string]any{"type": "SystemAssigned"}), nil,
			[]finding{{CodeInvalidContent, "identity", `unknown field "identity"`}}},
		{"unknown aml field with suggestion", at(aml+"vmSise", "STANDARD_D2_V2"), nil,
			[]finding{{CodeInvalidContent, aml + "vmSise", `did you mean "vmSize"?`}}},
		{"unknown scale field lists the known", at(scale+"nodeCount", 2), nil,
			[]finding{{CodeInvalidContent, scale + "nodeCount", "the known fields here are minNodeCount, maxNodeCount, nodeIdleTimeBeforeScaleDown"}}},
		{"unknown credentials field", at(aml+"userAccountCredentials.password", "x"), nil,
			[]finding{{CodeInvalidContent, creds + "password", "unknown field"}}},
		{"key twice in two casings", both(at(aml+"VMSize", "STANDARD_D2_V2"), at(aml+"vmSize", "STANDARD_D3_V2")), nil,
			[]finding{{CodeInvalidContent, aml + "vmSize", `"vmSize" twice (as "VMSize" and "vmSize")`}}},
		{"tag not a string", at("tags", map[string]any{"n": 1}), nil,
			[]finding{{CodeInvalidContent, "tags.n", `tag "n" must be a string`}}},

		// several at once
		{"every error at once", both(at(scale+"maxNodeCount", -2), at(aml+"vmPriority", "x"), at(aml+"userAccountCredentials", map[string]any{"adminUserName": "u"})), nil,
			[]finding{
				{CodeUserError, scale + "maxNodeCount", "max nodes count must be greater than or equal to 0"},
				{CodeUserError, aml + "vmPriority", "Invalid vmPriority"},
				{CodeUserError, "properties.properties.userAccountCredentials", "no password or key information provided"},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx
			if tc.ctx != nil {
				ctx = *tc.ctx
			}
			s, err := DecodeSpec(mustJSON(t, tc.edit(minimal())), ctx)
			checkFindings(t, err, tc.want)
			if d := cmp.Diff(Spec{}, s); d != "" {
				t.Errorf("spec on error is not zero:\n%s", d)
			}
		})
	}
}

func TestDecodeSpecBadJSON(t *testing.T) {
	for _, tc := range []struct{ name, body, phrase string }{
		{"empty", "", "not valid JSON"},
		{"syntax", `{"properties": `, "not valid JSON"},
		{"array", `[1]`, "must be a JSON object, not an array"},
		{"null", `null`, "must be a JSON object, not null"},
		{"trailing", `{} {}`, "data after its JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeSpec([]byte(tc.body), testCtx)
			checkFindings(t, err, []finding{{CodeInvalidContent, "", tc.phrase}})
			_, err = DecodeUpdate([]byte(tc.body), Spec{})
			checkFindings(t, err, []finding{{CodeInvalidContent, "", tc.phrase}})
		})
	}
}

// TestPasswordClasses pins the SDK's rule: 3 of lower, upper, digit and its
// fixed set of specials, at the boundary.
func TestPasswordClasses(t *testing.T) {
	for _, tc := range []struct {
		pw string
		n  int
	}{
		{"abcdefgh", 1},
		{"ABCDEFGH", 1},
		{"12345678", 1},
		{"!!!!!!!!", 1},
		{"abcdEFGH", 2},
		{"abcd1234", 2},
		{"ABCD!!!!", 2},
		{"abcD1", 3},    // no length rule in the SDK
		{"abc1!", 3},    // lower, digit, special
		{"ABC1?", 3},    // upper, digit, special
		{"abC!", 3},     // lower, upper, special
		{"aB1!", 4},     // all four
		{"abcD-", 2},    // '-' is not in the SDK's set
		{`abcD\`, 2},    // nor is '\'
		{"abcD ", 2},    // nor is space
		{"abcDé", 2},    // nor non-ASCII letters
		{"abcD٣", 2},    // nor non-ASCII digits
		{"abcD`", 3},    // '`' is
		{"abcD\"", 3},   // '"' is
		{"abcD'", 3},    // '\'' is
		{"abcD<", 3},    // '<' is
		{"Passw0rd", 3}, // the canonical example
	} {
		if got := passwordClasses(tc.pw); got != tc.n {
			t.Errorf("passwordClasses(%q) = %d, want %d", tc.pw, got, tc.n)
		}
		doc := set(minimal(), "properties.properties.userAccountCredentials", map[string]any{"adminUserName": "u", "adminUserPassword": tc.pw})
		_, err := DecodeSpec(mustJSON(t, doc), testCtx)
		if (err == nil) != (tc.n >= 3) {
			t.Errorf("password %q (%d classes): err = %v", tc.pw, tc.n, err)
		}
	}
	for _, c := range passwordSpecials {
		if got := passwordClasses("ab" + string(c)); got != 2 {
			t.Errorf("special %q does not count", c)
		}
	}
}

func TestParseIdle(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration // -1: refused
	}{
		{"PT1800S", 1800 * time.Second},
		{"PT0S", 0},
		{"PT30M", 30 * time.Minute},
		{"PT2H", 2 * time.Hour},
		{"PT1H30M", 90 * time.Minute},
		{"PT1H30M15S", time.Hour + 30*time.Minute + 15*time.Second},
		{"PT1M30S", 90 * time.Second},
		{"P1D", 24 * time.Hour},
		{"P1DT1S", 24*time.Hour + time.Second},
		{"P1W", 7 * 24 * time.Hour},
		{"P1W2D", 9 * 24 * time.Hour},
		{"PT0.5H", 30 * time.Minute},
		{"PT1.9S", time.Second}, // floored, as the SDK does
		{"PT1,5M", 90 * time.Second},
		{"PT.5M", 30 * time.Second},
		{"PT5.S", 5 * time.Second},
		{"PT000120S", 120 * time.Second},
		{"", -1},
		{"P", -1},
		{"PT", -1},
		{"P1DT", -1},
		{"1800", -1},
		{"PT1800", -1},
		{"pt30m", -1},
		{" PT30M", -1},
		{"PT30M ", -1},
		{"-PT30M", -1},
		{"PT-30M", -1},
		{"PT30S1M", -1},
		{"PT1H1H", -1},
		{"PTT1H", -1},
		{"P1H", -1},
		{"PT1D", -1},
		{"P1Y", -1},
		{"P1M", -1},
		{"P1D1W", -1},
		{"PT1.2.3S", -1},
		{"PT.S", -1},
		{"PT1e3S", -1},
		{"PT1/2S", -1},
		{"PT99999999999999999999S", -1},
		{"PT" + strings.Repeat("9", 70) + "S", -1},
		{"PT30MX", -1},
	} {
		got, why := parseIdle(tc.in)
		switch {
		case tc.want < 0 && why == "":
			t.Errorf("parseIdle(%q) = %v, want refusal", tc.in, got)
		case tc.want >= 0 && why != "":
			t.Errorf("parseIdle(%q) refused: %s", tc.in, why)
		case tc.want >= 0 && got != tc.want:
			t.Errorf("parseIdle(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	for _, secs := range []int64{0, 1, 59, 120, 1800, 86400, 1 << 32} {
		d := time.Duration(secs) * time.Second
		if got, why := parseIdle(formatIdle(d)); why != "" || got != d {
			t.Errorf("parseIdle(formatIdle(%v)) = %v, %q", d, got, why)
		}
	}
	if got := formatIdle(DefaultIdleBeforeScaleDown); got != "PT1800S" {
		t.Errorf("formatIdle(default) = %q, want PT1800S", got)
	}
}

func TestCheckSSHKey(t *testing.T) {
	for _, tc := range []struct {
		key, why string // why "": valid
	}{
		{sshKey("ssh-rsa"), ""},
		{sshKey("ssh-ed25519"), ""},
		{sshKey("ecdsa-sha2-nistp256"), ""},
		{sshKey("ecdsa-sha2-nistp521"), ""},
		{strings.TrimSuffix(sshKey("ssh-rsa"), " user@laptop"), ""}, // no comment
		{sshKey("ssh-rsa") + " with spaces in the comment", ""},
		{"  " + sshKey("ssh-rsa") + "\n", ""}, // as read from a file
		{sshKey("ssh-dss"), `"ssh-dss" is not a supported key type`},
		{"ssh-rsa", "no key type and base64 blob"},
		{"-----BEGIN RSA PRIVATE KEY-----", "a PEM or RFC 4716 key"},
		{"---- BEGIN SSH2 PUBLIC KEY ----", "a PEM or RFC 4716 key"},
		{"ssh-rsa AAAA$$$$", "not valid base64"},
		{"ssh-rsa AAA=", "truncated"},
		{"ssh-rsa " + strings.Fields(sshKey("ssh-ed25519"))[1], "not a ssh-rsa key"},
		{"ssh-rsa " + base64.StdEncoding.EncodeToString([]byte{0xff, 0xff, 0xff, 0xff, 'x'}), "not a ssh-rsa key"},
		{sshKey("ssh-rsa") + "\n" + sshKey("ssh-rsa"), "more than one line"},
	} {
		if got := checkSSHKey(tc.key); (tc.why == "") != (got == "") || !strings.Contains(got, tc.why) {
			t.Errorf("checkSSHKey(%.40q) = %q, want %q", tc.key, got, tc.why)
		}
	}
}

func TestVNetTrio(t *testing.T) {
	const vnetPath = "properties.properties.vnet"
	trio := func(rg, name, subnet any) map[string]any {
		return set(minimal(), vnetPath, map[string]any{"resourceGroup": rg, "name": name, "subnet": subnet})
	}
	t.Run("all three", func(t *testing.T) {
		s, err := DecodeSpec(mustJSON(t, trio("netrg", "vnet1", "train")), testCtx)
		if err != nil {
			t.Fatal(err)
		}
		if s.SubnetID != testSubnet {
			t.Errorf("SubnetID = %q, want %q", s.SubnetID, testSubnet)
		}
		if s.RemoteLoginPortPublicAccess != RemoteLoginDisabled {
			t.Errorf("remote login = %q, want Disabled in a VNet", s.RemoteLoginPortPublicAccess)
		}
	})
	t.Run("same subnet both ways", func(t *testing.T) {
		doc := set(trio("netrg", "vnet1", "train"), "properties.properties.subnet.id", testSubnet)
		if _, err := DecodeSpec(mustJSON(t, doc), testCtx); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct {
		name    string
		doc     map[string]any
		ctx     SpecContext
		target  string
		phrases []string
	}{
		{"name missing", trio("netrg", nil, "train"), testCtx, vnetPath,
			[]string{"Invalid configuration, not all virtual net information provided. To use a custom virtual net, please provide vnet name, vnet resource group and subnet name", "missing: name"}},
		{"two missing", trio("", nil, "train"), testCtx, vnetPath, []string{"missing: resourceGroup, name"}},
		{"only the group", trio("netrg", "", ""), testCtx, vnetPath, []string{"not all virtual net information provided"}},
		{"slash in a name", trio("netrg", "vnet1/subnets/x", "train"), testCtx, vnetPath + ".name", []string{"has no '/'"}},
		{"no workspace subscription", trio("netrg", "vnet1", "train"), SpecContext{WorkspaceLocation: "eastus"}, vnetPath, []string{"subscription is unknown"}},
		{"differs from subnet.id", set(trio("netrg", "vnet1", "other"), "properties.properties.subnet.id", testSubnet), testCtx, vnetPath, []string{"give the subnet once"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeSpec(mustJSON(t, tc.doc), tc.ctx)
			var want []finding
			for _, p := range tc.phrases {
				want = append(want, finding{CodeUserError, tc.target, p})
			}
			checkFindings(t, err, want[:1])
			for _, p := range tc.phrases[1:] {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error lacks %q: %v", p, err)
				}
			}
		})
	}
}

// wrap renders s as a PUT body again; the password, which Properties never
// renders, is put back when s has one, as a client re-sending it would.
func wrap(t testing.TB, s Spec) []byte {
	t.Helper()
	aml := s.Properties()
	if s.AdminUserPassword != "" {
		aml["userAccountCredentials"].(map[string]any)["adminUserPassword"] = s.AdminUserPassword
	}
	props := map[string]any{"computeType": "AmlCompute", "properties": aml}
	if s.Description != "" {
		props["description"] = s.Description
	}
	doc := map[string]any{"location": s.Location, "properties": props}
	if s.Tags != nil {
		doc["tags"] = s.Tags
	}
	return mustJSON(t, doc)
}

// stored is what DecodeStored gives back for s: s without what the stored
// AmlCompute properties do not hold.
func stored(s Spec) Spec {
	s.AdminUserPassword, s.Tags, s.Description = "", nil, ""
	return s
}

func TestPropertiesRoundTrip(t *testing.T) {
	for name, doc := range map[string]map[string]any{
		"minimal": minimal(),
		"full":    full(),
		"vnet trio": set(minimal(), "properties.properties.vnet",
			map[string]any{"resourceGroup": "netrg", "name": "vnet1", "subnet": "train"}),
		"password only": set(minimal(), "properties.properties.userAccountCredentials",
			map[string]any{"adminUserName": "u", "adminUserPassword": "Passw0rd!"}),
		"remote login enabled in vnet": set(set(full(), "properties.properties.remoteLoginPortPublicAccess", "Enabled"),
			"properties.properties.enableNodePublicIp", true),
	} {
		t.Run(name, func(t *testing.T) {
			s, err := DecodeSpec(mustJSON(t, doc), testCtx)
			if err != nil {
				t.Fatal(err)
			}
			again, err := DecodeSpec(wrap(t, s), testCtx)
			if err != nil {
				t.Fatalf("re-decoding %s: %v", wrap(t, s), err)
			}
			if d := cmp.Diff(s, again); d != "" {
				t.Errorf("PUT round trip (-first +second):\n%s", d)
			}
			back, err := DecodeStored(mustJSON(t, s.Properties()), testCtx)
			if err != nil {
				t.Fatalf("DecodeStored(%s): %v", mustJSON(t, s.Properties()), err)
			}
			if d := cmp.Diff(stored(s), back); d != "" {
				t.Errorf("stored round trip (-want +got):\n%s", d)
			}
		})
	}
}

func TestPropertiesShape(t *testing.T) {
	s, err := DecodeSpec(mustJSON(t, full()), testCtx)
	if err != nil {
		t.Fatal(err)
	}
	got := string(mustJSON(t, s.Properties()))
	want := `{"enableNodePublicIp":false,"remoteLoginPortPublicAccess":"Disabled",` +
		`"scaleSettings":{"maxNodeCount":8,"minNodeCount":1,"nodeIdleTimeBeforeScaleDown":"PT120S"},` +
		`"subnet":{"id":"` + testSubnet + `"},` +
		`"userAccountCredentials":{"adminUserName":"azureuser","adminUserSshPublicKey":"` + sshKey("ssh-ed25519") + `"},` +
		`"vmPriority":"LowPriority","vmSize":"STANDARD_NC6S_V3"}`
	if got != want {
		t.Errorf("Properties() =\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(got, "Passw0rd") || strings.Contains(got, "adminUserPassword") {
		t.Errorf("Properties() renders the password: %s", got)
	}

	m, _ := DecodeSpec(mustJSON(t, minimal()), testCtx)
	got = string(mustJSON(t, m.Properties()))
	want = `{"remoteLoginPortPublicAccess":"Enabled",` +
		`"scaleSettings":{"maxNodeCount":4,"minNodeCount":0,"nodeIdleTimeBeforeScaleDown":"PT1800S"},` +
		`"vmPriority":"Dedicated","vmSize":"STANDARD_NC6"}`
	if got != want {
		t.Errorf("Properties() of minimal =\n%s\nwant\n%s", got, want)
	}
}

func TestDecodeStored(t *testing.T) {
	// The stored form of a password-only cluster has a user name and no
	// secret: DecodeSpec refuses that, DecodeStored must not.
	props := `{"vmSize": "STANDARD_D2_V2", "vmPriority": "Dedicated",
		"scaleSettings": {"minNodeCount": 0, "maxNodeCount": 2, "nodeIdleTimeBeforeScaleDown": "PT600S"},
		"userAccountCredentials": {"adminUserName": "azureuser"},
		"remoteLoginPortPublicAccess": "Enabled"}`
	s, err := DecodeStored([]byte(props), testCtx)
	if err != nil {
		t.Fatal(err)
	}
	want := Spec{Location: "eastus", VMSize: "STANDARD_D2_V2", VMPriority: PriorityDedicated, MaxNodes: 2,
		IdleBeforeScaleDown: 10 * time.Minute, AdminUserName: "azureuser", EnableNodePublicIP: true, RemoteLoginPortPublicAccess: RemoteLoginEnabled}
	if d := cmp.Diff(want, s); d != "" {
		t.Errorf("DecodeStored (-want +got):\n%s", d)
	}

	for _, tc := range []struct {
		name, props string
		want        []finding
	}{
		{"not an object", `"x"`, []finding{{CodeInvalidContent, "", "must be a JSON object"}}},
		{"no max", `{"scaleSettings": {}}`, []finding{{CodeUserError, "properties.properties.scaleSettings.maxNodeCount", "mandatory"}}},
		{"bad password still refused", `{"scaleSettings": {"maxNodeCount": 1}, "userAccountCredentials": {"adminUserName": "u", "adminUserPassword": "weak"}}`,
			[]finding{{CodeUserError, "properties.properties.userAccountCredentials.adminUserPassword", "Invalid admin user password"}}},
		{"unknown field", `{"scaleSettings": {"maxNodeCount": 1}, "computeType": "AmlCompute"}`,
			[]finding{{CodeInvalidContent, "properties.properties.computeType", "unknown field"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeStored([]byte(tc.props), testCtx)
			checkFindings(t, err, tc.want)
		})
	}
}

func TestImmutableAndWithScale(t *testing.T) {
	old, err := DecodeSpec(mustJSON(t, full()), testCtx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"nothing", func(*Spec) {}, ""},
		{"scale only", func(s *Spec) { s.MinNodes, s.MaxNodes, s.IdleBeforeScaleDown = 0, 1, 0 }, ""},
		{"password, tags, description", func(s *Spec) { s.AdminUserPassword, s.Tags, s.Description = "", nil, "" }, ""},
		{"subnet id casing", func(s *Spec) { s.SubnetID = strings.ToUpper(s.SubnetID) }, ""},
		{"size", func(s *Spec) { s.VMSize = "STANDARD_D2_V2" }, "properties.properties.vmSize"},
		{"priority", func(s *Spec) { s.VMPriority = PriorityDedicated }, "properties.properties.vmPriority"},
		{"user", func(s *Spec) { s.AdminUserName = "other" }, "properties.properties.userAccountCredentials.adminUserName"},
		{"key", func(s *Spec) { s.AdminUserSSHKey = "" }, "properties.properties.userAccountCredentials.adminUserSshPublicKey"},
		{"subnet", func(s *Spec) { s.SubnetID = "" }, "properties.properties.subnet.id"},
		{"public ip", func(s *Spec) { s.EnableNodePublicIP = true }, "properties.properties.enableNodePublicIp"},
		{"remote login", func(s *Spec) { s.RemoteLoginPortPublicAccess = RemoteLoginEnabled }, "properties.properties.remoteLoginPortPublicAccess"},
		{"location", func(s *Spec) { s.Location = "westus2" }, "location"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := old
			tc.change(&next)
			if got := Immutable(old, next); got != tc.want {
				t.Errorf("Immutable = %q, want %q", got, tc.want)
			}
		})
	}
	next := old
	next.MinNodes, next.MaxNodes, next.IdleBeforeScaleDown, next.VMSize = 3, 30, time.Hour, "STANDARD_D2_V2"
	got := old.WithScale(next)
	want := old
	want.MinNodes, want.MaxNodes, want.IdleBeforeScaleDown = 3, 30, time.Hour
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("WithScale (-want +got):\n%s", d)
	}
}

func TestDecodeUpdate(t *testing.T) {
	cur, err := DecodeSpec(mustJSON(t, full()), testCtx)
	if err != nil {
		t.Fatal(err)
	}
	patch := func(scale map[string]any) map[string]any {
		return map[string]any{"properties": map[string]any{"computeType": "AmlCompute",
			"properties": map[string]any{"scaleSettings": scale}}}
	}
	for _, tc := range []struct {
		name string
		doc  map[string]any
		edit func(*Spec)
	}{
		{"empty body", map[string]any{}, func(*Spec) {}},
		{"all three", patch(map[string]any{"minNodeCount": 0, "maxNodeCount": 2, "nodeIdleTimeBeforeScaleDown": "PT300S"}),
			func(s *Spec) { s.MinNodes, s.MaxNodes, s.IdleBeforeScaleDown = 0, 2, 300*time.Second }},
		{"max only", patch(map[string]any{"maxNodeCount": 20}), func(s *Spec) { s.MaxNodes = 20 }},
		{"min only, up to max", patch(map[string]any{"minNodeCount": 8}), func(s *Spec) { s.MinNodes = 8 }},
		{"idle only", patch(map[string]any{"nodeIdleTimeBeforeScaleDown": "PT1H"}), func(s *Spec) { s.IdleBeforeScaleDown = time.Hour }},
		{"nulls and empty keep", patch(map[string]any{"minNodeCount": nil, "maxNodeCount": nil, "nodeIdleTimeBeforeScaleDown": ""}), func(*Spec) {}},
		{"without computeType", map[string]any{"properties": map[string]any{"properties": map[string]any{
			"scaleSettings": map[string]any{"maxNodeCount": 3}}}}, func(s *Spec) { s.MaxNodes = 3 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeUpdate(mustJSON(t, tc.doc), cur)
			if err != nil {
				t.Fatal(err)
			}
			want := cur
			tc.edit(&want)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("DecodeUpdate (-want +got):\n%s", d)
			}
		})
	}

	const scale = "properties.properties.scaleSettings."
	for _, tc := range []struct {
		name string
		doc  map[string]any
		want []finding
	}{
		{"max below current min", patch(map[string]any{"maxNodeCount": 0}),
			[]finding{{CodeUserError, scale + "maxNodeCount", "max nodes count must be greater than or equal to min nodes count"}}},
		{"min above current max", patch(map[string]any{"minNodeCount": 9}),
			[]finding{{CodeUserError, scale + "maxNodeCount", "max nodes count must be greater than or equal to min nodes count (max 8 < min 9)"}}},
		{"max negative", patch(map[string]any{"minNodeCount": 0, "maxNodeCount": -1}),
			[]finding{{CodeUserError, scale + "maxNodeCount", "max nodes count must be greater than or equal to 0"}}},
		{"min negative", patch(map[string]any{"minNodeCount": -1}),
			[]finding{{CodeUserError, scale + "minNodeCount", "min nodes count must be greater than or equal to 0"}}},
		{"idle garbage", patch(map[string]any{"nodeIdleTimeBeforeScaleDown": "1h"}),
			[]finding{{CodeUserError, scale + "nodeIdleTimeBeforeScaleDown", "Invalid input, provide ISO-8601 formatted duration string"}}},
		{"vm size", set(patch(map[string]any{"maxNodeCount": 2}), "properties.properties.vmSize", "STANDARD_D2_V2"),
			[]finding{{CodeUserError, "properties.properties.vmSize", "Only the scale settings of an AmlCompute can be updated"}}},
		{"subnet and priority", set(set(patch(nil), "properties.properties.subnet.id", testSubnet), "properties.properties.vmPriority", "dedicated"),
			[]finding{
				{CodeUserError, "properties.properties.subnet", "subnet cannot change"},
				{CodeUserError, "properties.properties.vmPriority", "vmPriority cannot change"},
			}},
		{"tags and location", map[string]any{"location": "eastus", "tags": map[string]any{}},
			[]finding{
				{CodeUserError, "location", "Only the scale settings"},
				{CodeUserError, "tags", "Only the scale settings"},
			}},
		{"description", set(patch(nil), "properties.description", "x"),
			[]finding{{CodeUserError, "properties.description", "description cannot change"}}},
		{"computeType", set(patch(nil), "properties.computeType", "AKS"),
			[]finding{{CodeUserError, "properties.computeType", "cannot change"}}},
		{"unknown field", set(patch(nil), "properties.properties.scaleSettings.maxNodes", 3),
			[]finding{{CodeInvalidContent, scale + "maxNodes", `did you mean "maxNodeCount"?`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeUpdate(mustJSON(t, tc.doc), cur)
			checkFindings(t, err, tc.want)
			if d := cmp.Diff(Spec{}, got); d != "" {
				t.Errorf("spec on error is not zero:\n%s", d)
			}
		})
	}
}
