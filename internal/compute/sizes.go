package compute

import (
	"slices"
	"strings"
)

// VMSize is one entry of the VM size catalog, with the fields
// AmlCompute.supported_vmsizes(ws, location) returns (name, vCPUs, gpus,
// memoryGB, maxResourceVolumeMB: azureml-core _compute/_util.py
// get_paginated_compute_supported_vms) plus the VM family ARM's resource
// SKUs give and whether low-priority nodes may use the size.
type VMSize struct {
	Name                string // upper case, e.g. STANDARD_NC6
	VCPUs               int
	MemoryGB            float64
	GPUs                int
	MaxResourceVolumeMB int // the local temporary disk
	LowPriorityCapable  bool
	Family              string // ARM's SKU family, e.g. standardNCFamily
}

// DefaultVMSize is the size the service picks when vmSize is empty
// (azureml-core AmlComputeProvisioningConfiguration: "If not specified,
// defaults to Standard_NC6").
const DefaultVMSize = "STANDARD_NC6"

// catalog lists the AmlCompute sizes of 2019 with Azure's published figures
// (learn.microsoft.com/azure/virtual-machines/{dv2-dsv2,dv3-dsv3,fsv2,nc,
// ncv2,ncv3,nv,nd}-series; a GiB of temporary disk is 1024 MB).
//
// Simplification: Azure offers different sizes in different regions (GPU
// sizes notably missing from some); vnetml's local cloud offers every size
// in every one of its locations, so that a configuration written for one
// region works in all of them.
//
// The _PROMO sizes are the discounted NC/NV series of 2019; like every
// promo size they cannot run low-priority (Spot) nodes, which also makes
// them the catalog's example of the vm_priority="lowpriority" refusal.
var catalog = []VMSize{
	// Dv2: Intel Xeon E5-2673 v3/v4, 50 GiB of temporary disk per vCPU.
	{"STANDARD_D1_V2", 1, 3.5, 0, 51200, true, "standardDv2Family"},
	{"STANDARD_D2_V2", 2, 7, 0, 102400, true, "standardDv2Family"},
	{"STANDARD_D3_V2", 4, 14, 0, 204800, true, "standardDv2Family"},
	{"STANDARD_D4_V2", 8, 28, 0, 409600, true, "standardDv2Family"},
	{"STANDARD_D5_V2", 16, 56, 0, 819200, true, "standardDv2Family"},
	{"STANDARD_D11_V2", 2, 14, 0, 102400, true, "standardDv2Family"},
	{"STANDARD_D12_V2", 4, 28, 0, 204800, true, "standardDv2Family"},
	{"STANDARD_D13_V2", 8, 56, 0, 409600, true, "standardDv2Family"},
	{"STANDARD_D14_V2", 16, 112, 0, 819200, true, "standardDv2Family"},
	// DSv2: as Dv2 with premium storage and a smaller temporary disk.
	{"STANDARD_DS1_V2", 1, 3.5, 0, 7168, true, "standardDSv2Family"},
	{"STANDARD_DS2_V2", 2, 7, 0, 14336, true, "standardDSv2Family"},
	{"STANDARD_DS3_V2", 4, 14, 0, 28672, true, "standardDSv2Family"},
	{"STANDARD_DS4_V2", 8, 28, 0, 57344, true, "standardDSv2Family"},
	{"STANDARD_DS5_V2", 16, 56, 0, 114688, true, "standardDSv2Family"},
	{"STANDARD_DS11_V2", 2, 14, 0, 28672, true, "standardDSv2Family"},
	{"STANDARD_DS12_V2", 4, 28, 0, 57344, true, "standardDSv2Family"},
	{"STANDARD_DS13_V2", 8, 56, 0, 114688, true, "standardDSv2Family"},
	{"STANDARD_DS14_V2", 16, 112, 0, 229376, true, "standardDSv2Family"},
	// Dv3: hyper-threaded, 4 GiB of memory per vCPU.
	{"STANDARD_D2_V3", 2, 8, 0, 51200, true, "standardDv3Family"},
	{"STANDARD_D4_V3", 4, 16, 0, 102400, true, "standardDv3Family"},
	{"STANDARD_D8_V3", 8, 32, 0, 204800, true, "standardDv3Family"},
	{"STANDARD_D16_V3", 16, 64, 0, 409600, true, "standardDv3Family"},
	{"STANDARD_D32_V3", 32, 128, 0, 819200, true, "standardDv3Family"},
	{"STANDARD_D64_V3", 64, 256, 0, 1638400, true, "standardDv3Family"},
	// Fsv2: compute optimised, 2 GiB of memory per vCPU.
	{"STANDARD_F2S_V2", 2, 4, 0, 16384, true, "standardFSv2Family"},
	{"STANDARD_F4S_V2", 4, 8, 0, 32768, true, "standardFSv2Family"},
	{"STANDARD_F8S_V2", 8, 16, 0, 65536, true, "standardFSv2Family"},
	{"STANDARD_F16S_V2", 16, 32, 0, 131072, true, "standardFSv2Family"},
	{"STANDARD_F32S_V2", 32, 64, 0, 262144, true, "standardFSv2Family"},
	{"STANDARD_F64S_V2", 64, 128, 0, 524288, true, "standardFSv2Family"},
	{"STANDARD_F72S_V2", 72, 144, 0, 589824, true, "standardFSv2Family"},
	// NC: NVIDIA Tesla K80, one GPU per 6 vCPUs.
	{"STANDARD_NC6", 6, 56, 1, 348160, true, "standardNCFamily"},
	{"STANDARD_NC12", 12, 112, 2, 696320, true, "standardNCFamily"},
	{"STANDARD_NC24", 24, 224, 4, 1474560, true, "standardNCFamily"},
	{"STANDARD_NC24R", 24, 224, 4, 1474560, true, "standardNCFamily"},
	{"STANDARD_NC6_PROMO", 6, 56, 1, 348160, false, "standardNCPromoFamily"},
	{"STANDARD_NC12_PROMO", 12, 112, 2, 696320, false, "standardNCPromoFamily"},
	{"STANDARD_NC24_PROMO", 24, 224, 4, 1474560, false, "standardNCPromoFamily"},
	// NCv2: NVIDIA Tesla P100.
	{"STANDARD_NC6S_V2", 6, 112, 1, 753664, true, "standardNCSv2Family"},
	{"STANDARD_NC12S_V2", 12, 224, 2, 1509376, true, "standardNCSv2Family"},
	{"STANDARD_NC24S_V2", 24, 448, 4, 3018752, true, "standardNCSv2Family"},
	// NCv3: NVIDIA Tesla V100.
	{"STANDARD_NC6S_V3", 6, 112, 1, 753664, true, "standardNCSv3Family"},
	{"STANDARD_NC12S_V3", 12, 224, 2, 1509376, true, "standardNCSv3Family"},
	{"STANDARD_NC24S_V3", 24, 448, 4, 3018752, true, "standardNCSv3Family"},
	// NV: NVIDIA Tesla M60 (visualisation).
	{"STANDARD_NV6", 6, 56, 1, 348160, true, "standardNVFamily"},
	{"STANDARD_NV12", 12, 112, 2, 696320, true, "standardNVFamily"},
	{"STANDARD_NV24", 24, 224, 4, 1474560, true, "standardNVFamily"},
	{"STANDARD_NV6_PROMO", 6, 56, 1, 348160, false, "standardNVPromoFamily"},
	// ND: NVIDIA Tesla P40.
	{"STANDARD_ND6S", 6, 112, 1, 753664, true, "standardNDSFamily"},
	{"STANDARD_ND12S", 12, 224, 2, 1509376, true, "standardNDSFamily"},
	{"STANDARD_ND24S", 24, 448, 4, 3018752, true, "standardNDSFamily"},
}

// locations are the regions of vnetml's local cloud.
var locations = []string{"eastus", "westeurope", "westus2"}

// normLocation folds a location as ARM does: "East US" and "eastus" are the
// same region.
func normLocation(loc string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(loc), " ", ""))
}

func knownLocation(loc string) bool {
	_, ok := slices.BinarySearch(locations, normLocation(loc))
	return ok
}

// Sizes lists the VM sizes AmlCompute offers in location (matched as ARM
// matches locations: case and spaces aside), in catalog order. An unknown
// location has none. The caller owns the returned slice.
func Sizes(location string) []VMSize {
	if !knownLocation(location) {
		return nil
	}
	return slices.Clone(catalog)
}

// LookupSize finds a size of location by name, case-insensitively
// ("Standard_NC6" is STANDARD_NC6).
func LookupSize(location, name string) (VMSize, bool) {
	if !knownLocation(location) {
		return VMSize{}, false
	}
	for _, s := range catalog {
		if strings.EqualFold(s.Name, name) {
			return s, true
		}
	}
	return VMSize{}, false
}
