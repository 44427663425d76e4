package compute

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"strconv"
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

// formatIdle renders an idle time as the SDK's convert_seconds_to_duration
// does: "PT<seconds>S".
func formatIdle(d time.Duration) string {
	return "PT" + strconv.FormatInt(int64(d/time.Second), 10) + "S"
}

// parseIdle parses the ISO-8601 durations nodeIdleTimeBeforeScaleDown takes
// — P[nW][nD][T[nH][nM][nS]], each number possibly with a fraction — and
// floors them to whole seconds, as the SDK's convert_duration_to_seconds
// (isodate, then floor) does. It returns why s is not one, or "". Years and
// months have no fixed length and are refused, as isodate's Duration has no
// total_seconds.
func parseIdle(s string) (time.Duration, string) {
	bad := fmt.Sprintf("%q is not one (for example PT1800S, PT30M, PT1H30M)", s)
	if len(s) > 64 {
		return 0, "the value is too long to be one (for example PT1800S, PT30M, PT1H30M)"
	}
	rest, ok := strings.CutPrefix(s, "P")
	if !ok || rest == "" || rest == "T" {
		return 0, bad
	}
	total := new(big.Rat)
	units := "WD" // the units allowed next, in order
	inTime := false
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return 0, bad
			}
			inTime, units, rest = true, "HMS", rest[1:]
			if rest == "" {
				return 0, bad
			}
			continue
		}
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.' || rest[i] == ',') {
			i++
		}
		if i == len(rest) {
			return 0, bad
		}
		num, unit := rest[:i], rest[i]
		rest = rest[i+1:]
		if !inTime && (unit == 'Y' || unit == 'M') {
			return 0, fmt.Sprintf("%q is in years or months, which have no fixed length in seconds; use days, hours, minutes and seconds (for example PT1800S)", s)
		}
		k := strings.IndexByte(units, unit)
		if k < 0 {
			return 0, bad
		}
		units = units[k+1:]
		v, ok := isoDecimal(num)
		if !ok {
			return 0, bad
		}
		total.Add(total, v.Mul(v, new(big.Rat).SetInt64(unitSeconds(unit))))
	}
	secs := new(big.Int).Quo(total.Num(), total.Denom()) // floor, as total ≥ 0
	if !secs.IsInt64() || secs.Int64() > math.MaxInt64/int64(time.Second) {
		return 0, fmt.Sprintf("%q is longer than vnetml can count (292 years)", s)
	}
	return time.Duration(secs.Int64()) * time.Second, ""
}

func unitSeconds(unit byte) int64 {
	switch unit {
	case 'W':
		return 7 * 86400
	case 'D':
		return 86400
	case 'H':
		return 3600
	case 'M':
		return 60
	}
	return 1
}

// isoDecimal parses digits with at most one decimal sign ('.' or ',', as
// ISO-8601 allows) and digits on at least one side of it.
func isoDecimal(s string) (*big.Rat, bool) {
	intPart, frac, _ := strings.Cut(strings.Replace(s, ",", ".", 1), ".")
	if intPart+frac == "" || strings.ContainsAny(intPart+frac, ".,") {
		return nil, false
	}
	return new(big.Rat).SetString(cmp.Or(intPart, "0") + "." + cmp.Or(frac, "0"))
}

// passwordClasses counts the character classes of the SDK's password
// policy that p hits: lower case, upper case, digit, special (ASCII only,
// as Python's string.ascii_lowercase etc.).
func passwordClasses(p string) int {
	var lower, upper, digit, special bool
	for _, c := range p {
		switch {
		case 'a' <= c && c <= 'z':
			lower = true
		case 'A' <= c && c <= 'Z':
			upper = true
		case '0' <= c && c <= '9':
			digit = true
		case strings.ContainsRune(passwordSpecials, c):
			special = true
		}
	}
	n := 0
	for _, b := range []bool{lower, upper, digit, special} {
		if b {
			n++
		}
	}
	return n
}

// sshKeyTypes are the OpenSSH public key types accepted.
var sshKeyTypes = []string{"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-ed25519", "ssh-rsa"}

