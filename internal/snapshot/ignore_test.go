package snapshot

import (
	"strings"
	"testing"
)

// The rules of https://git-scm.com/docs/gitignore, one case each.
func TestIgnoreSemantics(t *testing.T) {
	type q struct {
		path  string
		isDir bool
		want  bool
	}
	for _, tc := range []struct {
		name   string
		file   string
		checks []q
	}{
		{"blank lines and comments", "\n# foo\n\n#bar\n", []q{{"foo", false, false}, {"#bar", false, false}, {"# foo", false, false}}},
		{"escaped hash", `\#foo`, []q{{"#foo", false, true}, {"foo", false, false}}},
		{"escaped bang", `\!important`, []q{{"!important", false, true}, {"important", false, false}}},
		{"hash not first", " #x", []q{{" #x", false, true}}},
		{"trailing spaces dropped", "foo   ", []q{{"foo", false, true}, {"foo   ", false, false}}},
		{"escaped trailing space kept", `foo\ `, []q{{"foo ", false, true}, {"foo", false, false}}},
		{"tab not trimmed", "foo\t", []q{{"foo\t", false, true}, {"foo", false, false}}},
		{"crlf", "foo\r\nbar\r\n", []q{{"foo", false, true}, {"bar", false, true}}},
		{"bom", "\xef\xbb\xbffoo", []q{{"foo", false, true}}},
		{"no slash matches at any depth", "foo", []q{{"foo", false, true}, {"a/foo", false, true}, {"a/b/foo", true, true}, {"foobar", false, false}}},
		{"trailing slash: directories only", "foo/", []q{{"foo", true, true}, {"foo", false, false}, {"a/foo", true, true}, {"foo/x", false, true}}},
		{"middle slash anchors", "doc/frotz", []q{{"doc/frotz", false, true}, {"a/doc/frotz", false, false}}},
		{"leading slash anchors", "/foo", []q{{"foo", false, true}, {"a/foo", false, false}}},
		{"star", "*.o", []q{{"a.o", false, true}, {"x/y/b.o", false, true}, {"a.oo", false, false}}},
		{"star stops at slash", "a/*.c", []q{{"a/x.c", false, true}, {"a/b/x.c", false, false}}},
		{"question mark", "?.txt", []q{{"a.txt", false, true}, {"ab.txt", false, false}}},
		{"question mark not slash", "a?b", []q{{"a/b", false, false}}},
		{"class", "[ab].c", []q{{"a.c", false, true}, {"b.c", false, true}, {"c.c", false, false}}},
		{"negated class", "[!ab].c", []q{{"c.c", false, true}, {"a.c", false, false}}},
		{"caret class", "[^ab].c", []q{{"c.c", false, true}, {"a.c", false, false}}},
		{"range", "[a-c]x", []q{{"bx", false, true}, {"dx", false, false}}},
		{"bracket first in class", "[]a]x", []q{{"]x", false, true}, {"ax", false, true}}},
		{"posix class", "[[:digit:]]x", []q{{"1x", false, true}, {"ax", false, false}}},
		{"unknown posix class matches nothing", "[[:bogus:]]x", []q{{"bx", false, false}}},
		{"unterminated class matches nothing", "[ab", []q{{"[ab", false, false}, {"a", false, false}}},
		{"leading double star", "**/foo", []q{{"foo", false, true}, {"a/foo", false, true}, {"a/b/foo", true, true}}},
		{"leading double star with path", "**/foo/bar", []q{{"foo/bar", false, true}, {"x/foo/bar", false, true}, {"x/foo/y/bar", false, false}}},
		{"trailing double star", "abc/**", []q{{"abc/x", false, true}, {"abc/x/y", false, true}, {"abc", true, false}}},
		{"middle double star", "a/**/b", []q{{"a/b", false, true}, {"a/x/b", false, true}, {"a/x/y/b", false, true}, {"a/xb", false, false}}},
		{"double star not between slashes is a star", "x/*a**\n!x/ba", []q{{"x/ca", false, true}, {"x/cac", false, true}, {"x/ba/c", false, false}}},
		// git compares the literal prefix "x/a" first and runs wildmatch
		// on "**", which then counts as preceded by a slash.
		{"double star after a literal prefix is git's", "x/a**\n!x/ab", []q{{"x/ab/c", false, true}}},
		{"negation re-includes", "*.log\n!keep.log", []q{{"a.log", false, true}, {"keep.log", false, false}}},
		{"last match wins", "!keep.log\n*.log", []q{{"keep.log", false, true}}},
		{"no re-include under excluded dir", "build/\n!build/keep", []q{{"build/keep", false, true}, {"build", true, true}}},
		{"re-include works when only contents are excluded", "build/*\n!build/keep", []q{{"build/keep", false, false}, {"build/x", false, true}}},
		{"lone bang matches nothing", "!", []q{{"x", false, false}}},
		{"lone slash matches nothing", "/", []q{{"x", true, false}}},
		{"trailing backslash matches nothing", `foo\`, []q{{"foo", false, false}, {`foo\`, false, false}}},
		{"case-sensitive", "Foo", []q{{"foo", false, false}, {"Foo", false, true}}},
		{"path with trailing slash is a directory", "foo/", []q{{"foo/", false, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ig, err := ParseIgnore([]byte(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tc.checks {
				if got := ig.Match(c.path, c.isDir); got != c.want {
					t.Errorf("%q: Match(%q, %v) = %v, want %v", tc.file, c.path, c.isDir, got, c.want)
				}
			}
		})
	}
}

func TestIgnoreNil(t *testing.T) {
	var ig *Ignore
	if ig.Match("x", false) {
		t.Error("a nil *Ignore matched")
	}
}

func TestParseIgnoreTooLarge(t *testing.T) {
	if _, err := ParseIgnore([]byte(strings.Repeat("x\n", maxIgnoreFile/2+1))); err == nil {
		t.Error("a file past git's size bound was accepted")
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	ig, err := ParseIgnore([]byte("*.o\n/build/\n!keep.o\ndocs/**/*.md\n[a-c]?x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { ig.Match("src/deep/dir/keep.o", false) }); n != 0 {
		t.Errorf("Match allocates %v times a call", n)
	}
}

func BenchmarkMatch(b *testing.B) {
	ig, err := ParseIgnore([]byte("*.o\n/build/\n!keep.o\ndocs/**/*.md\n[a-c]?x\n__pycache__/\n*.pyc\n"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ig.Match("src/model/layers/attention.py", false)
	}
}
