// Package nodeagent owns the node agent of a compute node (DESIGN.md §2,
// §7): the `vnetml agent` process that each node of a cluster is, the jobs
// it runs (one attempt of a run at a time, by package job's contract), the
// web-service replicas it serves (package replica's contract), and the
// Spawner with which the server starts, watches, adopts and stops those
// processes.
//
// # What the agent is
//
// A node is a real process, not a simulation: it answers Azure Batch's node
// management ports, TCP 29876 (management) and 29877 (control), which the
// cluster's NSG must allow from BatchNodeManagement (DESIGN.md §5). The agent
// itself listens on two loopback ports; the server makes them the node's
// ports in the virtual cloud with fabric.Expose(node NIC and address, 29876
// and 29877, the loopback listener), so that the node manager reaches a node
// only when the fabric's verdict allows it. Agent.Health and Agent.Renew take
// a Dial so that the server can call THROUGH the fabric; Agent.Loopback is
// the direct way, which only the spawner uses for itself.
//
// Both ports serve HTTP and require Authorization: Bearer <node secret>
// (compared in constant time; 401 otherwise): GET /v1/health on both, POST
// /v1/lease on management, and the job routes on control:
//
//	POST /v1/jobs                  a job.Spec: 202 and its job.Status; the
//	                               same run and attempt again: 200; another
//	                               while one is in progress: 409 NodeBusy;
//	                               a bad spec: 400 InvalidJobSpec
//	GET  /v1/jobs/{runId}          the job.Status of the run's last attempt
//	POST /v1/jobs/{runId}/cancel   202: the job is stopped, reported Canceled
//	POST /v1/jobs/{runId}/rebind   a job.Rebind: the node's egress proxy
//	                               changed; 200
//
// An unknown run is 404 JobNotFound. Agent.SubmitJob, JobStatus, CancelJob
// and RebindJob are the client. GET /v1/health says "running" while an
// attempt is in progress, "idle" otherwise (replicas do not count). The
// replica routes are package replica's (POST, GET and DELETE
// /v1/replicas..., GET /v1/replicas/{id}/logs); Agent.StartReplica,
// Replicas, ReplicaStatus, ReplicaLogs and StopReplica are the client.
//
// # Jobs
//
// An attempt goes Preparing, Running, Finalizing, then Completed, Failed
// or Canceled, each reported to run history as a job.Event:
//
//   - Preparing: a job directory <state dir>/jobs/<run id>-<attempt>/
//     with ca.pem (Spec.CACert) and wd/, the snapshot unpacked
//     (snapshot.Extract). The snapshot is downloaded over HTTPS through
//     the node's egress proxy, trusting the deployment CA only, checked
//     against its SHA-256, and kept in <state dir>/snapshots/ (the 8 most
//     recently used), so that another attempt or run of it downloads
//     nothing.
//   - Running: Argv in wd/ — as the user --job-uid names, without
//     capabilities, when it is given (jobuser_unix.go) — in a process
//     group of its own, stdin
//     /dev/null, stdout and stderr into one pipe, with an environment of
//     its own: PATH, LANG, LC_*, TZ and TMPDIR of the agent's and nothing
//     else of it, HOME (the job directory), the run's Env, job.Env*, the
//     proxy variables, SSL_CERT_FILE and REQUESTS_CA_BUNDLE, and
//     PYTHONUNBUFFERED=1. Everything it writes goes to
//     70_driver_log.txt and to run history by offset (at most 1 MiB a
//     chunk, within 500 ms, or at once when 64 KiB are pending).
//     Cancel and MaxDurationSeconds stop it: SIGTERM to its group, the
//     grace period (--job-grace, 10 s), SIGKILL.
//   - Finalizing: every regular file under wd/outputs/ is uploaded to
//     the run's artifacts (Put Blob; Put Block and Put Block List over
//     256 MiB), then the driver log, as job.DriverLog.
//   - Completed on exit 0 with everything uploaded; otherwise Failed with
//     a job.Error whose code says whose fault it is and whose message
//     says what failed, from where, to what, and why: a refusal by the
//     network rules names the deciding rule, the address it judged and
//     the fix, as the fabric's egress proxy said it; a storage firewall's
//     refusal is quoted.
//
// Every report is retried (backing off up to 2 s, at once after a
// rebind) until run history acknowledges it; the terminal event goes
// last, once the whole log is acknowledged, and then the job directory is
// removed. A 409 to an event means the attempt is no longer the run's:
// the job is stopped and nothing more is reported or uploaded.
//
// # Replicas
//
// A node serves any number of replicas at once, each a replica.Spec: an id
// (e.g. myservice-2) and a generation (from 1). The same id and generation
// again answers its status (200), whatever its state: the server retries a
// Failed replica with a new generation, which replaces the replica of the
// id (the old one is stopped, then the new one starts; 202); an older
// generation is refused, 409 StaleReplicaGeneration. A spec the agent
// cannot serve is 400 InvalidReplicaSpec, naming every problem; an unknown
// id is 404 ReplicaNotFound. Each POST's Proxy becomes the node's egress
// proxy, as a job's rebind does (a restarted server re-posts its replicas
// through its new one).
//
//   - Starting: a replica directory <state dir>/replicas/<id>-<generation>/
//     with ca.pem and lib/ (the run context, as a job's, and
//     vnetml_score.py), model/ with the model's files, each downloaded
//     over HTTPS through the node's egress proxy trusting the deployment CA
//     only, as a snapshot is (a refusal is explained as a job's is, naming
//     the deciding rule or quoting the storage firewall: Failed,
//     ModelDownload), and app/ with the entry script. Then
//     `python3 lib/vnetml_score.py --entry app/<script> --port 0 ...` in
//     app/, in a process group of its own, with a job's environment (the
//     agent's PATH, LANG, LC_*, TZ and TMPDIR and nothing else of it, HOME,
//     the service's Env, the proxy variables, SSL_CERT_FILE,
//     REQUESTS_CA_BUNDLE, PYTHONPATH with the run context first,
//     PYTHONUNBUFFERED=1) and AZUREML_MODEL_DIR (model/).
//   - Running, with Port, once the scoring server prints its ready line
//     (init() returned and it listens on 127.0.0.1:Port). A server that
//     exits first (status 3: the entry script failed to load or init()
//     raised), or is not ready within --replica-init-timeout (5 minutes;
//     it is killed), makes the replica Failed, InitFailed, with the end of
//     its output: the traceback.
//   - A server that exits once Running crashed: the replica is Starting
//     again, with Error ReplicaCrashed, Restarts counted, and a new server
//     after a backoff (--replica-backoff, 1 s, doubling with each crash
//     within 10 minutes, up to a minute), on a new Port that the server
//     exposes anew. The sixth crash within 10 minutes makes it Failed,
//     CrashLoop. A restarted server that fails to start fails the replica
//     as a first start does.
//
// stdout and stderr of a replica's servers, one after the other, and a line
// of the agent's at each crash or failure, are kept in memory (the last
// replica.MaxLogBytes) for the logs route. DELETE stops the replica
// (SIGTERM, the grace period of --job-grace, SIGKILL), removes its
// directory and forgets it, and answers once its processes are gone. A
// Failed replica's processes and directory are gone; its status and log
// are kept until it is deleted or replaced.
//
// # The node's egress
//
// Every connection of the node leaves through Spec.Proxy, the fabric's
// egress proxy for the node (none on a kernel fabric), which a rebind
// replaces. The agent's own requests (downloads, uploads, reports) use it
// directly. Jobs and replicas get HTTP_PROXY and HTTPS_PROXY (and their
// lower-case forms) pointing at a node-local proxy on 127.0.0.1 with credentials of
// its own, which chains each CONNECT and plain HTTP request to the proxy
// of the moment and relays its refusals as they came (403,
// X-Vnetml-Denied, X-Vnetml-Destination, the explanation), so that a
// running job's new connections follow a rebind. NO_PROXY is empty.
//
// # The lease
//
// Every authenticated request on the management port renews the agent's
// lease (--lease, 10 minutes by default); when none came for that long the
// agent exits by itself, so a server that died without restarting leaves no
// process behind for long. Requests on the control port do not renew it.
// The Spawner renews the leases of the agents it manages over loopback
// (SpawnerConfig.RenewEvery), so an agent lives exactly as long as its
// server does, whatever the NSG lets the node manager do through the
// fabric: a node the node manager cannot reach is unusable, not gone, and
// comes back when the rule is fixed, as in Azure.
//
// # The files
//
// Each node has a state directory, <StateRoot>/<node id> (mode 0700):
//
//	secret      the node secret, 32 random bytes in hex (0600); the agent
//	            reads it from --token-file, never from its command line,
//	            which ps shows
//	agent.json  {nodeId, clusterId, pid, management, control, startedAt}
//	            (0600), written atomically by the agent once it listens and
//	            removed when it exits: how a restarted server finds it
//	agent.log   the agent's stderr (0600), its structured log; the last
//	            line says why it exited
//	jobs/       the job directories: ca.pem, wd/, 70_driver_log.txt, and
//	            process.json while the job runs (see below)
//	snapshots/  the snapshot cache, <sha256>.tar.gz
//	replicas/   the replica directories: ca.pem, lib/, model/, app/, and
//	            process.json while a server runs
//
// # Processes and adoption
//
// The agent runs in its own process group, so that an interrupt of the
// server's terminal does not reach it (the server stops its agents
// gracefully) and so that stopping an agent also ends every process it
// started: Agent.Stop sends SIGTERM to the group, waits a grace period, then
// SIGKILL; when an agent dies by any means, what is left of its group is
// killed.
//
// A job is a process group of its own, so that stopping it takes what it
// started, and it must not outlive its agent either (nor must a replica's
// scoring server, which is one the same way, with a process.json in its
// replica directory): its leader has a
// death signal (SIGKILL when the agent dies, on Linux), and process.json
// records its group with the leader's start time and a random tag that
// every process of the job carries in its environment (VNETML_JOB_TAG).
// When an agent exits, is stopped or reaped — or a new agent of the node
// starts — the recorded groups are killed, each only if one of its
// processes proves it is still the job's (the leader as recorded, or the
// tag): a group id is not reused while a process of the group lives. An
// agent asked to stop kills its replicas and jobs at once and gives the
// jobs' reports 3 s.
//
// A restarted server lists the state directories nobody manages with
// Spawner.Orphans and either adopts their agents (Spawner.Adopt) or reaps
// them (Spawner.Reap). An agent is only ever adopted or killed after it
// proved who it is — it answered on its control port, with the node's
// secret, as that node and with that pid — never because a pid in a file
// exists: pids are reused. A process that cannot prove it is left alone; if
// it is a hung agent, its lease ends it.
//
// Process groups and signals are Unix; on other systems the package builds
// and an agent is stopped by killing its process alone.
package nodeagent
