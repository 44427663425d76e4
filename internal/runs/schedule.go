package runs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/compute"
	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/job"
	"github.com/vnetml/vnetml/internal/nodeagent"
	"github.com/vnetml/vnetml/internal/storageauth"
)

// reportGrace is how long an attempt may be over on its node, unreported
// in run history while the network admits the node's reports, before the
// run ends from what the node says.
const reportGrace = 15 * time.Second

// orphanGrace is how long a run may be queued for a cluster that does not
// run before it fails.
const orphanGrace = 30 * time.Second

// queuedSince is when the run was queued last. The caller holds s.mu.
func queuedSince(r *run) time.Time {
	tr := r.rec.Properties.StatusTransitions
	for i := len(tr) - 1; i >= 0; i-- {
		if tr[i].Status == job.Queued {
			return tr[i].Time
		}
	}
	return time.Time{}
}

// maxHandovers is how many times in a row a node may fail to take an
// attempt before the run fails.
const maxHandovers = 3

// enqueue queues a run. The caller holds s.mu.
func (s *Service) enqueue(r *run) {
	k := strings.ToLower(r.rec.Internal.ClusterID)
	s.queues[k] = append(s.queues[k], r)
	s.clusters[k] = r.rec.Internal.ClusterID
}

// dequeue takes a run out of its queue. The caller holds s.mu.
func (s *Service) dequeue(r *run) {
	k := strings.ToLower(r.rec.Internal.ClusterID)
	q := s.queues[k]
	for i, o := range q {
		if o == r {
			s.queues[k] = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	if len(s.queues[k]) == 0 {
		delete(s.queues, k)
	}
}

// loop schedules queued runs when woken (a submission, a node that
// became idle) and polls busy nodes every PollInterval.
func (s *Service) loop() {
	defer close(s.stopped)
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.kick:
			s.schedule()
		case <-t.C:
			s.schedule()
			s.poll()
		}
	}
}

// schedule hands each cluster's oldest queued runs to its idle nodes,
// and tells every cluster how many nodes its runs need.
func (s *Service) schedule() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	type handover struct {
		r *run
		n compute.NodeRef
	}
	var todo []handover
	var orphans []*run // queued for a cluster that no longer runs
	now := s.cfg.Now()
	for k, q := range s.queues {
		if len(q) > 0 && !s.cfg.Nodes.Running(q[0].rec.Internal.ClusterID) {
			// The grace covers a compute created (or updated) at the
			// moment a run was submitted to it, not running quite yet.
			keep := q[:0:0]
			for _, r := range q {
				if now.Sub(queuedSince(r)) >= orphanGrace {
					orphans = append(orphans, r)
				} else {
					keep = append(keep, r)
				}
			}
			if q = keep; len(q) == 0 {
				delete(s.queues, k)
			} else {
				s.queues[k] = q
			}
			continue
		}
		for len(q) > 0 {
			r := q[0]
			n, ok := s.cfg.Nodes.Claim(r.rec.Internal.ClusterID, r.key)
			if !ok {
				break
			}
			q = q[1:]
			r.node, r.claimed, r.handedOver = n, true, false
			todo = append(todo, handover{r, n})
		}
		if len(q) == 0 {
			delete(s.queues, k)
		} else {
			s.queues[k] = q
		}
	}
	s.wg.Add(len(todo))
	s.mu.Unlock()
	for _, r := range orphans {
		s.mu.Lock()
		attempt, target := r.rec.Properties.Attempt, r.rec.Properties.Target
		s.mu.Unlock()
		s.finishAttempt(r, attempt, false, job.Failed, &job.Error{Code: job.CodeSystem, Message: fmt.Sprintf(
			"Compute %s no longer runs (it was deleted, or its settings cannot be run), so the run cannot start. "+
				"Submit it again to a compute of the workspace (vnetml compute list).", target)}, nil, nil, "")
	}
	s.tellDemand()
	for _, h := range todo {
		go func() {
			defer s.wg.Done()
			s.dispatch(h.r, h.n)
		}()
	}
}

