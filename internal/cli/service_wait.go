package cli

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/api"
)

// This file is `vnetml service deploy --wait`: the transcript of the SDK
// v1's Webservice.wait_for_deployment(show_output=True)
// (azureml-core webservice.py, _wait_for_operation_to_complete):
//
//	Transitioning.....
//	Healthy
//	AKS service creation operation finished, operation "Succeeded"
//
// The first state is written as the deployment was answered; then every
// poll writes '.', and a state that changed on a line of its own. The SDK
// printed its operation's states (Running, Succeeded, Failed); vnetml has
// no deployment operation, so the service's own states (Webservice.state:
// Transitioning, Healthy, Unhealthy, Failed) are printed instead. The wait
// ends at Healthy or Failed, or at the timeout; the SDK's sleep of 5 s
// between polls is the --poll-interval here (1 s), never shorter than
// minRunPoll.

// defaultServiceTimeout is how long deploy --wait waits by default; the
// time between polls is the run commands' (pollFlag: 1s, at least
// minRunPoll).
const defaultServiceTimeout = 10 * time.Minute

// serviceWaiter follows one deployment.
type serviceWaiter struct {
	w        io.Writer
	poll     func(context.Context) (api.Service, error)
	interval time.Duration
	timeout  time.Duration
	now      func() time.Time
	// sleep waits d or until ctx ends (sleepCtx).
	sleep func(ctx context.Context, d time.Duration) error
}

// serviceSettled reports whether a deployment in state s is over.
func serviceSettled(s string) bool { return s == api.ServiceHealthy || s == api.ServiceFailed }

// run writes the transcript from first, the deployment's answer, and
// returns the service as last seen; timedOut is true when the wait ended
// before the service settled.
func (sw *serviceWaiter) run(ctx context.Context, first api.Service) (last api.Service, timedOut bool, err error) {
	var b strings.Builder
	flush := func() error {
		_, err := io.WriteString(sw.w, b.String())
		b.Reset()
		return internalErr(err)
	}
	last = first
	current := first.Properties.State
	b.WriteString(current)
	if err := flush(); err != nil {
		return last, false, err
	}
	start := sw.now()
	for !serviceSettled(last.Properties.State) {
		left := sw.timeout - sw.now().Sub(start)
		if left <= 0 {
			timedOut = true
			break
		}
		// Cut to just past what is left, so that the wait ends at the
		// timeout without sleeping far past it.
		if err := sw.sleep(ctx, max(min(sw.interval, left+time.Millisecond), time.Millisecond)); err != nil {
			b.WriteString("\n")
			flush()
			return last, false, err
		}
		s, err := sw.poll(ctx)
		if err != nil {
			b.WriteString("\n")
			flush()
			return last, false, err
		}
		last = s
		b.WriteString(".")
		if state := s.Properties.State; state != current {
			b.WriteString("\n" + state)
			current = state
		}
		if err := flush(); err != nil {
			return last, false, err
		}
	}
	b.WriteString("\n")
	if last.Properties.State == api.ServiceHealthy {
		b.WriteString(`AKS service creation operation finished, operation "Succeeded"` + "\n")
	}
	return last, timedOut, flush()
}
