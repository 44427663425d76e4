package aks

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/network"
)

const (
	testVNetID = "/subscriptions/" + testSub + "/resourceGroups/netrg/providers/Microsoft.Network/virtualNetworks/vnet1"
	testHubID  = "/subscriptions/" + testSub + "/resourceGroups/netrg/providers/Microsoft.Network/virtualNetworks/hub"
)

func subnet(name, prefix string) network.Subnet {
	return network.Subnet{Name: name, Properties: network.SubnetProperties{AddressPrefix: prefix}}
}

func nic(name, subnetID, addr string) network.NetworkInterface {
	return network.NetworkInterface{
		Meta: network.Meta{Name: name, ResourceGroup: "netrg"},
		Properties: network.NICProperties{IPConfigurations: []network.IPConfiguration{{
			Name:       "ipconfig1",
			Properties: network.IPConfigurationProperties{PrivateIPAddress: addr, Subnet: &network.SubResource{ID: subnetID}},
		}}},
	}
}

// testSnapshot is the cluster's network: vnet1 (10.0.0.0/16, eastus) with
// subnets aks /22 (one NIC at 10.0.0.4), training, ilb and small, peered
// with hub (10.1.0.0/16, in the snapshot), with onprem (known only by the
// peering's remote space, 192.168.0.0/20), and — disconnected — with old
// (10.5.0.0/16).
func testSnapshot() *network.Snapshot {
	peer := func(name, remote, state string, space ...string) network.VirtualNetworkPeering {
		p := network.VirtualNetworkPeering{Name: name, Properties: network.PeeringProperties{
			RemoteVirtualNetwork: &network.SubResource{ID: remote}, PeeringState: state,
		}}
		if len(space) > 0 {
			p.Properties.RemoteAddressSpace = &network.AddressSpace{AddressPrefixes: space}
		}
		return p
	}
	s := &network.Snapshot{
		VirtualNetworks: []network.VirtualNetwork{{
			Meta: network.Meta{Name: "vnet1", ID: testVNetID, Location: "eastus"},
			Properties: network.VirtualNetworkProperties{
				AddressSpace: network.AddressSpace{AddressPrefixes: []string{"10.0.0.0/16"}},
				Subnets: []network.Subnet{
					subnet("aks", "10.0.0.0/22"), subnet("training", "10.0.8.0/24"),
					subnet("ilb", "10.0.9.0/27"), subnet("small", "10.0.10.0/25"),
				},
				VirtualNetworkPeerings: []network.VirtualNetworkPeering{
					peer("to-hub", testHubID, "Connected"),
					peer("to-onprem", "/subscriptions/"+testSub+"/resourceGroups/netrg/providers/Microsoft.Network/virtualNetworks/onprem", "Connected", "192.168.0.0/20"),
					peer("to-old", "/subscriptions/"+testSub+"/resourceGroups/netrg/providers/Microsoft.Network/virtualNetworks/old", "Disconnected", "10.5.0.0/16"),
				},
			},
		}, {
			Meta:       network.Meta{Name: "hub", ID: testHubID, Location: "eastus"},
			Properties: network.VirtualNetworkProperties{AddressSpace: network.AddressSpace{AddressPrefixes: []string{"10.1.0.0/16"}}},
		}},
		NetworkInterfaces: []network.NetworkInterface{nic("jump", testSubnet, "10.0.0.4")},
	}
	s.Normalize()
	return s
}

func testSpec() Spec {
	return Spec{
		Location: "eastus", AgentCount: 3, AgentVMSize: "STANDARD_D3_V2", AgentVCPUs: 4,
		ClusterPurpose: PurposeFastProd, LoadBalancerType: LoadBalancerPublicIP, SSL: SSL{Status: SSLDisabled},
		Network: &Networking{SubnetID: testSubnet, ServiceCIDR: "10.100.0.0/16", DNSServiceIP: "10.100.0.10", DockerBridgeCIDR: "172.17.0.1/16"},
	}
}