// tellDemand tells each cluster runs went to how many nodes its
// unfinished runs need, 0 once they all ended (schedule calls it every
// tick: a cluster's demand is never left stale). It is serialized and
// counts under the lock it sends under, so two callers racing (a run
// ending while another ends, or while schedule counts) cannot leave a
// higher count as the cluster's last word, which would keep it from ever
// scaling down.
func (s *Service) tellDemand() {
	s.demandMu.Lock()
	defer s.demandMu.Unlock()
	s.mu.Lock()
	want := make(map[string]int, len(s.clusters))
	for _, r := range s.active {
		want[strings.ToLower(r.rec.Internal.ClusterID)]++
	}
	ids := make(map[string]string, len(s.clusters))
	for k, id := range s.clusters {
		ids[k] = id
	}
	s.mu.Unlock()
	for k, id := range ids {
		s.cfg.Nodes.Demand(id, want[k])
	}
}

// owns reports whether the attempt handed to node n is still the run's.
// The caller holds s.mu.
func (r *run) owns(n compute.NodeRef, attempt int) bool {
	return r.claimed && r.node.ID == n.ID && r.rec.Properties.Attempt == attempt
}

// dispatch hands the next attempt of r to node n.
func (s *Service) dispatch(r *run, n compute.NodeRef) {
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	now := s.cfg.Now()
	base := s.files.logSize(r.key)
	s.mu.Lock()
	p := &r.rec.Properties
	if !r.claimed || r.node.ID != n.ID {
		// The node went away between the claim and now, and the run was
		// dealt with (retried or ended).
		s.mu.Unlock()
		return
	}
	p.Attempt++
	attempt := p.Attempt
	p.NodeID, p.NodeAddress, p.ExitCode, p.Error = n.ID, n.Addr.String(), nil, nil
	s.transition(r, job.Preparing, now)
	in := r.rec.Internal
	s.mu.Unlock()
	if attempt > 1 {
		var err error
		if base, err = s.files.appendRaw(r.key, fmt.Appendf(nil, "\n--- attempt %d on node %s (%s) ---\n", attempt, n.ID, n.Addr)); err != nil {
			s.log.Error("runs: writing a run's log", "run", p.RunID, "error", err)
		}
	}
	s.mu.Lock()
	r.rec.Internal.LogBase = append(r.rec.Internal.LogBase[:min(len(r.rec.Internal.LogBase), attempt-1)], base)
	for len(r.rec.Internal.LogBase) < attempt {
		r.rec.Internal.LogBase = append([]int64{0}, r.rec.Internal.LogBase...)
	}
	s.mu.Unlock()
	s.save(ctx, r)

	// The 2019 article: compute in a virtual network cannot use the
	// workspace's file share when its storage account is restricted to
	// virtual networks.
	if in.Snapshot.File && in.Snapshot.FirewallDeny {
		s.finish(r, attempt, job.Failed, &job.Error{Code: job.CodeSnapshot, Message: fmt.Sprintf(
			"Preparing failed: the snapshot is in datastore %s, a file share of storage account %s, whose firewall only admits selected networks (networkAcls.defaultAction Deny); "+
				"compute in a virtual network cannot use the file share of such an account. Put the snapshot in blob storage: submit with --datastore %s "+
				"(RunConfiguration.source_directory_data_store = %q).", in.Snapshot.Name, in.Snapshot.AccountName, DatastoreBlob, DatastoreBlob)}, nil, nil)
		return
	}
	spec, err := s.spec(ctx, r, n, attempt)
	s.mu.Lock()
	owned, canceled := r.owns(n, attempt), r.rec.Internal.CancelRequested
	s.mu.Unlock()
	switch {
	case !owned:
		return // the node went away meanwhile; the run was dealt with
	case err == nil && canceled:
		// Canceled while being handed over: the node never hears of it.
		s.finish(r, attempt, job.Canceled, &job.Error{Code: job.CodeCanceled, Message: "The run was canceled before it started."}, nil, nil)
		return
	case err == nil:
		_, err = s.cfg.Nodes.SubmitJob(ctx, in.ClusterID, n.ID, spec)
	}
	s.mu.Lock()
	owned, canceled = r.owns(n, attempt), r.rec.Internal.CancelRequested
	closing := s.closed
	if owned && err == nil {
		r.rec.Internal.Handovers = 0
		r.handedOver = true
	}
	s.mu.Unlock()
	switch {
	case !owned:
		return // ended meanwhile (the node was lost, or reported the end)
	case err == nil && canceled:
		// Cancel came while the node was being handed the attempt, and
		// left it to dispatch: the node knows it now.
		s.cancelOnNode(ctx, r, n, attempt)
		return
	case err == nil:
		return
	}
	// The node did not take it: queue the run again, or give up. A
	// hand-over cut short by the server stopping is no fault of the node:
	// the run is queued for the next server.
	why := handoverError(n, err)
	s.log.Warn("runs: a node did not take a run", "run", p.RunID, "node", n.ID, "error", why)
	s.mu.Lock()
	if !closing {
		r.rec.Internal.Handovers++
	}
	giveUp := !closing && (r.rec.Internal.Handovers >= maxHandovers || canceled)
	s.mu.Unlock()
	if giveUp {
		s.finish(r, attempt, job.Failed, &job.Error{Code: job.CodeSystem, Message: "Preparing failed: " + why}, nil, nil)
		return
	}
	s.mu.Lock()
	if !r.owns(n, attempt) {
		s.mu.Unlock()
		return
	}
	s.cfg.Nodes.Release(in.ClusterID, n.ID, r.key)
	r.claimed, r.node = false, compute.NodeRef{}
	p.Attempt--
	s.transition(r, job.Queued, s.cfg.Now())
	s.enqueue(r)
	s.mu.Unlock()
	s.save(ctx, r)
	s.wake()
}

