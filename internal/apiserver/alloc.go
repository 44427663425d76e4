package apiserver

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/store"
)

// allocate gives addresses to what asks for dynamic ones: a NIC's ip
// configurations without an address (the lowest free address of the
// subnet; an existing configuration keeps its address while it stays in
// the same subnet) and a public IP without an address (from the pool).
func (t *txn) allocate(obj, old any) error {
	switch o := obj.(type) {
	case *network.NetworkInterface:
		prev, _ := old.(*network.NetworkInterface)
		return t.allocateNIC(o, prev)
	case *network.PublicIPAddress:
		prev, _ := old.(*network.PublicIPAddress)
		return t.allocatePublicIP(o, prev)
	}
	return nil
}

func (t *txn) allocateNIC(n, prev *network.NetworkInterface) error {
	for i := range n.Properties.IPConfigurations {
		c := &n.Properties.IPConfigurations[i].Properties
		if c.PrivateIPAddress != "" {
			if c.PrivateIPAllocationMethod == "" {
				c.PrivateIPAllocationMethod = "Static"
			}
			continue
		}
		c.PrivateIPAllocationMethod = "Dynamic"
		if c.Subnet == nil || c.Subnet.ID == "" {
			continue // validation reports the missing subnet
		}
		if prev != nil {
			for _, pc := range prev.Properties.IPConfigurations {
				if strings.EqualFold(pc.Name, n.Properties.IPConfigurations[i].Name) && pc.Properties.Subnet != nil &&
					network.SameID(pc.Properties.Subnet.ID, c.Subnet.ID) && pc.Properties.PrivateIPAddress != "" {
					c.PrivateIPAddress = pc.Properties.PrivateIPAddress
				}
			}
			if c.PrivateIPAddress != "" {
				continue
			}
		}
		subnet := t.subnet(c.Subnet.ID)
		if subnet == nil {
			continue // validation reports the dangling reference
		}
		used := t.addressesIn(c.Subnet.ID, n)
		a, ok := network.FreeAddress(subnet, func(a netip.Addr) bool { return used[a] })
		if !ok {
			return armerror.New("SubnetIsFull", "properties.ipConfigurations["+strconv.Itoa(i)+"].properties.subnet",
				"Subnet %s with address prefix %s does not have enough capacity for 1 IP addresses. Use a larger subnet or free an address.",
				subnet.Name, strings.Join(subnet.Properties.AllPrefixes(), ", "))
		}
		used[a] = true
		c.PrivateIPAddress = a.String()
	}
	return nil
}

// subnet finds a subnet by id among the networks this transaction sees.
func (t *txn) subnet(id string) *network.Subnet {
	r, err := network.ParseResourceID(id)
	if err != nil || len(r.Names) != 2 {
		return nil
	}
	e := t.get(network.Key(network.MakeID(r.Subscription, r.ResourceGroup, network.TypeVirtualNetwork, r.Names[0])))
	if e == nil {
		return nil
	}
	v, ok := e.obj.(*network.VirtualNetwork)
	if !ok {
		return nil
	}
	for i := range v.Properties.Subnets {
		if strings.EqualFold(v.Properties.Subnets[i].Name, r.Names[1]) {
			return &v.Properties.Subnets[i]
		}
	}
	return nil
}

// addressesIn lists the addresses of a subnet taken by NICs and load
// balancer frontends other than self, and by self's static addresses.
func (t *txn) addressesIn(subnetID string, self *network.NetworkInterface) map[netip.Addr]bool {
	used := map[netip.Addr]bool{}
	take := func(subnet *network.SubResource, addr string) {
		if subnet != nil && network.SameID(subnet.ID, subnetID) {
			if a, err := netip.ParseAddr(addr); err == nil {
				used[a] = true
			}
		}
	}
	t.each(func(e *entry) {
		switch o := e.obj.(type) {
		case *network.NetworkInterface:
			if network.SameID(o.ID, self.ID) {
				return
			}
			for _, c := range o.Properties.IPConfigurations {
				take(c.Properties.Subnet, c.Properties.PrivateIPAddress)
			}
		case *network.LoadBalancer:
			for _, f := range o.Properties.FrontendIPConfigurations {
				take(f.Properties.Subnet, f.Properties.PrivateIPAddress)
			}
		}
	})
	for _, c := range self.Properties.IPConfigurations {
		take(c.Properties.Subnet, c.Properties.PrivateIPAddress)
	}
	return used
}

