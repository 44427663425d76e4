// Package job owns the contract between the server and a node agent for
// one attempt of a run (DESIGN.md §7): what the server hands a node to run
// (Spec, on the node's control port 29877), what the agent answers about
// it (Status), and what the node and the job itself report to run history
// over HTTPS through the fabric (Event, log chunks, MetricBatch, secrets).
// It imports nothing of vnetml's: the server, the agent and the tests share
// it, and runtime/python/vnetml_run.py speaks the run-history half.
//
// # Run history
//
// Run history is a platform service at an AzureMachineLearning address,
// https://<region>.experiments.azureml.net, whose certificate chains to
// the deployment CA (Spec.CACert). Every request carries
// Authorization: Bearer <Spec.Token>, the run's own token. Under
// Spec.History (…/history/v1.0<workspace id>/experiments/<e>/runs/<r>):
//
//	POST events                 an Event; 200 {"status": "<run's state>"};
//	                            409 (code CodeSuperseded) when the
//	                            attempt is no longer the run's (canceled,
//	                            or retried elsewhere): the agent stops
//	                            the job
//	POST logs?attempt=A&offset=N
//	                            bytes of the attempt's driver log (stdout
//	                            and stderr) starting at offset N of that
//	                            attempt's log; 200 {"length": L}. A chunk
//	                            that starts before L is taken from L on
//	                            (a retry); one that starts after L is
//	                            refused with 409 {"length": L}: resend
//	                            from L. So a log is never lost nor doubled.
//	                            A 409 with an error body instead (code
//	                            CodeSuperseded) means, as for an event,
//	                            that the attempt is no longer the run's.
//	POST metrics                a MetricBatch; a batch id seen before is
//	                            acknowledged and ignored (a retry)
//	GET  secrets/<name>         {"name", "value"}: a secret of the
//	                            workspace's key vault, which run history
//	                            reads as the workspace (a trusted Azure
//	                            service): the vault's firewall decides
//
// Errors have the API's one shape, {"error": {"code", "message"}}.
package job

import (
	"strings"
	"time"
)

// The states of a run, in the order a run goes through them (Azure ML's
// names). Completed, Failed and Canceled are terminal.
const (
	NotStarted = "NotStarted"
	Queued     = "Queued"
	Preparing  = "Preparing"
	Running    = "Running"
	Finalizing = "Finalizing"
	Completed  = "Completed"
	Failed     = "Failed"
	Canceled   = "Canceled"
)

// Terminal reports whether a run in state s is over.
func Terminal(s string) bool { return s == Completed || s == Failed || s == Canceled }

// Rank orders the states: a report never moves a run back.
func Rank(s string) int {
	switch s {
	case NotStarted:
		return 0
	case Queued:
		return 1
	case Preparing:
		return 2
	case Running:
		return 3
	case Finalizing:
		return 4
	case Completed, Failed, Canceled:
		return 5
	}
	return -1
}

// Spec is one attempt of a run, as the server hands it to a node: POST
// /v1/jobs on the node's control port (Bearer <node secret>).
type Spec struct {
	RunID      string `json:"runId"`
	Experiment string `json:"experiment"`
	// Attempt counts from 1; a retried run is dispatched again with the
	// next attempt.
	Attempt int `json:"attempt"`
	// Argv is the command, run in the snapshot's directory; Argv[0] is
	// looked up in PATH (e.g. ["python3", "train.py", "--epochs", "5"]).
	Argv []string `json:"argv"`
	// Env is the run's environment variables, as the user gave them.
	Env map[string]string `json:"env,omitempty"`
	// Snapshot is the source directory to run in.
	Snapshot Snapshot `json:"snapshot"`
	// Artifacts is where ./outputs is uploaded at the end (and what
	// run.upload_file writes to).
	Artifacts Artifacts `json:"artifacts"`
	// History is the run's run-history URL; Token its bearer token.
	History string `json:"history"`
	Token   string `json:"token"`
	// CACert is the PEM certificate of the deployment CA, which the
	// storage and run-history certificates chain to.
	CACert string `json:"caCert"`
	// Proxy is the node's egress proxy into the virtual cloud
	// (http://user:password@host:port): every connection of the node —
	// the agent's and the job's — leaves through it. Empty when the node's
	// network needs none (a kernel fabric).
	Proxy string `json:"proxy,omitempty"`
	// MaxDurationSeconds bounds the attempt from its start (0: no bound):
	// past it the job is killed and the run fails.
	MaxDurationSeconds int64 `json:"maxDurationSeconds,omitempty"`
	// NodeID and NodeAddress are the node's, for messages.
	NodeID      string `json:"nodeId"`
	NodeAddress string `json:"nodeAddress"`
}

