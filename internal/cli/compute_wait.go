package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/pflag"

	"github.com/vnetml/vnetml/internal/armerror"
)

// This file is `vnetml compute create --wait`: the transcript of the Azure
// ML SDK's AmlCompute.wait_for_completion(show_output=True), line for line
// (azureml-core compute/amlcompute.py, _wait_for_nodes; surface §A.3):
//
//	Creating
//	Succeeded
//	AmlCompute wait for completion finished
//
//	Minimum number of nodes requested have been provisioned
//
// "Creating" is the state of the create operation; then every poll prints
// the provisioning state when it changes and '.' when it does not. While
// nodes come up the SDK writes "Waiting for cluster to scale. X out of Y
// nodes ready." straight after the state or the last dot (it writes no
// newline before it: a quirk kept as is). The wait ends when the current
// node count reaches min_nodes, when the cluster reports errors (printed as
// Python prints the list), when it reaches Failed or Canceled, or at the
// timeout, each with the SDK's own lines.

// defaultPollInterval is the SDK's: it sleeps 5 s between polls.
const defaultPollInterval = 5 * time.Second

// defaultWaitTimeout is the SDK's timeout_in_minutes of 2019 (20).
const defaultWaitTimeout = 20 * time.Minute

// envPollInterval overrides the poll interval (a Go duration), as the
// hidden --poll-interval does: for tests and impatient scripts.
const envPollInterval = "VNETML_POLL_INTERVAL"

// waitFlags are --wait, --timeout and the hidden --poll-interval.
type waitFlags struct {
	wait     bool
	timeout  string
	interval string
}

func (f *waitFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.wait, "wait", false, "wait until min-nodes nodes are provisioned, printing the SDK's wait_for_completion(show_output=True) transcript")
	fs.Var(text(&f.timeout, "DURATION"), "timeout", "with --wait: how long to wait, e.g. 20m or 90s (default 20m, the SDK's)")
	fs.Var(text(&f.interval, "DURATION"), "poll-interval", "with --wait: the time between polls (default $"+envPollInterval+", else 5s as the SDK)")
	_ = fs.MarkHidden("poll-interval")
}

// check parses the flags, adding problems to l.
func (f *waitFlags) check(l *armerror.List) (timeout, interval time.Duration) {
	timeout, interval = defaultWaitTimeout, defaultPollInterval
	if f.timeout != "" && !f.wait {
		l.Addf(codeInvalidArgument, "--timeout", "--timeout applies to --wait only")
	}
	parse := func(flag, s string, p *time.Duration) {
		if s == "" {
			return
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			l.Addf(codeInvalidArgument, flag, "%s %q is not a positive duration such as 20m, 90s or 1h30m", flag, s)
			return
		}
		*p = d
	}
	parse("--timeout", f.timeout, &timeout)
	if f.interval != "" && !f.wait {
		l.Addf(codeInvalidArgument, "--poll-interval", "--poll-interval applies to --wait only")
	}
	if f.wait {
		flag, v := "--poll-interval", f.interval
		if v == "" {
			flag, v = "$"+envPollInterval, os.Getenv(envPollInterval)
		}
		parse(flag, v, &interval)
		if interval < minPollInterval {
			l.Addf(codeInvalidArgument, flag, "%s %s is too short: poll at most every %s, not in a tight loop", flag, interval, minPollInterval)
		}
	}
	return timeout, interval
}

// minPollInterval is the shortest poll interval: a wait must not hammer
// the server.
const minPollInterval = 5 * time.Millisecond

// computePoll is what one poll of a compute tells the wait: the fields
// of AmlCompute.refresh_state the SDK's wait reads.
type computePoll struct {
	provisioningState string
	// status is false when the compute reports no status (the SDK's
	// self.status is None): no node count, no errors.
	status             bool
	currentNodeCount   int
	minNodeCount       int
	preparing          int // nodes not checked yet
	unusable           int
	errors             json.RawMessage // status.errors, as the server sent them
	provisioningErrors json.RawMessage
}

