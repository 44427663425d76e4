// Package cli owns vnetml's command line: the command tree, its flags and
// help text, how each command's input is read and its answer printed, and
// the mapping from errors to messages and exit codes.
//
// Each command lives in its own file with a flags struct and a
// run(ctx, args) method; output goes through the writers of an env, so
// tests run the real tree and capture what it prints. Commands reach the
// server only through internal/client. The network commands answer as
// Network Watcher does either offline — from resource JSON files (what
// `az ... show -o json` prints, list responses, ARM templates), validated
// and compiled here — or, without --resources, from the server.
//
// Exit codes: 0 for an answer (an Allow and a Deny alike), 2 for bad input
// (flags, files, resources, queries), 1 for internal failures.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/flow"
)

// Exit codes.
const (
	exitOK       = 0
	exitInternal = 1
	exitInput    = 2
)

// env is what a command may touch of the outside world.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// Main runs the command line with args (without the program name) and
// returns the process exit code. An interrupt cancels the command's context.
//
// extra adds commands the CLI package may not own: `vnetml server`, whose
// package imports the server, which the CLI must not (DESIGN.md §2).
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, extra ...Extra) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return Run(ctx, args, stdin, stdout, stderr, extra...)
}

// Extra makes a command that cmd/vnetml adds to the tree.
type Extra func(stdout, stderr io.Writer) *cobra.Command

// Run is Main with a caller-supplied context.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, extra ...Extra) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCmd(e)
	for _, x := range extra {
		root.AddCommand(x(stdout, stderr))
	}
	if args == nil {
		args = []string{} // cobra reads os.Args for nil
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	return e.report(cmd, err)
}

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "vnetml",
		Short: "An Azure-shaped machine learning workspace in a virtual network, on one machine",
		Long: `vnetml runs machine-learning experiments and inference inside virtual networks
it enforces, with Azure's semantics. 'vnetml server' runs the control plane:
an ARM-shaped API over an embedded store, with tokens, locks and quotas.
'vnetml apply', 'get' and 'delete' manage its resources; the network
commands answer Network Watcher's questions — why a flow is allowed or
denied, where a packet goes, which rules and routes apply — from the server,
or offline from the JSON that 'az ... show -o json' prints (--resources).`,
		Example: `  vnetml server &
  vnetml login
  vnetml apply -f examples/secure-network.yaml
  vnetml network watcher test-ip-flow -g mygroup --nic node0 --direction Inbound --protocol TCP \
      --local 10.0.0.4:29876 --remote 198.18.3.9:443

  # offline, on az's JSON
  vnetml network watcher test-ip-flow --resources examples/secure-network/network.json \
      --nic node0 --direction Inbound --protocol TCP --local 10.0.0.4:29876 --remote 198.18.3.9:443`,
		Version:       buildVersion(),
		Args:          noArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE:          groupRun,
	}
	root.SetFlagErrorFunc(flagError)
	root.SetVersionTemplate("vnetml {{.Version}}\n")
	// A group's usage shows its subcommands only: groups run (to reject
	// unknown subcommands) but take no flags of their own.
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(),
		"Usage:{{if .Runnable}}", "Usage:{{if and .Runnable (not .HasAvailableSubCommands)}}", 1))
	root.AddCommand(newNetworkCmd(e), newVersionCmd(e))
	root.AddCommand(newApplyCmd(e))
	root.AddCommand(newGetCmd(e))
	root.AddCommand(newDeleteCmd(e))
	root.AddCommand(newLoginCmd(e))
	root.AddCommand(newTokenCmd(e))
	root.AddCommand(newWorkspaceCmd(e), newStorageCmd(e), newKeyVaultCmd(e), newComputeCmd(e), newRunCmd(e), newModelCmd(e))
	root.AddCommand(newServiceCmd(e))
	return root
}

func newNetworkCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Ask Network Watcher's questions, of the server or offline (az network ...)",
		Long: `Ask Network Watcher's questions about a network configuration.

Without --resources, each command asks the server (see 'vnetml login') about
the resources stored there; --nic takes a name (with -g to pick its group)
or a resource id.

With --resources, each command works offline on resource JSON files (repeat
the flag for more files, give a directory for every *.json file in it, or -
for stdin): it validates them as Azure would and answers as Network Watcher
does. Invalid resources are refused with every error found: a check of a
configuration Azure would reject would answer nothing true.`,
		Args: noArgs,
		RunE: groupRun,
	}
	watcher := &cobra.Command{
		Use:   "watcher",
		Short: "Network Watcher: IP flow verify and next hop (az network watcher ...)",
		Args:  noArgs,
		RunE:  groupRun,
	}
	watcher.AddCommand(newTestIPFlowCmd(e), newShowNextHopCmd(e), newTestConnectivityCmd(e))
	nic := &cobra.Command{
		Use:   "nic",
		Short: "A network interface's effective security rules and routes (az network nic ...)",
		Args:  noArgs,
		RunE:  groupRun,
	}
	nic.AddCommand(newListEffectiveNSGCmd(e), newShowEffectiveRouteTableCmd(e))
	cmd.AddCommand(watcher, nic, newFlowLogCmd(e))
	return cmd
}

