package api

import "time"

// The run-history types of the management API (DESIGN.md §7). A run is a
// child of an experiment, which is a child of a workspace:
//
//	PUT    {workspace}/experiments/{e}/runs/{runId}          submit (201)
//	GET    {workspace}/experiments/{e}/runs/{runId}          show
//	GET    {workspace}/experiments/{e}/runs                  list
//	GET    {workspace}/experiments                           list experiments
//	POST   {workspace}/experiments/{e}/runs/{runId}/cancel   cancel
//	GET    {workspace}/experiments/{e}/runs/{runId}/logs?offset=N&follow=true
//	                                                         the driver log (text/plain, streamed with follow
//	                                                         until the run ends)
//	GET    {workspace}/experiments/{e}/runs/{runId}/metrics  {"value": [RunMetric]}
//
// A run's snapshot is uploaded by the client, before it submits, to the
// datastore it names: blob SnapshotPath(id) of the datastore's container
// (or file share), id being the hex SHA-256 of the snapshot's bytes.
const (
	TypeExperiment = "Microsoft.MachineLearningServices/workspaces/experiments"
	TypeRun        = TypeExperiment + "/runs"
)

// SnapshotPath is where a snapshot with id (its hex SHA-256) is kept in a
// datastore.
func SnapshotPath(id string) string { return "snapshots/" + id + ".tar.gz" }

// Run is a run, as submitted and as shown.
type Run struct {
	ID         string        `json:"id,omitempty"`
	Name       string        `json:"name,omitempty"`
	Type       string        `json:"type,omitempty"`
	Properties RunProperties `json:"properties"`
}

// RunProperties are what a run is (the submission, as the SDK's
// RunConfiguration has it) and what became of it (read-only).
type RunProperties struct {
	// Script runs with python3 (as ScriptRunConfig's script), with
	// Arguments; or Command is the argv to run. One of the two.
	Script    string   `json:"script,omitempty"`
	Arguments []string `json:"arguments,omitempty"`
	Command   []string `json:"command,omitempty"`
	// EnvironmentVariables are set for the command.
	EnvironmentVariables map[string]string `json:"environmentVariables,omitempty"`
	// Target is the compute cluster's name.
	Target string `json:"target"`
	// SourceDirectoryDataStore holds the snapshot: workspacefilestore
	// by default (as the SDK v1 did), or workspaceblobstore, or a
	// datastore the user registered.
	SourceDirectoryDataStore string `json:"sourceDirectoryDataStore,omitempty"`
	// SnapshotID is the hex SHA-256 of the snapshot the client uploaded
	// to SnapshotPath(SnapshotID) of that datastore.
	SnapshotID string `json:"snapshotId"`
	// MaxRunDurationSeconds bounds each attempt (0: no bound).
	MaxRunDurationSeconds int64 `json:"maxRunDurationSeconds,omitempty"`
	// MaxRetries is how many more attempts a run gets when its node is
	// lost under it (0: none).
	MaxRetries  int               `json:"maxRetries,omitempty"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`

	// Read-only.
	RunID             string          `json:"runId,omitempty"`
	Experiment        string          `json:"experimentName,omitempty"`
	Status            string          `json:"status,omitempty"`
	CreatedUtc        *time.Time      `json:"createdUtc,omitempty"`
	StartTimeUtc      *time.Time      `json:"startTimeUtc,omitempty"`
	EndTimeUtc        *time.Time      `json:"endTimeUtc,omitempty"`
	StatusTransitions []RunTransition `json:"statusTransitions,omitempty"`
	Attempt           int             `json:"attempt,omitempty"`
	NodeID            string          `json:"nodeId,omitempty"`
	NodeAddress       string          `json:"nodeAddress,omitempty"`
	ExitCode          *int            `json:"exitCode,omitempty"`
	Error             *RunError       `json:"error,omitempty"`
	// Outputs is where ./outputs went: blobs Outputs.Prefix+<file> of
	// Outputs.Container in Outputs.Account; OutputFiles lists them.
	Outputs     *RunOutputs `json:"outputs,omitempty"`
	OutputFiles []string    `json:"outputFiles,omitempty"`
	// SubmittedBy names the token that submitted the run.
	SubmittedBy string `json:"submittedBy,omitempty"`
}

// RunTransition is one state change of a run.
type RunTransition struct {
	Status  string    `json:"status"`
	Time    time.Time `json:"time"`
	Attempt int       `json:"attempt,omitempty"`
}

// RunError says why a run failed: a code and a message that names what
// refused what and the fix.
type RunError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// RunOutputs locates a run's output files.
type RunOutputs struct {
	Datastore string `json:"datastore"`
	Account   string `json:"account"` // storage account resource id
	Container string `json:"container"`
	Prefix    string `json:"prefix"`
}

// RunMetric is one logged metric value.
type RunMetric struct {
	Name  string    `json:"name"`
	Value any       `json:"value"`
	Step  *int64    `json:"step,omitempty"`
	Time  time.Time `json:"time"`
}
