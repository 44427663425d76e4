package apiserver_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/blobstore"
	inf "github.com/vnetml/vnetml/internal/inference"
)

// Regression tests from a review of managed clusters, attach and detach
// (commits 83584a3, 4166101, 4710359). Each fails before its fix.

// reviewInference is an Inference that runs no replica but keeps the
// state the real controller keeps: the services it runs, and the front
// ends by the cluster id of their spec (internal/inference/front.go
// frontFor). When gate is set, Remove waits for it to close after saying
// so on entered.
type reviewInference struct {
	mu       sync.Mutex
	services map[string]inf.Spec // by lower-cased service id
	fronts   map[string]string   // lower-cased cluster id -> the service that started it
	removed  []string
	gate     chan struct{}
	entered  chan string
}

func newReviewInference() *reviewInference {
	return &reviewInference{services: map[string]inf.Spec{}, fronts: map[string]string{}}
}

func (r *reviewInference) Upsert(sp inf.Spec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.services[strings.ToLower(sp.ID)] = sp
	if _, ok := r.fronts[strings.ToLower(sp.ClusterID)]; !ok {
		r.fronts[strings.ToLower(sp.ClusterID)] = sp.ID
	}
	return nil
}

func (r *reviewInference) Remove(_ context.Context, id string) {
	r.mu.Lock()
	gate, entered := r.gate, r.entered
	r.mu.Unlock()
	if gate != nil {
		entered <- id
		<-gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.services, strings.ToLower(id))
	r.removed = append(r.removed, strings.ToLower(id))
}

func (r *reviewInference) Status(string) (inf.Status, bool)             { return inf.Status{}, false }
func (r *reviewInference) Logs(context.Context, string) (string, error) { return "", nil }

func (r *reviewInference) RemoveCluster(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.fronts, strings.ToLower(id))
}

// running reports whether the controller still runs service id.
func (r *reviewInference) running(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.services[strings.ToLower(id)]
	return ok
}

// front returns the service whose deployment started the front end of
// cluster id, and whether one runs.
func (r *reviewInference) front(id string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.fronts[strings.ToLower(id)]
	return s, ok
}

// reviewEnv is a server whose compute controller runs real node agents,
// with a recording inference controller and a runs service (for model
// registration).
func reviewEnv(t *testing.T, rec *reviewInference) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), data: &dataParts{computes: true, interval: 50 * time.Millisecond, inference: rec,
		runs: &fakeRuns{runs: map[string]api.Run{}}}}
	e.start()
	t.Cleanup(e.stop)
	return e
}