// groupRun is the action of a command group: its help, as az prints a
// group's help when no subcommand is named.
func groupRun(cmd *cobra.Command, _ []string) error { return cmd.Help() }

// noArgs rejects positional arguments: every input is a flag. Unknown
// subcommands of a group land here too.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		msg := fmt.Sprintf("%q is not a command of %q", args[0], cmd.CommandPath())
		if cmd.SuggestionsMinimumDistance <= 0 {
			cmd.SuggestionsMinimumDistance = 2 // cobra's default, set only on its own path
		}
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return usageErr(armerror.New(codeInvalidArgument, "", "%s", msg))
	}
	return usageErr(armerror.New(codeInvalidArgument, "", "unexpected argument %q: every input is a flag; "+
		"give each resource file its own --resources flag (--resources a.json --resources b.json), or a directory", args[0]))
}

// Codes of the CLI's own errors, named as ARM names its codes.
const (
	codeInvalidArgument = "InvalidArgument" // a flag or argument is malformed
	codeMissingArgument = "MissingArgument" // a required flag is absent
	codeNotFound        = "NotFound"        // a named resource is not loaded
	codeQueriesFailed   = "QueriesFailed"   // some lines of a --queries file were bad
)

// usageError is bad input on the command line: reported with a pointer to
// the command's help.
type usageError struct{ err *armerror.Error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErr(e *armerror.Error) error { return &usageError{e} }

// internalError is a failure that is not the user's: exit code 1.
type internalError struct{ err error }

func (e *internalError) Error() string { return e.err.Error() }
func (e *internalError) Unwrap() error { return e.err }

func internalErr(err error) error {
	if err == nil {
		return nil
	}
	return &internalError{err}
}

// flagError turns pflag's parse errors into usage errors naming the flag.
// A flag value's own parser returns an *armerror.Error, which is kept.
func flagError(_ *cobra.Command, err error) error {
	if e, ok := armerror.As(err); ok {
		return usageErr(e)
	}
	var (
		notExist *pflag.NotExistError
		required *pflag.ValueRequiredError
		syntax   *pflag.InvalidSyntaxError
		invalid  *pflag.InvalidValueError
	)
	target := ""
	switch {
	case errors.As(err, &notExist):
		target = "--" + notExist.GetSpecifiedName()
		if notExist.GetSpecifiedName() == "" {
			target = "-" + notExist.GetSpecifiedShortnames()
		}
	case errors.As(err, &required):
		target = "--" + required.GetFlag().Name
	case errors.As(err, &syntax):
		target = syntax.GetSpecifiedFlag()
	case errors.As(err, &invalid):
		target = "--" + invalid.GetFlag().Name
	}
	return usageErr(armerror.New(codeInvalidArgument, target, "%v", err))
}

// report prints err (if any) on stderr and returns the exit code: the one
// place where errors become messages and codes.
func (e *env) report(cmd *cobra.Command, err error) int {
	if err == nil {
		return exitOK
	}
	var (
		usage    *usageError
		internal *internalError
		qe       *flow.QueryError
	)
	switch {
	case errors.As(err, &internal):
		fmt.Fprintf(e.stderr, "vnetml: internal error: %v\n", internal.err)
		return exitInternal
	case errors.As(err, &usage):
		fmt.Fprintf(e.stderr, "vnetml: %v\n", usage.err)
		if cmd != nil {
			fmt.Fprintf(e.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return exitInput
	case errors.As(err, &qe):
		// Commands map query errors to their flags; this is the fallback.
		fmt.Fprintf(e.stderr, "vnetml: %v\n", queryError(err, nil))
		return exitInput
	}
	if a, ok := armerror.As(err); ok {
		fmt.Fprintf(e.stderr, "vnetml: %v\n", a)
		switch a.Code {
		case "ServerUnreachable", "InternalServerError", "ServiceUnavailable", "UnexpectedResponse", "DataPlaneUnreachable":
			return exitInternal // not the input's fault
		}
		return exitInput
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(e.stderr, "vnetml: interrupted")
		return exitInternal
	}
	fmt.Fprintf(e.stderr, "vnetml: %v\n", err)
	return exitInternal
}

// queryError maps an error of a flow engine query to an ARM error whose
// target is the user's name for the field: fields maps the engine's field
// names (targetResourceId, localIPAddress, ...) to flags or JSON fields.
func queryError(err error, fields map[string]string) *armerror.Error {
	if a, ok := armerror.As(err); ok {
		return a
	}
	var qe *flow.QueryError
	if !errors.As(err, &qe) {
		return armerror.New(codeInvalidArgument, "", "%v", err)
	}
	target := qe.Field
	if f, ok := fields[qe.Field]; ok {
		target = f
	}
	code := codeInvalidArgument
	if errors.Is(qe.Err, flow.ErrNotFound) {
		code = codeNotFound
	}
	return armerror.New(code, target, "%v", qe.Err)
}
