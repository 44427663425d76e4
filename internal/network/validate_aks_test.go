package network

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidateAKSNetwork(t *testing.T) {
	v := vnet([]string{"10.0.0.0/16"}, subnet("aks", "10.0.4.0/22"), subnet("training", "10.0.1.0/24"))
	aks := &v.Properties.Subnets[0]
	ok := AKSNetworkProfile{ServiceCIDR: "10.100.0.0/16", DNSServiceIP: "10.100.0.10", DockerBridgeCIDR: "172.17.0.1/16", MaxPods: 30, NodeCount: 3}
	with := func(f func(p *AKSNetworkProfile)) AKSNetworkProfile {
		p := ok
		f(&p)
		return p
	}
	const (
		svc    = "networkProfile.serviceCIDR"
		dns    = "networkProfile.dnsServiceIP"
		bridge = "networkProfile.dockerBridgeCidr"
	)
	tests := []struct {
		name    string
		p       AKSNetworkProfile
		vnet    *VirtualNetwork
		subnet  *Subnet
		peered  []netip.Prefix
		want    []finding
		message string // prefix of the first error's message
	}{
		{"valid", ok, v, aks, nil, nil, ""},
		{"valid without a network", ok, nil, nil, nil, nil, ""},
		{"defaults collide with a 10.0.0.0/16 network (spec example)", AKSNetworkProfile{NodeCount: 3},
			vnet([]string{"10.0.0.0/16"}, subnet("default", "10.0.0.0/24")), nil, nil,
			[]finding{{CodeServiceCidrOverlapExistingSubnetsCidr, svc}},
			"The specified service CIDR 10.0.0.0/16 is conflicted with an existing subnet CIDR 10.0.0.0/24"},
		{"defaults elsewhere", AKSNetworkProfile{NodeCount: 3}, vnet([]string{"10.1.0.0/16"}, subnet("aks", "10.1.0.0/22")), nil, nil, nil, ""},
		{"service CIDR in the address space, off the subnets", with(func(p *AKSNetworkProfile) {
			p.ServiceCIDR, p.DNSServiceIP = "10.0.128.0/20", "10.0.128.10"
		}), v, aks, nil, []finding{{CodeServiceCidrOverlapExistingSubnetsCidr, svc}}, ""},
		{"service CIDR overlaps a peered network", ok, v, aks, []netip.Prefix{netip.MustParsePrefix("10.100.0.0/24")},
			[]finding{{CodeServiceCidrOverlapExistingSubnetsCidr, svc}}, ""},
		{"service CIDR garbage", with(func(p *AKSNetworkProfile) { p.ServiceCIDR = "ten" }), v, aks, nil,
			[]finding{{CodeCidrStringParseError, svc}}, "Cidr is invalid"},
		{"service CIDR without length", with(func(p *AKSNetworkProfile) { p.ServiceCIDR = "10.100.0.0" }), v, aks, nil,
			[]finding{{CodeCidrStringParseError, svc}}, ""},
		{"service CIDR host bits", with(func(p *AKSNetworkProfile) { p.ServiceCIDR = "10.100.0.1/16" }), v, aks, nil,
			[]finding{{CodeCidrStringParseError, svc}}, ""},
		{"service CIDR IPv6", with(func(p *AKSNetworkProfile) { p.ServiceCIDR = "fd00::/108" }), v, aks, nil,
			[]finding{{CodeCidrStringParseError, svc}}, ""},
		{"service CIDR /12", with(func(p *AKSNetworkProfile) { p.ServiceCIDR, p.DNSServiceIP = "100.64.0.0/12", "100.64.0.10" }), v, aks, nil, nil, ""},
		{"service CIDR /11", with(func(p *AKSNetworkProfile) { p.ServiceCIDR, p.DNSServiceIP = "100.64.0.0/11", "100.64.0.10" }), v, aks, nil,
			[]finding{{CodeServiceCidrTooLarge, svc}}, ""},
		{"service CIDR 172.30/16", with(func(p *AKSNetworkProfile) { p.ServiceCIDR, p.DNSServiceIP = "172.30.0.0/16", "172.30.0.10" }), v, aks, nil,
			[]finding{{CodeServiceCidrOverlapReservedRange, svc}}, ""},
		{"service CIDR 169.254/16", with(func(p *AKSNetworkProfile) { p.ServiceCIDR, p.DNSServiceIP = "169.254.0.0/16", "169.254.0.10" }), v, aks, nil,
			[]finding{{CodeServiceCidrOverlapReservedRange, svc}}, ""},
		{"service CIDR 192.0.2/24", with(func(p *AKSNetworkProfile) { p.ServiceCIDR, p.DNSServiceIP = "192.0.2.0/24", "192.0.2.10" }), v, aks, nil,
			[]finding{{CodeServiceCidrOverlapReservedRange, svc}}, ""},
		{"service CIDR 172.16/12 covers two reserved ranges and the bridge", with(func(p *AKSNetworkProfile) {
			p.ServiceCIDR, p.DNSServiceIP = "172.16.0.0/12", "172.16.0.10"
		}), v, aks, nil, []finding{
			{CodeServiceCidrOverlapReservedRange, svc},
			{CodeServiceCidrOverlapReservedRange, svc},
			{CodeDockerBridgeCidrOverlap, bridge},
		}, ""},
		{"DNS outside", with(func(p *AKSNetworkProfile) { p.DNSServiceIP = "10.101.0.10" }), v, aks, nil,
			[]finding{{CodeInvalidDnsServiceIP, dns}}, "DNSServiceIP '10.101.0.10' is not within the ServiceCidr '10.100.0.0/16'"},
		{"DNS network address", with(func(p *AKSNetworkProfile) { p.DNSServiceIP = "10.100.0.0" }), v, aks, nil,
			[]finding{{CodeInvalidDnsServiceIP, dns}}, ""},
		{"DNS first address", with(func(p *AKSNetworkProfile) { p.DNSServiceIP = "10.100.0.1" }), v, aks, nil,
			[]finding{{CodeInvalidDnsServiceIP, dns}}, "DNSServiceIP '10.100.0.1' cannot be the first IP of ServiceCidr '10.100.0.0/16'"},
		{"DNS second address", with(func(p *AKSNetworkProfile) { p.DNSServiceIP = "10.100.0.2" }), v, aks, nil, nil, ""},
		{"DNS broadcast", with(func(p *AKSNetworkProfile) { p.DNSServiceIP = "10.100.255.255" }), v, aks, nil,
			[]finding{{CodeInvalidDnsServiceIP, dns}}, "DNSServiceIP '10.100.255.255' cannot be the broadcast address of ServiceCidr '10.100.0.0/16'"},
		{"DNS garbage", with(func(p *AKSNetworkProfile) { p.DNSServiceIP = "dns" }), v, aks, nil,
			[]finding{{CodeInvalidDnsServiceIP, dns}}, ""},
		{"DNS without CIDR", with(func(p *AKSNetworkProfile) { p.ServiceCIDR = "" }), v, aks, nil,
			[]finding{{CodeServiceCidrAndDnsServiceIPMustBeSetTogether, svc}}, ""},
		{"CIDR without DNS", with(func(p *AKSNetworkProfile) { p.DNSServiceIP = "" }), v, aks, nil,
			[]finding{{CodeServiceCidrAndDnsServiceIPMustBeSetTogether, dns}}, ""},
		{"bridge in the network", with(func(p *AKSNetworkProfile) { p.DockerBridgeCIDR = "10.0.4.1/24" }), v, aks, nil,
			[]finding{{CodeDockerBridgeCidrOverlap, bridge}, {CodeDockerBridgeCidrOverlap, bridge}}, ""},
		{"bridge in the service CIDR", with(func(p *AKSNetworkProfile) { p.DockerBridgeCIDR = "10.100.200.1/24" }), v, aks, nil,
			[]finding{{CodeDockerBridgeCidrOverlap, bridge}}, ""},
		{"bridge default overlaps a 172.16/12 network", with(func(p *AKSNetworkProfile) { p.DockerBridgeCIDR = "" }),
			vnet([]string{"172.16.0.0/12"}, subnet("aks", "172.16.0.0/22")), nil, nil,
			[]finding{{CodeDockerBridgeCidrOverlap, bridge}}, ""},
		{"bridge garbage", with(func(p *AKSNetworkProfile) { p.DockerBridgeCIDR = "docker0" }), v, aks, nil,
			[]finding{{CodeCidrStringParseError, bridge}}, ""},
		{"maxPods default", with(func(p *AKSNetworkProfile) { p.MaxPods = 0 }), v, aks, nil, nil, ""},
		{"maxPods 250", with(func(p *AKSNetworkProfile) { p.MaxPods = 250 }), v, aks, nil, nil, ""},
		{"maxPods 29", with(func(p *AKSNetworkProfile) { p.MaxPods = 29 }), v, aks, nil, []finding{{CodeInvalidMaxPods, "agentPoolProfiles.maxPods"}}, ""},
		{"maxPods 251", with(func(p *AKSNetworkProfile) { p.MaxPods = 251 }), v, aks, nil, []finding{{CodeInvalidMaxPods, "agentPoolProfiles.maxPods"}}, ""},
		{"negative node count", with(func(p *AKSNetworkProfile) { p.NodeCount = -1 }), v, aks, nil, []finding{{CodeInvalidNodeCount, "agentPoolProfiles.count"}}, ""},
		{"50 nodes need a /21 (spec example)", with(func(p *AKSNetworkProfile) { p.NodeCount = 50 }), v, aks, nil,
			[]finding{{CodeSubnetTooSmallForAKS, "agentPoolProfiles.vnetSubnetID"}},
			"subnet 'aks' (10.0.4.0/22) has 1019 usable addresses (Azure reserves 5 per prefix) but Azure CNI needs 1581 for 50 nodes with maxPods 30: (nodes+1) + (nodes+1)*maxPods = 51 + 51*30; the smallest subnet that fits is /21 (2043 usable addresses)"},
		{"50 nodes fit a /21", with(func(p *AKSNetworkProfile) { p.NodeCount = 50 }), v, ptr(subnet("big", "10.0.8.0/21")), nil, nil, ""},
		{"32 nodes fill a /22 exactly", with(func(p *AKSNetworkProfile) { p.NodeCount = 31 }), v, aks, nil, nil, ""},
		{"33 nodes overflow a /22", with(func(p *AKSNetworkProfile) { p.NodeCount = 32 }), v, aks, nil,
			[]finding{{CodeSubnetTooSmallForAKS, "agentPoolProfiles.vnetSubnetID"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := ValidateAKSNetwork(tt.p, tt.vnet, tt.subnet, tt.peered)
			if diff := cmp.Diff(tt.want, findings(l)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if tt.message != "" && (l.Len() == 0 || !strings.HasPrefix(l.Errs[0].Message, tt.message)) {
				t.Errorf("message = %v, want prefix %q", l.Err(), tt.message)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestAddressHelpers(t *testing.T) {
	tests := []struct {
		prefix, last string
		usable       string
	}{
		{"10.0.1.0/24", "10.0.1.255", "10.0.1.4-10.0.1.254"},
		{"10.0.0.0/29", "10.0.0.7", "10.0.0.4-10.0.0.6"},
		{"10.0.0.0/8", "10.255.255.255", "10.0.0.4-10.255.255.254"},
		{"0.0.0.0/0", "255.255.255.255", "0.0.0.4-255.255.255.254"},
		{"10.0.0.4/30", "10.0.0.7", "a larger subnet"},
		{"10.0.0.4/32", "10.0.0.4", "a larger subnet"},
		{"fd00:db8::/64", "fd00:db8::ffff:ffff:ffff:ffff", "fd00:db8::4-fd00:db8::ffff:ffff:ffff:fffe"},
		{"10.0.0.0/23", "10.0.1.255", "10.0.0.4-10.0.1.254"},
	}
	for _, tt := range tests {
		p := netip.MustParsePrefix(tt.prefix)
		if got := lastAddr(p).String(); got != tt.last {
			t.Errorf("lastAddr(%s) = %s, want %s", p, got, tt.last)
		}
		if got := usableRange(p); got != tt.usable {
			t.Errorf("usableRange(%s) = %s, want %s", p, got, tt.usable)
		}
	}
	for bits, want := range map[int]int{29: 3, 24: 251, 22: 1019, 21: 2043, 30: 0, 32: 0} {
		if got := usableAddrs(bits); got != want {
			t.Errorf("usableAddrs(%d) = %d, want %d", bits, got, want)
		}
	}
}
