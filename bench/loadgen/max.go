package loadgen

import (
	"context"
	"fmt"
	"math"
	"time"
)

// MaxConfig is a search for the highest rate a server sustains with its
// p99 latency under a bound.
//
// The search is open-loop, not closed-loop: each step is a [Run] at one
// constant rate, so a step's p99 includes the queueing its rate causes
// (a closed loop with C connections would slow down with the server and
// report the latency of a rate nobody chose). Rates grow by Growth from
// StartRate until a step fails, then the interval between the last passing
// rate and the first failing one is bisected until it is narrower than
// Precision of the failing rate.
type MaxConfig struct {
	// Config is the request, the pool and the timeout; its Rate is
	// ignored, and its Duration is each step's (0 is 5s).
	Config
	P99          time.Duration // the bound on a step's p99 latency; > 0
	MaxErrorRate float64       // the fraction of a step's requests that may fail; 0 is none
	StartRate    float64       // the first step's rate; 0 is 10/s
	MaxRate      float64       // no step goes faster; 0 is 1,000,000/s
	Growth       float64       // each passing step multiplies the rate by this while no step failed; 0 is 2
	Precision    float64       // the width at which bisection stops, relative to the failing rate; 0 is 0.05
	MaxSteps     int           // the search stops after this many steps; 0 is 30
}

// MaxResult is a search's outcome.
type MaxResult struct {
	Rate  float64 // the highest rate that passed; 0 when none did
	Best  Result  // the step at Rate
	Steps []Step  // every step, in order
}

// Step is one rate tried.
type Step struct {
	Rate   float64
	Pass   bool
	Reason string // why the step failed, or why it passed
	Result Result
}

// FindMax runs the search of mc against a server. It returns the steps done
// so far and ctx's error when ctx ends.
func FindMax(ctx context.Context, mc MaxConfig) (MaxResult, error) {
	return findMax(ctx, mc, Run)
}

func (mc *MaxConfig) fill() error {
	if mc.Duration == 0 {
		mc.Duration = 5 * time.Second
	}
	if mc.StartRate == 0 {
		mc.StartRate = 10
	}
	if mc.MaxRate == 0 {
		mc.MaxRate = 1_000_000
	}
	if mc.Growth == 0 {
		mc.Growth = 2
	}
	if mc.Precision == 0 {
		mc.Precision = 0.05
	}
	if mc.MaxSteps == 0 {
		mc.MaxSteps = 30
	}
	switch {
	case mc.P99 <= 0:
		return fmt.Errorf("loadgen: p99 bound %v: want a positive duration", mc.P99)
	case mc.MaxErrorRate < 0 || mc.MaxErrorRate >= 1:
		return fmt.Errorf("loadgen: error rate %v: want a fraction in [0, 1)", mc.MaxErrorRate)
	case !(mc.StartRate > 0) || mc.MaxRate < mc.StartRate:
		return fmt.Errorf("loadgen: rates from %v to %v: want 0 < start ≤ max", mc.StartRate, mc.MaxRate)
	case !(mc.Growth > 1):
		return fmt.Errorf("loadgen: growth %v: want more than 1", mc.Growth)
	case !(mc.Precision > 0 && mc.Precision < 1):
		return fmt.Errorf("loadgen: precision %v: want a fraction in (0, 1)", mc.Precision)
	}
	return nil
}

func findMax(ctx context.Context, mc MaxConfig, run func(context.Context, Config) (Result, error)) (MaxResult, error) {
	if err := mc.fill(); err != nil {
		return MaxResult{}, err
	}
	var out MaxResult
	try := func(rate float64) (bool, error) {
		cfg := mc.Config
		cfg.Rate = rate
		res, err := run(ctx, cfg)
		if err != nil {
			return false, err
		}
		pass, why := mc.judge(res)
		out.Steps = append(out.Steps, Step{Rate: rate, Pass: pass, Reason: why, Result: res})
		if pass && rate > out.Rate {
			out.Rate, out.Best = rate, res
		}
		return pass, nil
	}

	// Grow until a step fails or the ceiling passes.
	pass, fail := 0.0, math.Inf(1)
	for rate := mc.StartRate; len(out.Steps) < mc.MaxSteps; rate = math.Min(rate*mc.Growth, mc.MaxRate) {
		ok, err := try(rate)
		if err != nil {
			return out, err
		}
		if !ok {
			fail = rate
			break
		}
		pass = rate
		if rate == mc.MaxRate {
			return out, nil
		}
	}
	if math.IsInf(fail, 1) {
		return out, nil // out of steps before any failed
	}
	// Bisect between the last pass (0 when the start failed) and the fail.
	for len(out.Steps) < mc.MaxSteps && fail-pass > mc.Precision*fail {
		mid := (pass + fail) / 2
		ok, err := try(mid)
		if err != nil {
			return out, err
		}
		if ok {
			pass = mid
		} else {
			fail = mid
		}
	}
	return out, nil
}

// judge decides a step: its p99 within the bound and few enough errors.
func (mc *MaxConfig) judge(r Result) (bool, string) {
	if r.Scheduled == 0 {
		return false, "no request scheduled"
	}
	if errs := r.Errored(); float64(errs) > mc.MaxErrorRate*float64(r.Scheduled) {
		return false, fmt.Sprintf("%d of %d requests failed (%v), over %.2g%%", errs, r.Scheduled, r.Errors, mc.MaxErrorRate*100)
	}
	if r.Latency.P99 > mc.P99 {
		why := fmt.Sprintf("p99 %v over %v", r.Latency.P99, mc.P99)
		if r.Lag.P99 > mc.P99/2 {
			// Requests waited to be sent: the server was slow to free the
			// connections, or the pool is too small for the rate, or the
			// generator was starved of CPU. Service time tells them apart.
			conns := mc.Connections
			if conns == 0 {
				conns = defaultConnections
			}
			why += fmt.Sprintf(" (requests waited %v at p99 for one of %d connections; once sent, p99 %v)", r.Lag.P99, conns, r.Service.P99)
		}
		return false, why
	}
	return true, fmt.Sprintf("p99 %v within %v", r.Latency.P99, mc.P99)
}
