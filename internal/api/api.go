// Package api owns the wire types of vnetml's management API that are not
// the model's resources — Network Watcher requests and answers, the batch
// apply — and the deployment defaults that the server and its clients must
// agree on. It imports nothing of vnetml's, so the client and the CLI can
// use it without pulling in the server.
package api

import (
	"net/netip"
	"os"
	"path/filepath"
)

// DefaultAddr is where `vnetml server` listens unless told otherwise.
const DefaultAddr = "127.0.0.1:7878"

// DefaultEndpoint is the URL clients use unless told otherwise.
const DefaultEndpoint = "http://" + DefaultAddr

// APIVersion is the api-version the client sends; the server accepts any.
const APIVersion = "2023-09-01"

// AdminTokenFile is the file in the data directory that holds the admin
// token (mode 0600).
const AdminTokenFile = "admin.token"

// DefaultDataDir is the server's data directory unless told otherwise:
// $VNETML_DATA_DIR, else ~/.vnetml.
func DefaultDataDir() string {
	if d := os.Getenv("VNETML_DATA_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".vnetml"
	}
	return filepath.Join(home, ".vnetml")
}

// ApplyPath is the batch apply endpoint: POST a list of ARM resources with
// their ids; ?dryRun=true checks without writing.
const ApplyPath = "/providers/vnetml.Resources/apply"

// ApplyRequest is the body of a batch apply: ARM resources, each with its
// full "id", put in order in one transaction.
type ApplyRequest struct {
	Resources []any `json:"resources"`
}

// ApplyResult says what an apply did (or in a dry run would do).
type ApplyResult struct {
	DryRun    bool          `json:"dryRun"`
	Resources []ApplyAction `json:"resources"`
}

// ApplyAction is what happened to one resource.
type ApplyAction struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Action string `json:"action"` // created, changed or unchanged
}

// Apply actions.
const (
	ActionCreated   = "created"
	ActionChanged   = "changed"
	ActionUnchanged = "unchanged"
)

// FlowVerifyRequest is Network Watcher's VerificationIPFlowParameters.
type FlowVerifyRequest struct {
	TargetResourceID    string `json:"targetResourceId"`
	Direction           string `json:"direction"`
	Protocol            string `json:"protocol"`
	LocalPort           string `json:"localPort"`
	RemotePort          string `json:"remotePort"`
	LocalIPAddress      string `json:"localIPAddress"`
	RemoteIPAddress     string `json:"remoteIPAddress"`
	TargetNicResourceID string `json:"targetNicResourceId,omitempty"`
}

// FlowVerifyResult is Network Watcher's VerificationIPFlowResult, with
// vnetml's one-line explanation beside it.
type FlowVerifyResult struct {
	Access      string `json:"access"`
	RuleName    string `json:"ruleName"`
	Explanation string `json:"explanation,omitempty"`
}

// NextHopRequest is Network Watcher's NextHopParameters.
type NextHopRequest struct {
	TargetResourceID     string `json:"targetResourceId"`
	SourceIPAddress      string `json:"sourceIPAddress"`
	DestinationIPAddress string `json:"destinationIPAddress"`
	TargetNicResourceID  string `json:"targetNicResourceId,omitempty"`
}

// NextHopResult is Network Watcher's NextHopResult, with vnetml's
// one-line explanation beside it.
type NextHopResult struct {
	NextHopType      string `json:"nextHopType"`
	NextHopIPAddress string `json:"nextHopIpAddress,omitempty"`
	RouteTableID     string `json:"routeTableId"`
	Explanation      string `json:"explanation,omitempty"`
}

// ConnectivityRequest is Network Watcher's ConnectivityParameters (TCP).
type ConnectivityRequest struct {
	Source struct {
		ResourceID string `json:"resourceId"`
		Port       int    `json:"port,omitempty"`
	} `json:"source"`
	Destination struct {
		ResourceID string `json:"resourceId,omitempty"`
		Address    string `json:"address"`
		Port       int    `json:"port"`
	} `json:"destination"`
	Protocol string `json:"protocol,omitempty"`
}

// ConnectivityResult is Network Watcher's ConnectivityInformation, with
// vnetml's explanation of a failure beside it.
type ConnectivityResult struct {
	Hops             []ConnectivityHop `json:"hops"`
	ConnectionStatus string            `json:"connectionStatus"` // Reachable or Unreachable
	AvgLatencyInMs   int               `json:"avgLatencyInMs,omitempty"`
	MinLatencyInMs   int               `json:"minLatencyInMs,omitempty"`
	MaxLatencyInMs   int               `json:"maxLatencyInMs,omitempty"`
	ProbesSent       int               `json:"probesSent"`
	ProbesFailed     int               `json:"probesFailed"`
	Explanation      string            `json:"explanation,omitempty"`
}

