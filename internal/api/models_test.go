package api

import (
	"strings"
	"testing"
)

func TestParseModelURI(t *testing.T) {
	for _, tc := range []struct {
		uri, ds, path string
		ok            bool
	}{
		{"azureml://datastores/workspaceblobstore/paths/outputs/model.json", "workspaceblobstore", "outputs/model.json", true},
		{"azureml://datastores/ds/paths/a/paths/b", "ds", "a/paths/b", true},
		{"azureml://datastores//paths/x", "", "", false},
		{"azureml://datastores/ds/paths/", "", "", false},
		{"azureml://datastores/a/b/paths/x", "", "", false},
		{"https://acct.blob.core.windows.net/c/x", "", "", false},
	} {
		ds, path, ok := ParseModelURI(tc.uri)
		if ds != tc.ds || path != tc.path || ok != tc.ok {
			t.Errorf("ParseModelURI(%q) = %q, %q, %v; want %q, %q, %v", tc.uri, ds, path, ok, tc.ds, tc.path, tc.ok)
		}
	}
}

// FuzzModelURI: a URI parses back into the datastore and path it was made
// of, whenever the datastore is a name (no '/').
func FuzzModelURI(f *testing.F) {
	f.Add("workspaceblobstore", "outputs/model.json")
	f.Add("ds", "a/paths/b")
	f.Fuzz(func(t *testing.T, ds, path string) {
		uri := ModelURI(ds, path)
		gotDS, gotPath, ok := ParseModelURI(uri)
		valid := ds != "" && path != "" && !strings.Contains(ds, "/")
		if ok != valid {
			t.Fatalf("ParseModelURI(%q) ok=%v, want %v", uri, ok, valid)
		}
		if ok && (gotDS != ds || gotPath != path) {
			t.Fatalf("ParseModelURI(ModelURI(%q, %q)) = %q, %q", ds, path, gotDS, gotPath)
		}
		if ok && ModelURI(gotDS, gotPath) != uri {
			t.Fatalf("round trip of %q", uri)
		}
	})
}
