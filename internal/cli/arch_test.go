package cli

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The CLI reaches a server only through the typed client (STYLE rule 10):
// it must not import the server, the store or the fabric.
func TestForbiddenImports(t *testing.T) {
	forbidden := []string{
		"github.com/vnetml/vnetml/internal/apiserver",
		"github.com/vnetml/vnetml/internal/store",
		"github.com/vnetml/vnetml/internal/fabric",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if path == bad || strings.HasPrefix(path, bad+"/") {
					t.Errorf("%s imports %s", name, path)
				}
			}
		}
	}
}
