package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/blobstore"
	"github.com/vnetml/vnetml/internal/runs"
)

// fakeRuns is the runs service as the model registry asks it: runs by id.
type fakeRuns struct {
	mu   sync.Mutex
	runs map[string]api.Run // by lower-case id
}

func (f *fakeRuns) add(r api.Run) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs[strings.ToLower(r.ID)] = r
}

func (f *fakeRuns) Get(_ context.Context, id string) (api.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.runs[strings.ToLower(id)]
	if !ok {
		return api.Run{}, armerror.New(runs.CodeNotFound, "", "Run %s was not found.", id)
	}
	return r, nil
}

func (f *fakeRuns) Submit(context.Context, runs.Submission) (api.Run, error) {
	return api.Run{}, armerror.New("NotSupported", "", "fake")
}
func (f *fakeRuns) List(context.Context, string, string) ([]api.Run, error) { return nil, nil }
func (f *fakeRuns) Experiments(context.Context, string) ([]json.RawMessage, error) {
	return nil, nil
}
func (f *fakeRuns) Cancel(context.Context, string) (api.Run, error) { return api.Run{}, nil }
func (f *fakeRuns) Logs(context.Context, string, int64, bool) (*runs.LogReader, error) {
	return nil, armerror.New("NotSupported", "", "fake")
}
func (f *fakeRuns) Metrics(context.Context, string) ([]api.RunMetric, error) { return nil, nil }
func (f *fakeRuns) DeleteWorkspace(context.Context, string) error            { return nil }

// modelEnv is a server with data planes and a runs service that knows
// two runs of experiment exp: r1 Completed, with outputs/model.json and
// outputs/extra/notes.txt in its artifacts, and r2 Running.
type modelEnv struct {
	*env
	runs      *fakeRuns
	account   string // the workspace's storage account (name)
	container string // workspaceblobstore's container
}

func newModelEnv(t *testing.T) *modelEnv {
	t.Helper()
	fr := &fakeRuns{runs: map[string]api.Run{}}
	e := &env{t: t, dir: t.TempDir(), data: &dataParts{runs: fr}}
	e.start()
	t.Cleanup(e.stop)
	e.must(201, "PUT", rg, groupBody)
	w := e.must(201, "PUT", workspace, `{"location": "eastus"}`).json(t)
	accountID := w["properties"].(map[string]any)["storageAccount"].(string)
	var ds struct {
		Properties struct{ AccountName, ContainerName string }
	}
	if err := json.Unmarshal(e.must(200, "GET", workspace+"/datastores/workspaceblobstore", nil).body, &ds); err != nil {
		t.Fatal(err)
	}
	m := &modelEnv{env: e, runs: fr, account: strings.ToLower(ds.Properties.AccountName), container: ds.Properties.ContainerName}
	ctx := context.Background()
	if err := e.data.blobs.CreateContainer(ctx, m.account, m.container); err != nil {
		t.Fatal(err)
	}
	m.blob("ExperimentRun/dcid.r1/outputs/model.json", `{"weights": [1, 2]}`)
	m.blob("ExperimentRun/dcid.r1/outputs/extra/notes.txt", "notes")
	m.blob("LocalUpload/1700000000/model.json", `{"weights": [3]}`)
	outputs := func(id string) *api.RunOutputs {
		return &api.RunOutputs{Datastore: "workspaceblobstore", Account: accountID, Container: m.container, Prefix: "ExperimentRun/dcid." + id + "/outputs/"}
	}
	for _, r := range []struct{ id, status string }{{"r1", "Completed"}, {"r2", "Running"}} {
		fr.add(api.Run{ID: workspace + "/experiments/exp/runs/" + r.id, Name: r.id, Type: api.TypeRun, Properties: api.RunProperties{
			RunID: r.id, Experiment: "exp", Status: r.status, Outputs: outputs(r.id), OutputFiles: []string{"model.json", "extra/notes.txt"}}})
	}
	return m
}