// cancelOnNode asks node n to stop the attempt; when it cannot be told,
// the run ends here, and the node's later reports are refused (it stops
// the job on that answer).
func (s *Service) cancelOnNode(ctx context.Context, r *run, n compute.NodeRef, attempt int) {
	s.mu.Lock()
	cluster, runID := r.rec.Internal.ClusterID, r.rec.Properties.RunID
	s.mu.Unlock()
	if err := s.cfg.Nodes.CancelJob(ctx, cluster, n.ID, runID); err != nil {
		s.finish(r, attempt, job.Canceled, &job.Error{Code: job.CodeCanceled, Message: fmt.Sprintf(
			"The run was canceled; node %s could not be told at once (%v), and stops the job at its next report.", n.ID, err)}, nil, nil)
	}
}

// handoverError says why a node did not take an attempt.
func handoverError(n compute.NodeRef, err error) string {
	var denied *fabric.Denied
	var se *nodeagent.StatusError
	switch {
	case errors.As(err, &denied):
		return fmt.Sprintf("Batch node management could not hand the run to node %s (%s) on TCP %d: %s", n.ID, n.Addr, compute.PortControl, denied.Verdict.Explain())
	case errors.As(err, &se):
		return fmt.Sprintf("node %s (%s) refused the run: %v", n.ID, n.Addr, err)
	}
	return fmt.Sprintf("could not hand the run to node %s (%s): %v", n.ID, n.Addr, err)
}

// spec is what node n is handed for an attempt of r.
func (s *Service) spec(ctx context.Context, r *run, n compute.NodeRef, attempt int) (job.Spec, error) {
	s.mu.Lock()
	p := r.rec.Properties
	in := r.rec.Internal
	s.mu.Unlock()
	addr, ok := s.cfg.Platform.HistoryAddr(in.Location)
	if !ok {
		return job.Spec{}, fmt.Errorf("no AzureMachineLearning.%s address: the service tags in use have no such tag, so run history has no address", in.Location)
	}
	host, err := s.historyFront(in.Location, addr)
	if err != nil {
		return job.Spec{}, err
	}
	// SAS tokens outlive the attempt: a long run uploads at its end.
	life := 7 * 24 * time.Hour
	if d := time.Duration(p.MaxRunDurationSeconds) * time.Second; d+24*time.Hour > life {
		life = d + 24*time.Hour
	}
	expiry := s.cfg.Now().Add(life)
	snapURL, err := s.cfg.Platform.SAS(ctx, in.Snapshot, api.SnapshotPath(p.SnapshotID), storageauth.PermRead, expiry)
	if err != nil {
		return job.Spec{}, fmt.Errorf("signing the snapshot's URL: %w", err)
	}
	artURL, err := s.cfg.Platform.SAS(ctx, in.Artifacts, "", storageauth.PermRead|storageauth.PermAdd|storageauth.PermCreate|storageauth.PermWrite, expiry)
	if err != nil {
		return job.Spec{}, fmt.Errorf("signing the artifacts' URL: %w", err)
	}
	proxy, err := s.cfg.Fabric.EgressProxy(n.Endpoint())
	if err != nil {
		return job.Spec{}, fmt.Errorf("the node's egress: %w", err)
	}
	argv := p.Command
	if p.Script != "" {
		argv = append([]string{"python3", "-u", p.Script}, p.Arguments...)
	}
	return job.Spec{
		RunID: p.RunID, Experiment: p.Experiment, Attempt: attempt, Argv: argv, Env: p.EnvironmentVariables,
		Snapshot:  job.Snapshot{URL: snapURL, SHA256: p.SnapshotID, Account: in.Snapshot.AccountName, Datastore: in.Snapshot.Name},
		Artifacts: job.Artifacts{URL: artURL, Prefix: artifactPrefix(p.RunID), Account: in.Artifacts.AccountName},
		History:   "https://" + host + historyPrefix + r.rec.ID, Token: s.token(r.key, attempt),
		CACert: string(s.cfg.CA.CertPEM()), Proxy: proxy, MaxDurationSeconds: p.MaxRunDurationSeconds,
		NodeID: n.ID, NodeAddress: n.Addr.String(),
	}, nil
}

