package compute

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/network"
)

// This file decodes and validates the AmlCompute provisioning payload, the
// ARM PUT body of .../workspaces/{ws}/computes/{name}, with the rules and
// messages of azureml-core's AmlComputeProvisioningConfiguration
// (validate_configuration, _is_valid_password) and azureml/_compute/_util.py
// (the duration conversions); see ../shared/spec/azureml-v1-surface.md §A.2.

// Error codes. The service answers a bad AmlCompute request with HTTP 400
// and code "UserError" (observed in dotnet/machinelearning-modelbuilder#2386:
// "ScaleSettings.MaxNodeCount and ScaleSettings.MinNodeCount must be
// specified for create compute. ... ErrorCode: UserError"); a body that is
// not the right JSON shape gets ARM's InvalidRequestContent, as elsewhere in
// vnetml.
const (
	CodeUserError      = "UserError"
	CodeInvalidContent = "InvalidRequestContent"
)

// The values the service normalises vmPriority and
// remoteLoginPortPublicAccess to, and the one computeType decoded here.
const (
	ComputeTypeAmlCompute = "AmlCompute"

	PriorityDedicated   = "Dedicated"
	PriorityLowPriority = "LowPriority"

	RemoteLoginEnabled      = "Enabled"
	RemoteLoginDisabled     = "Disabled"
	RemoteLoginNotSpecified = "NotSpecified"
)

// DefaultIdleBeforeScaleDown is idle_seconds_before_scaledown's default,
// 1800 seconds ("PT1800S").
const DefaultIdleBeforeScaleDown = 1800 * time.Second

// passwordSpecials is the SDK's fixed set of special characters
// (permittedSpecialCharacters in _is_valid_password). Note what it lacks:
// '-', '\\' and space count for no class.
const passwordSpecials = "`~!@#$%^&*()=+_[]{}|;:./'\",<>?"

// The SDK's messages, verbatim (azureml-core compute/amlcompute.py,
// AmlComputeProvisioningConfiguration.validate_configuration, and
// azureml/_compute/_util.py convert_duration_to_seconds).
const (
	msgNoUsername = "Invalid user credentials, admin username must be provided along with either a password or SSH key information."
	msgNoSecret   = "Invalid user credentials, no password or key information provided. Please provide either a password or SSH key information."
	msgPassword   = "Invalid admin user password provided. The admin user password must have 3 of the following: 1 lowercase character, 1 uppercase character, 1 number, and 1 special character " + passwordSpecials
	msgVNet       = "Invalid configuration, not all virtual net information provided. To use a custom virtual net, please provide vnet name, vnet resource group and subnet name"
	msgMaxMissing = "Invalid provisioning configuration, max nodes count is mandatory"
	msgMaxNeg     = "Invalid provisioning configuration, max nodes count must be greater than or equal to 0"
	msgMaxLTMin   = "Invalid provisioning configuration, max nodes count must be greater than or equal to min nodes count"
	msgDuration   = "Invalid input, provide ISO-8601 formatted duration string"
)

// Spec is a decoded, validated AmlCompute: what DecodeSpec returns and the
// controller runs. Every field holds its resolved value: defaults applied,
// enumerations in the service's casing, the VNet trio assembled into
// SubnetID. The zero Spec is not valid; make one with DecodeSpec.
type Spec struct {
	Location    string            // normalised, e.g. "eastus"
	Tags        map[string]string // nil when none
	Description string

	VMSize     string // the catalog's name, e.g. STANDARD_NC6
	VMPriority string // PriorityDedicated or PriorityLowPriority

	MinNodes            int
	MaxNodes            int
	IdleBeforeScaleDown time.Duration // whole seconds

	AdminUserName string
	// AdminUserPassword is kept for the nodes' admin account and never
	// rendered (Properties leaves it out, as Azure's GET does).
	AdminUserPassword  string
	AdminUserSSHKey    string
	SubnetID           string // canonical ARM id, "" outside a VNet
	EnableNodePublicIP bool   // false only with a subnet

	// RemoteLoginPortPublicAccess is RemoteLoginEnabled or
	// RemoteLoginDisabled: NotSpecified resolves at create time to
	// Disabled in a subnet, Enabled otherwise.
	RemoteLoginPortPublicAccess string
}

