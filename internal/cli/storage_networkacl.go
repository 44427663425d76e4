package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
	"github.com/vnetml/vnetml/internal/network"
)

// aclKind says whose firewall the flags describe: a storage account's
// (spec §5) or a key vault's (spec §6). They differ in bypass tokens and
// in the rules' fields.
type aclKind int

const (
	aclStorage aclKind = iota
	aclVault
)

// aclFlags are the firewall flags of `storage account create|update` and
// `keyvault create|update`, az's names. On create, the flags given make up
// properties.networkAcls; on update, each flag given replaces its field
// (--ip-rule and --vnet-rule the whole list), and the --add-/--remove-
// flags change the lists in place.
type aclFlags struct {
	kind          aclKind
	defaultAction string
	bypass        string
	publicAccess  string // storage only
	vnetRules     []string
	ipRules       []string
	addVNet       []string
	removeVNet    []string
	addIP         []string
	removeIP      []string
	fs            *pflag.FlagSet
}

func (a *aclFlags) register(fs *pflag.FlagSet, kind aclKind, update bool) {
	a.kind, a.fs = kind, fs
	defaults := func(d string) string {
		if update {
			return " (default: unchanged)"
		}
		return " (default " + d + ")"
	}
	fs.Var(text(&a.defaultAction, "Allow|Deny"), "default-action",
		"what the firewall does with a request no rule admits: Deny restricts the resource to its rules"+defaults("Allow"))
	bypass, what := "AzureServices,Logging,Metrics|None", "a comma list of AzureServices, Logging, Metrics, or None"
	if kind == aclVault {
		bypass, what = "AzureServices|None", "AzureServices or None"
	}
	fs.Var(text(&a.bypass, bypass), "bypass", "the traffic admitted whatever the rules: "+what+defaults("AzureServices"))
	fs.Var(&listFlag{&a.vnetRules, "SUBNET_ID"}, "vnet-rule",
		"admit a subnet (its resource id; it needs the service endpoint); repeat for more"+replaceNote(update))
	fs.Var(&listFlag{&a.ipRules, "CIDR"}, "ip-rule",
		"admit a public IPv4 address or CIDR range; repeat for more"+replaceNote(update))
	if kind == aclStorage {
		fs.Var(text(&a.publicAccess, "Enabled|Disabled"), "public-network-access",
			"Disabled refuses every request not from a trusted service, whatever the rules")
	}
	if update {
		fs.Var(&listFlag{&a.addVNet, "SUBNET_ID"}, "add-vnet-rule", "add a virtual network rule, keeping the others; repeat for more")
		fs.Var(&listFlag{&a.removeVNet, "SUBNET_ID"}, "remove-vnet-rule", "remove the virtual network rule of a subnet; repeat for more")
		fs.Var(&listFlag{&a.addIP, "CIDR"}, "add-ip-rule", "add an IP rule, keeping the others; repeat for more")
		fs.Var(&listFlag{&a.removeIP, "CIDR"}, "remove-ip-rule", "remove an IP rule; repeat for more")
	}
}

func replaceNote(update bool) string {
	if update {
		return " (replaces the list; see --add-/--remove-)"
	}
	return ""
}

// changed reports whether flag name was given.
func (a *aclFlags) changed(name string) bool {
	f := a.fs.Lookup(name)
	return f != nil && f.Changed
}

// given reports whether any firewall flag was given.
func (a *aclFlags) given() bool { return a.rulesGiven() || a.changed("public-network-access") }

// rulesGiven reports whether a flag of networkAcls was given.
func (a *aclFlags) rulesGiven() bool {
	for _, n := range []string{"default-action", "bypass", "vnet-rule", "ip-rule", "add-vnet-rule", "remove-vnet-rule", "add-ip-rule", "remove-ip-rule"} {
		if a.changed(n) {
			return true
		}
	}
	return false
}