// checkSSHKey says why k is not an OpenSSH public key line ("<type>
// <base64> [comment]" whose decoded blob starts with the same type), or "".
func checkSSHKey(k string) string {
	k = strings.TrimSpace(k)
	if strings.ContainsAny(k, "\r\n") {
		return "it has more than one line"
	}
	if strings.HasPrefix(k, "-----BEGIN") || strings.HasPrefix(k, "---- BEGIN") {
		return "it is a PEM or RFC 4716 key (a private key, or ssh-keygen -e output), not an OpenSSH public key"
	}
	f := strings.Fields(k)
	if len(f) < 2 {
		return "it has no key type and base64 blob"
	}
	if _, ok := slices.BinarySearch(sshKeyTypes, f[0]); !ok {
		return fmt.Sprintf("%q is not a supported key type", f[0])
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		return "the key blob is not valid base64"
	}
	if len(blob) < 4 {
		return "the key blob is truncated"
	}
	n := binary.BigEndian.Uint32(blob)
	if uint64(n) > uint64(len(blob)-4) || string(blob[4:4+n]) != f[0] {
		return fmt.Sprintf("the key blob is not a %s key", f[0])
	}
	return ""
}

// suggestSizes proposes the catalog's sizes closest to v, or says where the
// list is.
func suggestSizes(location, v string) string {
	u := strings.ToUpper(strings.TrimSpace(v))
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for _, s := range Sizes(location) {
		limit := max(3, len(s.Name)/4)
		d := armerror.Distance(u, s.Name, limit)
		if !strings.HasPrefix(u, "STANDARD_") {
			d = min(d, armerror.Distance("STANDARD_"+u, s.Name, limit))
		}
		if d < limit {
			cs = append(cs, cand{s.Name, d})
		}
	}
	slices.SortFunc(cs, func(a, b cand) int { return cmp.Or(cmp.Compare(a.d, b.d), strings.Compare(a.name, b.name)) })
	if len(cs) == 0 {
		return fmt.Sprintf("; AmlCompute.supported_vmsizes lists the %d sizes there (for example %s)", len(Sizes(location)), DefaultVMSize)
	}
	names := make([]string, 0, 3)
	for _, c := range cs[:min(3, len(cs))] {
		names = append(names, c.name)
	}
	return "; did you mean " + strings.Join(names, ", ") + "?"
}

// parseBody decodes body into a generic JSON tree, numbers kept as
// json.Number so that counts are checked exactly.
func parseBody(l *armerror.List, body []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		l.Addf(CodeInvalidContent, "", "The request content is not valid JSON: %v.", err)
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		l.Addf(CodeInvalidContent, "", "The request content has data after its JSON object.")
		return nil, false
	}
	if _, ok := v.(map[string]any); !ok {
		l.Addf(CodeInvalidContent, "", "The request content must be a JSON object, not %s.", jsonKind(v))
		return nil, false
	}
	return v, true
}

// jsonObject is one JSON object of a body: its keys matched to the known
// names case-insensitively (ARM's keys are), every other key reported as
// unknown. Values are handed out by canonical name; a value of the wrong
// JSON type is reported once and from then on counts as bad. The
// jsonObject of an absent or broken object is empty, so callers chain
// without checks.
type jsonObject struct {
	l    *armerror.List
	path string
	ok   bool // present and an object
	// broken: this object or an ancestor has the wrong JSON type or is
	// missing where required, so what it lacks is not worth reporting.
	broken bool
	vals   map[string]any // canonical name -> value; JSON null left out
	bad    map[string]bool
}

func readObject(l *armerror.List, v any, path string, broken bool, known ...string) *jsonObject {
	o := &jsonObject{l: l, path: path, broken: broken, vals: map[string]any{}, bad: map[string]bool{}}
	if v == nil {
		return o
	}
	m, ok := v.(map[string]any)
	if !ok {
		l.Addf(CodeInvalidContent, path, "The value of %q must be a JSON object, not %s.", path, jsonKind(v))
		o.broken = true
		return o
	}
	o.ok = true
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	seen := map[string]string{}
	for _, k := range keys {
		i := slices.IndexFunc(known, func(n string) bool { return strings.EqualFold(n, k) })
		if i < 0 {
			l.Addf(CodeInvalidContent, jsonPath(path, k), "The request content has the unknown field %q%s.", k, suggestField(k, known))
			continue
		}
		name := known[i]
		if prev, dup := seen[name]; dup {
			l.Addf(CodeInvalidContent, jsonPath(path, name), "The request content has %q twice (as %q and %q): keys are case-insensitive.", name, prev, k)
			o.bad[name] = true
			continue
		}
		seen[name] = k
		if m[k] != nil {
			o.vals[name] = m[k]
		}
	}
	return o
}

