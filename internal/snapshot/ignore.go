package snapshot

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
)

// maxIgnoreFile is the largest ignore file ParseIgnore reads; git ignores
// pattern files past the same size (PATTERN_MAX_FILE_SIZE in git's dir.c).
const maxIgnoreFile = 100 << 20

// Ignore is a compiled root ignore file (.amlignore or .gitignore). It
// follows git's gitignore rules (https://git-scm.com/docs/gitignore) for a
// file at the root of the tree, ported from git's dir.c and wildmatch.c so
// that the corner cases (escapes, trailing spaces, "**" at a literal
// prefix's end, bracket classes) agree with `git check-ignore`; ignore
// files in subdirectories are not read. Matching is case-sensitive, as git
// is with core.ignoreCase=false.
//
// An Ignore is immutable once built and safe for concurrent use. A nil
// *Ignore matches nothing.
type Ignore struct {
	patterns []pattern
}

// pattern is one line of an ignore file, parsed as git's
// parse_path_pattern does.
type pattern struct {
	text string // without a leading '!' and a trailing '/'
	line int    // 1-based line in the file
	// prefix is the length of text's leading run without glob specials
	// ('*', '?', '[', '\\'): compared as a literal before wildmatch runs.
	prefix    int
	negative  bool // "!pattern": re-includes
	mustBeDir bool // "pattern/": matches directories only
	noDir     bool // no '/' but a trailing one: matched against the base name
	endsWith  bool // "*literal": a suffix test
}

// ParseIgnore compiles the content of an ignore file. It never fails on
// content, as git never does (a pattern git could not match, such as an
// unterminated "[", matches nothing); it fails only on a file larger than
// 100 MiB, the size past which git ignores a pattern file.
func ParseIgnore(data []byte) (*Ignore, error) {
	if len(data) > maxIgnoreFile {
		return nil, armerror.New("IgnoreFileTooLarge", "",
			"the ignore file is %d bytes, more than git reads (%d); keep only patterns in it", len(data), maxIgnoreFile)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // git skips a UTF-8 BOM
	ig := &Ignore{}
	for lineno := 1; len(data) > 0; lineno++ {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if i := bytes.IndexByte(line, 0); i >= 0 {
			line = line[:i] // git holds lines as C strings
		}
		ig.patterns = append(ig.patterns, parsePattern(trimTrailingSpaces(string(line)), lineno))
	}
	return ig, nil
}

// trimTrailingSpaces drops trailing spaces that no backslash quotes, as
// git's trim_trailing_spaces: only ' ' (not tabs), and nothing at all when
// the line ends in a lone backslash.
func trimTrailingSpaces(s string) string {
	lastSpace := -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ':
			if lastSpace < 0 {
				lastSpace = i
			}
		case '\\':
			i++
			if i == len(s) {
				return s
			}
			lastSpace = -1
		default:
			lastSpace = -1
		}
	}
	if lastSpace >= 0 {
		return s[:lastSpace]
	}
	return s
}

func parsePattern(s string, line int) pattern {
	p := pattern{line: line}
	if strings.HasPrefix(s, "!") {
		p.negative = true
		s = s[1:]
	}
	p.endsWith = strings.HasPrefix(s, "*") && simpleLength(s[1:]) == len(s)-1
	p.prefix = simpleLength(s)
	if strings.HasSuffix(s, "/") {
		s = s[:len(s)-1]
		p.mustBeDir = true
	}
	p.noDir = !strings.Contains(s, "/")
	p.prefix = min(p.prefix, len(s))
	p.text = s
	return p
}

func isGlobSpecial(c byte) bool { return c == '*' || c == '?' || c == '[' || c == '\\' }

// simpleLength is the length of s's leading run without glob specials.
func simpleLength(s string) int {
	for i := 0; i < len(s); i++ {
		if isGlobSpecial(s[i]) {
			return i
		}
	}
	return len(s)
}

// Match reports whether path is ignored. path is relative to the tree's
// root, '/'-separated (a trailing '/' marks a directory, as isDir does).
// As in git, a path under an ignored directory is ignored whatever later
// patterns say: a file cannot be re-included once a parent directory of
// it is excluded.
func (ig *Ignore) Match(path string, isDir bool) bool {
	k := ig.decide(path, isDir)
	return k >= 0 && !ig.patterns[k].negative
}

// String describes the rule set, for logs.
func (ig *Ignore) String() string {
	if ig == nil {
		return "no ignore rules"
	}
	return fmt.Sprintf("%d ignore rules", len(ig.patterns))
}

