package snapshot

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The differential test: random trees and ignore files, each path's
// deciding line compared with `git check-ignore --no-index -v`'s.

var (
	// Names are chosen to meet the patterns' pieces, and to hold the
	// characters gitignore treats specially.
	gitNames = []string{"a", "b", "c", "ab", "ba", "abc", "a.o", "b.o", "x.txt", "a.txt",
		"#c", "!d", "a b", "a ", "[a]", "d\\e", "foo", "bar", "build", "Build", "-", "a-b", "é"}
	gitPieces = []string{"a", "b", "c", "ab", "a.o", ".o", ".txt", "x", "foo", "bar", "build", "é",
		"*", "*", "*", "?", "**", "**", "[ab]", "[!a]", "[^b]", "[a-c]", "[]a]", "[[:alpha:]]",
		"[[:punct:]]", "[[:space:]]", "[[:bogus:]]", "[a", "\\#", "\\!", "\\ ", "\\*", "\\", " ", "#", "!", "-", "[a-]"}
)

func randomName(r *rand.Rand) string { return gitNames[r.IntN(len(gitNames))] }

// randomPattern builds one line of an ignore file.
func randomPattern(r *rand.Rand) string {
	var b strings.Builder
	switch r.IntN(12) {
	case 0:
		return ""
	case 1:
		return "# a comment " + randomName(r)
	case 2:
		b.WriteString("!")
	}
	if r.IntN(4) == 0 {
		b.WriteString("/")
	}
	for n := 1 + r.IntN(3); n > 0; n-- {
		for k := 1 + r.IntN(2); k > 0; k-- {
			b.WriteString(gitPieces[r.IntN(len(gitPieces))])
		}
		if n > 1 {
			b.WriteString("/")
		}
	}
	switch r.IntN(6) {
	case 0:
		b.WriteString("/")
	case 1:
		b.WriteString("  ")
	case 2:
		b.WriteString("\\ ")
	case 3:
		b.WriteString("\r")
	}
	return b.String()
}

// randomTree returns a tree's paths: directories end in '/'.
func randomTree(r *rand.Rand) []string {
	seen := map[string]bool{}
	var out []string
	var fill func(dir string, depth int)
	fill = func(dir string, depth int) {
		for n := 1 + r.IntN(4); n > 0; n-- {
			p := path.Join(dir, randomName(r))
			if seen[p] || seen[p+"/"] {
				continue
			}
			if depth < 3 && r.IntN(3) == 0 {
				seen[p+"/"] = true
				out = append(out, p+"/")
				fill(p, depth+1)
				continue
			}
			seen[p] = true
			out = append(out, p)
		}
	}
	fill("", 0)
	return out
}

// gitCheckIgnore asks git which line of root's .gitignore decides each
// path (0: none).
func gitCheckIgnore(t *testing.T, root string, paths []string) map[string]int {
	t.Helper()
	var in bytes.Buffer
	for _, p := range paths {
		in.WriteString(p)
		in.WriteByte(0)
	}
	cmd := exec.Command("git", "-c", "core.ignorecase=false", "check-ignore", "--no-index", "-v", "-n", "-z", "--stdin")
	cmd.Dir = root
	cmd.Env = gitEnv(root)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && cmd.ProcessState.ExitCode() != 1 { // 1: nothing ignored
		t.Fatalf("git check-ignore: %v: %s", err, stderr.String())
	}
	fields := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(fields)%4 != 0 {
		t.Fatalf("git check-ignore -z: %d fields: %q", len(fields), out)
	}
	got := map[string]int{}
	for i := 0; i < len(fields); i += 4 {
		source, line, p := fields[i], fields[i+1], fields[i+3]
		n := 0
		if source != "" {
			if source != ".gitignore" {
				t.Fatalf("git used %s for %q; the test's environment leaks an ignore file", source, p)
			}
			n, _ = strconv.Atoi(line)
		}
		got[p] = n
	}
	return got
}

func gitEnv(home string) []string {
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null", "LC_ALL=C"}
	if p, ok := os.LookupEnv("PATH"); ok {
		env = append(env, "PATH="+p)
	}
	return env
}

func TestIgnoreMatchesGit(t *testing.T) {
	var gitHits, gitTotal int // how much of the test decides something
	defer func() { t.Logf("%d of %d paths decided by a line", gitHits, gitTotal) }()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed: the differential test needs `git check-ignore`")
	}
	trees := 300
	if testing.Short() {
		trees = 40
	}
	seed := uint64(1)
	if s := os.Getenv("SNAPSHOT_GIT_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	for i := range trees {
		root := t.TempDir()
		init := exec.Command("git", "init", "-q", root)
		init.Env = gitEnv(root)
		if out, err := init.CombinedOutput(); err != nil {
			t.Fatalf("git init: %v: %s", err, out)
		}
		var lines []string
		for n := 1 + r.IntN(8); n > 0; n-- {
			lines = append(lines, randomPattern(r))
		}
		file := strings.Join(lines, "\n")
		if r.IntN(2) == 0 {
			file += "\n"
		}
		if err := os.WriteFile(filepath.Join(root, ".gitignore"), []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		paths := append(randomTree(r), ".gitignore")
		for _, p := range paths {
			full := filepath.Join(root, filepath.FromSlash(p))
			if strings.HasSuffix(p, "/") {
				if err := os.MkdirAll(full, 0o755); err != nil {
					t.Fatal(err)
				}
			} else if p != ".gitignore" {
				if err := os.WriteFile(full, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		query := make([]string, len(paths))
		for k, p := range paths {
			query[k] = strings.TrimSuffix(p, "/")
		}
		want := gitCheckIgnore(t, root, query)
		ig, err := ParseIgnore([]byte(file))
		if err != nil {
			t.Fatal(err)
		}
		var bad []string
		for _, p := range paths {
			q := strings.TrimSuffix(p, "/")
			isDir := strings.HasSuffix(p, "/")
			got := 0
			if k := ig.decide(q, isDir); k >= 0 {
				got = ig.patterns[k].line
			}
			w, ok := want[q]
			if !ok {
				t.Fatalf("git said nothing of %q", q)
			}
			if w != 0 {
				gitHits++
			}
			gitTotal++
			if got != w {
				bad = append(bad, fmt.Sprintf("%q (dir %v): line %d, git says line %d", q, isDir, got, w))
			}
		}
		if len(bad) > 0 {
			slices.Sort(bad)
			t.Fatalf("seed %d tree %d: .gitignore:\n%s\n---\n%s", seed, i, numbered(file), strings.Join(bad, "\n"))
		}
	}
}

func numbered(file string) string {
	var b strings.Builder
	for i, l := range strings.Split(file, "\n") {
		fmt.Fprintf(&b, "%3d %q\n", i+1, l)
	}
	return b.String()
}
