package runs

import (
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/job"
)

const snap = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestValidate(t *testing.T) {
	ok := func(mod func(p *api.RunProperties)) api.Run {
		r := api.Run{Properties: api.RunProperties{Script: "train.py", Target: "cpucluster", SnapshotID: snap}}
		if mod != nil {
			mod(&r.Properties)
		}
		return r
	}
	tests := []struct {
		name        string
		exp, run    string
		in          api.Run
		wantTargets []string // empty: valid
	}{
		{"valid", "exp", "exp_1", ok(nil), nil},
		{"command", "exp", "r", ok(func(p *api.RunProperties) { p.Script, p.Command = "", []string{"sh", "-c", "true"} }), nil},
		{"bad experiment", "-x", "r", ok(nil), []string{"experimentName"}},
		{"bad run id", "e", "a/b", ok(nil), []string{"runId"}},
		{"neither", "e", "r", ok(func(p *api.RunProperties) { p.Script = "" }), []string{"properties.script"}},
		{"both", "e", "r", ok(func(p *api.RunProperties) { p.Command = []string{"x"} }), []string{"properties.command"}},
		{"escaping script", "e", "r", ok(func(p *api.RunProperties) { p.Script = "../x.py" }), []string{"properties.script"}},
		{"absolute script", "e", "r", ok(func(p *api.RunProperties) { p.Script = "/x.py" }), []string{"properties.script"}},
		{"args with command", "e", "r", ok(func(p *api.RunProperties) { p.Script, p.Command, p.Arguments = "", []string{"x"}, []string{"y"} }), []string{"properties.arguments"}},
		{"reserved env", "e", "r", ok(func(p *api.RunProperties) { p.EnvironmentVariables = map[string]string{"AZUREML_RUN_ID": "x"} }), []string{"properties.environmentVariables.AZUREML_RUN_ID"}},
		{"proxy env", "e", "r", ok(func(p *api.RunProperties) { p.EnvironmentVariables = map[string]string{"https_proxy": "x"} }), []string{"properties.environmentVariables.https_proxy"}},
		{"bad env name", "e", "r", ok(func(p *api.RunProperties) { p.EnvironmentVariables = map[string]string{"1X": "x"} }), []string{"properties.environmentVariables.1X"}},
		{"no target", "e", "r", ok(func(p *api.RunProperties) { p.Target = "" }), []string{"properties.target"}},
		{"bad snapshot", "e", "r", ok(func(p *api.RunProperties) { p.SnapshotID = "abc" }), []string{"properties.snapshotId"}},
		{"negative duration and retries", "e", "r", ok(func(p *api.RunProperties) { p.MaxRunDurationSeconds, p.MaxRetries = -1, 11 }),
			[]string{"properties.maxRunDurationSeconds", "properties.maxRetries"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			err := validate(tc.exp, tc.run, &in)
			if len(tc.wantTargets) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if in.Properties.SourceDirectoryDataStore != DatastoreFile {
					t.Errorf("default datastore %q, want %s (the SDK's default)", in.Properties.SourceDirectoryDataStore, DatastoreFile)
				}
				return
			}
			e, ok := armerror.As(err)
			if !ok {
				t.Fatalf("error %v, want an armerror", err)
			}
			var got []string
			if len(e.Details) == 0 {
				got = []string{e.Target}
			}
			for _, d := range e.Details {
				got = append(got, d.Target)
			}
			if strings.Join(got, ",") != strings.Join(tc.wantTargets, ",") {
				t.Errorf("targets %v, want %v (%v)", got, tc.wantTargets, err)
			}
		})
	}
}

func FuzzValidate(f *testing.F) {
	f.Add("exp", "run_1", "train.py", "--epochs", "K", "V", "cpucluster", snap, int64(10), 1)
	f.Fuzz(func(t *testing.T, exp, id, script, arg, k, v, target, snapshot string, dur int64, retries int) {
		in := api.Run{Properties: api.RunProperties{Script: script, Arguments: []string{arg}, EnvironmentVariables: map[string]string{k: v},
			Target: target, SnapshotID: snapshot, MaxRunDurationSeconds: dur, MaxRetries: retries}}
		if err := validate(exp, id, &in); err != nil {
			if _, ok := armerror.As(err); !ok {
				t.Fatalf("a %T, not an armerror: %v", err, err)
			}
		}
	})
}

func TestCheckBatch(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	good := job.MetricBatch{BatchID: "b", Metrics: []job.Metric{{Name: "a", Value: 1.0}, {Name: "b", Value: "x"}, {Name: "c", Value: true}}}
	if err := checkBatch(&good, now); err != nil {
		t.Fatal(err)
	}
	if !good.Metrics[0].Time.Equal(now) {
		t.Errorf("a metric without a time got %v, want the server's now", good.Metrics[0].Time)
	}
	for name, b := range map[string]job.MetricBatch{
		"no id":    {Metrics: []job.Metric{{Name: "a", Value: 1.0}}},
		"no name":  {BatchID: "b", Metrics: []job.Metric{{Value: 1.0}}},
		"a list":   {BatchID: "b", Metrics: []job.Metric{{Name: "a", Value: []any{1.0}}}},
		"a null":   {BatchID: "b", Metrics: []job.Metric{{Name: "a"}}},
		"too long": {BatchID: "b", Metrics: []job.Metric{{Name: "a", Value: strings.Repeat("x", maxMetricStrings+1)}}},
	} {
		if err := checkBatch(&b, now); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
