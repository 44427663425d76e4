package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/api"
)

// The model commands against a whole server: the quickstart's network,
// whose storage account admits the compute subnet and the default client
// address 203.0.113.10 only, and a run on cpucluster that writes a model.
func TestModelCommands(t *testing.T) {
	s := newRunServer(t)
	ws := []string{"-w", "myworkspace", "-g", "mygroup"}
	with := func(args ...string) []string { return append(args, ws...) }
	src := source(t, map[string]string{"train.sh": `mkdir -p outputs/bundle
printf '{"weights": [1, 2]}\n' > outputs/model.json
echo b > outputs/bundle/b.txt
`})
	wantOK(t, s.runCmd(ws, "submit", "-e", "train", "--compute", "cpucluster", "--source", src, "--datastore", "workspaceblobstore",
		"--run-id", "r1", "--stream", "--poll-interval", "50ms", "--", "sh", "train.sh"))

	// From the run's outputs: the run is found without -e.
	out := s.ok(with("model", "register", "--name", "mymodel", "--run", "r1", "--path", "outputs/model.json", "--tag", "stage=dev",
		"--property", "accuracy=0.9", "--description", "from the run")...)
	if out != "Registered model mymodel version 1: azureml://datastores/workspaceblobstore/paths/ExperimentRun/dcid.r1/outputs/model.json\n" {
		t.Errorf("register --run: %q", out)
	}
	// From a local file, uploaded through the firewall from 203.0.113.10.
	local := filepath.Join(t.TempDir(), "local.json")
	if err := os.WriteFile(local, []byte(`{"weights": [3]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out = s.ok(with("model", "register", "--name", "mymodel", "--file", local)...)
	if !regexp.MustCompile(`^Uploaded local\.json \(16 bytes\) to datastore workspaceblobstore as LocalUpload/\d+/local\.json\.\n` +
		`Registered model mymodel version 2: azureml://datastores/workspaceblobstore/paths/LocalUpload/\d+/local\.json\n$`).MatchString(out) {
		t.Errorf("register --file: %q", out)
	}
	// A folder of the run's outputs.
	s.ok(with("model", "register", "-n", "mymodel", "--run", "r1", "-e", "train", "--path", "outputs/bundle")...)

	list := s.ok(with("model", "list")...)
	if !regexp.MustCompile(`(?m)^mymodel +3 +\d{4}-`).MatchString(list) || !strings.HasPrefix(list, "Name ") {
		t.Errorf("list:\n%s", list)
	}
	versions := s.ok(with("model", "list", "--name", "mymodel")...)
	if !regexp.MustCompile(`(?s)mymodel +3 .*run r1 \(train\).*\nmymodel +2 .*datastore workspaceblobstore.*\nmymodel +1 .*run r1 \(train\) +stage=dev\n`).MatchString(versions) {
		t.Errorf("list --name, newest first:\n%s", versions)
	}
	show := s.ok(with("model", "show", "mymodel")...)
	if !strings.HasPrefix(show, "Model mymodel version 3\n") || !strings.Contains(show, "/paths/ExperimentRun/dcid.r1/outputs/bundle") {
		t.Errorf("show (latest):\n%s", show)
	}
	var v api.ModelVersion
	decode(t, s.ok(with("model", "show", "mymodel", "--version", "1", "-o", "json")...), &v)
	if p := v.Properties; p.Version != "1" || p.RunID != "r1" || p.ExperimentName != "train" || p.Tags["stage"] != "dev" ||
		p.Properties["accuracy"] != "0.9" || p.Description != "from the run" || p.CreatedBy != "admin" {
		t.Errorf("show --version 1 -o json: %+v", p)
	}

	// Download: a file, a folder.
	dest := t.TempDir()
	out = s.ok(with("model", "download", "mymodel", "--version", "1", "--dest", dest)...)
	if !strings.HasPrefix(out, "Downloaded model.json (20 bytes) to "+filepath.Join(dest, "model.json")) {
		t.Errorf("download --version 1: %q", out)
	}
	wantFile(t, filepath.Join(dest, "model.json"), []byte("{\"weights\": [1, 2]}\n"))
	dest = t.TempDir()
	s.ok(with("model", "download", "mymodel", "--dest", dest)...)
	wantFile(t, filepath.Join(dest, "bundle", "b.txt"), []byte("b\n"))
	dest = t.TempDir()
	s.ok(with("model", "download", "mymodel", "--version", "2", "--dest", dest)...)
	wantFile(t, filepath.Join(dest, "local.json"), []byte(`{"weights": [3]}`))

	// From an address the firewall does not admit: refused, with the
	// rule and the fix; nothing written.
	refused := t.TempDir()
	wantFail(t, s.run(with("model", "download", "mymodel", "--dest", refused, "--client-address", "198.51.100.7")...), exitInput,
		"AuthorizationFailure (--client-address)", "Downloading model mymodel version 3 from 198.51.100.7 was refused", "198.51.100.7",
		"vnetml storage account update mlquickstartstore --add-ip-rule 198.51.100.7/32")
	if ents, _ := os.ReadDir(refused); len(ents) != 0 {
		t.Errorf("a refused download wrote %v", ents)
	}
	wantFail(t, s.run(with("model", "register", "--name", "mymodel", "--file", local, "--client-address", "198.51.100.7")...), exitInput,
		"AuthorizationFailure (--client-address)", "Uploading local.json to datastore workspaceblobstore (storage account mlquickstartstore) from 198.51.100.7 was refused",
		"--add-ip-rule 198.51.100.7/32")

	// What is not there is named with what is.
	wantFail(t, s.run(with("model", "register", "--name", "mymodel", "--run", "r1", "--path", "outputs/nope.json")...), exitInput,
		"ModelPathNotFound (--path)", "Run r1 has no artifact outputs/nope.json", "outputs/model.json")
	wantFail(t, s.run(with("model", "show", "nosuch")...), exitInput, "(NAME)", "Model nosuch was not found in workspace myworkspace: its models are mymodel")
	wantFail(t, s.run(with("model", "show", "mymodel", "--version", "9")...), exitInput, "(--version)", "its versions are 1, 2, 3 (latest 3)")
	wantFail(t, s.run(with("model", "register", "--name", "mymodel", "--run", "nosuch", "--path", "outputs/model.json")...), exitInput,
		"(--run)", "Run nosuch was not found in workspace myworkspace")

	// Delete a version, then the model.
	if out := s.ok(with("model", "delete", "mymodel", "--version", "1")...); out != "Deleted model mymodel version 1\n" {
		t.Errorf("delete --version 1: %q", out)
	}
	if out := s.ok(with("model", "delete", "mymodel", "--version", "1")...); out != "Model mymodel version 1 did not exist\n" {
		t.Errorf("delete --version 1 again: %q", out)
	}
	if out := s.ok(with("model", "delete", "mymodel")...); out != "Deleted model mymodel with its versions\n" {
		t.Errorf("delete: %q", out)
	}
	if out := s.ok(with("model", "list")...); out != "No models in workspace myworkspace: register one with `vnetml model register`.\n" {
		t.Errorf("list after delete: %q", out)
	}
}