// check validates the flags' values, canonicalizing them, and adds every
// problem to l.
func (a *aclFlags) check(l *armerror.List) {
	if a.changed("default-action") {
		a.defaultAction = oneOf(l, "--default-action", a.defaultAction, "Allow", "Deny")
	}
	if a.changed("public-network-access") {
		a.publicAccess = oneOf(l, "--public-network-access", a.publicAccess, "Enabled", "Disabled")
	}
	if a.changed("bypass") {
		a.bypass = a.checkBypass(l)
	}
	for _, f := range []struct {
		name string
		vals []string
	}{{"--ip-rule", a.ipRules}, {"--add-ip-rule", a.addIP}, {"--remove-ip-rule", a.removeIP}} {
		for _, v := range f.vals {
			if _, err := parseIPRule(v); err != nil {
				l.Addf(codeInvalidArgument, f.name, "%s %q: %v", f.name, v, err)
			}
		}
	}
	for _, f := range []struct {
		name string
		vals []string
	}{{"--vnet-rule", a.vnetRules}, {"--add-vnet-rule", a.addVNet}, {"--remove-vnet-rule", a.removeVNet}} {
		for _, v := range f.vals {
			if r, err := network.ParseResourceID(v); err != nil || !strings.EqualFold(r.Type(), network.TypeSubnet) {
				l.Addf(codeInvalidArgument, f.name, "%s %q is not a subnet's resource id: give /subscriptions/SUB/resourceGroups/GROUP/providers/Microsoft.Network/virtualNetworks/VNET/subnets/SUBNET", f.name, v)
			}
		}
	}
	if a.changed("ip-rule") && (a.changed("add-ip-rule") || a.changed("remove-ip-rule")) {
		l.Addf(codeInvalidArgument, "--ip-rule", "--ip-rule replaces the IP rules, --add-ip-rule and --remove-ip-rule change them: give one or the other")
	}
	if a.changed("vnet-rule") && (a.changed("add-vnet-rule") || a.changed("remove-vnet-rule")) {
		l.Addf(codeInvalidArgument, "--vnet-rule", "--vnet-rule replaces the virtual network rules, --add-vnet-rule and --remove-vnet-rule change them: give one or the other")
	}
}

// checkBypass canonicalizes --bypass: None, or a comma list of the
// kind's tokens.
func (a *aclFlags) checkBypass(l *armerror.List) string {
	tokens := []string{"None", "AzureServices", "Logging", "Metrics"}
	if a.kind == aclVault {
		tokens = tokens[:2]
	}
	var out []string
	for t := range strings.SplitSeq(a.bypass, ",") {
		t = strings.TrimSpace(t)
		i := slices.IndexFunc(tokens, func(s string) bool { return strings.EqualFold(s, t) })
		if i < 0 {
			l.Addf(codeInvalidArgument, "--bypass", "--bypass %q: %q is not one of %s", a.bypass, t, strings.Join(tokens, ", "))
			return a.bypass
		}
		out = append(out, tokens[i])
	}
	if len(out) > 1 && slices.Contains(out, "None") {
		l.Addf(codeInvalidArgument, "--bypass", "--bypass %q: None stands alone", a.bypass)
	} else if a.kind == aclVault && len(out) > 1 {
		l.Addf(codeInvalidArgument, "--bypass", "--bypass %q: a key vault's bypass is AzureServices or None", a.bypass)
	}
	return strings.Join(out, ", ")
}

// oneOf returns the canonical spelling of v among allowed, or adds an
// error to l.
func oneOf(l *armerror.List, flag, v string, allowed ...string) string {
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	l.Addf(codeInvalidArgument, flag, "%s %q is not one of %s", flag, v, strings.Join(allowed, ", "))
	return v
}

// parseIPRule reads an IP rule's value: an IPv4 address (a /32) or CIDR
// prefix. Whether it is public is the server's to say.
func parseIPRule(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() {
			return netip.Prefix{}, fmt.Errorf("not an IPv4 CIDR prefix such as 203.0.113.0/24")
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, fmt.Errorf("not an IPv4 address or CIDR prefix such as 203.0.113.0/24")
	}
	return netip.PrefixFrom(a, 32), nil
}

// sameIPRule reports whether two rule values admit the same range
// (203.0.113.7 and 203.0.113.7/32 do).
func sameIPRule(a, b string) bool {
	pa, ea := parseIPRule(a)
	pb, eb := parseIPRule(b)
	if ea != nil || eb != nil {
		return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
	}
	return pa == pb
}

// newRuleSet is the firewall of a new resource: the flags given over the
// defaults (Allow, AzureServices); nil when no flag is given, leaving
// the server's defaults.
func (a *aclFlags) newRuleSet() *network.NetworkRuleSet {
	if !a.rulesGiven() {
		return nil
	}
	acl := &network.NetworkRuleSet{DefaultAction: "Allow", Bypass: "AzureServices"}
	a.apply(acl)
	return acl
}

