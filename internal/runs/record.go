package runs

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/compute"
	"github.com/vnetml/vnetml/internal/job"
	"github.com/vnetml/vnetml/internal/store"
)

// Error codes of the runs API besides the store's.
const (
	CodeInvalid          = "InvalidParameter"
	CodeNotFound         = store.CodeNotFound
	CodeConflict         = store.CodeConflict
	CodeSnapshotNotFound = "SnapshotNotFound"
	CodeUnavailable      = "ServiceUnavailable"
)

// DatastoreBlob and DatastoreFile are the workspace's default datastores
// (SDK v1's names): the snapshot goes to the file share unless the run
// says otherwise, as source_directory_data_store did.
const (
	DatastoreBlob = "workspaceblobstore"
	DatastoreFile = "workspacefilestore"
)

// record is a run as stored: its API document and what only the server
// needs.
type record struct {
	api.Run
	Internal internal `json:"internal"`
}

type internal struct {
	Workspace string    `json:"workspace"`
	ClusterID string    `json:"clusterId"`
	Location  string    `json:"location"`
	Snapshot  Datastore `json:"snapshotStore"`
	Artifacts Datastore `json:"artifactStore"`
	// LogBase[i] is where attempt i+1 starts in the run's driver log.
	LogBase         []int64 `json:"logBase,omitempty"`
	CancelRequested bool    `json:"cancelRequested,omitempty"`
	// Handovers counts failed hand-overs of the queued attempt.
	Handovers int `json:"handovers,omitempty"`
}

func (r *record) encode() (json.RawMessage, error) { return json.Marshal(r) }

func decodeRecord(doc []byte) (record, error) {
	var r record
	err := json.Unmarshal(doc, &r)
	return r, err
}

// view is the run as the API shows it.
func (r *record) view() api.Run {
	v := r.Run
	p := &v.Properties
	p.StatusTransitions = append([]api.RunTransition(nil), p.StatusTransitions...)
	p.OutputFiles = append([]string(nil), p.OutputFiles...)
	if p.Outputs != nil {
		o := *p.Outputs
		p.Outputs = &o
	}
	if p.Error != nil {
		e := *p.Error
		p.Error = &e
	}
	return v
}

// RunID returns the resource id of run runID of experiment in workspace.
func RunID(workspaceID, experiment, runID string) string {
	return workspaceID + "/experiments/" + experiment + "/runs/" + runID
}

// ExperimentID returns the resource id of an experiment of a workspace.
func ExperimentID(workspaceID, experiment string) string {
	return workspaceID + "/experiments/" + experiment
}