func TestCheckNetwork(t *testing.T) {
	const (
		sub    = "properties.properties.aksNetworkingConfiguration.subnetId"
		svc    = "properties.properties.aksNetworkingConfiguration.serviceCidr"
		dns    = "properties.properties.aksNetworkingConfiguration.dnsServiceIP"
		bridge = "properties.properties.aksNetworkingConfiguration.dockerBridgeCidr"
		lbsub  = "properties.properties.loadBalancerSubnet"
		free16 = "10.2.0.0/16 (with dnsServiceIP 10.2.0.10)" // 10.0/16 is the VNet, 10.1/16 the hub
	)
	net := func(svc, dns, bridge string) func(*Spec, *network.Snapshot) {
		return func(s *Spec, _ *network.Snapshot) {
			s.Network.ServiceCIDR, s.Network.DNSServiceIP, s.Network.DockerBridgeCIDR = svc, dns, bridge
		}
	}
	tests := []struct {
		name   string
		change func(*Spec, *network.Snapshot)
		want   []finding
	}{
		{"valid", func(*Spec, *network.Snapshot) {}, nil},
		{"no network configuration", func(s *Spec, _ *network.Snapshot) { s.Network = nil }, nil},
		{"a disconnected peer's range is free", net("10.5.0.0/16", "10.5.0.10", "172.17.0.1/16"), nil},
		{"DNS on the second address", net("10.100.0.0/16", "10.100.0.2", "172.17.0.1/16"), nil},
		{"31 agents fill the /22 but for 26 addresses", func(s *Spec, _ *network.Snapshot) { s.AgentCount = 31 }, nil},

		// The subnet.
		{"subnet missing", func(s *Spec, _ *network.Snapshot) { s.Network.SubnetID = testVNetID + "/subnets/nope" }, []finding{
			{CodeSubnetNotFound, sub, "The subnet " + testVNetID + "/subnets/nope does not exist; create it (az network vnet subnet create) or give the id of an existing subnet."}}},
		{"network in another region", func(_ *Spec, n *network.Snapshot) { n.VirtualNetworks[0].Location = "westus2" }, []finding{
			{CodeInvalidParameter, sub, "The virtual network vnet1 of subnet 'aks' is in westus2 but the workspace is in eastus: an AKS cluster and its virtual network must be in the workspace's region; use a subnet of a virtual network in eastus."}}},
		{"subnet delegated", func(_ *Spec, n *network.Snapshot) {
			n.VirtualNetworks[0].Properties.Subnets[0].Properties.Delegations = []network.Delegation{{Name: "web", Properties: network.DelegationProperties{ServiceName: "Microsoft.Web/serverFarms"}}}
		}, []finding{
			{CodeSubnetIsDelegated, sub, "Subnet 'aks' is delegated to Microsoft.Web/serverFarms, so an AKS cluster's nodes cannot join it; remove the delegation or use another subnet."}}},

		// The service CIDR.
		{"service CIDR garbage", net("ten", "10.100.0.10", "172.17.0.1/16"), []finding{
			{CodeCidrStringParseError, svc, `Cidr is invalid: serviceCidr "ten" is not a CIDR prefix; give a private range no network here uses, such as ` + free16 + "."}}},
		{"service CIDR without a length", net("10.100.0.0", "10.100.0.10", "172.17.0.1/16"), []finding{
			{CodeCidrStringParseError, svc, `Cidr is invalid: serviceCidr "10.100.0.0" is not a CIDR prefix; give a private range no network here uses, such as ` + free16 + "."}}},
		{"service CIDR with host bits", net("10.100.0.1/16", "10.100.0.10", "172.17.0.1/16"), []finding{
			{CodeCidrStringParseError, svc, "Cidr is invalid: serviceCidr 10.100.0.1/16 has host bits set; for its prefix length it should be 10.100.0.0/16."}}},
		{"service CIDR IPv6", net("fd00::/108", "fd00::10", "172.17.0.1/16"), []finding{
			{CodeIPv6NotSupported, svc, "The service CIDR fd00::/108 is not IPv4, which an AKS cluster with Azure CNI does not support; give an IPv4 private range such as " + free16 + "."},
			{CodeDnsServiceIpParseError, dns, `The DNS service IP "fd00::10" is not an IPv4 address; give an address inside serviceCidr, such as its .10 address.`}}},
		{"service CIDR public", net("20.0.0.0/16", "20.0.0.10", "172.17.0.1/16"), []finding{
			{CodeInvalidParameter, svc, "The service CIDR 20.0.0.0/16 is not a private (RFC 1918) range; give one inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 that no network here uses, such as " + free16 + "."}}},
		{"service CIDR /12 is the largest", net("10.16.0.0/12", "10.16.0.10", "172.17.0.1/16"), nil},
		{"service CIDR /11", net("10.32.0.0/11", "10.32.0.10", "172.17.0.1/16"), []finding{
			{CodeInvalidParameter, svc, "The service CIDR 10.32.0.0/11 is larger than /12; give a /12 or smaller range, such as 10.16.0.0/12 (with dnsServiceIP 10.16.0.10)."}}},
		{"service CIDR reserved by AKS", net("172.30.0.0/16", "172.30.0.10", "172.17.0.1/16"), []finding{
			{CodeInvalidParameter, svc, "The service CIDR 172.30.0.0/16 overlaps 172.30.0.0/16, which AKS reserves (169.254.0.0/16, 172.30.0.0/16, 172.31.0.0/16 and 192.0.2.0/24 cannot be used); give another range, such as " + free16 + "."}}},
		{"service CIDR 172.16/12: two reserved ranges and the bridge", net("172.16.0.0/12", "172.16.0.10", "172.17.0.1/16"), []finding{
			{CodeInvalidParameter, svc, "The service CIDR 172.16.0.0/12 overlaps 172.30.0.0/16, which AKS reserves (169.254.0.0/16, 172.30.0.0/16, 172.31.0.0/16 and 192.0.2.0/24 cannot be used); give another range, such as 10.16.0.0/12 (with dnsServiceIP 10.16.0.10)."},
			{CodeInvalidParameter, svc, "The service CIDR 172.16.0.0/12 overlaps 172.31.0.0/16, which AKS reserves (169.254.0.0/16, 172.30.0.0/16, 172.31.0.0/16 and 192.0.2.0/24 cannot be used); give another range, such as 10.16.0.0/12 (with dnsServiceIP 10.16.0.10)."},
			{CodeDockerBridgeInServiceCidr, bridge, "NetworkProfile.DockerBridgeCidr 172.17.0.1/16 is invalid. Please choose one that does not overlap the service CIDR 172.16.0.0/12, such as 10.2.0.1/16."}}},
		{"service CIDR on the subnets (spec §8's example)", net("10.0.0.0/16", "10.0.0.10", "172.17.0.1/16"), []finding{
			{CodeServiceCidrOverlapExistingSubnetsCidr, svc, "The specified service CIDR 10.0.0.0/16 is conflicted with an existing subnet CIDR 10.0.0.0/22 (subnet 'aks'); give a range no subnet uses, such as " + free16 + "."},
			{CodeServiceCidrOverlapExistingSubnetsCidr, svc, "The specified service CIDR 10.0.0.0/16 is conflicted with an existing subnet CIDR 10.0.8.0/24 (subnet 'training'); give a range no subnet uses, such as " + free16 + "."},
			{CodeServiceCidrOverlapExistingSubnetsCidr, svc, "The specified service CIDR 10.0.0.0/16 is conflicted with an existing subnet CIDR 10.0.9.0/27 (subnet 'ilb'); give a range no subnet uses, such as " + free16 + "."},
			{CodeServiceCidrOverlapExistingSubnetsCidr, svc, "The specified service CIDR 10.0.0.0/16 is conflicted with an existing subnet CIDR 10.0.10.0/25 (subnet 'small'); give a range no subnet uses, such as " + free16 + "."}}},
		{"service CIDR in the address space, off the subnets", net("10.0.128.0/20", "10.0.128.10", "172.17.0.1/16"), []finding{
			{CodeInvalidParameter, svc, "The specified service CIDR 10.0.128.0/20 overlaps the address space 10.0.0.0/16 of virtual network vnet1; give a range outside the cluster's network, such as 10.2.0.0/20 (with dnsServiceIP 10.2.0.10)."}}},
		{"service CIDR on a peer in the snapshot", net("10.1.0.0/16", "10.1.0.10", "172.17.0.1/16"), []finding{
			{CodeInvalidParameter, svc, "The specified service CIDR 10.1.0.0/16 overlaps the address space 10.1.0.0/16 of peered virtual network hub, whose addresses the cluster could not reach; give a range no peered network uses, such as " + free16 + "."}}},
		{"service CIDR on a peer known by its remote space", net("192.168.0.0/16", "192.168.0.10", "172.17.0.1/16"), []finding{
			{CodeInvalidParameter, svc, "The specified service CIDR 192.168.0.0/16 overlaps the address space 192.168.0.0/20 of peered virtual network onprem, whose addresses the cluster could not reach; give a range no peered network uses, such as " + free16 + "."}}},

		// The DNS service IP.
		{"DNS outside", net("10.100.0.0/16", "10.101.0.10", "172.17.0.1/16"), []finding{
			{CodeDnsServiceIpOutOfServiceCidr, dns, "The DNS service IP 10.101.0.10 is out of the range defined by service CIDR 10.100.0.0/16. Use an address inside it, such as 10.100.0.10."}}},
		{"DNS on the network address", net("10.100.0.0/16", "10.100.0.0", "172.17.0.1/16"), []finding{
			{CodeInvalidParameter, dns, "The DNS service IP 10.100.0.0 is the network address of service CIDR 10.100.0.0/16, where cluster DNS does not work (Azure/AKS#2579); use another address inside it, such as 10.100.0.10."}}},
		{"DNS on the first address", net("10.100.0.0/16", "10.100.0.1", "172.17.0.1/16"), []finding{
			{CodeDnsServiceIpConflicting, dns, "The DNS service IP 10.100.0.1 is the first address of service CIDR 10.100.0.0/16, which Kubernetes gives the API server (kubernetes.default.svc); use another address inside it, such as 10.100.0.10."}}},
		{"DNS on the broadcast address", net("10.100.0.0/16", "10.100.255.255", "172.17.0.1/16"), []finding{
			{CodeDnsBroadcastAddressConflicting, dns, "The DNS service IP 10.100.255.255 is the broadcast address of service CIDR 10.100.0.0/16; use another address inside it, such as 10.100.0.10."}}},
		{"DNS garbage", net("10.100.0.0/16", "dns", "172.17.0.1/16"), []finding{
			{CodeDnsServiceIpParseError, dns, `The DNS service IP "dns" is not an IPv4 address; give an address inside serviceCidr 10.100.0.0/16, such as 10.100.0.10.`}}},

		// The docker bridge.
		{"bridge garbage", net("10.100.0.0/16", "10.100.0.10", "bridge"), []finding{
			{CodeDockerBridgeCidrInvalid, bridge, `NetworkProfile.DockerBridgeCidr "bridge" is invalid: it is not an IPv4 address with a prefix length; give one such as 172.16.0.1/16.`}}},
		{"bridge without a length", net("10.100.0.0/16", "10.100.0.10", "172.17.0.1"), []finding{
			{CodeDockerBridgeCidrInvalid, bridge, `NetworkProfile.DockerBridgeCidr "172.17.0.1" is invalid: it is not an IPv4 address with a prefix length; give one such as 172.16.0.1/16.`}}},
		{"bridge on a subnet", net("10.100.0.0/16", "10.100.0.10", "10.0.8.1/24"), []finding{
			{CodeDockerBridgeInSubnetCidr, bridge, "NetworkProfile.DockerBridgeCidr 10.0.8.1/24 is invalid. Please choose one that does not overlap Subnet Cidr 10.0.8.0/24 (subnet 'training'), such as 172.16.0.1/24."}}},
		{"bridge in the address space, off the subnets", net("10.100.0.0/16", "10.100.0.10", "10.0.200.1/24"), []finding{
			{CodeDockerBridgeCidrInvalid, bridge, "NetworkProfile.DockerBridgeCidr 10.0.200.1/24 is invalid. Please choose one that does not overlap the address space 10.0.0.0/16 of virtual network vnet1, such as 172.16.0.1/24."}}},
		{"bridge in the service CIDR", net("10.100.0.0/16", "10.100.0.10", "10.100.0.1/24"), []finding{
			{CodeDockerBridgeInServiceCidr, bridge, "NetworkProfile.DockerBridgeCidr 10.100.0.1/24 is invalid. Please choose one that does not overlap the service CIDR 10.100.0.0/16, such as 172.16.0.1/24."}}},

		// Room for the nodes and pods.
		{"40 agents overflow the /22", func(s *Spec, _ *network.Snapshot) { s.AgentCount = 40 }, []finding{
			{CodeInsufficientSubnetSize, sub, "Pre-allocated IPs 1271 exceeds IPs available 1018 in Subnet Cidr 10.0.0.0/22, Subnet Name aks. Azure CNI pre-allocates (agentCount+1) + (agentCount+1)×maxPods = (40+1) + (40+1)×30 addresses; the subnet has 1019 usable (Azure reserves 5 per prefix), 1 of them in use. To fix it, use a subnet of /21 or larger (2043 usable addresses) with nothing else in it, or fewer agents."}}},
		{"a /25 is one address short for 3 agents", func(s *Spec, _ *network.Snapshot) {
			s.Network.SubnetID = testVNetID + "/subnets/small"
		}, []finding{
			{CodeInsufficientSubnetSize, sub, "Pre-allocated IPs 124 exceeds IPs available 123 in Subnet Cidr 10.0.10.0/25, Subnet Name small. Azure CNI pre-allocates (agentCount+1) + (agentCount+1)×maxPods = (3+1) + (3+1)×30 addresses; the subnet has 123 usable (Azure reserves 5 per prefix), 0 of them in use. To fix it, use a subnet of /24 or larger (251 usable addresses) with nothing else in it, or fewer agents."}}},
		{"addresses in use count, reserved and foreign ones don't", func(s *Spec, n *network.Snapshot) {
			s.AgentCount = 31 // needs 992 of the 1019
			for i := 5; i < 32; i++ {
				n.NetworkInterfaces = append(n.NetworkInterfaces, nic(fmt.Sprintf("n%d", i), testSubnet, fmt.Sprintf("10.0.0.%d", i)))
			}
			n.NetworkInterfaces = append(n.NetworkInterfaces,
				nic("reserved", testSubnet, "10.0.0.1"), nic("foreign", testSubnet, "10.0.8.9"),
				nic("elsewhere", testVNetID+"/subnets/training", "10.0.8.4"))
			n.LoadBalancers = []network.LoadBalancer{{Meta: network.Meta{Name: "ilb"}, Properties: network.LoadBalancerProperties{
				FrontendIPConfigurations: []network.FrontendIPConfiguration{{Name: "fe", Properties: network.FrontendIPConfigurationProperties{
					PrivateIPAddress: "10.0.3.250", Subnet: &network.SubResource{ID: testSubnet},
				}}},
			}}}
		}, []finding{
			{CodeInsufficientSubnetSize, sub, "Pre-allocated IPs 992 exceeds IPs available 990 in Subnet Cidr 10.0.0.0/22, Subnet Name aks. Azure CNI pre-allocates (agentCount+1) + (agentCount+1)×maxPods = (31+1) + (31+1)×30 addresses; the subnet has 1019 usable (Azure reserves 5 per prefix), 29 of them in use. To fix it, use a subnet of /22 or larger (1019 usable addresses) with nothing else in it, or fewer agents."}}},
		{"no subnet is large enough", func(s *Spec, _ *network.Snapshot) { s.AgentCount = 40_000_000 }, []finding{
			{CodeInsufficientSubnetSize, sub, "Pre-allocated IPs 1240000031 exceeds IPs available 1018 in Subnet Cidr 10.0.0.0/22, Subnet Name aks. Azure CNI pre-allocates (agentCount+1) + (agentCount+1)×maxPods = (40000000+1) + (40000000+1)×30 addresses; the subnet has 1019 usable (Azure reserves 5 per prefix), 1 of them in use. To fix it, no subnet Azure allows is that large; use fewer agents."}}},

		// The internal load balancer's subnet.
		{"internal load balancer subnet in the network", func(s *Spec, _ *network.Snapshot) {
			s.LoadBalancerType, s.LoadBalancerSubnet = LoadBalancerInternal, "ILB"
		}, nil},
		{"internal load balancer on the default aks-subnet, missing", func(s *Spec, _ *network.Snapshot) {
			s.LoadBalancerType, s.LoadBalancerSubnet = LoadBalancerInternal, DefaultLoadBalancerSubnet
		}, []finding{
			{CodeInvalidParameter, lbsub, "The internal load balancer's subnet 'aks-subnet' is not a subnet of virtual network vnet1 (it has 'aks', 'training', 'ilb', 'small'); set loadBalancerSubnet to one of them, usually the cluster's own subnet 'aks'."}}},

		// Everything at once.
		{"several problems together", func(s *Spec, n *network.Snapshot) {
			n.VirtualNetworks[0].Location = "westeurope"
			s.Network.ServiceCIDR, s.Network.DNSServiceIP, s.Network.DockerBridgeCIDR = "10.0.8.0/24", "10.0.9.1", "10.0.8.1/16"
		}, []finding{
			{CodeInvalidParameter, sub, "The virtual network vnet1 of subnet 'aks' is in westeurope but the workspace is in eastus: an AKS cluster and its virtual network must be in the workspace's region; use a subnet of a virtual network in eastus."},
			{CodeServiceCidrOverlapExistingSubnetsCidr, svc, "The specified service CIDR 10.0.8.0/24 is conflicted with an existing subnet CIDR 10.0.8.0/24 (subnet 'training'); give a range no subnet uses, such as 10.2.0.0/24 (with dnsServiceIP 10.2.0.10)."},
			{CodeDnsServiceIpOutOfServiceCidr, dns, "The DNS service IP 10.0.9.1 is out of the range defined by service CIDR 10.0.8.0/24. Use an address inside it, such as 10.0.8.10."},
			{CodeDockerBridgeInSubnetCidr, bridge, "NetworkProfile.DockerBridgeCidr 10.0.8.1/16 is invalid. Please choose one that does not overlap Subnet Cidr 10.0.0.0/22 (subnet 'aks'), such as 172.16.0.1/16."},
			{CodeDockerBridgeInSubnetCidr, bridge, "NetworkProfile.DockerBridgeCidr 10.0.8.1/16 is invalid. Please choose one that does not overlap Subnet Cidr 10.0.8.0/24 (subnet 'training'), such as 172.16.0.1/16."},
			{CodeDockerBridgeInSubnetCidr, bridge, "NetworkProfile.DockerBridgeCidr 10.0.8.1/16 is invalid. Please choose one that does not overlap Subnet Cidr 10.0.9.0/27 (subnet 'ilb'), such as 172.16.0.1/16."},
			{CodeDockerBridgeInSubnetCidr, bridge, "NetworkProfile.DockerBridgeCidr 10.0.8.1/16 is invalid. Please choose one that does not overlap Subnet Cidr 10.0.10.0/25 (subnet 'small'), such as 172.16.0.1/16."},
			{CodeDockerBridgeInServiceCidr, bridge, "NetworkProfile.DockerBridgeCidr 10.0.8.1/16 is invalid. Please choose one that does not overlap the service CIDR 10.0.8.0/24, such as 172.16.0.1/16."}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, snap := testSpec(), testSnapshot()
			tc.change(&s, snap)
			err := CheckNetwork(snap, "East US", s)
			if d := cmp.Diff(tc.want, findings(t, err)); d != "" {
				t.Errorf("findings (-want +got):\n%s", d)
			}
		})
	}
}

