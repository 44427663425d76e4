package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/api"
)

// The service commands against a whole server: the quickstart's network
// (its NSG admits scoring calls from 203.0.113.0/24 on TCP 80, and Azure
// Machine Learning on the nodes' 29876-29877), the quickstart's model
// trained by a real run on cpucluster and registered from its outputs,
// and an inference cluster of one node in the same subnet. Replicas run
// vnetml_score.py, so Python is needed.

// quickstartScore serves the quickstart's model: the probability of class
// 1 for each row of {"data": [[x0, x1], ...]}.
const quickstartScore = `import json, math, os

def init():
    global model
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.json")) as f:
        model = json.load(f)

def run(raw_data):
    rows = json.loads(raw_data)["data"]
    w, b = model["weights"], model["bias"]
    return [1 / (1 + math.exp(-(w[0] * x[0] + w[1] * x[1] + b))) for x in rows]
`

// brokenScore's init() raises.
const brokenScore = `def init():
    raise RuntimeError("the model is not where init() looks")

def run(raw_data):
    return raw_data
`

// newServiceServer is newRunServer with the quickstart's model registered
// as mymodel (version 1, from run train_1) and the inference cluster
// myaks of one node.
func newServiceServer(t *testing.T) *dataServer {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed: the quickstart's job and the scoring server are Python")
	}
	s := newRunServer(t)
	ws := []string{"-w", "myworkspace", "-g", "mygroup"}
	wantOK(t, s.runCmd(ws, "submit", "-e", "quickstart", "--compute", "cpucluster", "--source", "../../examples/quickstart/train",
		"--script", "train.py", "--arg", "--epochs", "--arg", "3", "--datastore", "workspaceblobstore", "--run-id", "train_1",
		"--stream", "--poll-interval", "50ms"))
	s.ok(append([]string{"model", "register", "--name", "mymodel", "--run", "train_1", "--path", "outputs/model.json"}, ws...)...)
	s.ok(append([]string{"compute", "create", "myaks", "--type", "aks", "--agent-count", "1", "--cluster-purpose", "DevTest",
		"--vnet-resourcegroup-name", "mygroup", "--vnet-name", "mynetwork", "--subnet-name", "default",
		"--service-cidr", "10.2.0.0/16", "--dns-service-ip", "10.2.0.10", "--docker-bridge-cidr", "172.17.0.1/16",
		"--wait", "--poll-interval", "5ms"}, ws...)...)
	return s
}