func (t *txn) allocatePublicIP(p, prev *network.PublicIPAddress) error {
	if p.Properties.PublicIPAllocationMethod == "" {
		p.Properties.PublicIPAllocationMethod = "Static"
	}
	if p.Properties.PublicIPAddressVersion == "" {
		p.Properties.PublicIPAddressVersion = "IPv4"
	}
	if p.Properties.IPAddress != "" {
		return nil
	}
	if prev != nil && prev.Properties.IPAddress != "" {
		p.Properties.IPAddress = prev.Properties.IPAddress
		return nil
	}
	used := map[netip.Addr]bool{}
	t.each(func(e *entry) {
		if o, ok := e.obj.(*network.PublicIPAddress); ok && !network.SameID(o.ID, p.ID) {
			if a, err := netip.ParseAddr(o.Properties.IPAddress); err == nil {
				used[a] = true
			}
		}
	})
	pool := t.s.pool
	for a := pool.Addr().Next(); pool.Contains(a) && a != lastOf(pool); a = a.Next() {
		if !used[a] {
			p.Properties.IPAddress = a.String()
			return nil
		}
	}
	return armerror.New("PublicIPAddressPoolExhausted", "properties.ipAddress",
		"Every address of the public IP pool %s is allocated; delete unused public IPs or start the server with a larger --public-ip-pool.", pool)
}

func lastOf(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Network watchers: Azure enables Network Watcher in a region when the
// first virtual network is created there, as NetworkWatcher_<region> in
// the group NetworkWatcherRG; the server does the same.
const watcherGroup = "NetworkWatcherRG"

// watcherDoc is a network watcher as ARM shows it.
type watcherDoc struct {
	ID         string            `json:"id,omitempty"`
	Name       string            `json:"name,omitempty"`
	Type       string            `json:"type,omitempty"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags,omitempty"`
	Etag       string            `json:"etag,omitempty"`
	Properties struct {
		ProvisioningState string `json:"provisioningState,omitempty"`
	} `json:"properties"`
}

// ensureWatcher creates the subscription's watcher for a region when it
// has none.
func (t *txn) ensureWatcher(subscription, loc string) error {
	found := false
	t.each(func(e *entry) {
		if strings.EqualFold(e.id.Type, typeNetworkWatcher) && strings.EqualFold(e.id.Subscription, subscription) && e.loc == loc {
			found = true
		}
	})
	if found {
		return nil
	}
	rgID := "/subscriptions/" + subscription + "/resourceGroups/" + watcherGroup
	rg, err := store.ParseID(rgID)
	if err != nil {
		return err
	}
	if t.get(rg.Key) == nil {
		var g groupDoc
		g.ID, g.Name, g.Type, g.Location = rgID, watcherGroup, typeResourceGroup, loc
		g.Properties.ProvisioningState = succeeded
		b, _ := json.Marshal(g)
		if err := t.put(rg, nil, b, loc); err != nil {
			return err
		}
	}
	wid, err := store.ParseID(rgID + "/providers/" + typeNetworkWatcher + "/NetworkWatcher_" + loc)
	if err != nil {
		return err
	}
	var w watcherDoc
	w.ID, w.Name, w.Type, w.Location = wid.ID, lastSegment(wid.ID), typeNetworkWatcher, loc
	w.Properties.ProvisioningState = succeeded
	b, _ := json.Marshal(w)
	return t.put(wid, nil, b, loc)
}
