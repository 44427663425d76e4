package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/client"
	"github.com/vnetml/vnetml/internal/job"
)

const qsService = qsWorkspace + "/services/mysvc"

// scoreScript serves the quickstart's model: the probability of class 1
// for each row of {"data": [[x0, x1], ...]}.
const scoreScript = `import json, math, os

def init():
    global model
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.json")) as f:
        model = json.load(f)

def run(raw_data):
    rows = json.loads(raw_data)["data"]
    w, b = model["weights"], model["bias"]
    return [1 / (1 + math.exp(-(w[0] * x[0] + w[1] * x[1] + b))) for x in rows]
`

// TestServeTheQuickstartModel: the model trained in the quickstart is
// registered from the run's outputs, deployed to an inference cluster in
// the same subnet, and scored through the front end from the allowed
// network; a caller from elsewhere is refused by the NSG, with the rule.
func TestServeTheQuickstartModel(t *testing.T) {
	needPython(t)
	s := startLive(t, t.TempDir())
	s.quickstart(0, 1, nil)
	ctx := context.Background()

	// Train.
	snap := s.upload("../../examples/quickstart/train", false)
	run := s.submit("quickstart", "train_1", api.RunProperties{Script: "train.py", Arguments: []string{"--epochs", "3"},
		Target: "cpucluster", SourceDirectoryDataStore: "workspaceblobstore", SnapshotID: snap})
	if r, log := s.wait(run); r.Properties.Status != job.Completed {
		t.Fatalf("training: %s %+v\n%s", r.Properties.Status, r.Properties.Error, log)
	}
	// Register.
	var mv api.ModelVersion
	if err := s.c.Post(ctx, qsWorkspace+"/models/mymodel/register", api.ModelRegisterRequest{Path: "outputs/model.json", RunID: "train_1", ExperimentName: "quickstart"}, &mv); err != nil {
		t.Fatal(err)
	}
	// An inference cluster in the subnet.
	aks := `{"location": "eastus", "properties": {"computeType": "AKS", "properties": {"agentCount": 1, "clusterPurpose": "DevTest",
		"aksNetworkingConfiguration": {"subnetId": "` + qsGroup + `/providers/Microsoft.Network/virtualNetworks/mynetwork/subnets/default",
		"serviceCidr": "10.2.0.0/16", "dnsServiceIP": "10.2.0.10", "dockerBridgeCidr": "172.17.0.1/16"}}}}`
	if _, err := s.c.Put(ctx, qsWorkspace+"/computes/myaks", json.RawMessage(aks), ""); err != nil {
		t.Fatal(err)
	}
	// Deploy.
	one := 1
	svc := api.Service{Properties: api.ServiceProperties{ComputeTarget: "myaks", Models: []string{"mymodel"},
		EntryScript: api.ServiceScript{Name: "score.py", Content: scoreScript}, NumReplicas: &one}}
	if _, err := s.c.Put(ctx, qsService, svc, ""); err != nil {
		t.Fatal(err)
	}
	got := s.waitService(func(p api.ServiceProperties) bool {
		return p.State == api.ServiceHealthy || p.State == api.ServiceFailed
	})
	if got.State != api.ServiceHealthy {
		t.Fatalf("service %s: %+v", got.State, got.Error)
	}
	var keys api.ServiceKeys
	if err := s.c.Post(ctx, qsService+"/listKeys", nil, &keys); err != nil {
		t.Fatal(err)
	}

	// Score from the allowed network (the CLI user's 203.0.113.10).
	status, body := s.score(t, "203.0.113.10", got.ScoringURI, keys.PrimaryKey, `{"data": [[2, -1], [-2, 1]]}`)
	var probs []float64
	if status != 200 || json.Unmarshal([]byte(body), &probs) != nil || len(probs) != 2 || probs[0] < 0.5 || probs[1] > 0.5 {
		t.Fatalf("scoring: %d %s", status, body)
	}
	// No key: 401.
	if status, body := s.score(t, "203.0.113.10", got.ScoringURI, "", `{"data": [[1, 1]]}`); status != 401 {
		t.Errorf("scoring without a key: %d %s", status, body)
	}
	// From elsewhere: the NSG refuses it, naming the rule.
	if _, err := s.scoreErr("8.8.8.8", got.ScoringURI, keys.PrimaryKey); err == nil || !strings.Contains(err.Error(), "DenyAllInBound") {
		t.Fatalf("scoring from 8.8.8.8: %v, want a refusal by DenyAllInBound", err)
	}
}