// SpecContext is what validating a compute needs from outside its body.
type SpecContext struct {
	// WorkspaceSubscription is the subscription the VNet must be in; the
	// vnet extension's trio is assembled in it, as the SDK does.
	WorkspaceSubscription string
	// WorkspaceLocation is the region the compute is created in; the
	// body's location, when given, must name it.
	WorkspaceLocation string
}

// Targets of the body's fields, rooted at the document.
const (
	pathProps    = "properties"
	pathAml      = "properties.properties"
	pathScale    = "properties.properties.scaleSettings"
	pathCreds    = "properties.properties.userAccountCredentials"
	pathSubnet   = "properties.properties.subnet"
	pathVNet     = "properties.properties.vnet"
	pathMax      = pathScale + ".maxNodeCount"
	pathMin      = pathScale + ".minNodeCount"
	pathIdle     = pathScale + ".nodeIdleTimeBeforeScaleDown"
	pathVMSize   = pathAml + ".vmSize"
	pathPriority = pathAml + ".vmPriority"
)

// The fields of each object of the body, in their canonical spelling.
var (
	fieldsTop    = []string{"location", "tags", "properties"}
	fieldsProps  = []string{"computeType", "description", "properties"}
	fieldsAml    = []string{"vmSize", "vmPriority", "scaleSettings", "userAccountCredentials", "subnet", "remoteLoginPortPublicAccess", "enableNodePublicIp", "vnet"}
	fieldsScale  = []string{"minNodeCount", "maxNodeCount", "nodeIdleTimeBeforeScaleDown"}
	fieldsCreds  = []string{"adminUserName", "adminUserPassword", "adminUserSshPublicKey"}
	fieldsSubnet = []string{"id"}
	// fieldsVNet is vnetml's extension: the SDK's vnet_resourcegroup_name,
	// vnet_name and subnet_name, for clients that think in those.
	fieldsVNet = []string{"resourceGroup", "name", "subnet"}
)

// DecodeSpec decodes and validates the PUT body of an AmlCompute:
//
//	{"location", "tags", "properties": {"computeType": "AmlCompute", "description",
//	  "properties": {"vmSize", "vmPriority",
//	    "scaleSettings": {"minNodeCount", "maxNodeCount", "nodeIdleTimeBeforeScaleDown"},
//	    "userAccountCredentials": {"adminUserName", "adminUserPassword", "adminUserSshPublicKey"},
//	    "subnet": {"id"}, "vnet": {"resourceGroup", "name", "subnet"},
//	    "remoteLoginPortPublicAccess", "enableNodePublicIp"}}}
//
// Keys match case-insensitively, as ARM's do; a key it does not know is
// refused, and JSON null is the same as absent. Every error is reported at
// once; the error is an *armerror.Error whose Target (or whose details'
// Targets) is the JSON path of the field. On error the Spec is zero.
func DecodeSpec(body []byte, ctx SpecContext) (Spec, error) {
	var l armerror.List
	root, ok := parseBody(&l, body)
	if !ok {
		return Spec{}, l.Err()
	}
	return decode(&l, root, ctx, false)
}

// DecodeStored decodes the AmlCompute properties of a stored compute, the
// object Properties renders (stored at properties.properties), with the
// checks of DecodeSpec but one: the stored form never holds the admin
// password, so a user name without a key is accepted. Location is the
// workspace's; Tags and Description, kept outside this object, are empty.
func DecodeStored(props []byte, ctx SpecContext) (Spec, error) {
	var l armerror.List
	inner, ok := parseBody(&l, props)
	if !ok {
		return Spec{}, l.Err()
	}
	root := map[string]any{"properties": map[string]any{"computeType": ComputeTypeAmlCompute, "properties": inner}}
	return decode(&l, root, ctx, true)
}

