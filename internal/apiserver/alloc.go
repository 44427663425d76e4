package apiserver

import (
	"encoding/json"
	"hash/fnv"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/store"
)

// allocate gives addresses to what asks for dynamic ones, as Azure does:
// a NIC's ip configurations and an internal load balancer's frontends
// without an address get the lowest free address of their subnet (and
// keep it across updates while they stay in it); a public IP gets the next
// free address of the pool (and keeps it: its address is read-only).
func (t *txn) allocate(obj, old any) error {
	switch o := obj.(type) {
	case *network.NetworkInterface:
		prev, _ := old.(*network.NetworkInterface)
		return t.allocateSlots(o.ID, "ipConfigurations", nicSlots(o), nicSlots(prev))
	case *network.LoadBalancer:
		prev, _ := old.(*network.LoadBalancer)
		return t.allocateSlots(o.ID, "frontendIPConfigurations", frontendSlots(o), frontendSlots(prev))
	case *network.PublicIPAddress:
		prev, _ := old.(*network.PublicIPAddress)
		return t.allocatePublicIP(o, prev)
	case *network.StorageAccount:
		if !storageNameRE.MatchString(o.Name) {
			return armerror.New("AccountNameInvalid", "name",
				"%s is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only.", o.Name)
		}
		if err := t.uniqueName(o.ID, o.Name, network.TypeStorageAccount, codeStorageNameTaken,
			"The storage account named %s is already taken (%s): account names are global, as their host names are."); err != nil {
			return err
		}
		return t.serviceAddress(&o.Properties.VirtualAddress, "Storage", o.Location, o.ID)
	case *network.KeyVault:
		if !vaultNameRE.MatchString(o.Name) || strings.Contains(o.Name, "--") {
			return armerror.New("VaultNameNotValid", "name",
				"The vault name '%s' is invalid. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens.", o.Name)
		}
		if err := t.uniqueName(o.ID, o.Name, network.TypeKeyVault, codeVaultNameTaken,
			"The vault name '%s' is already in use (%s): vault names are global, as their host names are."); err != nil {
			return err
		}
		return t.serviceAddress(&o.Properties.VirtualAddress, "AzureKeyVault", o.Location, o.ID)
	}
	return nil
}