// report applies an attempt's event (from run history or a poll). It
// returns false when the attempt is no longer the run's.
func (s *Service) report(key string, ev job.Event) bool {
	s.mu.Lock()
	r, ok := s.active[key]
	// A hand-over that failed is retried with the same attempt number
	// (and token) on another node: a node that took it after all reports
	// an attempt that is not the run's, and is told so (it stops the job).
	if !ok || ev.Attempt != r.rec.Properties.Attempt || !r.claimed || ev.NodeID != "" && ev.NodeID != r.node.ID {
		s.mu.Unlock()
		return false
	}
	cur := r.rec.Properties.Status
	if job.Rank(ev.State) <= job.Rank(cur) || ev.State == job.Preparing {
		s.mu.Unlock()
		return true
	}
	if !job.Terminal(ev.State) {
		at := ev.Time
		if at.IsZero() || at.After(s.cfg.Now()) {
			at = s.cfg.Now()
		}
		s.transition(r, ev.State, at)
		s.mu.Unlock()
		s.save(context.Background(), r)
		return true
	}
	s.mu.Unlock()
	s.finish(r, ev.Attempt, ev.State, ev.Error, ev.ExitCode, ev.Outputs)
	return true
}

// finish ends an attempt on its node: the run ends in state, or — a node
// lost under it, with retries left — queues again.
func (s *Service) finish(r *run, attempt int, state string, e *job.Error, exit *int, outputs []string) {
	s.finishAttempt(r, attempt, true, state, e, exit, outputs, "")
}

// finishAttempt ends attempt of r, which is on a node (claimed) when
// onNode, or queued (taken out of its queue by the caller) otherwise. An
// attempt that is no longer where the caller saw it — ended already, or
// retried and queued again — is left alone: an attempt ends once, however
// many reasons race to end it (a poll and the node's loss, a failed
// hand-over and the node's loss). note, when given, is appended to the
// driver log first, before the next attempt's log can start.
func (s *Service) finishAttempt(r *run, attempt int, onNode bool, state string, e *job.Error, exit *int, outputs []string, note string) {
	ctx := context.Background()
	s.mu.Lock()
	p := &r.rec.Properties
	if attempt != p.Attempt || job.Terminal(p.Status) || r.claimed != onNode {
		s.mu.Unlock()
		return
	}
	if note != "" {
		if _, err := s.files.appendRaw(r.key, []byte(note)); err != nil {
			s.log.Error("runs: writing a run's log", "run", p.RunID, "error", err)
		}
	}
	if r.rec.Internal.CancelRequested && state != job.Completed {
		state = job.Canceled
		if e == nil || e.Code != job.CodeCanceled {
			e = &job.Error{Code: job.CodeCanceled, Message: "The run was canceled."}
		}
	}
	node, claimed := r.node, r.claimed
	r.claimed, r.node, r.handedOver, r.unreportedSince = false, compute.NodeRef{}, false, time.Time{}
	retry := state == job.Failed && e != nil && e.Code == job.CodeNodeLost && attempt <= p.MaxRetries
	if e != nil {
		p.Error = &api.RunError{Code: e.Code, Message: e.Message}
	}
	p.ExitCode = exit
	if len(outputs) > 0 {
		p.OutputFiles = append([]string(nil), outputs...)
	}
	if retry {
		s.transition(r, job.Queued, s.cfg.Now())
		r.rec.Internal.Handovers = 0
		s.enqueue(r)
	} else {
		s.transition(r, state, s.cfg.Now())
	}
	cluster := r.rec.Internal.ClusterID
	s.mu.Unlock()
	if claimed && node.ID != "" {
		s.cfg.Nodes.Release(cluster, node.ID, r.key)
	}
	// Written before it leaves the active runs: a reader never finds it in
	// neither place, or finds the store older than it.
	s.save(ctx, r)
	if !retry {
		s.mu.Lock()
		delete(s.active, r.key)
		s.mu.Unlock()
		s.files.forget(r.key)
		s.files.notify(r.key)
	}
	s.tellDemand()
	s.wake()
}