// apply changes acl as the flags say, and returns warnings: removals of
// rules acl does not have.
func (a *aclFlags) apply(acl *network.NetworkRuleSet) []string {
	var warnings []string
	if a.changed("default-action") {
		acl.DefaultAction = a.defaultAction
	}
	if a.changed("bypass") {
		acl.Bypass = a.bypass
	}
	if a.changed("ip-rule") {
		acl.IPRules = nil
	}
	if a.changed("vnet-rule") {
		acl.VirtualNetworkRules = nil
	}
	for _, v := range append(slices.Clone(a.ipRules), a.addIP...) {
		if !slices.ContainsFunc(acl.IPRules, func(r network.IPRule) bool { return sameIPRule(r.Value, v) }) {
			acl.IPRules = append(acl.IPRules, a.ipRule(v))
		}
	}
	for _, v := range a.removeIP {
		n := len(acl.IPRules)
		acl.IPRules = slices.DeleteFunc(acl.IPRules, func(r network.IPRule) bool { return sameIPRule(r.Value, v) })
		if len(acl.IPRules) == n {
			warnings = append(warnings, fmt.Sprintf("--remove-ip-rule %s: there is no such IP rule", v))
		}
	}
	for _, v := range append(slices.Clone(a.vnetRules), a.addVNet...) {
		if !slices.ContainsFunc(acl.VirtualNetworkRules, func(r network.VirtualNetworkRule) bool { return network.SameID(r.ID, v) }) {
			acl.VirtualNetworkRules = append(acl.VirtualNetworkRules, a.vnetRule(v))
		}
	}
	for _, v := range a.removeVNet {
		n := len(acl.VirtualNetworkRules)
		acl.VirtualNetworkRules = slices.DeleteFunc(acl.VirtualNetworkRules, func(r network.VirtualNetworkRule) bool { return network.SameID(r.ID, v) })
		if len(acl.VirtualNetworkRules) == n {
			warnings = append(warnings, fmt.Sprintf("--remove-vnet-rule %s: there is no virtual network rule for that subnet", v))
		}
	}
	return warnings
}

func (a *aclFlags) ipRule(v string) network.IPRule {
	if a.kind == aclStorage {
		return network.IPRule{Value: v, Action: "Allow"}
	}
	return network.IPRule{Value: v}
}

func (a *aclFlags) vnetRule(id string) network.VirtualNetworkRule {
	if a.kind == aclStorage {
		return network.VirtualNetworkRule{ID: id, Action: "Allow"}
	}
	return network.VirtualNetworkRule{ID: id}
}

// ineffective is a warning for a firewall whose rules cannot matter: IP or
// virtual network rules while the default action allows everything.
func ineffective(acl *network.NetworkRuleSet) string {
	if acl == nil || !strings.EqualFold(acl.DefaultAction, "Allow") || len(acl.IPRules)+len(acl.VirtualNetworkRules) == 0 {
		return ""
	}
	return "the firewall's default action is Allow, so its IP and virtual network rules change nothing; add --default-action Deny to restrict access to them"
}

// aclTargets maps the server's JSON paths of a firewall to the flags.
var aclTargets = map[string]string{
	"properties.networkAcls.defaultAction":       "--default-action",
	"properties.networkAcls.bypass":              "--bypass",
	"properties.networkAcls.ipRules":             "--ip-rule",
	"properties.networkAcls.ipRule":              "--ip-rule",
	"properties.networkAcls.virtualNetworkRules": "--vnet-rule",
	"properties.publicNetworkAccess":             "--public-network-access",
	"properties.enableRbacAuthorization":         "--enable-rbac-authorization",
	"location":                                   "--location",
	"name":                                       "NAME",
}

// firewallView is what the commands print of a resource's firewall.
type firewallView struct {
	Properties struct {
		NetworkAcls             *network.NetworkRuleSet `json:"networkAcls"`
		PublicNetworkAccess     string                  `json:"publicNetworkAccess"`
		EnableRbacAuthorization *bool                   `json:"enableRbacAuthorization"`
		AccessPolicies          []network.AccessPolicy  `json:"accessPolicies"`
	} `json:"properties"`
}