// decode is DecodeSpec on a parsed body; stored relaxes the credentials
// check for the password the stored form withholds.
func decode(l *armerror.List, root any, ctx SpecContext, stored bool) (Spec, error) {
	top := readObject(l, root, "", false, fieldsTop...)
	props := top.object("properties", fieldsProps...)
	if !top.present("properties") {
		l.Addf(CodeInvalidContent, pathProps, "The request content has no %q: an AmlCompute needs {\"computeType\": %q, \"properties\": {...}}.", "properties", ComputeTypeAmlCompute)
		props.broken = true
	}
	aml := props.object("properties", fieldsAml...)
	scale := aml.object("scaleSettings", fieldsScale...)
	creds := aml.object("userAccountCredentials", fieldsCreds...)
	subnet := aml.object("subnet", fieldsSubnet...)
	vnet := aml.object("vnet", fieldsVNet...)

	s := Spec{
		IdleBeforeScaleDown: DefaultIdleBeforeScaleDown,
		EnableNodePublicIP:  true,
	}

	// The ARM envelope: the compute lives in its workspace's region.
	ws := normLocation(ctx.WorkspaceLocation)
	s.Location = ws
	if loc, ok := top.str("location"); ok && strings.TrimSpace(loc) != "" {
		switch n := normLocation(loc); {
		case ws == "":
			s.Location = n
		case n != ws:
			l.Addf(CodeUserError, "location",
				"The compute location %q differs from the workspace location %q: an AmlCompute is created in its workspace's region; leave location out or set it to %q.",
				loc, ctx.WorkspaceLocation, ws)
		}
	}
	switch {
	case s.Location == "":
		l.Addf(CodeUserError, "location", "The location of the compute is required (the workspace's region, for example \"eastus\").")
	case !knownLocation(s.Location):
		l.Addf(CodeUserError, "location", "The location %q is not a region of vnetml's cloud: use one of %s.", s.Location, strings.Join(locations, ", "))
	}
	s.Tags = top.tags("tags")
	if ct, ok := props.str("computeType"); !ok && props.ok && !props.bad["computeType"] {
		l.Addf(CodeUserError, props.target("computeType"), "The computeType is required: use %q.", ComputeTypeAmlCompute)
	} else if ok && !strings.EqualFold(ct, ComputeTypeAmlCompute) {
		l.Addf(CodeUserError, props.target("computeType"), "Invalid computeType %q: this resource takes %q.", ct, ComputeTypeAmlCompute)
	}
	s.Description, _ = props.str("description")

	// Size and priority.
	s.VMSize = DefaultVMSize
	size, sizeOK := LookupSize(s.Location, DefaultVMSize)
	if v, ok := aml.str("vmSize"); ok && v != "" {
		size, sizeOK = LookupSize(s.Location, v)
		if sizeOK {
			s.VMSize = size.Name
		} else if knownLocation(s.Location) {
			l.Addf(CodeUserError, pathVMSize, "The specified vmSize %q is not supported by AmlCompute in location %q%s.",
				v, s.Location, suggestSizes(s.Location, v))
		}
	}
	s.VMPriority = PriorityDedicated
	if v, ok := aml.str("vmPriority"); ok && v != "" {
		switch strings.ToLower(v) {
		case "dedicated":
		case "lowpriority":
			s.VMPriority = PriorityLowPriority
			if sizeOK && !size.LowPriorityCapable {
				l.Addf(CodeUserError, pathPriority, "The vmSize %s cannot run low priority nodes; use vmPriority \"dedicated\" or a size that can (for example %s).",
					size.Name, DefaultVMSize)
			}
		default:
			l.Addf(CodeUserError, pathPriority, "Invalid vmPriority %q: use \"dedicated\" or \"lowpriority\".", v)
		}
	}

	// Scale settings: min_nodes None is 0, max_nodes is mandatory.
	if v, ok := scale.integer("minNodeCount"); ok {
		s.MinNodes = v
	}
	maxN, maxOK := scale.integer("maxNodeCount")
	s.MaxNodes = maxN
	if !maxOK && !scale.broken && !scale.present("maxNodeCount") {
		l.Addf(CodeUserError, pathMax, "%s", msgMaxMissing)
	}
	checkScale(l, s.MinNodes, s.MaxNodes, !scale.bad["minNodeCount"], maxOK)
	if d, ok := scale.idle(); ok {
		s.IdleBeforeScaleDown = d
	}

	// Credentials: validate_configuration's order and messages. The SDK
	// tests truthiness, so "" is the same as absent.
	s.AdminUserName, _ = creds.str("adminUserName")
	s.AdminUserPassword, _ = creds.str("adminUserPassword")
	s.AdminUserSSHKey, _ = creds.str("adminUserSshPublicKey")
	switch {
	case s.AdminUserName == "" && (s.AdminUserPassword != "" || s.AdminUserSSHKey != ""):
		l.Addf(CodeUserError, pathCreds+".adminUserName", "%s", msgNoUsername)
	case s.AdminUserName != "" && s.AdminUserPassword == "" && s.AdminUserSSHKey == "" && !stored:
		l.Addf(CodeUserError, pathCreds, "%s", msgNoSecret)
	}
	if s.AdminUserName != "" && strings.TrimSpace(s.AdminUserName) != s.AdminUserName {
		l.Addf(CodeUserError, pathCreds+".adminUserName", "The admin user name %q has leading or trailing spaces.", s.AdminUserName)
	}
	if s.AdminUserPassword != "" && passwordClasses(s.AdminUserPassword) < 3 {
		l.Addf(CodeUserError, pathCreds+".adminUserPassword", "%s", msgPassword)
	}
	if s.AdminUserSSHKey != "" {
		if why := checkSSHKey(s.AdminUserSSHKey); why != "" {
			l.Addf(CodeUserError, pathCreds+".adminUserSshPublicKey",
				"Invalid admin user SSH public key: %s; give an OpenSSH public key, \"<type> <base64> [comment]\" with type ssh-rsa, ssh-ed25519 or ecdsa-sha2-nistp256/384/521 (the content of id_rsa.pub).", why)
		}
	}

	// Network: the subnet, then what depends on it.
	var inVNet bool
	s.SubnetID, inVNet = decodeSubnet(l, subnet, vnet, ctx)
	if v, ok := aml.boolean("enableNodePublicIp"); ok && !v {
		s.EnableNodePublicIP = false
		if !inVNet {
			l.Addf(CodeUserError, aml.target("enableNodePublicIp"),
				"enableNodePublicIp can be false only for a compute in a virtual network: without a public IP a node is reachable only through its subnet; give subnet.id (or vnet) too.")
		}
	}
	s.RemoteLoginPortPublicAccess = RemoteLoginEnabled
	if inVNet {
		s.RemoteLoginPortPublicAccess = RemoteLoginDisabled
	}
	if v, ok := aml.str("remoteLoginPortPublicAccess"); ok && v != "" {
		switch strings.ToLower(v) {
		case "enabled":
			s.RemoteLoginPortPublicAccess = RemoteLoginEnabled
		case "disabled":
			s.RemoteLoginPortPublicAccess = RemoteLoginDisabled
		case "notspecified":
		default:
			l.Addf(CodeUserError, aml.target("remoteLoginPortPublicAccess"),
				"Invalid remoteLoginPortPublicAccess %q: use \"Enabled\", \"Disabled\" or \"NotSpecified\" (closed in a virtual network, open otherwise).", v)
		}
	}

	if err := l.Err(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// checkScale adds vnetml's min_nodes check and the SDK's max_nodes
// comparisons (at most one, in its order: negative, then below min_nodes).
// A count that did not decode is not valid and not compared.
func checkScale(l *armerror.List, minN, maxN int, minValid, maxValid bool) {
	if minValid && minN < 0 {
		l.Addf(CodeUserError, pathMin, "Invalid provisioning configuration, min nodes count must be greater than or equal to 0")
	}
	switch {
	case !maxValid:
	case maxN < 0:
		l.Addf(CodeUserError, pathMax, "%s", msgMaxNeg)
	case minValid && maxN < minN:
		l.Addf(CodeUserError, pathMax, "%s (max %d < min %d)", msgMaxLTMin, maxN, minN)
	}
}

// decodeSubnet returns the canonical id of the subnet given as subnet.id or
// as the vnet trio (all three or none, as the SDK wants), and whether one
// was given at all (even a bad one).
func decodeSubnet(l *armerror.List, subnet, vnet *jsonObject, ctx SpecContext) (string, bool) {
	var id string
	raw, _ := subnet.str("id")
	if raw != "" {
		r, err := network.ParseResourceID(raw)
		switch {
		case err != nil:
			l.Addf(CodeUserError, pathSubnet+".id", "Invalid subnet id: %v.", err)
		case !strings.EqualFold(r.Type(), "Microsoft.Network/virtualNetworks/subnets"):
			l.Addf(CodeUserError, pathSubnet+".id",
				"Invalid subnet id %q: it names a %s, want /subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{subnet}.",
				raw, cmp.Or(r.Type(), "resource group"))
		case ctx.WorkspaceSubscription != "" && !strings.EqualFold(r.Subscription, ctx.WorkspaceSubscription):
			l.Addf(CodeUserError, pathSubnet+".id",
				"The subnet's virtual network is in subscription %s but the workspace is in %s: AmlCompute needs the virtual network in the workspace's subscription and region.",
				r.Subscription, ctx.WorkspaceSubscription)
		default:
			id = canonicalSubnet(r.Subscription, r.ResourceGroup, r.Names[0], r.Names[1])
		}
	}

	trio := [3][2]string{{"resourceGroup"}, {"name"}, {"subnet"}}
	var missing []string
	for i := range trio {
		trio[i][1], _ = vnet.str(trio[i][0])
		if trio[i][1] == "" {
			missing = append(missing, trio[i][0])
		}
	}
	switch len(missing) {
	case 3:
		given := raw != "" || subnet.bad["id"] || subnet.broken ||
			vnet.broken || vnet.bad["resourceGroup"] || vnet.bad["name"] || vnet.bad["subnet"]
		return id, given
	case 0:
	default:
		l.Addf(CodeUserError, pathVNet, "%s (missing: %s)", msgVNet, strings.Join(missing, ", "))
		return "", true
	}
	bad := false
	for _, f := range trio {
		if strings.ContainsAny(f[1], "/?#") || strings.TrimSpace(f[1]) != f[1] {
			l.Addf(CodeUserError, vnet.target(f[0]), "Invalid %s %q: a name has no '/', '?', '#' or surrounding spaces.", f[0], f[1])
			bad = true
		}
	}
	if ctx.WorkspaceSubscription == "" {
		l.Addf(CodeUserError, pathVNet, "The workspace's subscription is unknown, so the subnet id cannot be assembled from vnet; give subnet.id instead.")
		return "", true
	}
	if bad {
		return "", true
	}
	assembled := canonicalSubnet(ctx.WorkspaceSubscription, trio[0][1], trio[1][1], trio[2][1])
	if raw != "" && id != "" && !strings.EqualFold(id, assembled) {
		l.Addf(CodeUserError, pathVNet, "subnet.id names %s but vnet names %s: give the subnet once, either way.", id, assembled)
		return "", true
	}
	return assembled, true
}

func canonicalSubnet(subscription, group, vnet, subnet string) string {
	return network.MakeID(subscription, group, "Microsoft.Network/virtualNetworks/subnets", vnet+"/"+subnet)
}

// DecodeUpdate applies the PATCH body of an AmlCompute to cur. As the SDK's
// AmlCompute.update(min_nodes, max_nodes, idle_seconds_before_scaledown),
// only the scale settings can change:
//
//	{"properties": {"computeType": "AmlCompute", "properties": {"scaleSettings":
//	  {"minNodeCount", "maxNodeCount", "nodeIdleTimeBeforeScaleDown"}}}}
//
// A setting left out (or null, or an empty duration) keeps its current
// value; the result passes the same min/max checks as DecodeSpec. Any other
// field is refused, naming it. On error the Spec is zero.
func DecodeUpdate(body []byte, cur Spec) (Spec, error) {
	var l armerror.List
	root, ok := parseBody(&l, body)
	if !ok {
		return Spec{}, l.Err()
	}
	top := readObject(&l, root, "", false, fieldsTop...)
	props := top.object("properties", fieldsProps...)
	aml := props.object("properties", fieldsAml...)
	scale := aml.object("scaleSettings", fieldsScale...)

	fixed := func(o *jsonObject, names ...string) {
		for _, n := range names {
			if o.present(n) {
				l.Addf(CodeUserError, o.target(n),
					"Only the scale settings of an AmlCompute can be updated (minNodeCount, maxNodeCount, nodeIdleTimeBeforeScaleDown); %s cannot change: delete the compute and create it again to change it.", n)
			}
		}
	}
	fixed(top, "location", "tags")
	fixed(props, "description")
	fixed(aml, slices.DeleteFunc(slices.Clone(fieldsAml), func(n string) bool { return n == "scaleSettings" })...)
	if ct, ok := props.str("computeType"); ok && !strings.EqualFold(ct, ComputeTypeAmlCompute) {
		l.Addf(CodeUserError, props.target("computeType"), "Invalid computeType %q: this resource is an %s, which cannot change.", ct, ComputeTypeAmlCompute)
	}

	s := cur
	if v, ok := scale.integer("minNodeCount"); ok {
		s.MinNodes = v
	}
	if v, ok := scale.integer("maxNodeCount"); ok {
		s.MaxNodes = v
	}
	checkScale(&l, s.MinNodes, s.MaxNodes, !scale.bad["minNodeCount"], !scale.bad["maxNodeCount"])
	if d, ok := scale.idle(); ok {
		s.IdleBeforeScaleDown = d
	}
	if err := l.Err(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// Properties renders s as the AmlCompute properties of its GET form, the
// object at properties.properties: vmSize and vmPriority in the service's
// casing, scaleSettings with nodeIdleTimeBeforeScaleDown as "PT<n>S", the
// subnet id, and remoteLoginPortPublicAccess resolved. The admin password
// is never rendered; the user name and the SSH public key (public by
// nature) are. DecodeStored reads it back to s, the password, Tags and
// Description aside; wrapped as {"location", "tags", "properties":
// {"computeType", "description", "properties": ...}} with the password, it
// is a PUT body DecodeSpec reads back to s.
func (s Spec) Properties() map[string]any {
	out := map[string]any{
		"vmSize":     s.VMSize,
		"vmPriority": s.VMPriority,
		"scaleSettings": map[string]any{
			"minNodeCount":                s.MinNodes,
			"maxNodeCount":                s.MaxNodes,
			"nodeIdleTimeBeforeScaleDown": formatIdle(s.IdleBeforeScaleDown),
		},
		"remoteLoginPortPublicAccess": s.RemoteLoginPortPublicAccess,
	}
	if s.AdminUserName != "" {
		creds := map[string]any{"adminUserName": s.AdminUserName}
		if s.AdminUserSSHKey != "" {
			creds["adminUserSshPublicKey"] = s.AdminUserSSHKey
		}
		out["userAccountCredentials"] = creds
	}
	if s.SubnetID != "" {
		out["subnet"] = map[string]any{"id": s.SubnetID}
		out["enableNodePublicIp"] = s.EnableNodePublicIP
	}
	return out
}

// WithScale returns s with the scale settings of o: what a PUT of an
// existing compute may change, as update does.
func (s Spec) WithScale(o Spec) Spec {
	s.MinNodes, s.MaxNodes, s.IdleBeforeScaleDown = o.MinNodes, o.MaxNodes, o.IdleBeforeScaleDown
	return s
}

// Immutable returns the target of the first setting that differs between
// the existing compute old and the desired next, other than the scale
// settings, or "" when only those differ. The admin password (which the
// stored form withholds), Tags and Description (kept outside the
// AmlCompute properties) are not compared.
func Immutable(old, next Spec) string {
	for _, f := range []struct {
		target string
		a, b   any
	}{
		{"location", old.Location, next.Location},
		{pathVMSize, old.VMSize, next.VMSize},
		{pathPriority, old.VMPriority, next.VMPriority},
		{pathCreds + ".adminUserName", old.AdminUserName, next.AdminUserName},
		{pathCreds + ".adminUserSshPublicKey", old.AdminUserSSHKey, next.AdminUserSSHKey},
		{pathSubnet + ".id", strings.ToLower(old.SubnetID), strings.ToLower(next.SubnetID)},
		{pathAml + ".enableNodePublicIp", old.EnableNodePublicIP, next.EnableNodePublicIP},
		{pathAml + ".remoteLoginPortPublicAccess", old.RemoteLoginPortPublicAccess, next.RemoteLoginPortPublicAccess},
	} {
		if f.a != f.b {
			return f.target
		}
	}
	return ""
}