// nodeLost is told by the compute controller that a node went away under
// a run.
func (s *Service) nodeLost(clusterID, nodeID, key, reason string) {
	s.mu.Lock()
	r, ok := s.active[key]
	if s.closed || !ok || !r.claimed || r.node.ID != nodeID {
		// Closed: the server is stopping, and stops its nodes after the
		// runs; the next server finds the runs again.
		s.mu.Unlock()
		return
	}
	attempt := r.rec.Properties.Attempt
	s.mu.Unlock()
	s.lose(r, attempt, fmt.Sprintf("node %s went away during the run: %s", nodeID, reason))
}

// lose ends an attempt whose node was lost.
func (s *Service) lose(r *run, attempt int, why string) {
	s.mu.Lock()
	p := r.rec.Properties
	left := p.MaxRetries - attempt + 1
	s.mu.Unlock()
	if attempt != p.Attempt || job.Terminal(p.Status) {
		return // the attempt ended meanwhile (its end was reported)
	}
	msg := "Node lost: " + why + "."
	if left > 0 {
		msg += fmt.Sprintf(" The run is retried (attempt %d of %d).", attempt+1, p.MaxRetries+1)
	} else if p.MaxRetries == 0 {
		msg += " Set maxRetries (--max-retries) to retry a run whose node is lost."
	}
	s.finishAttempt(r, attempt, true, job.Failed, &job.Error{Code: job.CodeNodeLost, Message: msg}, nil, nil, "\n"+msg+"\n")
}

// Cancel cancels a run: a queued one at once; one on a node once the node
// stopped it.
func (s *Service) Cancel(ctx context.Context, id string) (api.Run, error) {
	key := strings.ToLower(id)
	s.mu.Lock()
	r, ok := s.active[key]
	if !ok {
		s.mu.Unlock()
		return s.Get(ctx, id) // finished already: canceling it changes nothing
	}
	r.rec.Internal.CancelRequested = true
	attempt := r.rec.Properties.Attempt
	node, claimed, handedOver := r.node, r.claimed, r.handedOver
	if !claimed {
		s.dequeue(r)
	}
	s.mu.Unlock()
	if !claimed {
		s.finishAttempt(r, attempt, false, job.Canceled, &job.Error{Code: job.CodeCanceled, Message: "The run was canceled before it started."}, nil, nil, "")
		return s.Get(ctx, id)
	}
	s.save(ctx, r)
	// Being handed over, the node may not know the attempt yet (nor is
	// its number set): dispatch sees the request once it is done, and
	// cancels it then.
	if handedOver && node.ID != "" {
		s.cancelOnNode(ctx, r, node, attempt)
	}
	return s.Get(ctx, id)
}

// poll asks every busy node about its attempt: states run history has not
// heard of are taken from the node, and an attempt over on the node that
// run history never heard the end of — the node cannot reach it — ends
// with the reason.
func (s *Service) poll() {
	s.mu.Lock()
	var busy []*run
	for _, r := range s.active {
		// Only attempts a node took: one being handed over is unknown
		// to its node until the hand-over returns.
		if r.claimed && r.handedOver && r.rec.Properties.Status != job.Queued {
			busy = append(busy, r)
		}
	}
	s.mu.Unlock()
	for _, r := range busy {
		s.pollOne(r)
	}
}