// decide returns the index of the pattern that decides path (as
// `git check-ignore -v` would name it), or -1 when none does.
func (ig *Ignore) decide(path string, isDir bool) int {
	if ig == nil || len(ig.patterns) == 0 {
		return -1
	}
	for strings.HasSuffix(path, "/") {
		path = path[:len(path)-1]
		isDir = true
	}
	path = strings.TrimLeft(path, "/")
	if path == "" {
		return -1
	}
	// Parent directories first, from the top, as git's prep_exclude: an
	// excluded parent decides for everything below it.
	for i := 0; i < len(path); i++ {
		if path[i] != '/' || i == 0 || path[i-1] == '/' {
			continue
		}
		if k := ig.last(path[:i], true); k >= 0 && !ig.patterns[k].negative {
			return k
		}
	}
	return ig.last(path, isDir)
}

// last is git's last_matching_pattern_from_list: the last pattern of the
// file that matches path itself.
func (ig *Ignore) last(path string, isDir bool) int {
	base := path[strings.LastIndexByte(path, '/')+1:]
	for k := len(ig.patterns) - 1; k >= 0; k-- {
		p := &ig.patterns[k]
		if p.mustBeDir && !isDir {
			continue
		}
		if p.noDir {
			if p.matchBasename(base) {
				return k
			}
			continue
		}
		if p.matchPathname(path) {
			return k
		}
	}
	return -1
}

// matchBasename is git's match_basename: a pattern without a slash
// matches a name at any depth.
func (p *pattern) matchBasename(base string) bool {
	switch {
	case p.prefix == len(p.text):
		return base == p.text
	case p.endsWith:
		return strings.HasSuffix(base, p.text[1:])
	}
	return wildmatch(p.text, base, false)
}

// matchPathname is git's match_pathname for the root ignore file: the
// pattern is anchored at the root; its literal prefix is compared first
// and wildmatch runs on the rest (which makes a "**" right after the
// prefix act as if a '/' preceded it, as in git).
func (p *pattern) matchPathname(path string) bool {
	pat, prefix := p.text, p.prefix
	if strings.HasPrefix(pat, "/") {
		pat, prefix = pat[1:], prefix-1
	}
	if path == "" {
		return false
	}
	name := path
	if prefix > 0 {
		if prefix > len(name) || pat[:prefix] != name[:prefix] {
			return false
		}
		pat, name = pat[prefix:], name[prefix:]
		if pat == "" && name == "" {
			return true
		}
	}
	return wildmatch(pat, name, true)
}

// wildmatch results, as git's wildmatch.c has them.
const (
	wmMatch = iota
	wmNoMatch
	wmAbortAll
	wmAbortToStarStar
)

// wildmatch reports whether text matches the glob pattern; with pathname
// (git's WM_PATHNAME) '*', '?' and classes do not match '/' and "**"
// between slashes matches any number of directories.
func wildmatch(pattern, text string, pathname bool) bool {
	return dowild(pattern, text, pathname) == wmMatch
}

// at is s[i], or 0 past the end: git's wildmatch walks C strings.
func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

