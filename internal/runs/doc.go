// Package runs owns experiment runs (DESIGN.md §7, surface §A.7): their
// records, the scheduler that puts each attempt on an idle node of its
// compute cluster, run history — the platform service at an
// AzureMachineLearning address that nodes and jobs report to through the
// fabric — and the driver logs and metrics it keeps.
//
// # A run's life
//
//	NotStarted → Queued → Preparing → Running → Finalizing → Completed
//	                                                        ↘ Failed | Canceled
//
// Submit records the run (NotStarted, then Queued at once) and tells the
// cluster how many nodes its queue needs (compute.Controller.Demand:
// autoscale adds them). The scheduler claims an idle node for the oldest
// queued run of each cluster, marks the run Preparing and hands the node
// the attempt (job.Spec) on its control port, through the fabric from
// Batch node management. From then on the node reports to run history:
// Running once the command started, Finalizing when it exited, and the
// terminal state after ./outputs was uploaded; its driver log and the
// job's metrics arrive on the way. The scheduler also asks every busy
// node for its attempt's status on the control port (Config.PollInterval):
// a node that cannot reach run history — an NSG that denies outbound to
// AzureMachineLearning — still ends its run, with the deciding rule,
// instead of leaving it hanging (surface §D, pain point 2).
//
// # Failures, explained
//
// Every failure lands in the run's error with what to change: the node's
// explanation of a refused download or upload (the NSG rule, the route,
// the storage firewall), a snapshot on workspacefilestore of a storage
// account restricted to a virtual network (the 2019 article's advice: use
// workspaceblobstore), a node lost under the run (retried up to
// maxRetries), a run past its maximum duration.
//
// # Durability
//
// Run records live in a store.Store of their own (runs.db beside the
// server's). Driver logs and metrics are files under Config.Dir, appended
// and synced before run history acknowledges them: what was acknowledged
// is never lost. A restarted server finds every unfinished run: queued
// ones queue again; one on a node that survived (an adopted agent) is
// rebound to the new server's egress and goes on; one whose node is gone
// is retried or fails with the reason.
package runs
