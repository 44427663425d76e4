package nodeagent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// The ports a node answers on in the virtual cloud: Azure Batch's node
// management ports, which a cluster's NSG must allow from
// BatchNodeManagement (DESIGN.md §5).
const (
	ManagementPort uint16 = 29876
	ControlPort    uint16 = 29877
)

// DefaultLease is how long an agent lives without an authenticated
// management request.
const DefaultLease = 10 * time.Minute

// StateIdle is the state of an agent that runs nothing.
const StateIdle = "idle"

// HealthInfo is what GET /v1/health answers.
type HealthInfo struct {
	NodeID        string `json:"nodeId"`
	ClusterID     string `json:"clusterId"`
	State         string `json:"state"`
	UptimeSeconds int64  `json:"uptimeSeconds"`
	PID           int    `json:"pid"`
}

// LeaseInfo is what POST /v1/lease answers.
type LeaseInfo struct {
	NodeID       string    `json:"nodeId"`
	LeaseSeconds float64   `json:"leaseSeconds"`
	ExpiresAt    time.Time `json:"expiresAt"`
}

// readyLine is the one line the agent writes to its stdout, once both
// listeners listen.
type readyLine struct {
	PID        int            `json:"pid"`
	Management netip.AddrPort `json:"management"`
	Control    netip.AddrPort `json:"control"`
}

// record is agent.json: how a restarted server finds a running agent.
type record struct {
	NodeID     string         `json:"nodeId"`
	ClusterID  string         `json:"clusterId"`
	PID        int            `json:"pid"`
	Management netip.AddrPort `json:"management"`
	Control    netip.AddrPort `json:"control"`
	StartedAt  time.Time      `json:"startedAt"`
}

// The files of a node's state directory (see the package doc).
const (
	secretFile = "secret"
	recordFile = "agent.json"
	logFile    = "agent.log"
)

// writeRecord writes agent.json atomically: a reader sees the old file, no
// file, or the whole new one.
func writeRecord(dir string, r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+recordFile+"-*") // mode 0600
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, recordFile))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing %s: %w", recordFile, err)
	}
	return nil
}

func readRecord(dir string) (record, error) {
	var r record
	b, err := readSmall(filepath.Join(dir, recordFile))
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", recordFile, err)
	}
	return r, nil
}

// readSmall reads a file of the state directory, which is never large.
func readSmall(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Secret is a node's secret. It prints, logs and marshals as [REDACTED];
// string(s) is the secret itself.
type Secret string

const redacted = "[REDACTED]"

func (Secret) String() string               { return redacted }
func (Secret) GoString() string             { return redacted }
func (Secret) Format(f fmt.State, _ rune)   { io.WriteString(f, redacted) }
func (Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// minSecretLen is the shortest secret an agent accepts (16 bytes in hex).
const minSecretLen = 32

// ErrNoAgent is wrapped by every refusal to adopt: what the state directory
// names is not a live agent of that node that proved who it is.
var ErrNoAgent = errors.New("no live agent")