var (
	experimentName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$`)
	envName        = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	hexSHA256      = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Limits of a submission.
const (
	maxArgs       = 1000
	maxArgBytes   = 128 << 10
	maxEnv        = 256
	maxRetries    = 10
	maxTags       = 50
	maxDescLength = 5000
)

// validate checks a submission and fills its defaults; every problem is
// reported, each with its field.
func validate(experiment, runID string, in *api.Run) error {
	var errs []error
	bad := func(target, format string, args ...any) {
		errs = append(errs, armerror.New(CodeInvalid, target, format, args...))
	}
	if !experimentName.MatchString(experiment) {
		bad("experimentName", "The experiment name %q is not valid: 1 to 255 letters, digits, '_' and '-', starting with a letter or digit.", clip(experiment))
	}
	if !job.ValidRunID(runID) {
		bad("runId", "The run id %q is not valid: 1 to 255 letters, digits, '_', '-' and '.', not starting with '.'.", clip(runID))
	}
	p := &in.Properties
	switch {
	case p.Script == "" && len(p.Command) == 0:
		bad("properties.script", "A run needs a script (run with python3, as ScriptRunConfig's script) or a command (an argv).")
	case p.Script != "" && len(p.Command) > 0:
		bad("properties.command", "A run has a script or a command, not both.")
	case p.Script != "":
		clean := path.Clean(p.Script)
		if path.IsAbs(p.Script) || strings.Contains(p.Script, "\\") || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") || p.Script != clean {
			bad("properties.script", "The script %q must be a clean path relative to the source directory (such as train.py or src/train.py).", clip(p.Script))
		}
	case p.Command[0] == "":
		bad("properties.command[0]", "The command's first element, the program to run, is empty.")
	}
	total := 0
	for _, l := range []struct {
		field string
		argv  []string
	}{{"properties.arguments", p.Arguments}, {"properties.command", p.Command}} {
		if len(l.argv) > maxArgs {
			bad(l.field, "A run takes at most %d arguments, not %d.", maxArgs, len(l.argv))
		}
		for i, a := range l.argv {
			total += len(a)
			if strings.IndexByte(a, 0) >= 0 {
				bad(fmt.Sprintf("%s[%d]", l.field, i), "Element %d of %s contains a NUL byte, which no program can be given; remove it.", i, l.field)
			}
		}
	}
	if total > maxArgBytes {
		field := "properties.arguments"
		if len(p.Command) > 0 {
			field = "properties.command"
		}
		bad(field, "The command line is %d bytes; at most %d are accepted: pass large inputs in a file of the source directory.", total, maxArgBytes)
	}
	if len(p.Command) > 0 && len(p.Arguments) > 0 {
		bad("properties.arguments", "Arguments go with a script; with a command, put them in the command.")
	}
	if len(p.EnvironmentVariables) > maxEnv {
		bad("properties.environmentVariables", "A run takes at most %d environment variables.", maxEnv)
	}
	for k, v := range p.EnvironmentVariables {
		switch {
		case !envName.MatchString(k):
			bad("properties.environmentVariables."+clip(k), "%q is not an environment variable name: letters, digits and '_', not starting with a digit.", clip(k))
		case strings.HasPrefix(strings.ToUpper(k), "AZUREML_"), reservedEnv[strings.ToUpper(k)]:
			bad("properties.environmentVariables."+k, "%s is set by the platform for every run; choose another name.", k)
		case strings.IndexByte(v, 0) >= 0:
			bad("properties.environmentVariables."+k, "The value of %s contains a NUL byte.", k)
		}
	}
	if p.Target == "" {
		bad("properties.target", "A run needs a compute target: the name of a compute cluster of the workspace.")
	}
	if p.SourceDirectoryDataStore == "" {
		p.SourceDirectoryDataStore = DatastoreFile
	}
	if !hexSHA256.MatchString(p.SnapshotID) {
		bad("properties.snapshotId", "The snapshot id %q is not the hex SHA-256 of an uploaded snapshot; vnetml run submit packs and uploads the source directory and sets it.", clip(p.SnapshotID))
	}
	if p.MaxRunDurationSeconds < 0 {
		bad("properties.maxRunDurationSeconds", "maxRunDurationSeconds must be 0 (no limit) or more, not %d.", p.MaxRunDurationSeconds)
	}
	if p.MaxRetries < 0 || p.MaxRetries > maxRetries {
		bad("properties.maxRetries", "maxRetries must be 0 to %d, not %d.", maxRetries, p.MaxRetries)
	}
	if len(p.Tags) > maxTags {
		bad("properties.tags", "A run has at most %d tags.", maxTags)
	}
	if len(p.Description) > maxDescLength {
		bad("properties.description", "The description is longer than %d bytes.", maxDescLength)
	}
	return joinErrors(errs)
}

// reservedEnv are the variables the platform sets for a job.
var reservedEnv = map[string]bool{
	"HTTP_PROXY": true, "HTTPS_PROXY": true, "NO_PROXY": true, "ALL_PROXY": true,
	"SSL_CERT_FILE": true, "REQUESTS_CA_BUNDLE": true, "HOME": true, "PATH": true,
}

// joinErrors returns the one error, or the first with the others as its
// details.
func joinErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	first, _ := armerror.As(errs[0])
	out := armerror.New(first.Code, first.Target, "%s (and %d more problems in details)", first.Message, len(errs)-1)
	for _, e := range errs {
		if ae, ok := armerror.As(e); ok {
			out.Details = append(out.Details, ae)
		}
	}
	return out
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// Submission is a run to submit.
type Submission struct {
	WorkspaceID string
	Experiment  string
	RunID       string
	Run         api.Run
	// By names who submits it (the token).
	By string
}

// Submit records a run and queues it.
func (s *Service) Submit(ctx context.Context, sub Submission) (api.Run, error) {
	in := sub.Run
	if err := validate(sub.Experiment, sub.RunID, &in); err != nil {
		return api.Run{}, err
	}
	p := in.Properties
	tgt, err := s.cfg.Platform.Target(ctx, sub.WorkspaceID, p.Target)
	if err != nil {
		return api.Run{}, err
	}
	snap, err := s.cfg.Platform.Datastore(ctx, sub.WorkspaceID, p.SourceDirectoryDataStore)
	if err != nil {
		return api.Run{}, err
	}
	if _, ok, err := s.cfg.Platform.BlobSize(ctx, snap, api.SnapshotPath(p.SnapshotID)); err != nil {
		return api.Run{}, err
	} else if !ok {
		return api.Run{}, armerror.New(CodeSnapshotNotFound, "properties.snapshotId",
			"Snapshot %s is not in datastore %s (%s %s of storage account %s): upload it there first, as %s (vnetml run submit does).",
			p.SnapshotID, snap.Name, kindOf(snap), snap.Container, snap.AccountName, api.SnapshotPath(p.SnapshotID))
	}
	arts, err := s.cfg.Platform.Datastore(ctx, sub.WorkspaceID, DatastoreBlob)
	if err != nil {
		return api.Run{}, err
	}
	if err := s.cfg.Platform.EnsureContainer(ctx, arts); err != nil {
		return api.Run{}, err
	}
	id := RunID(sub.WorkspaceID, sub.Experiment, sub.RunID)
	now := s.cfg.Now().UTC()
	rec := record{Run: api.Run{ID: id, Name: sub.RunID, Type: api.TypeRun, Properties: p}}
	rp := &rec.Properties
	rp.RunID, rp.Experiment, rp.SubmittedBy, rp.CreatedUtc = sub.RunID, sub.Experiment, sub.By, &now
	rp.Status, rp.StartTimeUtc, rp.EndTimeUtc, rp.StatusTransitions = "", nil, nil, nil
	rp.Attempt, rp.NodeID, rp.NodeAddress, rp.ExitCode, rp.Error, rp.OutputFiles = 0, "", "", nil, nil, nil
	rp.Outputs = &api.RunOutputs{Datastore: arts.Name, Account: arts.AccountID, Container: arts.Container,
		Prefix: artifactPrefix(sub.RunID) + job.OutputsDir + "/"}
	rec.Internal = internal{Workspace: sub.WorkspaceID, ClusterID: tgt.ClusterID, Location: tgt.Location, Snapshot: snap, Artifacts: arts}
	r := &run{key: strings.ToLower(id), rec: rec}
	s.transition(r, job.NotStarted, now)
	s.transition(r, job.Queued, now)
	doc, err := r.rec.encode()
	if err != nil {
		return api.Run{}, err
	}
	exp, _ := json.Marshal(map[string]any{"id": ExperimentID(sub.WorkspaceID, sub.Experiment), "name": sub.Experiment,
		"type": api.TypeExperiment, "properties": map[string]any{"createdUtc": now}})
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return api.Run{}, armerror.New(CodeUnavailable, "", "The server is shutting down; submit the run again to the restarted server.")
	}
	s.mu.Unlock()
	if _, err := s.cfg.Store.Get(ctx, ExperimentID(sub.WorkspaceID, sub.Experiment)); store.IsNotFound(err) {
		if _, err := s.cfg.Store.Put(ctx, ExperimentID(sub.WorkspaceID, sub.Experiment), exp, store.CreateOnly()); err != nil && !store.IsConflict(err) {
			return api.Run{}, err
		}
	}
	if _, err := s.cfg.Store.Put(ctx, id, doc, store.CreateOnly()); err != nil {
		if store.IsConflict(err) {
			return api.Run{}, armerror.New(CodeConflict, "runId", "Run %s of experiment %s already exists; a run is submitted once. Use a new run id.", sub.RunID, sub.Experiment)
		}
		return api.Run{}, err
	}
	s.mu.Lock()
	s.active[r.key] = r
	s.enqueue(r)
	v := r.rec.view()
	s.mu.Unlock()
	s.wake()
	return v, nil
}

func kindOf(d Datastore) string {
	if d.File {
		return "file share"
	}
	return "blob container"
}

// artifactPrefix is where a run's artifacts are kept in the artifact
// store's container (SDK v1's layout).
func artifactPrefix(runID string) string { return "ExperimentRun/dcid." + runID + "/" }

// Get returns a run.
func (s *Service) Get(ctx context.Context, id string) (api.Run, error) {
	s.mu.Lock()
	if r, ok := s.active[strings.ToLower(id)]; ok {
		v := r.rec.view()
		s.mu.Unlock()
		return v, nil
	}
	s.mu.Unlock()
	res, err := s.cfg.Store.Get(ctx, id)
	if err != nil {
		return api.Run{}, notFound(err, id)
	}
	rec, err := decodeRecord(res.Doc)
	if err != nil {
		return api.Run{}, err
	}
	return rec.view(), nil
}

func notFound(err error, id string) error {
	if store.IsNotFound(err) {
		return armerror.New(CodeNotFound, "", "Run %s was not found.", runName(id))
	}
	return err
}

// runName is "<experiment>/<run id>" of a run's resource id.
func runName(id string) string {
	parts := strings.Split(id, "/")
	if len(parts) >= 4 {
		return parts[len(parts)-3] + "/" + parts[len(parts)-1]
	}
	return id
}

// List returns the runs of an experiment (of every experiment of the
// workspace when experiment is empty), the newest first.
func (s *Service) List(ctx context.Context, workspaceID, experiment string) ([]api.Run, error) {
	parent := workspaceID
	if experiment != "" {
		parent = ExperimentID(workspaceID, experiment)
	}
	var out []api.Run
	opts := store.ListOptions{Parent: parent, Type: api.TypeRun, Limit: 1000}
	for {
		page, err := s.cfg.Store.List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, res := range page.Resources {
			rec, err := decodeRecord(res.Doc)
			if err != nil {
				continue
			}
			out = append(out, rec.view())
		}
		if page.Next == "" {
			break
		}
		opts.Continuation = page.Next
	}
	s.mu.Lock()
	for i := range out {
		if r, ok := s.active[strings.ToLower(out[i].ID)]; ok {
			out[i] = r.rec.view()
		}
	}
	s.mu.Unlock()
	sortNewestFirst(out)
	return out, nil
}

// Experiments lists a workspace's experiments.
func (s *Service) Experiments(ctx context.Context, workspaceID string) ([]json.RawMessage, error) {
	page, err := s.cfg.Store.List(ctx, store.ListOptions{Parent: workspaceID, Type: api.TypeExperiment})
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, 0, len(page.Resources))
	for _, res := range page.Resources {
		out = append(out, res.Doc)
	}
	return out, nil
}

// DeleteWorkspace forgets the runs of a deleted workspace: it must have
// none running (its computes are gone first).
func (s *Service) DeleteWorkspace(ctx context.Context, workspaceID string) error {
	// Its unfinished runs leave the scheduler first: one still queued
	// (its computes are gone) would otherwise wait forever, still be
	// shown, and be handed to a node of a compute of the same name later.
	type left struct {
		r       *run
		node    compute.NodeRef
		claimed bool
	}
	var dropped []left
	s.mu.Lock()
	for k, r := range s.active {
		if !strings.EqualFold(r.rec.Internal.Workspace, workspaceID) {
			continue
		}
		if !r.claimed {
			s.dequeue(r)
		}
		dropped = append(dropped, left{r, r.node, r.claimed})
		r.deleted, r.claimed, r.node, r.handedOver = true, false, compute.NodeRef{}, false
		delete(s.active, k)
	}
	s.mu.Unlock()
	for _, d := range dropped {
		if d.claimed && d.node.ID != "" {
			s.cfg.Nodes.Release(d.r.rec.Internal.ClusterID, d.node.ID, d.r.key)
		}
		s.files.notify(d.r.key)
	}
	if len(dropped) > 0 {
		s.tellDemand()
	}
	page, err := s.cfg.Store.List(ctx, store.ListOptions{Parent: workspaceID})
	if err != nil {
		return err
	}
	var ops []store.Op
	for _, res := range page.Resources {
		ops = append(ops, store.DeleteOp(res.ID, store.Condition{}))
		s.files.remove(strings.ToLower(res.ID))
	}
	if len(ops) == 0 {
		return nil
	}
	_, err = s.cfg.Store.Apply(ctx, ops)
	return err
}

func sortNewestFirst(runs []api.Run) {
	at := func(r api.Run) time.Time {
		if t := r.Properties.CreatedUtc; t != nil {
			return *t
		}
		return time.Time{}
	}
	sort.SliceStable(runs, func(i, j int) bool { return at(runs[i]).After(at(runs[j])) })
}

// tokenAttempt splits a run token "<attempt>.<mac>".
func tokenAttempt(tok string) (int, string, bool) {
	a, mac, ok := strings.Cut(tok, ".")
	if !ok || len(a) == 0 || len(a) > 4 {
		return 0, "", false
	}
	n := 0
	for _, c := range a {
		if c < '0' || c > '9' {
			return 0, "", false
		}
		n = n*10 + int(c-'0')
	}
	if _, err := hex.DecodeString(mac); err != nil || len(mac) != 64 {
		return 0, "", false
	}
	return n, mac, n > 0
}
