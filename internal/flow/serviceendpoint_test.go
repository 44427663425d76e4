package flow_test

import (
	"testing"

	"github.com/vnetml/vnetml/internal/network"
)

// Every service a subnet may have an endpoint for resolves to service-
// endpoint routes with the real tag file in eastus, with the local cloud
// for the services it carries, and with "*" (spec §12.5).
func TestServiceEndpointsResolve(t *testing.T) {
	tags := loadRealTags(t)
	for _, svc := range network.ServiceEndpointServices() {
		for _, locs := range []string{`["eastus"]`, `["*"]`, `null`} {
			t.Run(svc+" "+locs, func(t *testing.T) {
				se := `,"serviceEndpoints":[{"service":"` + svc + `","locations":` + locs + `}]`
				e := compileWith(t, tags, `{"type":"Microsoft.Network/virtualNetworks","id":"`+sub+`/virtualNetworks/v","name":"v","location":"eastus",
				  "properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[{"name":"s","properties":{"addressPrefix":"10.0.0.0/24"`+se+`}}]}}`,
					nicJSON("vm", subnetID("v", "s"), "10.0.0.4", ""))
				routes, err := e.EffectiveRoutes("vm")
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range routes.Value {
					if r.NextHopType == network.HopVirtualNetworkServiceEndpoint && len(r.AddressPrefix) > 0 {
						return
					}
				}
				t.Errorf("no VirtualNetworkServiceEndpoint route")
			})
		}
	}
}
