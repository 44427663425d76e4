package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/client"
	"github.com/vnetml/vnetml/internal/job"
	"github.com/vnetml/vnetml/internal/manifest"
	"github.com/vnetml/vnetml/internal/snapshot"
)

// The quickstart's resources, as the tests address them.
const (
	qsGroup     = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mygroup"
	qsWorkspace = qsGroup + "/providers/Microsoft.MachineLearningServices/workspaces/myworkspace"
	qsCluster   = qsWorkspace + "/computes/cpucluster"
	qsNSG       = qsGroup + "/providers/Microsoft.Network/networkSecurityGroups/ml-nsg"
	qsAccount   = qsGroup + "/providers/Microsoft.Storage/storageAccounts/mlquickstartstore"
)

// liveServer is a vnetml server running in this process, whose nodes are
// agents re-executing this test binary (see TestMain).
type liveServer struct {
	t      testing.TB
	dir    string
	c      *client.Client
	cancel context.CancelFunc
	done   chan error
}

// startLive starts a server over dir with short intervals.
func startLive(t testing.TB, dir string) *liveServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	s := &liveServer{t: t, dir: dir, cancel: cancel, done: make(chan error, 1)}
	logf, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil && !os.IsNotExist(err) {
		os.MkdirAll(dir, 0o700)
		logf, err = os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	o := Options{DataDir: dir, Listen: "127.0.0.1:0", NodeCheckInterval: 100 * time.Millisecond, RunPollInterval: 200 * time.Millisecond, LogLevel: "debug"}
	go func() {
		s.done <- Run(ctx, o, io.Discard, logf, func(url string) { ready <- url })
		logf.Close()
	}()
	var url string
	select {
	case url = <-ready:
	case err := <-s.done:
		t.Fatalf("the server did not start: %v", err)
	}
	tok, err := client.ReadAdminToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.c, err = client.New(url, tok, client.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// stop stops the server gracefully (its agents with it).
func (s *liveServer) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	if err := <-s.done; err != nil {
		s.t.Errorf("the server ended with %v", err)
	}
	s.cancel = nil
	if s.t.Failed() {
		b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
		s.t.Logf("server log (tail):\n%s", tail(string(b), 60))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// quickstart applies examples/quickstart/network.yaml (changed by edit,
// when given) and creates cpucluster with min and max nodes.
func (s *liveServer) quickstart(minNodes, maxNodes int, edit func(string) string) {
	t := s.t
	t.Helper()
	ctx := context.Background()
	data, err := os.ReadFile("../../examples/quickstart/network.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if edit != nil {
		text = edit(text)
	}
	res, err := manifest.Parse("network.yaml", []byte(text), manifest.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	docs := make([]json.RawMessage, len(res))
	for i, r := range res {
		docs[i] = r.Doc
	}
	if _, err := s.c.Apply(ctx, docs, false); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"location": "eastus", "properties": {"computeType": "AmlCompute", "properties": {
		"vmSize": "STANDARD_D2_V2", "scaleSettings": {"minNodeCount": %d, "maxNodeCount": %d, "nodeIdleTimeBeforeScaleDown": "PT120S"},
		"subnet": {"id": %q}}}}`, minNodes, maxNodes, qsGroup+"/providers/Microsoft.Network/virtualNetworks/mynetwork/subnets/default")
	if _, err := s.c.Put(ctx, qsCluster, json.RawMessage(body), ""); err != nil {
		t.Fatal(err)
	}
}

// upload packs dir and uploads it as a snapshot to the workspace's blob
// datastore (or file share), as the CLI does from outside; it returns the
// snapshot id.
func (s *liveServer) upload(dir string, file bool) string {
	t := s.t
	t.Helper()
	ctx := context.Background()
	var buf bytes.Buffer
	info, err := snapshot.Pack(dir, &buf, snapshot.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	name := "workspaceblobstore"
	if file {
		name = "workspacefilestore"
	}
	var ds struct {
		Properties struct{ ContainerName, ShareName string }
	}
	if err := s.c.GetInto(ctx, qsWorkspace+"/datastores/"+name, &ds); err != nil {
		t.Fatal(err)
	}
	hc, err := s.c.DataPlane(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.c.Storage(ctx, hc, qsAccount, client.StorageOptions{File: file})
	if err != nil {
		t.Fatal(err)
	}
	container := ds.Properties.ContainerName + ds.Properties.ShareName
	if err := st.CreateContainer(ctx, container); err != nil {
		t.Fatal(err)
	}
	if err := st.Upload(ctx, container, api.SnapshotPath(info.SHA256), bytes.NewReader(buf.Bytes()), int64(buf.Len()), nil); err != nil {
		t.Fatal(err)
	}
	return info.SHA256
}

// submit submits a run and returns its id.
func (s *liveServer) submit(exp, runID string, p api.RunProperties) string {
	s.t.Helper()
	id := qsWorkspace + "/experiments/" + exp + "/runs/" + runID
	if _, err := s.c.Put(context.Background(), id, api.Run{Properties: p}, ""); err != nil {
		s.t.Fatal(err)
	}
	return id
}

// run returns a run as the API shows it.
func (s *liveServer) run(id string) api.Run {
	s.t.Helper()
	var r api.Run
	if err := s.c.GetInto(context.Background(), id, &r); err != nil {
		s.t.Fatal(err)
	}
	return r
}

// wait follows the run's log, which the server ends when the run ends,
// and returns the run and its log.
func (s *liveServer) wait(id string) (api.Run, string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := s.c.Do(ctx, "GET", id+"/logs?follow=true", nil)
	r := s.run(id)
	if err != nil || !job.Terminal(r.Properties.Status) {
		s.t.Fatalf("run %s did not end: %v; it is %s; log:\n%s", id, err, r.Properties.Status, resp.Body)
	}
	return r, string(resp.Body)
}

// waitFor polls the run until cond holds, each poll waiting (at most a
// moment) on the log's stream for the run to write or end, for at most two
// minutes.
func (s *liveServer) waitFor(id string, cond func(api.Run) bool) api.Run {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r := s.run(id)
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("run %s: never got there; it is %s (%+v); log:\n%s", id, r.Properties.Status, r.Properties.Error, s.logs(id))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		s.c.Do(ctx, "GET", fmt.Sprintf("%s/logs?follow=true&offset=%d", id, len(s.logs(id))), nil)
		cancel()
	}
}

func (s *liveServer) logs(id string) string {
	s.t.Helper()
	resp, err := s.c.Do(context.Background(), "GET", id+"/logs", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	return string(resp.Body)
}

func (s *liveServer) metrics(id string) []api.RunMetric {
	s.t.Helper()
	var out struct{ Value []api.RunMetric }
	if err := s.c.GetInto(context.Background(), id+"/metrics", &out); err != nil {
		s.t.Fatal(err)
	}
	return out.Value
}

// writeSource writes a source directory of files.
func writeSource(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func statuses(r api.Run) []string {
	var out []string
	for _, tr := range r.Properties.StatusTransitions {
		out = append(out, tr.Status)
	}
	return out
}
