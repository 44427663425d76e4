package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
)

// fakeModels answers the model registry for model m (versions 1 and 3,
// latest 3) and model empty (every version deleted), and records the
// registrations and deletions it is sent.
type fakeModels struct {
	mu       sync.Mutex
	register []api.ModelRegisterRequest
	deleted  []string
}

func (f *fakeModels) serve(t *testing.T) *httptest.Server {
	t.Helper()
	version := func(n string) api.ModelVersion {
		return api.ModelVersion{ID: ModelVersionPath(testWS, "m", n), Name: n, Properties: api.ModelVersionProperties{ModelName: "m", Version: n,
			ModelURI: api.ModelURI("workspaceblobstore", "LocalUpload/1/model.json")}}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		f.mu.Lock()
		defer f.mu.Unlock()
		switch {
		case r.Method == http.MethodDelete:
			f.deleted = append(f.deleted, p)
			w.WriteHeader(http.StatusOK)
		case p == testWS+"/models":
			json.NewEncoder(w).Encode(map[string]any{"value": []api.Model{{Name: "z"}, {Name: "m"}}})
		case p == ModelPath(testWS, "m"):
			json.NewEncoder(w).Encode(api.Model{Name: "m", Properties: api.ModelProperties{LatestVersion: "3", NextVersion: "4"}})
		case p == ModelPath(testWS, "empty"):
			json.NewEncoder(w).Encode(api.Model{Name: "empty", Properties: api.ModelProperties{NextVersion: "2"}})
		case p == ModelPath(testWS, "m")+"/versions":
			json.NewEncoder(w).Encode(map[string]any{"value": []api.ModelVersion{version("1"), version("3")}})
		case p == ModelVersionPath(testWS, "m", "1") || p == ModelVersionPath(testWS, "m", "3"):
			json.NewEncoder(w).Encode(version(p[strings.LastIndexByte(p, '/')+1:]))
		case p == ModelPath(testWS, "m")+"/register" && r.Method == http.MethodPost:
			var in api.ModelRegisterRequest
			json.NewDecoder(r.Body).Decode(&in)
			f.register = append(f.register, in)
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(version("4"))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write(armerror.New("ResourceNotFound", "name", "no %s", p).MarshalEnvelope())
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestModelsClient(t *testing.T) {
	f := &fakeModels{}
	c, err := New(f.serve(t).URL, "tok", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	req := api.ModelRegisterRequest{Path: "outputs/model.json", RunID: "r1", ExperimentName: "exp", Tags: map[string]string{"a": "b"}}
	v, err := c.RegisterModel(ctx, testWS, "m", req)
	if err != nil || v.Name != "4" {
		t.Errorf("RegisterModel: %v %+v", err, v)
	}
	if diff := cmp.Diff([]api.ModelRegisterRequest{req}, f.register); diff != "" {
		t.Errorf("the registration sent (-want +got):\n%s", diff)
	}

	models, err := c.ListModels(ctx, testWS)
	if err != nil || len(models) != 2 || models[0].Name != "m" || models[1].Name != "z" {
		t.Errorf("ListModels, by name: %v %+v", err, models)
	}
	versions, err := c.ListModelVersions(ctx, testWS, "m")
	if err != nil || len(versions) != 2 || versions[1].Name != "3" {
		t.Errorf("ListModelVersions: %v %+v", err, versions)
	}
	// "" is the latest version, as the container says.
	for _, tc := range []struct{ asked, want string }{{"", "3"}, {"1", "1"}} {
		v, err := c.GetModelVersion(ctx, testWS, "m", tc.asked)
		if err != nil || v.Properties.Version != tc.want {
			t.Errorf("GetModelVersion(%q): %v %+v", tc.asked, err, v)
		}
	}
	if _, err := c.GetModelVersion(ctx, testWS, "empty", ""); armerror.Codes(err)[0] != "ResourceNotFound" || !strings.Contains(err.Error(), "no versions left") {
		t.Errorf("GetModelVersion of a model without versions: %v", err)
	}
	if _, err := c.GetModelVersion(ctx, testWS, "nosuch", ""); armerror.Codes(err)[0] != "ResourceNotFound" {
		t.Errorf("GetModelVersion of no model: %v", err)
	}
	if _, err := c.DeleteModelVersion(ctx, testWS, "m", "1"); err != nil {
		t.Error(err)
	}
	if _, err := c.DeleteModel(ctx, testWS, "m"); err != nil {
		t.Error(err)
	}
	if diff := cmp.Diff([]string{ModelVersionPath(testWS, "m", "1"), ModelPath(testWS, "m")}, f.deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
}

// localPath decides which blob names may be written under a download
// directory.
func TestLocalPath(t *testing.T) {
	for p, want := range map[string]bool{
		"model.json": true, "outputs/model.json": true, "a/b/c": true, "..x": true,
		"": false, "../x": false, "a/../../x": false, "/etc/passwd": false, "a\\b": false, "a//b": false, "a/./b": false, "dir/": false, ".": false,
	} {
		if got := localPath(p); got != want {
			t.Errorf("localPath(%q) = %v, want %v", p, got, want)
		}
	}
}
