package cli

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progressMin is the size from which transfers show progress: smaller
// files take a moment.
const progressMin = 8 << 20

// progress draws a transfer's progress on stderr: percentage, bytes and
// rate. On a terminal it redraws one line at each percent; elsewhere (a
// log, a pipe) it writes a line at each quarter.
type progress struct {
	w     io.Writer
	verb  string // Uploading, Downloading
	name  string
	total int64
	from  int64 // bytes already there when the transfer started (a resume)
	start time.Time
	tty   bool
	last  int  // the last percentage drawn (tty) or quarter written
	open  bool // a tty line is drawn and not ended
}

// newProgress returns a progress for a transfer of total bytes starting
// at from, or nil when it is too small or progress is off.
func newProgress(w io.Writer, verb, name string, total, from int64, off bool) *progress {
	if off || total <= progressMin {
		return nil
	}
	p := &progress{w: w, verb: verb, name: name, total: total, from: from, start: time.Now(), tty: isTerminal(w), last: -1}
	if !p.tty {
		p.last = int(from * 4 / total) // a log starts at the next quarter
	}
	return p
}

// isTerminal reports whether w is a character device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// update shows done bytes of total. A nil progress shows nothing.
func (p *progress) update(done int64) {
	if p == nil {
		return
	}
	pct := int(done * 100 / p.total)
	step := pct
	if !p.tty {
		step = pct / 25
	}
	if step == p.last {
		return
	}
	p.last = step
	line := p.line(done, pct)
	if p.tty {
		fmt.Fprintf(p.w, "\r%s", line)
		p.open = true
		if done >= p.total {
			p.end()
		}
		return
	}
	fmt.Fprintln(p.w, line)
}

// end ends the line a terminal shows, so that what follows (an error)
// starts on a line of its own.
func (p *progress) end() {
	if p != nil && p.open {
		fmt.Fprintln(p.w)
		p.open = false
	}
}

func (p *progress) line(done int64, pct int) string {
	rate := ""
	if secs := time.Since(p.start).Seconds(); secs > 0 {
		rate = "  " + humanBytes(int64(float64(done-p.from)/secs)) + "/s"
	}
	return fmt.Sprintf("%s %s %3d%%  %s / %s%s", p.verb, p.name, pct, humanBytes(done), humanBytes(p.total), rate)
}

// humanBytes writes n in binary units with one decimal: 9.0 MiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGT"[i])
}
