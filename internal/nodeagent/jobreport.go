package nodeagent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/vnetml/vnetml/internal/job"
)

// How the driver log is shipped to run history: a chunk is at most
// maxLogChunk bytes; new output waits at most logEvery, or less once
// logBatch bytes are pending.
const (
	maxLogChunk = 1 << 20
	logBatch    = 64 << 10
	logEvery    = 500 * time.Millisecond
)

// Retries of reports back off from firstBackoff to maxBackoff.
const (
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = 2 * time.Second
)

// errSuperseded: run history answered 409 to an event, or to a log chunk
// without a length, so the attempt is no longer the run's (canceled, or
// retried elsewhere).
var errSuperseded = errors.New("run history no longer takes reports of this attempt")

// reporter reports one attempt to run history: its events, in order, and
// its driver log, from the log file, by offset. The terminal event goes
// last, once the whole log was acknowledged. Every report is retried
// until run history acknowledges it, at once after a rebind.
//
// Only its own goroutine (run) sends; the attempt queues events and pokes
// it when there is new output.
type reporter struct {
	a    *attempt
	wake chan struct{} // cap 1: something to report
	done chan struct{} // closed when reporting is over, acknowledged or not

	mu        sync.Mutex
	events    []job.Event // not acknowledged yet, in order
	logClosed bool        // the job's output ended: the log is whole
	acked     int64       // log bytes run history has
	reported  bool        // the terminal event and the whole log were acknowledged
	lastErr   string      // why the last report failed, for the agent's log
}

func newReporter(a *attempt) *reporter {
	return &reporter{a: a, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (r *reporter) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// event queues an event.
func (r *reporter) event(ev job.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	r.poke()
}

// closeLog says that the log is whole.
func (r *reporter) closeLog() {
	r.mu.Lock()
	r.logClosed = true
	r.mu.Unlock()
	r.poke()
}

func (r *reporter) isReported() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reported
}

// run reports until the terminal event and the whole log are
// acknowledged, run history says the attempt is no longer the run's, or
// ctx ends.
func (r *reporter) run(ctx context.Context) {
	defer close(r.done)
	log, err := os.Open(r.a.logPath())
	if err != nil {
		r.a.j.log.Error("job: cannot read the driver log to ship it", "run", r.a.spec.RunID, "error", err)
		return
	}
	defer log.Close()
	var lastShip time.Time
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		r.mu.Lock()
		var next *job.Event
		terminal := false
		if len(r.events) > 0 {
			ev := r.events[0]
			next, terminal = &ev, job.Terminal(ev.State)
		}
		closed, acked := r.logClosed, r.acked
		r.mu.Unlock()
		pending := r.a.logLen.Load() - acked

		var err error
		switch {
		case next != nil && !terminal:
			err = r.retry(ctx, "event "+next.State, func(ctx context.Context) error { return r.sendEvent(ctx, *next) })
			if err == nil {
				r.pop()
			}
		case pending > 0 && (pending >= logBatch || closed || time.Since(lastShip) >= logEvery):
			lastShip = time.Now()
			err = r.retry(ctx, "driver log", func(ctx context.Context) error { return r.shipLog(ctx, log) })
		case next != nil && closed && pending <= 0:
			err = r.retry(ctx, "event "+next.State, func(ctx context.Context) error { return r.sendEvent(ctx, *next) })
			if err == nil {
				r.pop()
				r.mu.Lock()
				r.reported = true
				r.mu.Unlock()
				return
			}
		default:
			var wait <-chan time.Time
			if pending > 0 {
				timer.Reset(logEvery - time.Since(lastShip))
				wait = timer.C
			}
			select {
			case <-r.wake:
			case <-wait:
			case <-ctx.Done():
				return
			}
			continue
		}
		if err != nil { // superseded, or ctx ended
			return
		}
	}
}

func (r *reporter) pop() {
	r.mu.Lock()
	r.events = r.events[1:]
	r.mu.Unlock()
}

// retry calls send until it succeeds, backing off between tries (at once
// after a rebind); it gives up only when the attempt was superseded or
// ctx ends.
func (r *reporter) retry(ctx context.Context, what string, send func(context.Context) error) error {
	backoff := firstBackoff
	for tries := 1; ; tries++ {
		rt := r.a.j.up.current()
		err := send(ctx)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errSuperseded):
			r.a.superseded.Store(true)
			r.a.stop(stopSuperseded)
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		}
		r.mu.Lock()
		changed := r.lastErr != err.Error()
		r.lastErr = err.Error()
		r.mu.Unlock()
		if changed || tries%20 == 0 {
			r.a.j.log.Warn("job: reporting to run history failed; retrying", "run", r.a.spec.RunID, "attempt", r.a.spec.Attempt,
				"report", what, "tries", tries, "error", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
			backoff = min(2*backoff, maxBackoff)
		case <-rt.changed:
			t.Stop()
			backoff = firstBackoff
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// post sends one report and returns the status and body of the answer.
func (r *reporter) post(ctx context.Context, path, ctype string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.a.spec.History+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+r.a.spec.Token)
	req.Header.Set("Content-Type", ctype)
	resp, err := r.a.client().Do(req)
	if err != nil {
		return 0, nil, errors.New(r.a.historyTransfer().failed(err).Message)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, b, err
}

func (r *reporter) sendEvent(ctx context.Context, ev job.Event) error {
	b, _ := json.Marshal(ev) // cannot fail: plain struct
	code, body, err := r.post(ctx, "/events", "application/json", b)
	switch {
	case err != nil:
		return err
	case code == http.StatusOK:
		return nil
	case code == http.StatusConflict:
		return errSuperseded
	}
	return historyError(code, body)
}

// shipLog sends the next chunk of the log from the offset run history
// has. Run history's answer, 200 or 409, says how much it has: the next
// chunk starts there, so nothing is lost or doubled.
func (r *reporter) shipLog(ctx context.Context, log *os.File) error {
	r.mu.Lock()
	off := r.acked
	r.mu.Unlock()
	n := min(r.a.logLen.Load()-off, maxLogChunk)
	if n <= 0 {
		return nil
	}
	buf := make([]byte, n)
	if _, err := log.ReadAt(buf, off); err != nil {
		return fmt.Errorf("reading the driver log: %w", err)
	}
	path := "/logs?attempt=" + strconv.Itoa(r.a.spec.Attempt) + "&offset=" + strconv.FormatInt(off, 10)
	code, body, err := r.post(ctx, path, "application/octet-stream", buf)
	if err != nil {
		return err
	}
	if code != http.StatusOK && code != http.StatusConflict {
		return historyError(code, body)
	}
	var ack struct {
		Length *int64 `json:"length"`
	}
	if json.Unmarshal(body, &ack) != nil || ack.Length == nil || *ack.Length < 0 {
		if code == http.StatusConflict {
			// A 409 without a length is run history's refusal of an
			// attempt that is no longer the run's (an error body, as to
			// an event): resending would never end, and the job would run
			// on for nothing.
			return errSuperseded
		}
		return fmt.Errorf("run history answered %d to a log chunk without its length: %.200q", code, body)
	}
	r.mu.Lock()
	r.acked = min(*ack.Length, r.a.logLen.Load())
	r.mu.Unlock()
	return nil
}

// historyError is run history's refusal, in the API's error shape.
func historyError(code int, body []byte) error {
	var env struct {
		Error *job.Error `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Error != nil {
		return fmt.Errorf("run history answered %d: %s: %s", code, env.Error.Code, env.Error.Message)
	}
	return fmt.Errorf("run history answered %d %s: %.200q", code, http.StatusText(code), body)
}
