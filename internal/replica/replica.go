// Package replica owns the contract between the server and a node agent
// for the replicas of a web service (DESIGN.md §7, issue 8): what the
// server hands a node of an inference cluster to serve (Spec, on the
// node's control port), and what the agent answers about it (Status). A
// replica is a process on the node — runtime/python/vnetml_score.py
// running the service's entry script over its model — that the server
// exposes at the replica's pod address in the virtual network. It imports
// nothing of vnetml's.
//
// The control-port API (Authorization: Bearer <node secret>, as the job
// API):
//
//	POST   /v1/replicas             a Spec → 202 Status (the same id and
//	                                generation again → 200, its status)
//	GET    /v1/replicas             [Status] of every replica on the node
//	GET    /v1/replicas/{id}        Status; 404 unknown
//	GET    /v1/replicas/{id}/logs   text/plain: the replica's stdout and
//	                                stderr (the last MaxLogBytes)
//	DELETE /v1/replicas/{id}        stops it (SIGTERM, grace, SIGKILL) →
//	                                204
//
// Errors have the API's one shape, {"error": {"code", "message"}}.
package replica

// States of a replica.
const (
	// Starting: downloading the model, or init() running.
	Starting = "Starting"
	// Running: init() returned; the replica answers on Port.
	Running = "Running"
	// Failed: init() raised, the model could not be fetched, or the
	// process keeps crashing; Error says why.
	Failed = "Failed"
)

// MaxLogBytes is how much of a replica's output the agent keeps.
const MaxLogBytes = 1 << 20

// Spec is one replica, as the server hands it to a node.
type Spec struct {
	// ID names the replica on the node (e.g. "myservice-2"); Generation
	// changes when the service is redeployed: a Spec with a new
	// generation replaces the replica of the same id.
	ID         string `json:"id"`
	Generation int64  `json:"generation"`
	Service    string `json:"service"`
	// Model are the model's files, each fetched over HTTPS through the
	// node's egress into the model directory (AZUREML_MODEL_DIR) under
	// its Name (a clean relative path).
	Model []File `json:"model"`
	// Entry is the entry script (init() / run(raw_data)), given inline.
	Entry Script `json:"entry"`
	// Env is the service's environment variables.
	Env map[string]string `json:"env,omitempty"`
	// Workers is how many requests run at once
	// (replica_max_concurrent_requests); MaxWaitMs how long a request may
	// wait for one; TimeoutMs bounds run() (scoring_timeout_ms: 504, the
	// replica lives on); MaxBodyBytes bounds a request body (413).
	Workers      int   `json:"workers"`
	MaxWaitMs    int   `json:"maxWaitMs"`
	TimeoutMs    int   `json:"timeoutMs"`
	MaxBodyBytes int64 `json:"maxBodyBytes"`
	// CACert is the deployment CA's PEM certificate (the storage
	// certificates chain to it); Proxy the node's egress proxy, as in
	// job.Spec.
	CACert string `json:"caCert"`
	Proxy  string `json:"proxy,omitempty"`
	// NodeAddress and PodAddress are the node's and the replica's
	// addresses in the virtual network, for messages.
	NodeAddress string `json:"nodeAddress"`
	PodAddress  string `json:"podAddress"`
	// Netns, when set, is the network namespace the replica runs in (a
	// path under /run/netns): its pod's, under the kernel fabric, where it
	// listens on its own loopback and reaches the network directly (no
	// egress proxy). Empty: the agent's own network.
	Netns string `json:"netns,omitempty"`
}

// File is a model file: its https URL (with a read SAS) and where it goes.
type File struct {
	Name    string `json:"name"`
	URL     string `json:"url"`
	Account string `json:"account"` // the storage account's name, for messages
}

// Script is a file given inline.
type Script struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

// Status is what the agent knows of a replica.
type Status struct {
	ID         string `json:"id"`
	Generation int64  `json:"generation"`
	State      string `json:"state"`
	// Port is the replica's loopback port on the node (Running only):
	// the server exposes it at PodAddress.
	Port int `json:"port,omitempty"`
	// Restarts counts the times the process crashed and was restarted.
	Restarts int `json:"restarts"`
	// Error says why the replica Failed (the traceback of init(), the
	// refused download with its rule), or why it last restarted.
	Error *Error `json:"error,omitempty"`
}

// Error is a replica's error.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes.
const (
	CodeInitFailed  = "InitFailed"     // init() raised: Message holds the traceback
	CodeModel       = "ModelDownload"  // a model file could not be fetched: the refusal and its rule
	CodeCrashed     = "ReplicaCrashed" // the process exited; it is restarted with backoff
	CodeCrashLoop   = "CrashLoop"      // it crashed too often: Failed
	CodeInvalidSpec = "InvalidReplicaSpec"
)