func (s *Service) pollOne(r *run) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.PollInterval+5*time.Second)
	defer cancel()
	s.mu.Lock()
	p := r.rec.Properties
	in := r.rec.Internal
	node := r.node
	s.mu.Unlock()
	st, err := s.cfg.Nodes.JobStatus(ctx, in.ClusterID, node.ID, p.RunID)
	var se *nodeagent.StatusError
	switch {
	case errors.Is(err, compute.ErrNoNode):
		s.lose(r, p.Attempt, fmt.Sprintf("node %s is no longer in the cluster", node.ID))
		return
	case errors.As(err, &se) && se.StatusCode == 404:
		s.lose(r, p.Attempt, fmt.Sprintf("node %s no longer knows the run (its agent restarted)", node.ID))
		return
	case err != nil:
		return // unreachable now: the cluster marks the node unusable, with the rule
	case st.Attempt != p.Attempt:
		return
	}
	if !job.Terminal(st.State) {
		s.mu.Lock()
		r.unreportedSince = time.Time{}
		s.mu.Unlock()
		if job.Rank(st.State) > job.Rank(p.Status) && st.State != job.Preparing {
			s.report(r.key, job.Event{Attempt: st.Attempt, State: st.State, Time: s.cfg.Now()})
		}
		return
	}
	// Over on the node, unheard of in run history. When the network
	// refuses the node's reports, say so now; otherwise give the node's
	// retries a while (run history may have been restarting).
	var why string
	if addr, ok := s.cfg.Platform.HistoryAddr(in.Location); ok {
		dst := netip.AddrPortFrom(addr, 443)
		if ex := s.cfg.Platform.Explain(node.Endpoint(), dst); ex != "" {
			why = fmt.Sprintf("node %s (%s) could not report to run history (%s): %s", node.ID, node.Addr, dst, ex)
		}
	}
	now := s.cfg.Now()
	s.mu.Lock()
	if r.unreportedSince.IsZero() {
		r.unreportedSince = now
	}
	waited := now.Sub(r.unreportedSince)
	s.mu.Unlock()
	if why == "" {
		if waited < reportGrace {
			return
		}
		why = fmt.Sprintf("node %s (%s) could not report the end of the run to run history for %s", node.ID, node.Addr, waited.Round(time.Second))
	}
	e := st.Error
	msg := why + "; its driver log may be incomplete."
	if e != nil {
		e = &job.Error{Code: e.Code, Message: e.Message + " Also: " + msg}
	} else if st.State != job.Completed {
		e = &job.Error{Code: job.CodeNetwork, Message: msg}
	} else {
		e = &job.Error{Code: job.CodeNetwork, Message: "The job exited with status 0, but " + msg}
	}
	state := st.State
	if state == job.Completed {
		state = job.Failed // its outputs and logs did not arrive
	}
	s.finish(r, p.Attempt, state, e, st.ExitCode, nil)
}

// Logs returns a run's driver log from offset; with follow, the reader
// waits for more until the run ends (or ctx does).
func (s *Service) Logs(ctx context.Context, id string, offset int64, follow bool) (*LogReader, error) {
	if offset < 0 {
		return nil, armerror.New(CodeInvalid, "offset", "offset must be 0 or more, not %d.", offset)
	}
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	return &LogReader{s: s, key: strings.ToLower(id), off: offset, follow: follow, ctx: ctx}, nil
}

// testHookLogActive, when a test sets it, runs in LogReader.Read right
// after Read learned whether the run is active.
var testHookLogActive func()

// LogReader reads a run's driver log.
type LogReader struct {
	s      *Service
	key    string
	off    int64
	follow bool
	ctx    context.Context
}

func (lr *LogReader) Read(p []byte) (int, error) {
	for {
		// The channel is taken before whether the run is active is read,
		// so that a run ending after that read closes it; and the log is
		// read last: a run that ended had its whole log written before.
		var ch <-chan struct{}
		if lr.follow {
			ch = lr.s.files.changed(lr.key)
		}
		lr.s.mu.Lock()
		_, active := lr.s.active[lr.key]
		lr.s.mu.Unlock()
		if testHookLogActive != nil {
			testHookLogActive()
		}
		n, err := lr.s.files.readLog(lr.key, p, lr.off)
		lr.off += int64(n)
		if n > 0 || err != nil {
			return n, err
		}
		if !lr.follow || !active {
			return 0, io.EOF
		}
		select {
		case <-ch:
		case <-lr.ctx.Done():
			return 0, lr.ctx.Err()
		case <-lr.s.stop:
			return 0, io.EOF
		}
	}
}

// Metrics returns a run's metrics in the order logged.
func (s *Service) Metrics(ctx context.Context, id string) ([]api.RunMetric, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	return s.files.metrics(strings.ToLower(id))
}
