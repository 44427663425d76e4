package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/vnetml/vnetml/"

// forbidden lists, per package directory (and its subpackages), imports it
// must not have.
var forbidden = map[string][]string{
	"internal/network":    {"net/http", "os", module + "internal/flow", module + "internal/store", module + "internal/apiserver"},
	"internal/servicetag": {"net/http", module + "internal/flow", module + "internal/store"},
	"internal/flow":       {"net/http", "os", "os/exec", "database/sql", module + "internal/store", module + "internal/apiserver", module + "internal/cli"},
	"internal/cli": {module + "internal/apiserver", module + "internal/store", module + "internal/fabric",
		module + "internal/daemon", module + "internal/auth"},
	"internal/store": {"net/http", module + "internal/flow", module + "internal/apiserver", module + "internal/cli"},
	// The client speaks the wire format only (DESIGN.md §2).
	"internal/client": {module + "internal/apiserver", module + "internal/store", module + "internal/flow",
		module + "internal/network", module + "internal/daemon", module + "internal/auth", module + "internal/cli"},
	"internal/api": {module + "internal/apiserver", module + "internal/store", module + "internal/flow",
		module + "internal/network", module + "internal/client", module + "internal/cli"},
	"internal/apiserver": {module + "internal/cli", module + "internal/daemon", module + "internal/client"},
	"internal/auth":      {"net/http", module + "internal/apiserver", module + "internal/cli", module + "internal/flow"},
	"internal/manifest":  {"net/http", "os", module + "internal/apiserver", module + "internal/store", module + "internal/client"},
	// The workspace data planes know the store, not the server around them.
	"internal/keyvault":  {module + "internal/apiserver", module + "internal/cli", module + "internal/daemon", module + "internal/client"},
	"internal/blobstore": {module + "internal/apiserver", module + "internal/cli", module + "internal/daemon", module + "internal/client", module + "internal/store"},
	// The front ends serve the stores through the fabric; the server
	// drives them, not the other way round.
	"internal/dataplane": {module + "internal/apiserver", module + "internal/store", module + "internal/cli",
		module + "internal/daemon", module + "internal/client"},
	// Request signing and the CA are libraries: both sides use them.
	"internal/storageauth": {"os", module + "internal/apiserver", module + "internal/store", module + "internal/cli",
		module + "internal/daemon", module + "internal/client", module + "internal/network", module + "internal/flow"},
	"internal/pki": {"net/http", module + "internal/apiserver", module + "internal/store", module + "internal/cli",
		module + "internal/daemon", module + "internal/client"},
	// Clusters and their agents are driven by the server, not the other
	// way round; the agent is a process of its own and knows nothing of
	// the network it is in.
	"internal/compute": {module + "internal/apiserver", module + "internal/store", module + "internal/cli",
		module + "internal/daemon", module + "internal/client"},
	"internal/nodeagent": {module + "internal/apiserver", module + "internal/store", module + "internal/cli",
		module + "internal/daemon", module + "internal/client", module + "internal/flow", module + "internal/fabric", module + "internal/compute"},
	// The data plane knows the engine, not the control plane.
	"internal/fabric": {module + "internal/apiserver", module + "internal/store", module + "internal/cli",
		module + "internal/daemon", module + "internal/client", module + "internal/auth"},
	// Runs ask the control plane through runs.Platform, never directly.
	"internal/runs": {module + "internal/apiserver", module + "internal/cli", module + "internal/daemon", module + "internal/client"},
	// The server-node contract is wire types only: the agent, the server
	// and the tests share it.
	"internal/job": {"net/http", module + "internal/apiserver", module + "internal/store", module + "internal/cli",
		module + "internal/daemon", module + "internal/client", module + "internal/fabric", module + "internal/compute", module + "internal/runs"},
	// Snapshots are packed by the CLI and unpacked by nodes: no server.
	"internal/snapshot": {"net/http", module + "internal/apiserver", module + "internal/store", module + "internal/daemon", module + "internal/client"},
}

// exceptions are subpackages whose own job needs what their parent may not.
var exceptions = map[string]bool{}

type pkg struct {
	dir     string
	imports map[string]bool
	hasDoc  bool
	files   int
}

func loadPackages(t *testing.T) map[string]*pkg {
	t.Helper()
	root := "../.."
	out := map[string]*pkg{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		p := out[rel]
		if p == nil {
			p = &pkg{dir: rel, imports: map[string]bool{}}
			out[rel] = p
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		test := strings.HasSuffix(path, "_test.go")
		if !test {
			p.files++
			for _, imp := range f.Imports {
				v, _ := strconv.Unquote(imp.Path.Value)
				p.imports[v] = true
			}
		}
		if f.Doc != nil && !test && strings.HasPrefix(strings.TrimSpace(f.Doc.Text()), "Package "+f.Name.Name) ||
			f.Doc != nil && f.Name.Name == "main" && strings.HasPrefix(strings.TrimSpace(f.Doc.Text()), "Command ") {
			p.hasDoc = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 5 {
		t.Fatalf("found only %d packages: is the walk rooted at the repository?", len(out))
	}
	return out
}

func TestForbiddenImports(t *testing.T) {
	for dir, p := range loadPackages(t) {
		for prefix, bad := range forbidden {
			if dir != prefix && !strings.HasPrefix(dir, prefix+"/") || exceptions[dir] {
				continue
			}
			for _, b := range bad {
				if p.imports[b] {
					t.Errorf("%s imports %s, which DESIGN.md §2 forbids for %s", dir, b, prefix)
				}
			}
		}
	}
}

func TestPackageDocs(t *testing.T) {
	for dir, p := range loadPackages(t) {
		if p.files > 0 && !p.hasDoc {
			t.Errorf("package %s has no doc comment saying what it owns (\"Package x ...\" or, for a command, \"Command x ...\")", dir)
		}
	}
}
