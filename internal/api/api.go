// Package api owns the wire types of vnetml's management API that are not
// the model's resources — Network Watcher requests and answers, the batch
// apply — and the deployment defaults that the server and its clients must
// agree on. It imports nothing of vnetml's, so the client and the CLI can
// use it without pulling in the server.
package api

import (
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