// printWithFirewall prints a storage account or key vault as t's table,
// then its firewall's rules, which the table has no room for.
func printWithFirewall(w io.Writer, t *resourceType, doc json.RawMessage) error {
	if err := typeTable(t, []json.RawMessage{doc}).write(w); err != nil {
		return err
	}
	var v firewallView
	if err := json.Unmarshal(doc, &v); err != nil {
		return internalErr(fmt.Errorf("the server's %s is not JSON: %w", t.noun, err))
	}
	p := v.Properties
	fmt.Fprintln(w)
	acl := p.NetworkAcls
	if acl == nil {
		acl = &network.NetworkRuleSet{DefaultAction: "Allow", Bypass: "AzureServices"}
	}
	line := fmt.Sprintf("Firewall: default action %s, bypass %s", acl.DefaultAction, firstOf(acl.Bypass, "None"))
	if p.PublicNetworkAccess != "" {
		line += ", public network access " + p.PublicNetworkAccess
	}
	fmt.Fprintln(w, line)
	ips := make([]string, len(acl.IPRules))
	for i, r := range acl.IPRules {
		ips[i] = r.Value
	}
	fmt.Fprintf(w, "IP rules: %s\n", firstOf(strings.Join(ips, ", "), "none"))
	subnets := make([]string, len(acl.VirtualNetworkRules))
	for i, r := range acl.VirtualNetworkRules {
		subnets[i] = r.ID
		if r.State != "" && !strings.EqualFold(r.State, "Succeeded") {
			subnets[i] += " (" + r.State + ")"
		}
	}
	fmt.Fprintf(w, "Virtual network rules: %s\n", firstOf(strings.Join(subnets, ", "), "none"))
	if t == keyVaultType {
		if p.EnableRbacAuthorization != nil && *p.EnableRbacAuthorization {
			fmt.Fprintln(w, "Authorization: roles (enableRbacAuthorization)")
		} else {
			var ids []string
			for _, ap := range p.AccessPolicies {
				ids = append(ids, ap.ObjectID+" (secrets: "+firstOf(strings.Join(ap.Permissions.Secrets, ","), "none")+")")
			}
			fmt.Fprintf(w, "Access policies: %s\n", firstOf(strings.Join(ids, ", "), "none"))
		}
	}
	return nil
}

// readModifyWrite changes the resource id: it reads its document, lets
// change edit its properties, and writes it back on the condition that
// nobody wrote in between (If-Match), reading again when somebody did.
func readModifyWrite(ctx context.Context, cl *client.Client, id string, change func(props map[string]any) error) (json.RawMessage, error) {
	for attempt := 0; ; attempt++ {
		raw, err := cl.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		var doc map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return nil, internalErr(fmt.Errorf("the server's document of %s is not a JSON object: %w", id, err))
		}
		props, _ := doc["properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
			doc["properties"] = props
		}
		if err := change(props); err != nil {
			return nil, err
		}
		out, err := cl.Put(ctx, id, doc, docStr(doc["etag"]))
		if a, ok := armerror.As(err); ok && a.Code == "PreconditionFailed" && attempt < 2 {
			continue // written meanwhile: apply the change to the new state
		}
		return out, err
	}
}

// ruleSetOf decodes props.networkAcls; nil when there is none.
func ruleSetOf(props map[string]any) (*network.NetworkRuleSet, error) {
	v, ok := props["networkAcls"]
	if !ok || v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, internalErr(err)
	}
	var acl network.NetworkRuleSet
	if err := json.Unmarshal(b, &acl); err != nil {
		return nil, internalErr(fmt.Errorf("the server's networkAcls: %w", err))
	}
	return &acl, nil
}

// updateRuleSet applies the flags to props.networkAcls (starting from
// the defaults when there is none) and returns the warnings.
func (a *aclFlags) updateRuleSet(props map[string]any) ([]string, error) {
	if a.changed("public-network-access") {
		props["publicNetworkAccess"] = a.publicAccess
	}
	if !a.rulesGiven() {
		return nil, nil
	}
	acl, err := ruleSetOf(props)
	if err != nil {
		return nil, err
	}
	if acl == nil {
		acl = &network.NetworkRuleSet{DefaultAction: "Allow", Bypass: "AzureServices"}
	}
	warnings := a.apply(acl)
	if w := ineffective(acl); w != "" {
		warnings = append(warnings, w)
	}
	props["networkAcls"] = acl
	return warnings, nil
}

// warn prints warnings on stderr.
func warn(w io.Writer, warnings ...string) {
	for _, s := range warnings {
		fmt.Fprintf(w, "vnetml: warning: %s\n", s)
	}
}