func (o *jsonObject) target(name string) string { return jsonPath(o.path, name) }

// present reports whether name has a value (not null), even a bad one.
func (o *jsonObject) present(name string) bool {
	_, ok := o.vals[name]
	return ok || o.bad[name]
}

// value returns name's value unless it is absent or already bad.
func (o *jsonObject) value(name string) (any, bool) {
	v, ok := o.vals[name]
	return v, ok && !o.bad[name]
}

func (o *jsonObject) fail(name, want string, v any) {
	o.l.Addf(CodeInvalidContent, o.target(name), "The value of %q must be %s, not %s.", name, want, jsonKind(v))
	o.bad[name] = true
}

func (o *jsonObject) object(name string, known ...string) *jsonObject {
	v, _ := o.value(name)
	c := readObject(o.l, v, o.target(name), o.broken || o.bad[name], known...)
	if c.broken {
		o.bad[name] = true
	}
	return c
}

func (o *jsonObject) str(name string) (string, bool) {
	v, ok := o.value(name)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		o.fail(name, "a string", v)
	}
	return s, ok
}

func (o *jsonObject) boolean(name string) (bool, bool) {
	v, ok := o.value(name)
	if !ok {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		o.fail(name, "true or false", v)
	}
	return b, ok
}

// integer accepts a JSON number with an integral value in int32's range
// (4 and 4.0 alike, as the service's .NET decoder does).
func (o *jsonObject) integer(name string) (int, bool) {
	v, ok := o.value(name)
	if !ok {
		return 0, false
	}
	n, ok := v.(json.Number)
	if !ok {
		o.fail(name, "an integer", v)
		return 0, false
	}
	if i, err := strconv.ParseInt(string(n), 10, 32); err == nil {
		return int(i), true
	}
	if x, err := strconv.ParseFloat(string(n), 64); err == nil && x == math.Trunc(x) && x >= math.MinInt32 && x <= math.MaxInt32 {
		return int(x), true
	}
	o.l.Addf(CodeInvalidContent, o.target(name), "The value of %q must be an integer between %d and %d, not %s.", name, math.MinInt32, math.MaxInt32, n)
	o.bad[name] = true
	return 0, false
}

// idle reads scaleSettings.nodeIdleTimeBeforeScaleDown; "" is the same as
// absent (the SDK sends "" for idle_seconds_before_scaledown=0 or None).
func (o *jsonObject) idle() (time.Duration, bool) {
	v, ok := o.str("nodeIdleTimeBeforeScaleDown")
	if !ok || v == "" {
		return 0, false
	}
	d, why := parseIdle(v)
	if why != "" {
		o.l.Addf(CodeUserError, pathIdle, "%s: %s.", msgDuration, why)
		return 0, false
	}
	return d, true
}

// tags reads ARM tags: an object of string values. None gives nil.
func (o *jsonObject) tags(name string) map[string]string {
	v, ok := o.value(name)
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		o.fail(name, "a JSON object of strings", v)
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make(map[string]string, len(m))
	for _, k := range keys {
		s, ok := m[k].(string)
		if !ok {
			o.l.Addf(CodeInvalidContent, jsonPath(o.target(name), k), "The value of tag %q must be a string, not %s.", k, jsonKind(m[k]))
			continue
		}
		out[k] = s
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func jsonPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// suggestField proposes the known field closest to k — a typo away, or a
// shortening of it ("maxNodes" for maxNodeCount) — or lists them all.
func suggestField(k string, known []string) string {
	best, bestD := "", 3
	lk := strings.ToLower(k)
	for _, n := range known {
		ln := strings.ToLower(n)
		d := armerror.Distance(lk, ln, 3)
		if len(lk) >= 4 && len(ln) >= 4 && (strings.HasPrefix(ln, lk) || strings.HasPrefix(lk, ln)) ||
			len(lk) >= 6 && strings.HasPrefix(ln, lk[:len(lk)-1]) {
			d = min(d, 2)
		}
		if d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return "; the known fields here are " + strings.Join(known, ", ")
}