// blob writes a blob of the workspace's blob datastore.
func (m *modelEnv) blob(name, body string) {
	m.t.Helper()
	if _, err := m.data.blobs.PutBlob(context.Background(), m.account, m.container, name, strings.NewReader(body), blobstore.PutOptions{}); err != nil {
		m.t.Fatal(err)
	}
}

// register posts a registration and decodes the version.
func (m *modelEnv) register(status int, name string, body any) api.ModelVersion {
	m.t.Helper()
	var v api.ModelVersion
	if err := json.Unmarshal(m.must(status, "POST", workspace+"/models/"+name+"/register", body).body, &v); err != nil {
		m.t.Fatal(err)
	}
	return v
}

func (m *modelEnv) model(name string) api.Model {
	m.t.Helper()
	var out api.Model
	if err := json.Unmarshal(m.must(200, "GET", workspace+"/models/"+name, nil).body, &out); err != nil {
		m.t.Fatal(err)
	}
	return out
}

func (m *modelEnv) versions(name string) []string {
	m.t.Helper()
	var page struct{ Value []api.ModelVersion }
	if err := json.Unmarshal(m.must(200, "GET", workspace+"/models/"+name+"/versions", nil).body, &page); err != nil {
		m.t.Fatal(err)
	}
	var out []string
	for _, v := range page.Value {
		out = append(out, v.Name)
	}
	return out
}

