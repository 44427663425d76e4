package cli

import "strings"

// textFlag is a string flag whose value placeholder in help is given
// explicitly (pflag otherwise prints "string"), so usage text need not
// repeat it: "--direction Inbound|Outbound   the flow's direction ...".
type textFlag struct {
	p           *string
	placeholder string
}

func text(p *string, placeholder string) *textFlag { return &textFlag{p, placeholder} }

func (f *textFlag) String() string     { return *f.p }
func (f *textFlag) Set(s string) error { *f.p = s; return nil }
func (f *textFlag) Type() string       { return f.placeholder }

// listFlag is a repeatable string flag: every use appends one value (no
// splitting at commas, which file names may hold).
type listFlag struct {
	p           *[]string
	placeholder string
}

func (f *listFlag) String() string     { return strings.Join(*f.p, ",") }
func (f *listFlag) Set(s string) error { *f.p = append(*f.p, s); return nil }
func (f *listFlag) Type() string       { return f.placeholder }