// Azure's naming rules of storage accounts and key vaults.
var (
	storageNameRE = regexp.MustCompile(`^[a-z0-9]{3,24}$`)
	vaultNameRE   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$`)
)

// uniqueName refuses a second resource of a type with the same name in the
// whole deployment (storage accounts and vaults: their names are host
// names).
func (t *txn) uniqueName(id, name, typ, code, format string) error {
	var taken string
	t.each(func(e *entry) {
		if strings.EqualFold(e.id.Type, typ) && !strings.EqualFold(e.id.ID, id) && strings.EqualFold(lastSegment(e.id.ID), name) {
			taken = e.id.ID
		}
	})
	if taken != "" {
		return armerror.New(code, "name", format, name, taken)
	}
	return nil
}

// serviceAddress gives a platform service (a storage account, a key vault)
// its address in the virtual cloud, kept once given: a free address of its
// region's service tag (family.<Region>), searched from a point that
// hashes the resource's id — so that a deleted account's address does not
// go straight to the next account created (which clients holding the old
// address would then reach), and a recreated account tends to get its
// address back. The tag's first four addresses and its last are skipped.
func (t *txn) serviceAddress(addr *string, family, loc, self string) error {
	if *addr != "" {
		return nil
	}
	tag, ok := t.s.tags.Lookup(family + "." + loc)
	if !ok || len(tag.V4) == 0 {
		return armerror.New(codeInvalidLocation, "location",
			"The service tags in use have no %s.<region> tag for %s, so vnetml has no address for the resource there; use a region the tag file covers (the built-in local cloud: eastus, westus2, westeurope).", family, loc)
	}
	used := map[netip.Addr]bool{}
	t.each(func(e *entry) {
		if network.SameID(e.id.ID, self) {
			return
		}
		var a string
		switch o := e.obj.(type) {
		case *network.StorageAccount:
			a = o.Properties.VirtualAddress
		case *network.KeyVault:
			a = o.Properties.VirtualAddress
		}
		if p, err := netip.ParseAddr(a); err == nil {
			used[p] = true
		}
	})
	h := fnv.New64a()
	h.Write([]byte(strings.ToLower(self)))
	start := h.Sum64()
	for _, p := range tag.V4 {
		size := uint64(1) << (32 - p.Bits())
		if size <= 5 {
			continue
		}
		usable := size - 5
		base := p.Masked().Addr().As4()
		b := uint64(base[0])<<24 | uint64(base[1])<<16 | uint64(base[2])<<8 | uint64(base[3])
		for i := range usable {
			v := b + 4 + (start+i)%usable
			a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
			if !used[a] {
				*addr = a.String()
				return nil
			}
		}
	}
	return armerror.New(codeServiceAddressesExhausted, "location",
		"Every address of the %s service tag is taken (the built-in local cloud has 251 per service and region, for the whole deployment); delete unused ones, or use another region or a larger service tag file.", tag.Name)
}

// slot is one private address of a resource: a NIC's ip configuration or
// a load balancer's frontend, pointing into the object.
type slot struct {
	name         string
	subnet       *network.SubResource
	addr, method *string
	public       bool // a public load balancer frontend: no private address
}

func nicSlots(n *network.NetworkInterface) []slot {
	if n == nil {
		return nil
	}
	out := make([]slot, len(n.Properties.IPConfigurations))
	for i := range n.Properties.IPConfigurations {
		c := &n.Properties.IPConfigurations[i]
		out[i] = slot{c.Name, c.Properties.Subnet, &c.Properties.PrivateIPAddress, &c.Properties.PrivateIPAllocationMethod, false}
	}
	return out
}

// frontendSlots lists a load balancer's frontends.
func frontendSlots(lb *network.LoadBalancer) []slot {
	if lb == nil {
		return nil
	}
	out := make([]slot, len(lb.Properties.FrontendIPConfigurations))
	for i := range lb.Properties.FrontendIPConfigurations {
		f := &lb.Properties.FrontendIPConfigurations[i]
		out[i] = slot{f.Name, f.Properties.Subnet, &f.Properties.PrivateIPAddress, &f.Properties.PrivateIPAllocationMethod, f.Properties.Subnet == nil}
	}
	return out
}

// allocateSlots fills the dynamic addresses of one resource's slots; its
// static addresses count as taken first. field names the slots in error
// targets (properties.<field>[i].properties.subnet).
func (t *txn) allocateSlots(self, field string, slots, prev []slot) error {
	for _, s := range slots {
		t.stage(s.subnet, *s.addr)
	}
	for i, s := range slots {
		if s.public {
			continue
		}
		var wasSubnet *network.SubResource
		var wasAddr string
		for _, p := range prev {
			if strings.EqualFold(p.name, s.name) {
				wasSubnet, wasAddr = p.subnet, *p.addr
			}
		}
		target := "properties." + field + "[" + strconv.Itoa(i) + "].properties.subnet"
		if err := t.privateAddress(self, target, s.subnet, s.addr, s.method, wasSubnet, wasAddr); err != nil {
			return err
		}
	}
	return nil
}

// privateAddress fills a dynamic private address: the one held before
// when the subnet is the same, else the subnet's lowest free one. self is
// the resource being written; its addresses staged so far count as taken.
func (t *txn) privateAddress(self, target string, subnet *network.SubResource, addr, method *string, wasSubnet *network.SubResource, wasAddr string) error {
	if *addr != "" {
		if *method == "" {
			*method = "Static"
		}
		return nil
	}
	*method = "Dynamic"
	if subnet == nil || subnet.ID == "" {
		return nil // validation reports the missing subnet
	}
	if wasSubnet != nil && network.SameID(wasSubnet.ID, subnet.ID) && wasAddr != "" {
		*addr = wasAddr
		return nil
	}
	sn := t.subnet(subnet.ID)
	if sn == nil {
		return nil // validation reports the dangling reference
	}
	used := t.addressesIn(subnet.ID, self)
	for a := range t.staged[network.Key(subnet.ID)] {
		used[a] = true
	}
	a, ok := network.FreeAddress(sn, func(a netip.Addr) bool { return used[a] })
	if !ok {
		return armerror.New("SubnetIsFull", target,
			"Subnet %s with address prefix %s does not have enough capacity for 1 IP addresses. Use a larger subnet or free an address.",
			sn.Name, strings.Join(sn.Properties.AllPrefixes(), ", "))
	}
	*addr = a.String()
	t.stage(subnet, *addr)
	return nil
}

// stage counts an address of a subnet as taken for the rest of the
// transaction.
func (t *txn) stage(subnet *network.SubResource, addr string) {
	a, err := netip.ParseAddr(addr)
	if subnet == nil || err != nil {
		return
	}
	k := network.Key(subnet.ID)
	if t.staged == nil {
		t.staged = map[string]map[netip.Addr]bool{}
	}
	if t.staged[k] == nil {
		t.staged[k] = map[netip.Addr]bool{}
	}
	t.staged[k][a] = true
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
// balancer frontends other than the resource self.
func (t *txn) addressesIn(subnetID, self string) map[netip.Addr]bool {
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
			if !network.SameID(o.ID, self) {
				for _, c := range o.Properties.IPConfigurations {
					take(c.Properties.Subnet, c.Properties.PrivateIPAddress)
				}
			}
		case *network.LoadBalancer:
			if !network.SameID(o.ID, self) {
				for _, f := range o.Properties.FrontendIPConfigurations {
					take(f.Properties.Subnet, f.Properties.PrivateIPAddress)
				}
			}
		}
	})
	return used
}

func (t *txn) allocatePublicIP(p, prev *network.PublicIPAddress) error {
	if p.Properties.PublicIPAllocationMethod == "" {
		p.Properties.PublicIPAllocationMethod = "Static"
	}
	if p.Properties.PublicIPAddressVersion == "" {
		p.Properties.PublicIPAddressVersion = "IPv4"
	}
	if prev != nil && prev.Properties.IPAddress != "" {
		if p.Properties.IPAddress != "" && p.Properties.IPAddress != prev.Properties.IPAddress {
			return armerror.New(codeInvalidParameter, "properties.ipAddress",
				"The address of public IP %s is %s and cannot be changed; leave ipAddress out, or delete and recreate the public IP.", p.Name, prev.Properties.IPAddress)
		}
		p.Properties.IPAddress = prev.Properties.IPAddress
		return nil
	}
	used := map[netip.Addr]string{}
	t.each(func(e *entry) {
		if o, ok := e.obj.(*network.PublicIPAddress); ok && !network.SameID(o.ID, p.ID) {
			if a, err := netip.ParseAddr(o.Properties.IPAddress); err == nil {
				used[a] = o.ID
			}
		}
	})
	pool := t.s.pool
	if p.Properties.IPAddress != "" {
		// A chosen address (a manifest restoring a deployment) must be a
		// free address of the pool.
		a, err := netip.ParseAddr(p.Properties.IPAddress)
		switch {
		case err != nil || !pool.Contains(a) || a == pool.Addr() || a == lastOf(pool):
			return armerror.New(codeInvalidParameter, "properties.ipAddress",
				"The public IP address %q is not an address of this deployment's public IP pool %s; leave ipAddress out to be given one.", p.Properties.IPAddress, pool)
		case used[a] != "":
			return armerror.New("PublicIPAddressInUse", "properties.ipAddress",
				"The public IP address %s is already allocated to %s; leave ipAddress out to be given a free one.", a, used[a])
		}
		return nil
	}
	for a := pool.Addr().Next(); pool.Contains(a) && a != lastOf(pool); a = a.Next() {
		if used[a] == "" {
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
