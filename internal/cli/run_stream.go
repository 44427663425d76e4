package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// This file follows a run: its driver log as it is written (a followed
// GET .../logs, which the server ends when the run ends) and, for `run
// submit --stream`, its status changes (GET of the run every poll
// interval), printed in the order they happen, as the SDK's
// wait_for_completion(show_output=True) does.

// Poll intervals of a followed run: the default, and the floor below which
// a poll would hammer the server.
const (
	defaultRunPoll = time.Second
	minRunPoll     = 20 * time.Millisecond
)

// pollFlag is the hidden --poll-interval of the commands that follow a
// run (default $VNETML_POLL_INTERVAL, else defaultRunPoll).
type pollFlag struct{ value string }

func (p *pollFlag) register(fs *pflag.FlagSet) {
	fs.Var(text(&p.value, "DURATION"), "poll-interval", "the time between polls of the run's status (default $"+envPollInterval+", else 1s)")
	_ = fs.MarkHidden("poll-interval")
}

// check parses the interval, adding a problem to l.
func (p *pollFlag) check(l *armerror.List) time.Duration {
	flag, v := "--poll-interval", p.value
	if v == "" {
		flag, v = "$"+envPollInterval, os.Getenv(envPollInterval)
	}
	if v == "" {
		return defaultRunPoll
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil || d <= 0:
		l.Addf(codeInvalidArgument, flag, "%s %q is not a positive duration such as 1s or 500ms", flag, v)
	case d < minRunPoll:
		l.Addf(codeInvalidArgument, flag, "%s %s is too short: poll at most every %s, not in a tight loop", flag, d, minRunPoll)
	}
	return max(d, minRunPoll)
}

// runFollower follows one run.
type runFollower struct {
	cl       *client.Client
	id       string // the run's resource id
	interval time.Duration
	// statuses, when set, prints each status change as a line
	// "[time] Status" between lines of the log.
	statuses bool
	out      *lineWriter

	mu      sync.Mutex // over printed and running
	printed int        // status transitions printed
	running bool       // a Running transition was printed
}

// lineWriter writes a log and status lines to w without mixing them: the
// log goes out a whole line at a time, status lines between its lines.
type lineWriter struct {
	mu      sync.Mutex
	w       io.Writer
	partial []byte // the log's last line, not ended yet
	err     error
}

// maxPartial bounds a log line kept back waiting for its end.
const maxPartial = 64 << 10

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	end := bytes.LastIndexByte(l.partial, '\n') + 1
	if end == 0 && len(l.partial) > maxPartial {
		end = len(l.partial)
	}
	if end > 0 {
		l.write(l.partial[:end])
		l.partial = append(l.partial[:0], l.partial[end:]...)
	}
	return len(p), nil
}

// line writes a whole line of the follower's own.
func (l *lineWriter) line(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.write(fmt.Appendf(nil, format+"\n", args...))
}

// flush ends the log's last line, if it has no end.
func (l *lineWriter) flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		l.write(append(l.partial, '\n'))
		l.partial = l.partial[:0]
	}
	return l.err
}

func (l *lineWriter) write(b []byte) {
	if l.err == nil {
		_, l.err = l.w.Write(b)
	}
}

// logGrace bounds how long the log may go on after the run has ended:
// the server ends a followed log with its run, so only a broken stream
// takes longer.
const logGrace = 30 * time.Second

// follow prints the run's log (and status changes) until it ends, and
// returns it as it ended.
func (f *runFollower) follow(ctx context.Context) (api.Run, error) {
	logCtx, stopLog := context.WithCancel(ctx)
	defer stopLog()
	logDone := make(chan error, 1)
	ended := make(chan struct{})
	go func() { logDone <- f.followLog(logCtx, ended) }()

	show := f.show
	stop := func(err error) error {
		stopLog()
		<-logDone
		if ferr := f.out.flush(); err == nil {
			err = ferr
		}
		return err
	}
	var last api.Run
	failures := 0
	for {
		r, err := f.cl.GetRun(ctx, f.id)
		if err != nil {
			// A server that does not answer for a moment (a restart)
			// is asked again; one that refuses is not.
			a, _ := armerror.As(err)
			if failures++; ctx.Err() != nil || a == nil || a.Code != "ServerUnreachable" || failures >= maxLogFailures {
				return last, stop(err)
			}
			select {
			case <-ctx.Done():
				return last, stop(ctx.Err())
			case <-time.After(f.interval):
			}
			continue
		}
		failures = 0
		last = r
		show(r, false)
		if client.RunTerminal(r.Properties.Status) {
			// The rest of the log first (the server ends its stream
			// with the run), then the end.
			close(ended)
			select {
			case err = <-logDone:
			case <-time.After(logGrace):
				stopLog()
				<-logDone
			}
			if ferr := f.out.flush(); err == nil {
				err = ferr
			}
			show(r, true)
			return r, err
		}
		select {
		case err := <-logDone:
			return last, stop(err) // the log gave up before the run ended
		case <-ctx.Done():
			return last, stop(ctx.Err())
		case <-time.After(f.interval):
		}
	}
}

// show prints the status transitions of r not printed yet; the terminal
// ones only with all.
func (f *runFollower) show(r api.Run, all bool) {
	if !f.statuses {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tr := r.Properties.StatusTransitions
	for ; f.printed < len(tr) && (all || !client.RunTerminal(tr[f.printed].Status)); f.printed++ {
		f.out.line("[%s] %s", tr[f.printed].Time.UTC().Format(time.RFC3339), tr[f.printed].Status)
		f.running = f.running || tr[f.printed].Status == client.RunRunning
	}
}

// logSink is where the log goes: the output, after the status changes
// that came before it. Until the run is seen Running, a chunk of log asks
// for the run's status first, so that "Running" is printed before what
// the job writes, whatever the poll's timing.
type logSink struct {
	ctx context.Context
	f   *runFollower
}

func (s logSink) Write(p []byte) (int, error) {
	f := s.f
	if f.statuses {
		f.mu.Lock()
		running := f.running
		f.mu.Unlock()
		if !running {
			if r, err := f.cl.GetRun(s.ctx, f.id); err == nil {
				f.show(r, false)
			}
		}
	}
	return f.out.Write(p)
}

// maxLogFailures is how many failed reads of the log in a row end the
// follow.
const maxLogFailures = 5

// followLog copies the run's log to the output until ended is closed and
// the log is read to its end: a followed stream that breaks off (a
// network hiccup, a server restart) is taken up again at the offset
// reached.
func (f *runFollower) followLog(ctx context.Context, ended <-chan struct{}) error {
	var offset int64
	failures := 0
	for {
		last := false
		select {
		case <-ended:
			last = true // read what is left, unfollowed, and stop
		default:
		}
		rc, err := f.cl.RunLogs(ctx, f.id, offset, !last)
		if err == nil {
			var n int64
			n, err = io.Copy(logSink{ctx, f}, rc)
			rc.Close()
			offset += n
		}
		switch {
		case ctx.Err() != nil:
			return nil // stopped: the caller says why
		case err == nil && last:
			return nil
		case err == nil:
			failures = 0
		default:
			if failures++; failures >= maxLogFailures {
				return err
			}
		}
		// The stream ended (the run is ending, or the stream broke):
		// wait a poll before asking again, so that a server that ends
		// streams at once is not hammered.
		select {
		case <-ctx.Done():
			return nil
		case <-ended:
		case <-time.After(f.interval):
		}
	}
}