// TestCheckNetworkDecoded runs the checks on what DecodeSpec returns, as
// the server will: the decoded spec's subnet id finds the snapshot's.
func TestCheckNetworkDecoded(t *testing.T) {
	body := set(minimal(), "properties.properties.aksNetworkingConfiguration", map[string]any{
		"subnetId":    "/subscriptions/" + testSub + "/resourcegroups/NETRG/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/aks",
		"serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.10", "dockerBridgeCidr": "172.17.0.1/16",
	})
	s, err := DecodeSpec(mustJSON(t, body), testCtx)
	if err != nil {
		t.Fatal(err)
	}
	got := codesAt(findings(t, CheckNetwork(testSnapshot(), testCtx.WorkspaceLocation, s)))
	want := []string{
		"ServiceCidrOverlapExistingSubnetsCidr@properties.properties.aksNetworkingConfiguration.serviceCidr",
		"ServiceCidrOverlapExistingSubnetsCidr@properties.properties.aksNetworkingConfiguration.serviceCidr",
		"ServiceCidrOverlapExistingSubnetsCidr@properties.properties.aksNetworkingConfiguration.serviceCidr",
		"ServiceCidrOverlapExistingSubnetsCidr@properties.properties.aksNetworkingConfiguration.serviceCidr",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
	// An attached cluster has no network configuration to check.
	if err := CheckNetwork(testSnapshot(), "eastus", Spec{ResourceID: testAKS}); err != nil {
		t.Errorf("attached: %v", err)
	}
}
