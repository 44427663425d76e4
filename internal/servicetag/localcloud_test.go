package servicetag

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite localcloud.json from generateLocalCloud")

// The built-in file is generated; this keeps the committed rendering equal to
// the generator, and checks it loads.
func TestLocalCloudFile(t *testing.T) {
	want := renderLocalCloud()
	if *update {
		if err := os.WriteFile("localcloud.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(localCloudJSON, want) {
		t.Fatal("localcloud.json is stale: run go test ./internal/servicetag -run TestLocalCloudFile -update")
	}
	r := LocalCloud()
	if !r.IsLocalCloud() {
		t.Error("LocalCloud().IsLocalCloud() = false")
	}
	for name, want := range map[string]string{
		"BatchNodeManagement.EastUS":   "198.18.3.0/24",
		"storage.eastus":               "198.18.1.0/24",
		"AzureMachineLearning.WestUS2": "198.18.32.0/24",
		"AzureActiveDirectory":         "198.19.0.0/24",
	} {
		tag, ok := r.Lookup(name)
		if !ok || len(tag.V4) != 1 || tag.V4[0].String() != want {
			t.Errorf("Lookup(%q) = %+v, %v; want one prefix %s", name, tag, ok, want)
		}
	}
}
