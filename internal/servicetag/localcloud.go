package servicetag

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/netip"
)

// LocalCloudName is the cloud name of the built-in tag file.
const LocalCloudName = "vnetml-local"

//go:embed localcloud.json
var localCloudJSON []byte

// LocalCloudJSON returns the built-in tag file's bytes, in the format of
// ServiceTags_Public.json.
func LocalCloudJSON() []byte { return bytes.Clone(localCloudJSON) }

// LocalCloud returns the registry of the built-in local-cloud tag file.
func LocalCloud() *Registry {
	r, err := Load(bytes.NewReader(localCloudJSON))
	if err != nil {
		panic("servicetag: built-in localcloud.json is invalid: " + err.Error()) // caught by TestLocalCloudFile
	}
	return r
}

// localRegion is one region of the local cloud. Index places its blocks.
type localRegion struct {
	Name    string // ARM location, e.g. eastus
	Display string // tag suffix, e.g. EastUS
	ID      int
	Index   int
}

// localRegions are the regions the local cloud emulates; eastus is the default.
var localRegions = []localRegion{
	{"eastus", "EastUS", 32, 0},
	{"westus2", "WestUS2", 34, 1},
	{"westeurope", "WestEurope", 18, 2},
}

// localService is a service with a /24 per region: region r's block of
// service s is 198.18.(32r+s).0/24, so BatchNodeManagement.EastUS is
// 198.18.3.0/24 and Storage.EastUS is 198.18.1.0/24.
type localService struct {
	Tag, SystemService string
	Slot               int
	Features           []string
}

var localServices = []localService{
	{"AzureMachineLearning", "AzureMachineLearning", 0, []string{"API", "NSG", "UDR", "FW"}},
	{"Storage", "AzureStorage", 1, []string{"API", "NSG", "UDR", "FW", "VSE"}},
	{"AzureKeyVault", "AzureKeyVault", 2, []string{"API", "NSG", "UDR", "FW", "VSE"}},
	{"BatchNodeManagement", "BatchNodeManagement", 3, []string{"API", "NSG", "UDR", "FW"}},
	{"AzureContainerRegistry", "AzureContainerRegistry", 4, []string{"API", "NSG", "UDR", "FW", "VSE"}},
	{"MicrosoftContainerRegistry", "MicrosoftContainerRegistry", 5, []string{"API", "NSG", "UDR", "FW"}},
	{"AzureMonitor", "AzureMonitor", 6, []string{"API", "NSG", "UDR", "FW"}},
	{"Sql", "AzureSQL", 7, []string{"API", "NSG", "UDR", "FW", "VSE"}},
	{"EventHub", "AzureEventHub", 8, []string{"API", "NSG", "UDR", "FW", "VSE"}},
	{"ServiceBus", "AzureServiceBus", 9, []string{"API", "NSG", "UDR", "FW", "VSE"}},
	{"AzureCosmosDB", "AzureCosmosDB", 10, []string{"API", "NSG", "UDR", "FW", "VSE"}},
}

// localGlobals are global-only services: service g is 198.19.g.0/24.
var localGlobals = []localService{
	{"AzureActiveDirectory", "AzureAD", 0, []string{"API", "NSG", "UDR", "FW"}},
	{"AzureResourceManager", "AzureResourceManager", 1, []string{"API", "NSG", "UDR", "FW"}},
	{"AzureFrontDoor.Frontend", "AzureFrontDoor", 2, []string{"API", "NSG", "UDR", "FW"}},
	{"AzureFrontDoor.FirstParty", "AzureFrontDoor", 3, []string{"API", "NSG", "UDR", "FW"}},
}

// generateLocalCloud builds the local-cloud file. localcloud.json is its
// rendering; TestLocalCloudFile keeps them equal (regenerate with -update).
func generateLocalCloud() *File {
	f := &File{ChangeNumber: 1, Cloud: LocalCloudName}
	add := func(name, region string, regionID int, svc string, features []string, ps []string) {
		f.Values = append(f.Values, Value{Name: name, ID: name, Properties: Properties{
			ChangeNumber: 1, Region: region, RegionID: regionID, Platform: "Azure",
			SystemService: svc, AddressPrefixes: ps, NetworkFeatures: features,
		}})
	}
	block := func(r localRegion, s localService) string {
		return netip.AddrFrom4([4]byte{198, 18, byte(32*r.Index + s.Slot), 0}).String() + "/24"
	}
	var cloud []string
	for _, s := range localServices {
		var all []string
		for _, r := range localRegions {
			all = append(all, block(r, s))
		}
		add(s.Tag, "", 0, s.SystemService, s.Features, all)
		for _, r := range localRegions {
			add(s.Tag+"."+r.Display, r.Name, r.ID, s.SystemService, s.Features, []string{block(r, s)})
		}
	}
	for _, g := range localGlobals {
		p := fmt.Sprintf("198.19.%d.0/24", g.Slot)
		add(g.Tag, "", 0, g.SystemService, g.Features, []string{p})
		cloud = append(cloud, p)
	}
	for _, r := range localRegions {
		var ps []string
		for _, s := range localServices {
			ps = append(ps, block(r, s))
		}
		add("AzureCloud."+r.Name, r.Name, r.ID, "", []string{"API", "NSG"}, ps)
		cloud = append(ps, cloud...)
	}
	add("AzureCloud", "", 0, "", []string{"API", "NSG"}, cloud)
	return f
}

func renderLocalCloud() []byte {
	b, err := json.MarshalIndent(generateLocalCloud(), "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}
