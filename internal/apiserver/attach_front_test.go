package apiserver_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	inf "github.com/vnetml/vnetml/internal/inference"
)

// fronts is an Inference that runs no service and records the clusters
// whose front ends the server stops.
type fronts struct {
	mu      sync.Mutex
	removed []string
}

func (f *fronts) Upsert(inf.Spec) error                        { return nil }
func (f *fronts) Remove(context.Context, string)               {}
func (f *fronts) Status(string) (inf.Status, bool)             { return inf.Status{}, false }
func (f *fronts) Logs(context.Context, string) (string, error) { return "", nil }
func (f *fronts) RemoveCluster(id string) {
	f.mu.Lock()
	f.removed = append(f.removed, strings.ToLower(id))
	f.mu.Unlock()
}
func (f *fronts) stopped(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.removed, strings.ToLower(id))
}

// TestAttachedFrontEndStopsWithItsWorkspace: an attached compute's front
// end runs under its managed cluster's id; deleting the workspace's group
// (which deletes the compute with it, past the detach guard) stops that
// front end, not only the compute's own id, which has none.
func TestAttachedFrontEndStopsWithItsWorkspace(t *testing.T) {
	rec := &fronts{}
	e := &env{t: t, dir: t.TempDir(), data: &dataParts{computes: true, interval: 50 * time.Millisecond, inference: rec}}
	e.start()
	t.Cleanup(e.stop)
	e.secureNetwork()
	e.must(201, "PUT", nsg+"/securityRules/allow-aml", allowAML)
	// The workspace in a group of its own, the cluster in the network's.
	wsGroup := sub + "/resourceGroups/wsgroup"
	ws := wsGroup + "/providers/Microsoft.MachineLearningServices/workspaces/ws2"
	e.must(201, "PUT", wsGroup, groupBody)
	e.must(201, "PUT", ws, `{"location": "eastus"}`)
	e.must(201, "PUT", mcID, mcBody(1, "Standard_D2_v2", vnet+"/subnets/default", "10.2.0.0/16", "10.2.0.10"))
	e.nodesIdle(mcID, 1)
	e.must(201, "PUT", ws+"/computes/attached", attachBody(mcID, "DevTest"))

	e.must(200, "DELETE", wsGroup, nil)
	// The front ends stop as the DELETE commits, before it answers.
	if !rec.stopped(mcID) {
		t.Fatalf("the workspace's group is deleted, but the attached cluster's front end was not stopped (stopped: %v)", rec.removed)
	}
	// The cluster itself, and its nodes, stay.
	e.must(200, "GET", mcID, nil)
	e.nodesIdle(mcID, 1)
}