// script writes an entry script and returns its path.
func script(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// deploy --wait to Healthy; show, list, logs; score from the allowed
// network and a refusal from elsewhere naming the rule; keys regenerated
// one at a time; token auth; an init() that raises fails the deployment
// with its traceback; delete.
func TestServiceCommands(t *testing.T) {
	s := newServiceServer(t)
	ws := []string{"-w", "myworkspace", "-g", "mygroup"}
	with := func(args ...string) []string { return append(args, ws...) }
	entry := script(t, "score.py", quickstartScore)
	const request = `{"data": [[2, -1], [-2, 1]]}`

	// Deploy, and follow it to Healthy.
	r := s.run(with("service", "deploy", "mysvc", "--compute", "myaks", "--model", "mymodel", "--entry", entry, "--num-replicas", "1",
		"--env", "MODE=test", "--description", "the quickstart's model", "--wait", "--timeout", "2m", "--poll-interval", "20ms")...)
	wantOK(t, r)
	if !regexp.MustCompile(`^Deploying service mysvc to inference cluster myaks \(generation 1\)\.\nTransitioning\.*\nHealthy\n` +
		`AKS service creation operation finished, operation "Succeeded"\n` +
		`Scoring URI: http://[0-9.]+:80/api/v1/service/mysvc/score\nSwagger URI: http://[0-9.]+:80/api/v1/service/mysvc/swagger\.json\n$`).MatchString(r.stdout) {
		t.Fatalf("deploy --wait transcript:\n%s", r.stdout)
	}

	show := s.ok(with("service", "show", "mysvc")...)
	for _, w := range []string{"Service mysvc: Healthy\n", "compute", "myaks", "mymodel", "score.py", "auth", "key", "MODE=test",
		"the quickstart's model", "Replica", "Running"} {
		if !strings.Contains(show, w) {
			t.Errorf("show lacks %q:\n%s", w, show)
		}
	}
	var svc api.Service
	decode(t, s.ok(with("service", "show", "mysvc", "-o", "json")...), &svc)
	if p := svc.Properties; p.State != api.ServiceHealthy || p.NumReplicas == nil || *p.NumReplicas != 1 || len(p.Replicas) != 1 ||
		p.EntryScript.Name != "score.py" || p.EnvironmentVariables["MODE"] != "test" {
		t.Errorf("show -o json: %+v", p)
	}
	if list := s.ok(with("service", "list")...); !regexp.MustCompile(`(?m)^mysvc +Healthy +myaks +mymodel +1 +key +http://`).MatchString(list) {
		t.Errorf("list:\n%s", list)
	}

	// Score from the allowed network (the default client address,
	// 203.0.113.10): the primary key is fetched and sent.
	var probs []float64
	decode(t, s.ok(with("service", "score", "mysvc", "--data", request)...), &probs)
	if len(probs) != 2 || probs[0] < 0.5 || probs[1] > 0.5 {
		t.Errorf("score: %v", probs)
	}
	dataFile := script(t, "request.json", request)
	decode(t, s.ok(with("service", "score", "mysvc", "--data-file", dataFile, "--from", "203.0.113.77")...), &probs)
	// From elsewhere: the NSG refuses the call, naming the rule.
	wantFail(t, s.run(with("service", "score", "mysvc", "--data", request, "--from", "8.8.8.8")...), exitInput,
		"ConnectionDenied (--from)", "Scoring service mysvc from 8.8.8.8 was refused by the network", "DenyAllInBound", "admit your network on TCP 80")

	// Keys: the old primary key is refused once regenerated; the
	// secondary one goes on working.
	var keys api.ServiceKeys
	decode(t, s.ok(with("service", "get-keys", "mysvc", "-o", "json")...), &keys)
	if keys.PrimaryKey == "" || keys.SecondaryKey == "" || keys.PrimaryKey == keys.SecondaryKey {
		t.Fatalf("get-keys: %+v", keys)
	}
	if out := s.ok(with("service", "get-keys", "mysvc")...); !strings.Contains(out, keys.PrimaryKey) || !strings.HasPrefix(out, "PrimaryKey ") {
		t.Errorf("get-keys:\n%s", out)
	}
	out := s.ok(with("service", "regen-key", "mysvc", "--key", "primary")...)
	if !strings.HasPrefix(out, "Regenerated the primary key of service mysvc") || strings.Contains(out, keys.PrimaryKey) || !strings.Contains(out, keys.SecondaryKey) {
		t.Errorf("regen-key:\n%s", out)
	}
	wantFail(t, s.run(with("service", "score", "mysvc", "--data", request, "--key", keys.PrimaryKey)...), exitInternal,
		"service mysvc answered 401 Unauthorized", "the key or token is not this service's")
	s.ok(with("service", "score", "mysvc", "--data", request, "--key", keys.SecondaryKey)...)
	s.ok(with("service", "score", "mysvc", "--data", request)...) // the new primary key
	// A body run() cannot read: its traceback, exit 1.
	wantFail(t, s.run(with("service", "score", "mysvc", "--data", `{"rows": []}`)...), exitInternal, "service mysvc answered 500", "KeyError")
	if logs := s.ok(with("service", "logs", "mysvc")...); !strings.Contains(logs, "KeyError") {
		t.Errorf("logs lack run()'s traceback:\n%s", logs)
	}

	// Token auth: score fetches a token.
	s.ok(with("service", "deploy", "toksvc", "--compute", "myaks", "--model", "mymodel:1", "--entry", entry, "--num-replicas", "1",
		"--token-auth", "--wait", "--timeout", "2m", "--poll-interval", "20ms")...)
	var tok api.ServiceToken
	decode(t, s.ok(with("service", "get-token", "toksvc", "-o", "json")...), &tok)
	if !strings.HasPrefix(tok.AccessToken, "vnt.") || !tok.RefreshAfter.Before(tok.ExpiryOn) {
		t.Errorf("get-token: %+v", tok)
	}
	s.ok(with("service", "score", "toksvc", "--data", request)...)
	s.ok(with("service", "score", "toksvc", "--data", request, "--key", tok.AccessToken)...)
	wantFail(t, s.run(with("service", "get-token", "mysvc")...), exitInput, "uses key auth, not tokens")
	// Redeployed without auth: a new generation, called with nothing.
	r = s.run(with("service", "deploy", "toksvc", "--compute", "myaks", "--model", "mymodel", "--entry", entry, "--num-replicas", "1",
		"--no-auth", "--wait", "--timeout", "2m", "--poll-interval", "20ms")...)
	wantOK(t, r)
	if !strings.HasPrefix(r.stdout, "Deploying service toksvc to inference cluster myaks (generation 2).\nTransitioning") {
		t.Errorf("redeploy --wait:\n%s", r.stdout)
	}
	decode(t, s.ok(with("service", "show", "toksvc", "-o", "json")...), &svc)
	if p := svc.Properties; authMode(p) != "none" || p.Generation != 2 || p.State != api.ServiceHealthy {
		t.Errorf("redeployed without auth: %+v", p)
	}
	s.ok(with("service", "score", "toksvc", "--data", request)...)

	// An init() that raises: Failed, with the traceback; exit 2.
	broken := script(t, "broken.py", brokenScore)
	r = s.run(with("service", "deploy", "badsvc", "--compute", "myaks", "--model", "mymodel", "--entry", broken, "--num-replicas", "1",
		"--wait", "--timeout", "2m", "--poll-interval", "20ms")...)
	wantFail(t, r, exitInput, "DeploymentFailed", "current service state: Failed", "Traceback", "RuntimeError: the model is not where init() looks",
		"vnetml service logs badsvc -w myworkspace")
	if !regexp.MustCompile(`\nTransitioning\.*\nFailed\n$`).MatchString(r.stdout) {
		t.Errorf("a failed deployment's transcript:\n%s", r.stdout)
	}
	if logs := s.ok(with("service", "logs", "badsvc")...); !strings.Contains(logs, "RuntimeError: the model is not where init() looks") {
		t.Errorf("logs of the failed service:\n%s", logs)
	}
	wantFail(t, s.run(with("service", "score", "badsvc", "--data", request)...), exitInternal, "service badsvc answered 503", "no ready replica")

	// What is not there is named with what is.
	wantFail(t, s.run(with("service", "show", "nosuch")...), exitInput, "NotFound (NAME)", "Service nosuch was not found in workspace myworkspace (known: badsvc, mysvc, toksvc)")
	wantFail(t, s.run(with("service", "get-keys", "nosuch")...), exitInput, "Service nosuch was not found")
	wantFail(t, s.run(with("service", "deploy", "other", "--compute", "myaks", "--model", "nomodel", "--entry", entry)...), exitInput,
		"(--model)", "model nomodel is not registered")
	wantFail(t, s.run(with("service", "deploy", "other", "--compute", "cpucluster", "--model", "mymodel", "--entry", entry)...), exitInput,
		"(--compute)", "web services are deployed to an inference cluster")

	// Delete: the scoring URI answers 404 after.
	for _, name := range []string{"mysvc", "toksvc", "badsvc"} {
		if out := s.ok(with("service", "delete", name)...); out != "Deleted service "+name+"\n" {
			t.Errorf("delete %s: %q", name, out)
		}
	}
	if out := s.ok(with("service", "delete", "mysvc")...); out != "Service mysvc did not exist\n" {
		t.Errorf("delete again: %q", out)
	}
	if out := s.ok(with("service", "list")...); out != "No services in workspace myworkspace: deploy one with `vnetml service deploy`.\n" {
		t.Errorf("list after delete: %q", out)
	}
}
