package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
)

const testWS = "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w"

// fakeRuns answers the runs API for two experiments, a and b.
func fakeRuns(t *testing.T) *httptest.Server {
	t.Helper()
	runs := map[string][]api.Run{
		"a": {{ID: RunPath(testWS, "a", "a_1"), Name: "a_1", Properties: api.RunProperties{RunID: "a_1", Status: RunCompleted}}},
		"b": {{ID: RunPath(testWS, "b", "b_1"), Name: "b_1", Properties: api.RunProperties{RunID: "b_1", Status: RunRunning}}},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == testWS+"/experiments":
			json.NewEncoder(w).Encode(map[string]any{"value": []any{
				map[string]any{"id": ExperimentPath(testWS, "b"), "name": "b"},
				map[string]any{"id": ExperimentPath(testWS, "a"), "name": "a"},
			}})
		case strings.HasSuffix(p, "/runs"):
			e := strings.TrimSuffix(strings.TrimPrefix(p, testWS+"/experiments/"), "/runs")
			json.NewEncoder(w).Encode(map[string]any{"value": runs[e]})
		case strings.HasSuffix(p, "/cancel"):
			w.WriteHeader(http.StatusAccepted) // no body: the client reads the run
		case p == RunPath(testWS, "b", "b_1")+"/logs":
			if r.URL.Query().Get("offset") != "3" || r.URL.Query().Get("follow") != "true" {
				t.Errorf("logs query %v", r.URL.RawQuery)
			}
			w.Header().Set("Content-Type", "text/plain")
			// A followed log outlives the client's request timeout.
			for i := range 3 {
				io.WriteString(w, "line "+string(rune('0'+i))+"\n")
				w.(http.Flusher).Flush()
				time.Sleep(60 * time.Millisecond)
			}
		case strings.HasSuffix(p, "/metrics"):
			json.NewEncoder(w).Encode(map[string]any{"value": []any{map[string]any{"name": "acc", "value": 0.5, "step": 1, "time": "2026-01-01T00:00:00Z"}}})
		case p == RunPath(testWS, "b", "b_1"):
			if r.Method == http.MethodPut {
				var in api.Run
				json.NewDecoder(r.Body).Decode(&in)
				in.Properties.Status = RunNotStarted
				w.WriteHeader(http.StatusCreated)
				json.NewEncoder(w).Encode(in)
				return
			}
			json.NewEncoder(w).Encode(runs["b"][0])
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write(armerror.New("ResourceNotFound", "", "no %s", p).MarshalEnvelope())
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRunsClient(t *testing.T) {
	srv := fakeRuns(t)
	c, err := New(srv.URL, "tok", Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	exps, err := c.ListExperiments(ctx, testWS)
	if diff := cmp.Diff([]string{"a", "b"}, exps); err != nil || diff != "" {
		t.Errorf("ListExperiments: %v %s", err, diff)
	}
	all, err := c.ListRuns(ctx, testWS, "")
	if err != nil || len(all) != 2 || all[0].Name != "a_1" || all[1].Name != "b_1" {
		t.Errorf("ListRuns of every experiment: %v %+v", err, all)
	}
	one, err := c.ListRuns(ctx, testWS, "b")
	if err != nil || len(one) != 1 {
		t.Errorf("ListRuns(b): %v %+v", err, one)
	}

	sub, err := c.SubmitRun(ctx, testWS, "b", "b_1", api.Run{Properties: api.RunProperties{Command: []string{"true"}}})
	if err != nil || sub.Properties.Status != RunNotStarted || sub.Properties.Command[0] != "true" {
		t.Errorf("SubmitRun: %v %+v", err, sub)
	}
	canceled, err := c.CancelRun(ctx, RunPath(testWS, "b", "b_1"))
	if err != nil || canceled.Name != "b_1" {
		t.Errorf("CancelRun: %v %+v", err, canceled)
	}
	if _, err := c.GetRun(ctx, RunPath(testWS, "a", "nope")); armerror.Codes(err)[0] != "ResourceNotFound" {
		t.Errorf("GetRun of no run: %v", err)
	}
	ms, err := c.RunMetrics(ctx, RunPath(testWS, "b", "b_1"))
	if err != nil || len(ms) != 1 || ms[0].Name != "acc" || ms[0].Step == nil || *ms[0].Step != 1 {
		t.Errorf("RunMetrics: %v %+v", err, ms)
	}

	rc, err := c.RunLogs(ctx, RunPath(testWS, "b", "b_1"), 3, true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(b) != "line 0\nline 1\nline 2\n" {
		t.Errorf("RunLogs: %q, %v", b, err)
	}
	if _, err := c.RunLogs(ctx, RunPath(testWS, "x", "y"), 0, false); armerror.Codes(err)[0] != "ResourceNotFound" {
		t.Errorf("RunLogs of no run: %v", err)
	}
}

func TestDatastoreContainer(t *testing.T) {
	var blob, file Datastore
	json.Unmarshal([]byte(`{"name":"workspaceblobstore","properties":{"datastoreType":"AzureBlob","containerName":"c"}}`), &blob)
	json.Unmarshal([]byte(`{"name":"workspacefilestore","properties":{"datastoreType":"AzureFile","shareName":"s"}}`), &file)
	if blob.File() || blob.Container() != "c" || !file.File() || file.Container() != "s" {
		t.Errorf("blob %+v (%v %q), file %+v (%v %q)", blob, blob.File(), blob.Container(), file, file.File(), file.Container())
	}
}