// Snapshot locates a snapshot: a gzip-compressed tar of the source
// directory, in a datastore.
type Snapshot struct {
	// URL is the snapshot blob's https URL with a read SAS, on the blob
	// (443) or file share (445) endpoint of the storage account.
	URL string `json:"url"`
	// SHA256 is the hex digest of the blob: the snapshot id.
	SHA256 string `json:"sha256"`
	// Account and Datastore name where it is, for messages.
	Account   string `json:"account"`
	Datastore string `json:"datastore"`
}

// Artifacts locates a run's artifacts: blobs named Prefix+<path> in the
// container at URL (which carries a SAS that may create and write).
type Artifacts struct {
	URL     string `json:"url"`
	Prefix  string `json:"prefix"`
	Account string `json:"account"`
}

// OutputsDir is the directory of the job whose files are uploaded as the
// run's outputs (Prefix + "outputs/" + path).
const OutputsDir = "outputs"

// DriverLog is the artifact name of a run's driver log (SDK v1's).
const DriverLog = "azureml-logs/70_driver_log.txt"

// Event is a change of an attempt's state, as the node reports it.
type Event struct {
	Attempt int       `json:"attempt"`
	State   string    `json:"state"`
	Time    time.Time `json:"time"`
	NodeID  string    `json:"nodeId,omitempty"`
	// Error says why an attempt failed (or was canceled), with the
	// deciding rule when the network refused something.
	Error *Error `json:"error,omitempty"`
	// ExitCode is the command's exit status, once it exited.
	ExitCode *int `json:"exitCode,omitempty"`
	// Outputs are the output files uploaded (paths under outputs/), with
	// the terminal event.
	Outputs []string `json:"outputs,omitempty"`
}

// Error is a run's error.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// CodeSuperseded is run history's answer (409) to a report of an attempt
// that is no longer the run's.
const CodeSuperseded = "RunAttemptSuperseded"

// Error codes of failed runs.
const (
	// CodeUserError: the command failed (non-zero exit).
	CodeUserError = "UserError"
	// CodeNetwork: a connection the run needed was refused or unanswered.
	CodeNetwork = "NetworkRefused"
	// CodeSnapshot: the snapshot is missing, corrupt or unusable.
	CodeSnapshot = "SnapshotError"
	// CodeTimeout: the run exceeded its maximum duration.
	CodeTimeout = "RunTimeout"
	// CodeNodeLost: the node went away during the attempt.
	CodeNodeLost = "NodeLost"
	// CodeCanceled: the user canceled the run.
	CodeCanceled = "Canceled"
	// CodeSystem: something of the platform failed.
	CodeSystem = "SystemError"
)

// Status is what the agent knows of an attempt: GET /v1/jobs/<run id>.
type Status struct {
	RunID    string `json:"runId"`
	Attempt  int    `json:"attempt"`
	State    string `json:"state"`
	ExitCode *int   `json:"exitCode,omitempty"`
	Error    *Error `json:"error,omitempty"`
	// LogLength is how much of the driver log the job wrote.
	LogLength int64 `json:"logLength"`
	// Reported says that run history acknowledged the last state and the
	// whole log.
	Reported bool `json:"reported"`
}

// Rebind is the body of POST /v1/jobs/<run id>/rebind: the node's egress
// changed (a restarted server runs a new one); the agent's reports and
// the job's connections leave through Proxy from now on.
type Rebind struct {
	Proxy string `json:"proxy"`
}

// Metric is one logged value: a number, a string or a bool (a list is
// logged as one Metric per element, with steps).
type Metric struct {
	Name  string    `json:"name"`
	Value any       `json:"value"`
	Step  *int64    `json:"step,omitempty"`
	Time  time.Time `json:"time"`
}

// MetricBatch is the body of POST metrics. BatchID makes a retry
// harmless.
type MetricBatch struct {
	BatchID string   `json:"batchId"`
	Metrics []Metric `json:"metrics"`
}

// The environment a job runs with, besides the run's own variables and
// the proxy variables (HTTP_PROXY, HTTPS_PROXY and their lower-case forms,
// pointing at the node's egress) and SSL_CERT_FILE / REQUESTS_CA_BUNDLE
// (the deployment CA).
const (
	EnvRunID           = "AZUREML_RUN_ID"
	EnvExperiment      = "AZUREML_EXPERIMENT_NAME"
	EnvAttempt         = "AZUREML_RUN_ATTEMPT"
	EnvHistory         = "AZUREML_RUN_HISTORY_URL"
	EnvToken           = "AZUREML_RUN_TOKEN"
	EnvArtifactsURL    = "AZUREML_ARTIFACTS_URL"
	EnvArtifactsPrefix = "AZUREML_ARTIFACTS_PREFIX"
	EnvNodeID          = "AZUREML_NODE_ID"
)

// ValidRunID reports whether id can name a run: 1 to 255 letters, digits,
// '_', '-' and '.', not starting with '.' (a file and URL path segment).
func ValidRunID(id string) bool {
	if id == "" || len(id) > 255 || id[0] == '.' {
		return false
	}
	return strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.')
	}) < 0
}