// dowild is a port of git's dowild (wildmatch.c), kept line for line so
// that its results, aborts included, are git's.
func dowild(p, text string, pathname bool) int {
	pi, ti := 0, 0
	for ; pi < len(p); pi, ti = pi+1, ti+1 {
		pc := p[pi]
		tc := at(text, ti)
		if tc == 0 && pc != '*' {
			return wmAbortAll
		}
		switch pc {
		case '\\':
			// A literal match with the next character; a trailing
			// backslash (0) never matches, as tc is not 0 here.
			pi++
			if tc != at(p, pi) {
				return wmNoMatch
			}
			continue
		default:
			if tc != pc {
				return wmNoMatch
			}
			continue
		case '?':
			if pathname && tc == '/' {
				return wmNoMatch
			}
			continue
		case '*':
			var matchSlash bool
			pi++
			if at(p, pi) == '*' {
				prev := pi - 2
				for pi++; at(p, pi) == '*'; pi++ {
				}
				next := at(p, pi)
				if (prev < 0 || p[prev] == '/') &&
					(pi >= len(p) || next == '/' || (next == '\\' && at(p, pi+1) == '/')) {
					// "**/" may match no directory at all: try the
					// rest of the pattern right here.
					if next == '/' && dowild(p[pi+1:], text[ti:], pathname) == wmMatch {
						return wmMatch
					}
					matchSlash = true
				} else {
					matchSlash = false // "**" not between slashes is '*'
				}
			} else {
				matchSlash = !pathname
			}
			if pi >= len(p) {
				// A trailing "**" matches everything, a trailing '*'
				// only what has no more slashes.
				if !matchSlash && strings.IndexByte(text[ti:], '/') >= 0 {
					return wmNoMatch
				}
				return wmMatch
			}
			if !matchSlash && p[pi] == '/' {
				// One '*' then '/' matches the rest of this component;
				// the loop's increment consumes both slashes.
				slash := strings.IndexByte(text[ti:], '/')
				if slash < 0 {
					return wmNoMatch
				}
				ti += slash
				continue
			}
			for tc != 0 {
				// Advance fast to the next occurrence of a literal
				// that follows the star; not past a '/' unless the
				// star may match one.
				if pch := p[pi]; !isGlobSpecial(pch) {
					for {
						tc = at(text, ti)
						if tc == 0 || (!matchSlash && tc == '/') || tc == pch {
							break
						}
						ti++
					}
					if tc != pch {
						return wmNoMatch
					}
				}
				if m := dowild(p[pi:], text[ti:], pathname); m != wmNoMatch {
					if !matchSlash || m != wmAbortToStarStar {
						return m
					}
				} else if !matchSlash && tc == '/' {
					return wmAbortToStarStar
				}
				ti++
				tc = at(text, ti)
			}
			return wmAbortAll
		case '[':
			pi++
			pc = at(p, pi)
			if pc == '!' {
				pc = '^'
			}
			negated := pc == '^'
			if negated {
				pi++
				pc = at(p, pi)
			}
			var prev byte
			matched := false
			for {
				if pc == 0 {
					return wmAbortAll
				}
				switch {
				case pc == '\\':
					pi++
					pc = at(p, pi)
					if pc == 0 {
						return wmAbortAll
					}
					if tc == pc {
						matched = true
					}
				case pc == '-' && prev != 0 && at(p, pi+1) != 0 && at(p, pi+1) != ']':
					pi++
					pc = p[pi]
					if pc == '\\' {
						pi++
						pc = at(p, pi)
						if pc == 0 {
							return wmAbortAll
						}
					}
					if tc <= pc && tc >= prev {
						matched = true
					}
					pc = 0 // no range may start at a range's end
				case pc == '[' && at(p, pi+1) == ':':
					pi += 2
					s := pi
					for pi < len(p) && p[pi] != ']' {
						pi++
					}
					if pi >= len(p) {
						return wmAbortAll
					}
					if pi-s-1 < 0 || p[pi-1] != ':' {
						// No ":]": the '[' is a plain member.
						pi = s - 2
						pc = '['
						if tc == pc {
							matched = true
						}
						break
					}
					in, ok := inClass(p[s:pi-1], tc)
					if !ok {
						return wmAbortAll // an unknown [:class:]
					}
					if in {
						matched = true
					}
					pc = 0
				default:
					if tc == pc {
						matched = true
					}
				}
				prev = pc
				pi++
				pc = at(p, pi)
				if pc == ']' {
					break
				}
			}
			if matched == negated || (pathname && tc == '/') {
				return wmNoMatch
			}
			continue
		}
	}
	if ti < len(text) {
		return wmNoMatch
	}
	return wmMatch
}

// inClass reports whether c is in the POSIX class name, with git's ASCII
// ctype (its isspace is " \t\n\r", without \v and \f); ok is false for a
// name git does not know.
func inClass(name string, c byte) (in, ok bool) {
	upper := c >= 'A' && c <= 'Z'
	lower := c >= 'a' && c <= 'z'
	digit := c >= '0' && c <= '9'
	alnum := upper || lower || digit
	switch name {
	case "alnum":
		return alnum, true
	case "alpha":
		return upper || lower, true
	case "blank":
		return c == ' ' || c == '\t', true
	case "cntrl":
		return c < 0x20 || c == 0x7f, true
	case "digit":
		return digit, true
	case "graph":
		return c > 0x20 && c < 0x7f, true
	case "lower":
		return lower, true
	case "print":
		return c >= 0x20 && c < 0x7f, true
	case "punct":
		return c > 0x20 && c < 0x7f && !alnum, true
	case "space":
		return c == ' ' || c == '\t' || c == '\n' || c == '\r', true
	case "upper":
		return upper, true
	case "xdigit":
		return digit || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F', true
	}
	return false, false
}
