package cli

import (
	"strings"
	"testing"
)

// The model commands refuse bad input before they call a server, every
// problem at once, naming the flag.
func TestModelFlags(t *testing.T) {
	t.Setenv("VNETML_ENDPOINT", "http://127.0.0.1:1") // nothing is called
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"model", "register"}, []string{"-w/--workspace is required", "-n/--name is required", "say what to register"}},
		{[]string{"model", "register", "-w", "ws", "-n", "-x", "--path", "p"}, []string{"(--name)", `"-x" is not a model name`}},
		{[]string{"model", "register", "-w", "ws", "-n", "m", "--run", "r", "--file", "f"}, []string{"(--file)", "cannot be combined"}},
		{[]string{"model", "register", "-w", "ws", "-n", "m", "--run", "r"}, []string{"(--path)", "--path is required with --run"}},
		{[]string{"model", "register", "-w", "ws", "-n", "m", "--run", "r", "--path", "p", "--datastore", "d"}, []string{"(--datastore)"}},
		{[]string{"model", "register", "-w", "ws", "-n", "m", "--file", "f", "--path", "p"}, []string{"(--path)", "--path and --file cannot be combined"}},
		{[]string{"model", "register", "-w", "ws", "-n", "m", "--path", "p", "-e", "exp"}, []string{"(--experiment)", "goes with --run"}},
		{[]string{"model", "register", "-w", "ws", "-n", "m", "--path", "p", "--tag", "novalue", "--tag", "=v", "--property", "a=1", "--property", "a=2"},
			[]string{`--tag "novalue" is not KEY=VALUE`, `--tag "=v" has no key`, "--property sets a twice"}},
		{[]string{"model", "show"}, []string{"NAME is required"}},
		{[]string{"model", "show", "a", "b"}, []string{`unexpected argument "b"`}},
		{[]string{"model", "show", "bad name", "-w", "ws"}, []string{"(NAME)", "is not a model name"}},
		{[]string{"model", "download", "m", "-w", "ws", "--version", "latest"}, []string{"(--version)", "versions are numbers from 1"}},
		{[]string{"model", "delete", "m"}, []string{"-w/--workspace is required"}},
		{[]string{"model", "list", "-w", "ws", "--name", "a/b"}, []string{"(--name)"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := run(t, append(tc.args, "--token", "t")...)
			wantFail(t, r, exitInput, tc.want...)
		})
	}
}

// Every model command documents its flags.
func TestModelHelp(t *testing.T) {
	for cmd, flags := range map[string][]string{
		"register": {"--name NAME", "--run RUN_ID", "--path PATH", "--file LOCAL", "--datastore NAME", "--tag KEY=VALUE", "--property KEY=VALUE",
			"--description TEXT", "-e, --experiment EXPERIMENT", "--client-address IP", "-w, --workspace WORKSPACE", "-g, --resource-group GROUP"},
		"list":     {"--name NAME", "-o, --output json|table"},
		"show":     {"--version V", "-o, --output json|table"},
		"download": {"--version V", "--dest DIR", "--client-address IP", "--no-progress"},
		"delete":   {"--version V"},
	} {
		r := run(t, "model", cmd, "--help")
		wantOK(t, r)
		for _, f := range flags {
			if !strings.Contains(r.stdout, f) {
				t.Errorf("model %s --help lacks %q:\n%s", cmd, f, r.stdout)
			}
		}
	}
	r := run(t, "model")
	wantOK(t, r)
	for _, c := range []string{"register", "list", "show", "download", "delete"} {
		if !strings.Contains(r.stdout, "  "+c+" ") {
			t.Errorf("model lists no %s:\n%s", c, r.stdout)
		}
	}
}