// ConnectivityHop is one hop of a connectivity check.
type ConnectivityHop struct {
	Type       string              `json:"type"`
	ID         string              `json:"id,omitempty"`
	Address    string              `json:"address,omitempty"`
	ResourceID string              `json:"resourceId,omitempty"`
	Issues     []ConnectivityIssue `json:"issues"`
}

// ConnectivityIssue is a problem a connectivity check found at a hop.
type ConnectivityIssue struct {
	Origin   string              `json:"origin,omitempty"` // Local, Inbound, Outbound
	Severity string              `json:"severity"`         // Error, Warning
	Type     string              `json:"type"`             // NetworkSecurityRule, UserDefinedRoute, Platform, …
	Context  []map[string]string `json:"context,omitempty"`
}

// FlowLogPath lists the fabric's flow log: GET with nic, address,
// decision, after, limit and wait.
const FlowLogPath = "/providers/vnetml.Network/flowLogs"

// FlowLogPage is one answer of the flow log.
type FlowLogPage struct {
	Value []FlowRecord `json:"value"`
	// Next is the seq to ask after next time (after=Next).
	Next uint64 `json:"next"`
	// Truncated: records after the cursor were dropped from the log (it
	// keeps the newest); Reset: the cursor was from before a restart, and
	// the answer starts over.
	Truncated bool `json:"truncated,omitempty"`
	Reset     bool `json:"reset,omitempty"`
}

// FlowRecord is one flow log record: a connection decided (state B, or D
// when denied) or ended (state E, with bytes), as the fabric logged it.
type FlowRecord struct {
	Seq           uint64 `json:"seq"`
	Time          string `json:"time"`
	Protocol      string `json:"protocol"`
	Source        string `json:"source"`
	Destination   string `json:"destination"`
	SourceNIC     string `json:"sourceNic,omitempty"`
	DestNIC       string `json:"destinationNic,omitempty"`
	Decision      string `json:"decision"` // A or D
	State         string `json:"state"`    // B or E (a denied flow is B with decision D)
	Rule          string `json:"rule,omitempty"`
	Resource      string `json:"resource,omitempty"`
	Stage         string `json:"stage,omitempty"`
	Reason        string `json:"reason,omitempty"`
	BytesSent     int64  `json:"bytesSent,omitempty"`
	BytesReceived int64  `json:"bytesReceived,omitempty"`
	FlowTuple     string `json:"flowTuple"`
}

// The data planes of storage accounts and key vaults live in the virtual
// cloud. A client outside it (the CLI user) reaches them through the
// server: an HTTP CONNECT to the API endpoint, authenticated with the
// client's token (Proxy-Authorization: Bearer <token>, or Basic with the
// token as password), opens a connection to the named host and port
// through the fabric from the client's public address — so firewalls'
// ipRules and NSGs judge it as they would judge the user's laptop.
const (
	// ClientAddressHeader, on the CONNECT request, is the public IPv4
	// address the client calls from (configured per login).
	ClientAddressHeader = "X-Vnetml-Client-Address"
	// ClientNICHeader, on the CONNECT request, names a network interface
	// (resource id, or a name unique among the NICs) to call from instead
	// of a public address: the connection leaves from its primary
	// address, as a process of its VM would, and the NSGs judge it so.
	// The token needs write access to that interface.
	ClientNICHeader = "X-Vnetml-Client-Nic"
	// DefaultClientAddress is the address of a client that gives none: an
	// Internet address (TEST-NET-3, the local cloud's client range).
	DefaultClientAddress = "203.0.113.10"
	// CAPath serves the deployment CA's certificate (PEM), which the
	// front ends' certificates chain to.
	CAPath = "/providers/vnetml.Network/ca"
)

// nonPublicIPv4 are the IPv4 ranges that are no client's public address.
var nonPublicIPv4 = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("224.0.0.0/4"), netip.MustParsePrefix("240.0.0.0/4"),
}

// NonPublic returns the range that makes a not a client's public address
// (private, shared, loopback, link-local, multicast or reserved), and
// false for a public IPv4 address. Client and server check the same.
func NonPublic(a netip.Addr) (netip.Prefix, bool) {
	for _, p := range nonPublicIPv4 {
		if p.Contains(a) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// WhoAmIPath answers GET with the caller's token: its name (what key
// vault access policies name as objectId), role and scope.
const WhoAmIPath = "/providers/vnetml.Authorization/whoami"

// WhoAmI is the answer at WhoAmIPath.
type WhoAmI struct {
	TokenName string `json:"tokenName"`
	Role      string `json:"role"`
	Scope     string `json:"scope"`
}