// waitService polls the service until cond holds, each poll waiting for
// the controller's next round, for at most two minutes.
func (s *liveServer) waitService(cond func(api.ServiceProperties) bool) api.ServiceProperties {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var d api.Service
		if err := s.c.GetInto(context.Background(), qsService, &d); err != nil {
			s.t.Fatal(err)
		}
		if cond(d.Properties) {
			return d.Properties
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the service never got there: %+v", d.Properties)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		s.c.Do(ctx, "GET", qsService+"/logs", nil) // a round trip to the server, not a sleep
		<-ctx.Done()
		cancel()
	}
}

// score calls a scoring URI as an outside client at from.
func (s *liveServer) score(t *testing.T, from, uri, key, data string) (int, string) {
	t.Helper()
	hc, err := s.c.DataPlane(context.Background(), from)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", uri, strings.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("scoring from %s: %v", from, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *liveServer) scoreErr(from, uri, key string) (int, error) {
	hc, err := s.c.DataPlane(context.Background(), from)
	if err != nil {
		return 0, err
	}
	req, _ := http.NewRequest("POST", uri, strings.NewReader(`{"data": [[1, 1]]}`))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// registerFileModel registers mymodel from a local file holding model,
// uploaded through the storage firewall as the CLI does.
func (s *liveServer) registerFileModel(model string) {
	t := s.t
	t.Helper()
	ctx := context.Background()
	dir := writeSource(t, map[string]string{"model.json": model})
	ds, err := s.c.GetDatastore(ctx, qsWorkspace, "workspaceblobstore")
	if err != nil {
		t.Fatal(err)
	}
	hc, err := s.c.DataPlane(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	path, _, err := s.c.UploadModel(ctx, hc, ds, dir+"/model.json", "LocalUpload/test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.RegisterModel(ctx, qsWorkspace, "mymodel", api.ModelRegisterRequest{Path: path}); err != nil {
		t.Fatal(err)
	}
}

// putAKS creates the inference cluster myaks in the quickstart's subnet,
// with agents nodes and a front end of load balancer type lbType.
func (s *liveServer) putAKS(agents int, lbType string) {
	s.t.Helper()
	lb := fmt.Sprintf(`"loadBalancerType": %q,`, lbType)
	if lbType == "InternalLoadBalancer" {
		lb += ` "loadBalancerSubnet": "default",`
	}
	aks := fmt.Sprintf(`{"location": "eastus", "properties": {"computeType": "AKS", "properties": {"agentCount": %d, "clusterPurpose": "DevTest", %s
		"aksNetworkingConfiguration": {"subnetId": "%s/providers/Microsoft.Network/virtualNetworks/mynetwork/subnets/default",
		"serviceCidr": "10.2.0.0/16", "dnsServiceIP": "10.2.0.10", "dockerBridgeCidr": "172.17.0.1/16"}}}}`, agents, lb, qsGroup)
	if _, err := s.c.Put(context.Background(), qsWorkspace+"/computes/myaks", json.RawMessage(aks), ""); err != nil {
		s.t.Fatal(err)
	}
}

// putService deploys entry with mymodel on myaks, one replica.
func (s *liveServer) putService(entry string) {
	s.t.Helper()
	one := 1
	svc := api.Service{Properties: api.ServiceProperties{ComputeTarget: "myaks", Models: []string{"mymodel"},
		EntryScript: api.ServiceScript{Name: "score.py", Content: entry}, NumReplicas: &one, ScoringTimeoutMs: 2000}}
	if _, err := s.c.Put(context.Background(), qsService, svc, ""); err != nil {
		s.t.Fatal(err)
	}
}

// deployFromFile registers a model from a local file and deploys entry
// with it to an inference cluster of agents nodes, with the front end's
// load balancer of lbType; it returns the service once Healthy or Failed.
func (s *liveServer) deployFromFile(model, entry, lbType string, agents int) api.ServiceProperties {
	s.t.Helper()
	s.registerFileModel(model)
	s.putAKS(agents, lbType)
	s.putService(entry)
	return s.waitService(func(p api.ServiceProperties) bool {
		return p.State == api.ServiceHealthy || p.State == api.ServiceFailed
	})
}

// TestServiceReliability: a replica that crashes is restarted and
// scoring goes on; an exception in init() makes the service Failed with
// the traceback; an internal front end is out of the Internet's reach.
func TestServiceReliability(t *testing.T) {
	needPython(t)
	s := startLive(t, t.TempDir())
	s.quickstart(0, 1, nil)
	ctx := context.Background()
	p := s.deployFromFile(`{"weights": [1, -1], "bias": 0}`, scoreScript+`
import os as _os
_run = run
def run(raw_data):
    if "crash" in raw_data:
        _os._exit(1)
    return _run(raw_data)
`, "PublicIp", 1)
	if p.State != api.ServiceHealthy {
		t.Fatalf("service %s: %+v", p.State, p.Error)
	}
	var keys api.ServiceKeys
	if err := s.c.Post(ctx, qsService+"/listKeys", nil, &keys); err != nil {
		t.Fatal(err)
	}
	if status, body := s.score(t, "203.0.113.10", p.ScoringURI, keys.PrimaryKey, `{"data": [[1, 0]]}`); status != 200 {
		t.Fatalf("scoring: %d %s", status, body)
	}
	// The crash: the call fails, the replica is restarted, scoring goes on.
	if status, _ := s.score(t, "203.0.113.10", p.ScoringURI, keys.PrimaryKey, `{"data": "crash"}`); status == 200 {
		t.Fatalf("the crashing call succeeded")
	}
	p = s.waitService(func(p api.ServiceProperties) bool {
		return p.State == api.ServiceHealthy && len(p.Replicas) == 1 && p.Replicas[0].Restarts == 1
	})
	if status, body := s.score(t, "203.0.113.10", p.ScoringURI, keys.PrimaryKey, `{"data": [[1, 0]]}`); status != 200 {
		t.Fatalf("scoring after the restart: %d %s", status, body)
	}

	// init() raises: Failed, with the traceback.
	bad := api.Service{Properties: api.ServiceProperties{ComputeTarget: "myaks", Models: []string{"mymodel"},
		EntryScript: api.ServiceScript{Name: "score.py", Content: "def init():\n    raise ValueError('no such weights')\n\ndef run(raw_data):\n    return raw_data\n"}}}
	one := 1
	bad.Properties.NumReplicas = &one
	if _, err := s.c.Put(ctx, qsService, bad, ""); err != nil {
		t.Fatal(err)
	}
	p = s.waitService(func(p api.ServiceProperties) bool { return p.State == api.ServiceFailed })
	if p.Error == nil || !strings.Contains(p.Error.Message, "ValueError: no such weights") || !strings.Contains(p.Error.Message, "Traceback") {
		t.Fatalf("a failing init(): %+v", p.Error)
	}
}

// TestInternalFrontEnd: with an internal load balancer the front end has
// no public address: outside callers cannot reach it at all.
func TestInternalFrontEnd(t *testing.T) {
	needPython(t)
	s := startLive(t, t.TempDir())
	s.quickstart(0, 1, nil)
	p := s.deployFromFile(`{"weights": [1, -1], "bias": 0}`, scoreScript, "InternalLoadBalancer", 1)
	if p.State != api.ServiceHealthy || !strings.HasPrefix(p.ScoringURI, "http://10.0.0.") {
		t.Fatalf("service %s at %s: %+v", p.State, p.ScoringURI, p.Error)
	}
	if _, err := s.scoreErr("203.0.113.10", p.ScoringURI, "k"); err == nil {
		t.Fatalf("an outside caller reached the internal front end %s", p.ScoringURI)
	} else {
		t.Logf("outside caller: %v", err)
	}

	// A VM's NIC in another subnet of the network reaches it (the NSG's
	// AllowVnetInBound admits it), as `vnetml service score --from-nic`
	// calls; a rule that denies that subnet refuses it, named.
	s.quickstart(0, 1, withClientSubnet(""))
	keys, err := s.c.ServiceKeys(context.Background(), client.ServicePath(qsWorkspace, "mysvc"))
	if err != nil {
		t.Fatal(err)
	}
	fromNIC := func() (int, error) {
		hc, err := s.c.DataPlaneFromNIC(context.Background(), "client-vm-nic")
		if err != nil {
			return 0, err
		}
		req, _ := http.NewRequest("POST", p.ScoringURI, strings.NewReader(`{"data": [[1, 1]]}`))
		req.Header.Set("Authorization", "Bearer "+keys.PrimaryKey)
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := fromNIC(); err != nil || code != http.StatusOK {
		t.Fatalf("from client-vm-nic in subnet clients: %d, %v; want 200", code, err)
	}
	// A network interface that does not exist is named in the refusal.
	if hc, err := s.c.DataPlaneFromNIC(context.Background(), "no-such-nic"); err == nil {
		_, err = hc.Post(p.ScoringURI, "application/json", strings.NewReader(`{"data": [[1, 1]]}`))
		if err == nil || !strings.Contains(err.Error(), "no-such-nic") {
			t.Errorf("scoring from a NIC that does not exist: %v, want a refusal naming it", err)
		}
	}
	s.quickstart(0, 1, withClientSubnet(`    - name: DenyClientsScoring
      priority: 125
      access: Deny
      protocol: Tcp
      source: 10.0.1.0/24
      destinationPorts: 80
`))
	_, err = fromNIC()
	if err == nil || !strings.Contains(err.Error(), "DenyClientsScoring") {
		t.Fatalf("from client-vm-nic with DenyClientsScoring: %v, want a refusal naming the rule", err)
	}
}

// withClientSubnet edits the quickstart's manifest: a subnet clients
// (10.0.1.0/24, no NSG) with a VM's network interface client-vm-nic at
// 10.0.1.4, and rules added to ml-nsg before AllowScoringFromOffice.
func withClientSubnet(rules string) func(string) string {
	return func(m string) string {
		m = strings.Replace(m, "      serviceEndpoints: [Microsoft.Storage, Microsoft.KeyVault]\n",
			"      serviceEndpoints: [Microsoft.Storage, Microsoft.KeyVault]\n    - name: clients\n      addressPrefix: 10.0.1.0/24\n"+
				"\n  networkInterfaces:\n  - {name: client-vm-nic, subnet: mynetwork/clients, privateIPAddress: 10.0.1.4}\n", 1)
		return strings.Replace(m, "    - name: AllowScoringFromOffice\n", rules+"    - name: AllowScoringFromOffice\n", 1)
	}
}

// TestDeployToClusterAzureMLCannotReach: an NSG that refuses Azure
// Machine Learning on the inference nodes' management ports leaves the
// service undeployable, and its error names the rule.
func TestDeployToClusterAzureMLCannotReach(t *testing.T) {
	needPython(t)
	s := startLive(t, t.TempDir())
	s.quickstart(0, 1, func(m string) string {
		return strings.Replace(m, "    - name: AllowAzureMachineLearningManagement\n      priority: 120\n",
			"    - name: AllowAzureMachineLearningManagement\n      priority: 120\n      access: Deny\n", 1)
	})
	s.registerFileModel(`{"weights": [1, -1], "bias": 0}`)
	s.putAKS(1, "PublicIp")
	s.putService(scoreScript)
	p := s.waitService(func(p api.ServiceProperties) bool {
		return p.Error != nil && strings.Contains(p.Error.Message, "AllowAzureMachineLearningManagement")
	})
	if p.State == api.ServiceHealthy {
		t.Fatalf("deployed through an NSG that refuses Azure ML: %+v", p)
	}
	t.Logf("%s: %s", p.State, p.Error.Message)
}

// TestHealthProbesRefused: a rule that denies AzureLoadBalancer inbound
// (before the default rule that admits it) takes the front end out of
// rotation: the service is Unhealthy, and callers are told why.
func TestHealthProbesRefused(t *testing.T) {
	needPython(t)
	s := startLive(t, t.TempDir())
	s.quickstart(0, 1, nil)
	p := s.deployFromFile(`{"weights": [1, -1], "bias": 0}`, scoreScript, "PublicIp", 1)
	if p.State != api.ServiceHealthy {
		t.Fatalf("service %s: %+v", p.State, p.Error)
	}
	s.quickstart(0, 1, func(m string) string {
		return strings.Replace(m, "    - name: DenyInternetOutbound\n", `    - name: DenyLoadBalancerProbes
      priority: 105
      access: Deny
      source: AzureLoadBalancer
    - name: DenyInternetOutbound
`, 1)
	})
	p = s.waitService(func(p api.ServiceProperties) bool { return p.State == api.ServiceUnhealthy })
	if p.Error == nil || p.Error.Code != "FrontEndOutOfRotation" || !strings.Contains(p.Error.Message, "DenyLoadBalancerProbes") {
		t.Fatalf("the service's error: %+v", p.Error)
	}
	var keys api.ServiceKeys
	if err := s.c.Post(context.Background(), qsService+"/listKeys", nil, &keys); err != nil {
		t.Fatal(err)
	}
	if status, body := s.score(t, "203.0.113.10", p.ScoringURI, keys.PrimaryKey, `{"data": [[1, 0]]}`); status != 503 || !strings.Contains(body, "DenyLoadBalancerProbes") {
		t.Fatalf("scoring out of rotation: %d %s", status, body)
	}
}