// TestModelRegistry: versions from a run's outputs (a file, a folder) and
// from a datastore path, numbered 1, 2, …; the container follows the
// latest; a deleted number is not reused; deleting the model deletes its
// versions, not its files.
func TestModelRegistry(t *testing.T) {
	m := newModelEnv(t)
	v := m.register(201, "mymodel", `{"path": "outputs/model.json", "runId": "r1", "experimentName": "exp",
		"description": "first", "tags": {"stage": "dev"}, "properties": {"accuracy": "0.9"}}`)
	p := v.Properties
	if v.Name != "1" || p.Version != "1" || p.ModelName != "mymodel" || v.Type != api.TypeModelVersion || v.Etag == "" ||
		p.ModelURI != "azureml://datastores/workspaceblobstore/paths/ExperimentRun/dcid.r1/outputs/model.json" ||
		p.RunID != "r1" || p.ExperimentName != "exp" || p.CreatedBy != "admin" || p.CreatedTime.IsZero() ||
		p.Tags["stage"] != "dev" || p.Properties["accuracy"] != "0.9" || p.Description != "first" {
		t.Errorf("version 1: %+v", v)
	}
	if ds, path, ok := api.ParseModelURI(p.ModelURI); !ok || ds != "workspaceblobstore" || path != "ExperimentRun/dcid.r1/outputs/model.json" {
		t.Errorf("ParseModelURI(%q) = %q, %q, %v", p.ModelURI, ds, path, ok)
	}
	c := m.model("mymodel")
	if c.Properties.LatestVersion != "1" || c.Properties.NextVersion != "2" || c.Properties.Description != "first" || c.Type != api.TypeModel {
		t.Errorf("container: %+v", c)
	}

	// From a datastore (the default, workspaceblobstore), a folder of a
	// run's outputs (trailing slash allowed).
	v = m.register(201, "mymodel", `{"path": "LocalUpload/1700000000/model.json"}`)
	if v.Name != "2" || v.Properties.ModelURI != "azureml://datastores/workspaceblobstore/paths/LocalUpload/1700000000/model.json" || v.Properties.RunID != "" {
		t.Errorf("version 2: %+v", v)
	}
	v = m.register(201, "mymodel", `{"path": "outputs/extra/", "runId": "r1", "experimentName": "exp"}`)
	if v.Name != "3" || !strings.HasSuffix(v.Properties.ModelURI, "/paths/ExperimentRun/dcid.r1/outputs/extra") {
		t.Errorf("version 3: %+v", v)
	}
	if got := m.versions("mymodel"); !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Errorf("versions: %v", got)
	}
	var one api.ModelVersion
	json.Unmarshal(m.must(200, "GET", workspace+"/models/mymodel/versions/2", nil).body, &one)
	if one.Properties.Version != "2" {
		t.Errorf("GET version 2: %+v", one)
	}

	// Deleting the latest: the container falls back, and 3 is not reused.
	m.must(200, "DELETE", workspace+"/models/mymodel/versions/3", nil)
	m.must(204, "DELETE", workspace+"/models/mymodel/versions/3", nil)
	if c := m.model("mymodel"); c.Properties.LatestVersion != "2" || c.Properties.NextVersion != "4" {
		t.Errorf("after deleting 3: %+v", c.Properties)
	}
	if v := m.register(201, "mymodel", `{"path": "outputs/model.json", "runId": "r1", "experimentName": "exp"}`); v.Name != "4" {
		t.Errorf("after deleting 3 the next is %s, want 4", v.Name)
	}
	m.register(201, "other.model_v-2", `{"path": "LocalUpload/1700000000/model.json", "datastore": "workspaceblobstore"}`)
	var list struct{ Value []api.Model }
	json.Unmarshal(m.must(200, "GET", workspace+"/models", nil).body, &list)
	if len(list.Value) != 2 {
		t.Errorf("list: %+v", list.Value)
	}

	// Deleting the model deletes its versions; the files stay.
	m.must(200, "DELETE", workspace+"/models/mymodel", nil)
	m.must(404, "GET", workspace+"/models/mymodel/versions/1", nil)
	if _, err := m.data.blobs.BlobProperties(context.Background(), m.account, m.container, "ExperimentRun/dcid.r1/outputs/model.json"); err != nil {
		t.Errorf("the model's file went with it: %v", err)
	}
	// A new model of the name starts again at 1.
	if v := m.register(201, "mymodel", `{"path": "outputs/model.json", "runId": "r1", "experimentName": "exp"}`); v.Name != "1" {
		t.Errorf("a new model starts at %s", v.Name)
	}
	// Deleting every version leaves the model, with no latest version.
	m.must(200, "DELETE", workspace+"/models/mymodel/versions/1", nil)
	if c := m.model("mymodel"); c.Properties.LatestVersion != "" || c.Properties.NextVersion != "2" {
		t.Errorf("with no versions: %+v", c.Properties)
	}
	if got := m.versions("mymodel"); len(got) != 0 {
		t.Errorf("versions left: %v", got)
	}

	// The workspace takes its models with it.
	m.must(200, "DELETE", workspace, nil)
	m.must(404, "GET", workspace+"/models/other.model_v-2", nil)
}

// TestModelRegisterConcurrent: registrations racing for one name get
// distinct, consecutive versions.
func TestModelRegisterConcurrent(t *testing.T) {
	m := newModelEnv(t)
	const n = 16
	cl := m.apiClient()
	got := make(chan string, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req := api.ModelRegisterRequest{Path: "outputs/model.json", RunID: "r1", ExperimentName: "exp", Tags: map[string]string{"i": strconv.Itoa(i)}}
			if i%2 == 1 {
				req = api.ModelRegisterRequest{Path: "LocalUpload/1700000000/model.json"}
			}
			v, err := cl.RegisterModel(context.Background(), workspace, "racer", req)
			if err != nil {
				errs <- err
				return
			}
			got <- v.Name
		})
	}
	wg.Wait()
	close(got)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var nums []int
	for v := range got {
		k, _ := strconv.Atoi(v)
		nums = append(nums, k)
	}
	slices.Sort(nums)
	for i, k := range nums {
		if k != i+1 {
			t.Fatalf("versions %v, want 1..%d each once", nums, n)
		}
	}
	if c := m.model("racer"); c.Properties.LatestVersion != strconv.Itoa(n) {
		t.Errorf("latest %s, want %d", c.Properties.LatestVersion, n)
	}
	if got := m.versions("racer"); len(got) != n || got[n-1] != strconv.Itoa(n) || got[9] != "10" {
		t.Errorf("versions in order: %v", got)
	}
}