// decodePoll reads a compute's GET document.
func decodePoll(doc json.RawMessage) (computePoll, error) {
	var d struct {
		Properties struct {
			ProvisioningState  string          `json:"provisioningState"`
			ProvisioningErrors json.RawMessage `json:"provisioningErrors"`
			Properties         struct {
				CurrentNodeCount *int            `json:"currentNodeCount"`
				NodeStateCounts  nodeStateCounts `json:"nodeStateCounts"`
				Errors           json.RawMessage `json:"errors"`
				ScaleSettings    struct {
					MinNodeCount int `json:"minNodeCount"`
				} `json:"scaleSettings"`
				// An inference cluster keeps agentCount nodes.
				AgentCount int `json:"agentCount"`
			} `json:"properties"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return computePoll{}, internalErr(fmt.Errorf("the server's compute is not JSON: %w", err))
	}
	p := d.Properties
	if p.Properties.ScaleSettings.MinNodeCount == 0 {
		p.Properties.ScaleSettings.MinNodeCount = p.Properties.AgentCount
	}
	out := computePoll{provisioningState: p.ProvisioningState, minNodeCount: p.Properties.ScaleSettings.MinNodeCount,
		preparing: p.Properties.NodeStateCounts.Preparing, unusable: p.Properties.NodeStateCounts.Unusable,
		errors: p.Properties.Errors, provisioningErrors: p.ProvisioningErrors}
	if p.Properties.CurrentNodeCount != nil {
		out.status, out.currentNodeCount = true, *p.Properties.CurrentNodeCount
	}
	return out, nil
}

// waitOutcome is why a wait ended.
type waitOutcome int

const (
	waitMinNodes waitOutcome = iota
	waitTimeout
	waitTerminal
	waitErrors
)

// computeWaiter runs the SDK's wait loop over polls.
type computeWaiter struct {
	w        io.Writer
	poll     func(context.Context) (computePoll, error)
	interval time.Duration
	timeout  time.Duration
	now      func() time.Time
	// sleep waits d or until ctx ends.
	sleep func(ctx context.Context, d time.Duration) error
}

// sleepCtx waits d, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run prints the transcript and returns the last poll and why it ended.
// It starts from the create operation's state, Creating, with no status
// yet, as the SDK's first refresh after a 2019 create saw it.
func (cw *computeWaiter) run(ctx context.Context) (computePoll, waitOutcome, error) {
	var b strings.Builder
	flush := func() error {
		_, err := io.WriteString(cw.w, b.String())
		b.Reset()
		return internalErr(err)
	}
	last := computePoll{provisioningState: "Creating"}
	current := last.provisioningState
	b.WriteString(current)
	if err := flush(); err != nil {
		return last, 0, err
	}
	start := cw.now()
	minReached, timedOut, terminal, errs := false, false, false, false
	for !minReached && !timedOut && !terminal && !errs {
		if last.status && last.currentNodeCount != 0 {
			fmt.Fprintf(&b, "Waiting for cluster to scale. %d out of %d nodes ready.\n", last.currentNodeCount, last.minNodeCount)
			if err := flush(); err != nil {
				return last, 0, err
			}
		}
		if err := cw.sleep(ctx, cw.nap(start)); err != nil {
			b.WriteString("\n")
			flush()
			return last, 0, err
		}
		p, err := cw.poll(ctx)
		if err != nil {
			b.WriteString("\n")
			flush()
			return last, 0, err
		}
		last = p
		if p.status && p.provisioningState != "" {
			// The SDK compares with 'succeeded' in lower case, so a
			// change to "Succeeded" is printed like any other.
			if state := p.provisioningState; state != current && state != "succeeded" {
				if current == "" {
					b.WriteString(state)
				} else {
					b.WriteString("\n" + state)
				}
				current = state
			} else {
				b.WriteString(".")
			}
		}
		if err := flush(); err != nil {
			return last, 0, err
		}
		minReached = p.status && p.currentNodeCount >= p.minNodeCount
		timedOut = cw.now().Sub(start) > cw.timeout
		switch capitalize(strings.ToLower(p.provisioningState)) {
		case "Failed", "Canceled":
			terminal = true
		}
		errs = p.status && nonEmptyJSON(p.errors) || nonEmptyJSON(p.provisioningErrors)
	}
	b.WriteString("\n")
	b.WriteString("AmlCompute wait for completion finished\n\n")
	outcome := waitMinNodes
	switch {
	case minReached:
		b.WriteString("Minimum number of nodes requested have been provisioned\n")
	case timedOut:
		outcome = waitTimeout
		b.WriteString("Wait timeout has been reached\n")
		state := capitalize(strings.ToLower(last.provisioningState))
		if last.status {
			fmt.Fprintf(&b, "Current provisioning state of AmlCompute is %q and current node count is \"%d\"\n", state, last.currentNodeCount)
		} else {
			fmt.Fprintf(&b, "Current provisioning state of AmlCompute is %q\n", state)
		}
	case terminal:
		outcome = waitTerminal
		state := capitalize(strings.ToLower(last.provisioningState))
		fmt.Fprintf(&b, "Terminal state of %q has been reached\n\n", state)
		if state == "Failed" {
			fmt.Fprintf(&b, "Provisioning errors: %s\n\n", pyRepr(last.provisioningErrors))
		}
	case errs:
		outcome = waitErrors
		errList := last.provisioningErrors
		if last.status {
			errList = last.errors
		}
		fmt.Fprintf(&b, "There were errors reported from AmlCompute:\n%s\n", pyRepr(errList))
	}
	return last, outcome, flush()
}

// nap is the next wait between polls: the interval, cut to just past
// what is left of the timeout (counted from start), so that the wait ends
// when the SDK's would (elapsed > timeout) without sleeping far past it.
func (cw *computeWaiter) nap(start time.Time) time.Duration {
	left := cw.timeout - cw.now().Sub(start)
	return max(min(cw.interval, left+time.Millisecond), time.Millisecond)
}

// settle goes on polling, printing nothing, while nodes are preparing
// (within the timeout, counted from start): where the SDK stops, as soon
// as the nodes are allocated, vnetml waits to see whether they are
// usable. It returns the last poll.
func (cw *computeWaiter) settle(ctx context.Context, last computePoll, start time.Time) (computePoll, error) {
	for last.status && last.preparing > 0 && cw.now().Sub(start) <= cw.timeout {
		if err := cw.sleep(ctx, cw.nap(start)); err != nil {
			return last, err
		}
		p, err := cw.poll(ctx)
		if err != nil {
			return last, err
		}
		last = p
	}
	return last, nil
}

// nonEmptyJSON reports whether raw is what Python takes as true: not
// absent, null, [], {}, "", 0 or false.
func nonEmptyJSON(raw json.RawMessage) bool {
	switch strings.TrimSpace(string(raw)) {
	case "", "null", "[]", "{}", `""`, "0", "false":
		return false
	}
	return true
}

// pyRepr renders a JSON value as Python prints what json.loads makes of
// it — {'code': 'X', 'message': 'y'}, True, None — as the SDK prints
// status.errors. Keys keep their order, as Python's dicts do. JSON that
// does not decode is shown as it is.
func pyRepr(raw json.RawMessage) string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return "None"
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var b strings.Builder
	if err := pyValue(dec, &b); err != nil {
		return string(raw)
	}
	return b.String()
}

func pyValue(dec *json.Decoder, b *strings.Builder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		open, end := byte('['), byte(']')
		if v == '{' {
			open, end = '{', '}'
		}
		b.WriteByte(open)
		for i := 0; dec.More(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			if v == '{' {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				b.WriteString(pyStr(k.(string)))
				b.WriteString(": ")
			}
			if err := pyValue(dec, b); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		b.WriteByte(end)
	case string:
		b.WriteString(pyStr(v))
	case json.Number:
		b.WriteString(v.String())
	case bool:
		if v {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case nil:
		b.WriteString("None")
	}
	return nil
}

// pyStr is Python 3's repr of a string: single quotes unless the string
// holds a single quote and no double quote; backslash escapes for the
// quote, backslash, \t \n \r and characters that do not print.
func pyStr(s string) string {
	q := '\''
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteRune(q)
	for _, r := range s {
		switch {
		case r == q || r == '\\':
			b.WriteRune('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20, r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsPrint(r) || r == ' ':
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteRune(q)
	return b.String()
}
