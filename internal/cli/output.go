package cli

import (
	"bufio"
	"encoding/json"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/vnetml/vnetml/internal/armerror"
)

// Output formats, as az's --output names them.
const (
	outputJSON  = "json"
	outputTable = "table"
)

// outputFlag is -o/--output: json or table (the default).
type outputFlag struct {
	format string
	set    bool
}

func (o *outputFlag) register(f *pflag.FlagSet) {
	f.VarP(o, "output", "o", "output format: json (Azure's field names, as az -o json prints) or table (readable, with an explanation)")
}

func (o *outputFlag) String() string {
	if o.format == "" {
		return outputTable
	}
	return o.format
}

func (o *outputFlag) Set(s string) error {
	switch strings.ToLower(s) {
	case outputJSON:
		o.format = outputJSON
	case outputTable:
		o.format = outputTable
	default:
		return armerror.New(codeInvalidArgument, "--output", "output format %q is not supported: use json or table", s)
	}
	o.set = true
	return nil
}

func (o *outputFlag) Type() string { return "json|table" }

func (o *outputFlag) json() bool { return o.format == outputJSON }

// writeJSON prints v as az -o json does: indented by two spaces, with a
// final newline.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return internalErr(err)
	}
	_, err = w.Write(append(b, '\n'))
	return internalErr(err)
}

// table is az's table output: a header row, a row of dashes as wide as each
// column, then the rows; columns are separated by two spaces and trailing
// blanks are trimmed.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(row ...string) { t.rows = append(t.rows, row) }

func (t *table) write(w io.Writer) error {
	width := make([]int, len(t.header))
	measure := func(row []string) {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	measure(t.header)
	for _, r := range t.rows {
		measure(r)
	}
	bw := bufio.NewWriter(w)
	line := func(row []string) {
		var b strings.Builder
		for i, c := range row {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)))
		}
		bw.WriteString(strings.TrimRight(b.String(), " "))
		bw.WriteByte('\n')
	}
	line(t.header)
	dashes := make([]string, len(width))
	for i, n := range width {
		dashes[i] = strings.Repeat("-", n)
	}
	line(dashes)
	for _, r := range t.rows {
		line(r)
	}
	return internalErr(bw.Flush())
}