// TestModelRegisterRefusals: each bad registration is refused with its
// code, target and what to do; nothing is created.
func TestModelRegisterRefusals(t *testing.T) {
	m := newModelEnv(t)
	tags := map[string]string{}
	for i := range api.MaxModelTags + 1 {
		tags[fmt.Sprint("k", i)] = "v"
	}
	cases := []struct {
		name, model string
		body        any
		status      int
		code        string
		target      string
		says        []string
	}{
		{"bad name", "-bad", `{"path": "LocalUpload/1700000000/model.json"}`, 400, "InvalidParameter", "name", []string{"starting with a letter or digit"}},
		{"long name", strings.Repeat("a", 256), `{"path": "LocalUpload/1700000000/model.json"}`, 400, "InvalidParameter", "name", []string{"1-255"}},
		{"no path", "m", `{}`, 400, "InvalidParameter", "path", []string{"path is required"}},
		{"absolute path", "m", `{"path": "/etc/passwd"}`, 400, "InvalidParameter", "path", []string{"relative"}},
		{"dot-dot", "m", `{"path": "outputs/../../x", "runId": "r1", "experimentName": "exp"}`, 400, "InvalidParameter", "path", []string{"'..'"}},
		{"backslash", "m", `{"path": "outputs\\model.json"}`, 400, "InvalidParameter", "path", []string{"'/'"}},
		{"run and datastore", "m", `{"path": "outputs/model.json", "runId": "r1", "experimentName": "exp", "datastore": "workspaceblobstore"}`, 400, "InvalidParameter", "datastore", []string{"not both"}},
		{"run without experiment", "m", `{"path": "outputs/model.json", "runId": "r1"}`, 400, "InvalidParameter", "experimentName", []string{"required with runId"}},
		{"experiment without run", "m", `{"path": "outputs/model.json", "experimentName": "exp"}`, 400, "InvalidParameter", "runId", []string{"give runId too"}},
		{"too many tags", "m", api.ModelRegisterRequest{Path: "LocalUpload/1700000000/model.json", Tags: tags}, 400, "InvalidParameter", "tags", []string{"the limit is 50"}},
		{"long property", "m", api.ModelRegisterRequest{Path: "LocalUpload/1700000000/model.json", Properties: map[string]string{"p": strings.Repeat("x", 1025)}},
			400, "InvalidParameter", "properties.p", []string{"the limit is 1024"}},
		{"unknown field", "m", `{"path": "x", "tag": {}}`, 400, "InvalidRequestContent", "tag", []string{`"tags"`}},
		{"several at once", "-", `{"path": "/x"}`, 400, "InvalidRequestContent", "", []string{"2 errors"}},
		{"running run", "m", `{"path": "outputs/model.json", "runId": "r2", "experimentName": "exp"}`, 400, "RunNotCompleted", "runId", []string{"Run r2 is Running", "wait for it"}},
		{"unknown run", "m", `{"path": "outputs/model.json", "runId": "r9", "experimentName": "exp"}`, 404, "ResourceNotFound", "runId", []string{"Run r9 was not found in experiment exp", "vnetml run list"}},
		{"missing output", "m", `{"path": "outputs/nope.json", "runId": "r1", "experimentName": "exp"}`, 400, "ModelPathNotFound", "path",
			[]string{"Run r1 has no artifact outputs/nope.json", "outputs/model.json, outputs/extra/notes.txt"}},
		{"prefix is no folder", "m", `{"path": "outputs/model", "runId": "r1", "experimentName": "exp"}`, 400, "ModelPathNotFound", "path", nil},
		{"missing blob", "m", `{"path": "LocalUpload/nope.json"}`, 400, "ModelPathNotFound", "path",
			[]string{"Datastore workspaceblobstore", "holds no file LocalUpload/nope.json", "vnetml model register --file"}},
		{"unknown datastore", "m", `{"path": "x", "datastore": "nosuch"}`, 404, "ResourceNotFound", "datastore", []string{"its datastores are workspaceblobstore, workspacefilestore"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := m.with(t).call("POST", workspace+"/models/"+tc.model+"/register", tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			er := r.errorOf(t)
			if er.Code != tc.code {
				t.Errorf("code %s, want %s: %s", er.Code, tc.code, r.body)
			}
			target := er.Target
			if tc.code == "InvalidRequestContent" && len(er.Details) > 0 {
				target = er.Details[0].Target
			}
			if tc.target != "" && target != tc.target {
				t.Errorf("target %q, want %q: %s", target, tc.target, r.body)
			}
			for _, s := range tc.says {
				if !strings.Contains(er.Error(), s) {
					t.Errorf("the error does not say %q: %s", s, r.body)
				}
			}
		})
	}
	var list struct{ Value []api.Model }
	json.Unmarshal(m.must(200, "GET", workspace+"/models", nil).body, &list)
	if len(list.Value) != 0 {
		t.Errorf("refused registrations created %+v", list.Value)
	}
	// A workspace that does not exist.
	m.wantError(404, "ParentResourceNotFound", "POST", rg+"/providers/Microsoft.MachineLearningServices/workspaces/nows/models/m/register",
		`{"path": "LocalUpload/1700000000/model.json"}`)
}

// TestModelNotFound: a missing model, version or workspace is a 404
// that says what there is.
func TestModelNotFound(t *testing.T) {
	m := newModelEnv(t)
	er := m.wantError(404, "ResourceNotFound", "GET", workspace+"/models/mymodel", nil)
	if !strings.Contains(er.Message, "it has no models yet") || !strings.Contains(er.Message, "vnetml model register --name mymodel") {
		t.Errorf("no models: %s", er.Message)
	}
	m.register(201, "alpha", `{"path": "LocalUpload/1700000000/model.json"}`)
	m.register(201, "alpha", `{"path": "LocalUpload/1700000000/model.json"}`)
	m.register(201, "beta", `{"path": "LocalUpload/1700000000/model.json"}`)
	for _, path := range []string{"/models/gamma", "/models/gamma/versions", "/models/gamma/versions/1"} {
		er = m.wantError(404, "ResourceNotFound", "GET", workspace+path, nil)
		if er.Target != "name" || !strings.Contains(er.Message, "Model gamma was not found in workspace myws: its models are alpha, beta") {
			t.Errorf("GET %s: %+v", path, er)
		}
	}
	er = m.wantError(404, "ResourceNotFound", "GET", workspace+"/models/alpha/versions/7", nil)
	if er.Target != "version" || !strings.Contains(er.Message, "Model alpha has no version 7 in workspace myws: its versions are 1, 2 (latest 2)") {
		t.Errorf("GET version 7: %+v", er)
	}
	m.wantError(404, "ParentResourceNotFound", "GET", rg+"/providers/Microsoft.MachineLearningServices/workspaces/nows/models", nil)
	m.wantError(404, "ParentResourceNotFound", "GET", rg+"/providers/Microsoft.MachineLearningServices/workspaces/nows/models/alpha", nil)
	m.must(204, "DELETE", workspace+"/models/gamma", nil)
	m.wantError(405, "MethodNotAllowed", "PUT", workspace+"/models/alpha", `{}`)
}

// TestModelRegisterNeedsRuns: a server without a runs service refuses a
// registration from a run, and says why.
func TestModelRegisterNeedsRuns(t *testing.T) {
	e := newDataEnv(t)
	e.must(201, "PUT", rg, groupBody)
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.wantError(503, "ServiceUnavailable", "POST", workspace+"/models/m/register", `{"path": "outputs/model.json", "runId": "r1", "experimentName": "exp"}`)
}

// TestModelFilesThroughTheFirewall: the client uploads a model (a file,
// a directory) to a datastore on a firewalled storage account from an
// address its ipRules admit, registers it, and downloads it into a
// directory; from an address they do not admit, the download is refused
// by the firewall with the rule.
func TestModelFilesThroughTheFirewall(t *testing.T) {
	e := newDataEnv(t)
	e.firewalledNetwork() // mlstore admits 203.0.113.0/24
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.must(201, "PUT", workspace+"/datastores/models", `{"properties": {"datastoreType": "AzureBlob", "accountName": "mlstore", "containerName": "models"}}`)
	ctx := context.Background()
	c := e.apiClient()
	ds, err := c.GetDatastore(ctx, workspace, "models")
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "model.json"), `{"w": 1}`)
	writeFile(t, filepath.Join(src, "bundle", "weights.bin"), "weights")
	writeFile(t, filepath.Join(src, "bundle", "conf", "c.yaml"), "c: 1")

	inside, err := c.DataPlane(ctx, "203.0.113.10")
	if err != nil {
		t.Fatal(err)
	}
	var versions []api.ModelVersion
	for _, local := range []string{filepath.Join(src, "model.json"), filepath.Join(src, "bundle")} {
		path, files, err := c.UploadModel(ctx, inside, ds, local, "LocalUpload/1700000000", nil)
		if err != nil {
			t.Fatalf("uploading %s: %v", local, err)
		}
		if want := "LocalUpload/1700000000/" + filepath.Base(local); path != want || len(files) == 0 {
			t.Fatalf("UploadModel(%s) = %q, %v; want %q", local, path, files, want)
		}
		v, err := c.RegisterModel(ctx, workspace, "fw", api.ModelRegisterRequest{Path: path, Datastore: "models"})
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}

	for i, want := range []map[string]string{
		{"model.json": `{"w": 1}`},
		{"bundle/weights.bin": "weights", "bundle/conf/c.yaml": "c: 1"},
	} {
		dest := t.TempDir()
		root, err := os.OpenRoot(dest)
		if err != nil {
			t.Fatal(err)
		}
		files, skipped, err := c.DownloadModel(ctx, inside, workspace, versions[i], root, nil)
		root.Close()
		if err != nil || len(skipped) != 0 || len(files) != len(want) {
			t.Fatalf("DownloadModel of version %s: %v, files %v, skipped %v", versions[i].Name, err, files, skipped)
		}
		for p, body := range want {
			b, err := os.ReadFile(filepath.Join(dest, filepath.FromSlash(p)))
			if err != nil || string(b) != body {
				t.Errorf("version %s: %s = %q, %v; want %q", versions[i].Name, p, b, err, body)
			}
		}
		if left, _ := filepath.Glob(filepath.Join(dest, "*.part")); len(left) != 0 {
			t.Errorf("partial files left: %v", left)
		}
	}

	outside, err := c.DataPlane(ctx, "198.51.100.77")
	if err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	root, err := os.OpenRoot(dest)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	_, _, err = c.DownloadModel(ctx, outside, workspace, versions[0], root, nil)
	wantCode(t, "a download from outside the ipRules", err, "AuthorizationFailure", "198.51.100.77")
	if ents, _ := os.ReadDir(dest); len(ents) != 0 {
		t.Errorf("a refused download wrote %v", ents)
	}
	_, _, err = c.UploadModel(ctx, outside, ds, filepath.Join(src, "model.json"), "LocalUpload/1700000001", nil)
	wantCode(t, "an upload from outside the ipRules", err, "AuthorizationFailure", "198.51.100.77")
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
