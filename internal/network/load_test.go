package network

import (
	"testing"

	"github.com/vnetml/vnetml/internal/armerror"
)

// Nested child resources of an ARM template are read as their parent's
// children, with type and name relative to the parent's.
func TestTemplateNestedResources(t *testing.T) {
	tmpl := `{"$schema":"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#","contentVersion":"1.0.0.0","resources":[
	  {"type":"Microsoft.Network/networkSecurityGroups","apiVersion":"2023-04-01","name":"nsg","location":"eastus","properties":{"securityRules":[]},
	   "resources":[{"type":"securityRules","apiVersion":"2023-04-01","name":"deny-ssh","dependsOn":["[resourceId('Microsoft.Network/networkSecurityGroups','nsg')]"],
	     "properties":{"priority":100,"direction":"Inbound","access":"Deny","protocol":"Tcp","sourceAddressPrefix":"*","sourcePortRange":"*","destinationAddressPrefix":"*","destinationPortRange":"22"}}]},
	  {"type":"Microsoft.Network/virtualNetworks","apiVersion":"2023-04-01","name":"vnet","location":"eastus","properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]}},
	   "resources":[{"type":"Microsoft.Network/virtualNetworks/subnets","name":"vnet/default","properties":{"addressPrefix":"10.0.0.0/24"}}]}]}`
	var s Snapshot
	if err := s.DecodeBytes("t.json", []byte(tmpl)); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if r := s.NetworkSecurityGroups[0].Properties.SecurityRules; len(r) != 1 || r[0].Name != "deny-ssh" {
		t.Errorf("nested security rule not merged: %+v", r)
	}
	if sn := s.VirtualNetworks[0].Properties.Subnets; len(sn) != 1 || sn[0].Name != "default" {
		t.Errorf("nested subnet not merged: %+v", sn)
	}
}

// Every template expression is reported, each at its path, nested ones too.
func TestTemplateExpressionsAllReported(t *testing.T) {
	tmpl := `{"contentVersion":"1.0.0.0","resources":[
	  {"type":"Microsoft.Network/virtualNetworks","name":"[parameters('name')]","location":"[resourceGroup().location]","properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]}},
	   "resources":[{"type":"subnets","name":"s","properties":{"addressPrefix":"[variables('p')]"}}]}]}`
	var s Snapshot
	err := s.DecodeBytes("t.json", []byte(tmpl))
	e, ok := armerror.As(err)
	if !ok {
		t.Fatalf("want errors, got %v", err)
	}
	var targets []string
	for _, d := range append([]*armerror.Error{e}, e.Details...) {
		if d.Code == "InvalidTemplate" {
			targets = append(targets, d.Target)
		}
	}
	want := []string{"t.json:resources[0].location", "t.json:resources[0].name", "t.json:resources[0].resources[0].properties.addressPrefix"}
	if len(targets) != len(want) {
		t.Fatalf("targets %v, want %v", targets, want)
	}
	for i := range want {
		if targets[i] != want[i] {
			t.Errorf("target %d = %q, want %q", i, targets[i], want[i])
		}
	}
}