// registerModel registers model "mymodel" in workspace ws from a blob of
// its workspaceblobstore.
func (e *env) registerModel(ws string) {
	e.t.Helper()
	var ds struct {
		Properties struct{ AccountName, ContainerName string }
	}
	if err := json.Unmarshal(e.must(200, "GET", ws+"/datastores/workspaceblobstore", nil).body, &ds); err != nil {
		e.t.Fatal(err)
	}
	ctx := context.Background()
	account := strings.ToLower(ds.Properties.AccountName)
	if err := e.data.blobs.CreateContainer(ctx, account, ds.Properties.ContainerName); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.data.blobs.PutBlob(ctx, account, ds.Properties.ContainerName, "LocalUpload/1/model.json", strings.NewReader(`{"w": 1}`), blobstore.PutOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.must(201, "POST", ws+"/models/mymodel/register", `{"path": "LocalUpload/1/model.json"}`)
}

// serviceBody deploys mymodel to compute.
func serviceBody(compute string) string {
	return `{"properties": {"computeTarget": "` + compute + `", "models": ["mymodel"], "numReplicas": 1, "autoscaleEnabled": false,
		"entryScript": {"name": "score.py", "content": "def init():\n    pass\n\ndef run(raw):\n    return raw\n"}}}`
}

// frontEndOfCompute returns the ids of an inference compute's front end
// interface and public IP.
func (e *env) frontEndOfCompute(id string) (nicID, pipID string) {
	e.t.Helper()
	var doc struct {
		Properties struct {
			Resources struct{ FrontEnd, PublicIPAddress string } `json:"vnetmlResources"`
		}
	}
	if err := json.Unmarshal(e.must(200, "GET", id, nil).body, &doc); err != nil {
		e.t.Fatal(err)
	}
	if doc.Properties.Resources.FrontEnd == "" || doc.Properties.Resources.PublicIPAddress == "" {
		e.t.Fatalf("%s shows no front end: %+v", id, doc.Properties.Resources)
	}
	return doc.Properties.Resources.FrontEnd, doc.Properties.Resources.PublicIPAddress
}

// TestReviewAttachWorkspaceGroupDeleteOrphansFrontEnd: the front end of
// an attached compute lives in the cluster subnet's group, not the
// workspace's. Deleting the workspace's group (which deletes the compute
// past the detach guard, as docs/inference.md allows) leaves its network
// interface and public IP behind: an address of the cluster's subnet and
// a public IP leak, and the cluster — here with a network of its own, in
// which the orphaned interface sits — cannot be deleted any more.
//
// Fix: in computesDeleted (or a check of the group's delete), delete the
// resources a deleted attached compute owns outside its group (its
// vnetmlResources.frontEnd and publicIPAddress, as detachCompute does).
func TestReviewAttachWorkspaceGroupDeleteOrphansFrontEnd(t *testing.T) {
	e := computeEnv(t)
	wsGroup := sub + "/resourceGroups/wsgroup"
	ws := wsGroup + "/providers/Microsoft.MachineLearningServices/workspaces/ws2"
	e.must(201, "PUT", mcGroup, groupBody)
	e.must(201, "PUT", wsGroup, groupBody)
	e.must(201, "PUT", ws, `{"location": "eastus"}`)
	own := mcGroup + "/providers/Microsoft.ContainerService/managedClusters/ownnet"
	e.must(201, "PUT", own, mcBody(1, "Standard_D2_v2", "", "10.0.0.0/16", "10.0.0.10"))
	e.must(201, "PUT", ws+"/computes/attached", attachBody(own, "DevTest"))
	feNIC, pip := e.frontEndOfCompute(ws + "/computes/attached")

	e.must(200, "DELETE", wsGroup, nil)
	for _, id := range []string{feNIC, pip} {
		if r := e.call("GET", id, nil); r.status != 404 {
			t.Errorf("the deleted attached compute's %s is left behind (%d)", id, r.status)
		}
	}
	// The cluster, attached to nothing now, can be deleted.
	if r := e.call("DELETE", own, nil); r.status != 200 {
		t.Errorf("deleting the cluster after its workspace's group went: %d %s", r.status, r.body)
	}
}

// TestReviewAttachWorkspaceGroupDeleteOrphansReplicas: the web services of
// an attached compute run on the managed cluster's nodes, which stay when
// the workspace's group is deleted. The services go from the store, but
// nothing tells the inference controller: their replicas keep running on
// the cluster's nodes and keep their pod addresses of its subnet, for
// good (a created cluster's replicas at least die with its nodes).
//
// Fix: when a transaction deletes services (directly or with their
// workspace or group), call Inference.Remove for each after commit, as
// detachCompute does.
func TestReviewAttachWorkspaceGroupDeleteOrphansReplicas(t *testing.T) {
	rec := newReviewInference()
	e := reviewEnv(t, rec)
	e.secureNetwork()
	e.must(201, "PUT", nsg+"/securityRules/allow-aml", allowAML)
	wsGroup := sub + "/resourceGroups/wsgroup"
	ws := wsGroup + "/providers/Microsoft.MachineLearningServices/workspaces/ws2"
	e.must(201, "PUT", wsGroup, groupBody)
	e.must(201, "PUT", ws, `{"location": "eastus"}`)
	e.registerModel(ws)
	e.must(201, "PUT", mcID, mcBody(1, "Standard_D2_v2", vnet+"/subnets/default", "10.2.0.0/16", "10.2.0.10"))
	e.must(201, "PUT", ws+"/computes/attached", attachBody(mcID, "DevTest"))
	svc := ws + "/services/mysvc"
	e.must(201, "PUT", svc, serviceBody("attached"))
	if !rec.running(svc) {
		t.Fatalf("the service was not handed to the inference controller")
	}

	e.must(200, "DELETE", wsGroup, nil)
	e.must(200, "GET", mcID, nil) // the cluster and its nodes stay
	if rec.running(svc) {
		t.Errorf("the workspace's group is deleted, but service %s still runs on the attached cluster's nodes (removed: %v)", svc, rec.removed)
	}
}

// TestReviewDetachStopsANewerAttachmentsFrontEnd: the inference
// controller keys front ends by the managed cluster's id, and detach's
// after-commit hook stops that front end after it has stopped the
// services' replicas — outside the write lock. A cluster attached again
// (here, as another compute) and deployed to while the detach is still
// stopping replicas gets its new front end closed by the old detach:
// its service shows Healthy and answers nothing until it is redeployed.
//
// Fix: drop the RemoveCluster from detachCompute's hook (writeTxn already
// stops the fronts of deleted computes), and key a front end by the
// compute that owns it (or stop it only if it is still the one the
// deleted compute started, e.g. by its front-end address).
func TestReviewDetachStopsANewerAttachmentsFrontEnd(t *testing.T) {
	rec := newReviewInference()
	e := reviewEnv(t, rec)
	e.secureNetwork()
	e.must(201, "PUT", nsg+"/securityRules/allow-aml", allowAML)
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.registerModel(workspace)
	e.must(201, "PUT", mcID, mcBody(1, "Standard_D2_v2", vnet+"/subnets/default", "10.2.0.0/16", "10.2.0.10"))
	e.must(201, "PUT", attached, attachBody(mcID, "DevTest"))
	e.must(201, "PUT", workspace+"/services/old", serviceBody("attached"))

	// Detach, held while it stops the old service's replicas.
	rec.mu.Lock()
	rec.gate, rec.entered = make(chan struct{}), make(chan string, 4)
	gate := rec.gate
	rec.mu.Unlock()
	done := make(chan reply, 1)
	go func() { done <- e.call("DELETE", attached+"?underlyingResourceAction=Detach", nil) }()
	select {
	case <-rec.entered:
	case <-time.After(time.Minute):
		t.Fatal("the detach never stopped the old service")
	}
	// Meanwhile the cluster is attached again and a service deployed
	// (the server tells the controller about the deployment once the
	// detach's news is through: it waits for the gate).
	again := workspace + "/computes/again"
	e.must(201, "PUT", again, attachBody(mcID, "DevTest"))
	deployed := make(chan reply, 1)
	go func() { deployed <- e.call("PUT", workspace+"/services/newsvc", serviceBody("again")) }()
	rec.mu.Lock()
	rec.gate = nil
	rec.mu.Unlock()
	close(gate)
	if r := <-deployed; r.status != 201 {
		t.Fatalf("deploying newsvc: %d %s", r.status, r.body)
	}
	if by, ok := rec.front(mcID); !ok || !strings.HasSuffix(by, "/newsvc") && !strings.HasSuffix(by, "/old") {
		t.Fatalf("the new service's front end: %q %v", by, ok)
	}
	if r := <-done; r.status != 200 {
		t.Fatalf("detach: %d %s", r.status, r.body)
	}
	if _, ok := rec.front(mcID); !ok {
		t.Errorf("the detach of compute attached stopped the front end of compute again, attached after it; service newsvc answers nothing")
	}
	e.must(200, "DELETE", again+"?underlyingResourceAction=Detach", nil)
}

// TestReviewFastProdHintCannotBeFollowed: attaching a cluster too small
// for FastProd says to "scale agent pool nodepool1 to 6 nodes or more
// (PUT the managed cluster with a larger count)", but a PUT that changes
// the count is refused (Conflict: only tags change in place).
//
// Fix: make the hint one that works ("delete the managed cluster and
// create it again with count N"), or let the count change in place.
func TestReviewFastProdHintCannotBeFollowed(t *testing.T) {
	e := newDataEnv(t)
	e.secureNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	subnet := vnet + "/subnets/default"
	e.must(201, "PUT", mcID, mcBody(1, "Standard_D2_v2", subnet, "10.2.0.0/16", "10.2.0.10"))
	er := e.wantError(400, "UserError", "PUT", attached, attachBody(mcID, "FastProd"))
	const hint = "PUT the managed cluster with a larger count"
	if !strings.Contains(er.Message, hint) {
		return // the hint was changed
	}
	if !strings.Contains(er.Message, "to 6 nodes") {
		t.Fatalf("the hint's count: %s", er.Message)
	}
	if r := e.call("PUT", mcID, mcBody(6, "Standard_D2_v2", subnet, "10.2.0.0/16", "10.2.0.10")); r.status != 200 {
		t.Errorf("the attach's hint says %q, but that PUT is refused: %d %s", hint, r.status, r.body)
	}
}

// TestReviewWorkspaceDeleteHintForAttached: a workspace with an attached
// compute is not deleted, and the error says to "delete them first
// (vnetml compute delete)" — which is refused for an attached compute.
//
// Fix: name detach for attached computes (vnetml compute detach NAME -w WS).
func TestReviewWorkspaceDeleteHintForAttached(t *testing.T) {
	e := newDataEnv(t)
	e.secureNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.must(201, "PUT", mcID, mcBody(1, "Standard_D2_v2", vnet+"/subnets/default", "10.2.0.0/16", "10.2.0.10"))
	e.must(201, "PUT", attached, attachBody(mcID, "DevTest"))
	er := e.wantError(409, "Conflict", "DELETE", workspace, nil)
	if !strings.Contains(er.Message, "detach") {
		t.Errorf("deleting a workspace with an attached compute says only to delete it, which is refused:\n%s", er.Message)
	}
	e.wantError(400, "UserError", "DELETE", attached, nil) // what that hint leads to
}

// TestReviewAttachRevealsClustersOfOtherGroups: a Contributor of the
// workspace's group who may not read another group learns which managed
// clusters exist there: a missing one is 404 ResourceNotFound, an
// existing one 403 AuthorizationFailed naming it.
//
// Fix: authorize write on properties.resourceId before looking it up, so
// both answer AuthorizationFailed.
func TestReviewAttachRevealsClustersOfOtherGroups(t *testing.T) {
	e := newDataEnv(t)
	e.secureNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.must(201, "PUT", mcGroup, groupBody)
	secret := mcGroup + "/providers/Microsoft.ContainerService/managedClusters/secretk8s"
	e.must(201, "PUT", secret, mcBody(1, "Standard_D2_v2", "", "10.0.0.0/16", "10.0.0.10"))
	wsOnly := e.token("wsonly", "Contributor", rg)
	if r := e.callAs(wsOnly, "GET", secret, nil); r.status != 403 {
		t.Fatalf("the caller may read the other group: %d", r.status)
	}
	exists := e.callAs(wsOnly, "PUT", attached, attachBody(secret, "DevTest"))
	missing := e.callAs(wsOnly, "PUT", attached, attachBody(mcGroup+"/providers/Microsoft.ContainerService/managedClusters/nosuch", "DevTest"))
	if exists.status != missing.status || exists.errorOf(t).Code != missing.errorOf(t).Code {
		t.Errorf("an existing cluster the caller may not read answers %d %s, a missing one %d %s: the answer tells which exist",
			exists.status, exists.errorOf(t).Code, missing.status, missing.errorOf(t).Code)
	}
}

// TestReviewAzAksShowApplies: docs/inference.md says "`az aks show -o json`
// output applies as it is" to make a managed cluster. az prints the
// cluster flattened (no "properties") with AKS's other fields (enableRbac,
// nodeResourceGroup, resourceGroup, servicePrincipalProfile, ...); the
// strict decoder refuses such a document.
//
// Fix: say what applies (the ARM body: location, tags, properties with
// the fields listed), or accept and ignore AKS's other fields and the
// flattened shape.
func TestReviewAzAksShowApplies(t *testing.T) {
	doc, err := os.ReadFile("../../docs/inference.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(strings.Fields(string(doc)), " "), "`az aks show -o json` output applies as it is") {
		return // the claim was dropped
	}
	e := newDataEnv(t)
	e.secureNetwork()
	// az aks show -o json, trimmed to a few of its usual fields.
	body := `{
  "agentPoolProfiles": [{"count": 1, "maxPods": 30, "mode": "System", "name": "nodepool1", "osType": "Linux",
    "vmSize": "Standard_D2_v2", "vnetSubnetId": "` + vnet + `/subnets/default", "enableAutoScaling": false, "osDiskSizeGb": 128}],
  "dnsPrefix": "myk8s",
  "enableRbac": true,
  "fqdn": "myk8s-abc.hcp.eastus.azmk8s.io",
  "id": "` + mcID + `",
  "kubernetesVersion": "1.30.6",
  "location": "eastus",
  "name": "myk8s",
  "networkProfile": {"dnsServiceIp": "10.2.0.10", "dockerBridgeCidr": "172.17.0.1/16", "loadBalancerSku": "standard",
    "networkPlugin": "azure", "serviceCidr": "10.2.0.0/16", "outboundType": "loadBalancer"},
  "nodeResourceGroup": "MC_mygroup_myk8s_eastus",
  "provisioningState": "Succeeded",
  "resourceGroup": "mygroup",
  "servicePrincipalProfile": {"clientId": "msi"},
  "tags": null,
  "type": "Microsoft.ContainerService/ManagedClusters"
}`
	if r := e.call("PUT", mcID, body); r.status/100 != 2 {
		t.Errorf("the docs say az aks show output applies as it is; it is refused: %d %s", r.status, r.body)
	}
}

// TestReviewAttachLeafDomainInClusterRegion: stageAttachAKS says "the
// front end, and the compute, are where the cluster is" and puts the
// front end in the cluster's region, but draws a generated scoring name
// (sslConfiguration status Auto, leafDomainLabel) before it sets
// spec.Location to the cluster's: a cluster in westus2 attached to an
// eastus workspace is named <label>xxxxxx.eastus.cloudapp.azure.com.
//
// Fix: set spec.Location = m.Location before calling aksTLS.
func TestReviewAttachLeafDomainInClusterRegion(t *testing.T) {
	e := newDataEnv(t)
	e.secureNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.must(201, "PUT", mcGroup, groupBody)
	west := mcGroup + "/providers/Microsoft.ContainerService/managedClusters/westk8s"
	e.must(201, "PUT", west, strings.Replace(mcBody(1, "Standard_D2_v2", "", "10.0.0.0/16", "10.0.0.10"), `"eastus"`, `"westus2"`, 1))
	e.must(201, "PUT", attached, attachBody(west, "DevTest", `"sslConfiguration": {"status": "Auto", "leafDomainLabel": "myml"}`))
	var doc struct {
		Properties struct {
			ComputeLocation string
			Properties      struct {
				SystemServices []struct{ Fqdn string }
			}
		}
	}
	json.Unmarshal(e.must(200, "GET", attached, nil).body, &doc)
	fe := doc.Properties.Properties.SystemServices
	if doc.Properties.ComputeLocation != "westus2" || len(fe) != 1 || !strings.HasSuffix(fe[0].Fqdn, ".westus2.cloudapp.azure.com") {
		t.Errorf("a westus2 cluster's front end: computeLocation %q, fqdn %+v", doc.Properties.ComputeLocation, fe)
	}
}
