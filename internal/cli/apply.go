package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/manifest"
)

// applyCmd is `vnetml apply -f FILE`: a manifest's resources put in one
// transaction, idempotently.
type applyCmd struct {
	env      *env
	server   serverFlags
	out      outputFlag
	file     string
	location string
	dryRun   bool
}

func newApplyCmd(e *env) *cobra.Command {
	c := &applyCmd{env: e}
	cmd := &cobra.Command{
		Use:   "apply -f FILE [--dry-run]",
		Short: "Create or update the resources of a manifest (YAML, or ARM JSON)",
		Long: `Create or update the resources a manifest declares, in one transaction: either
all of them are applied or none is. Applying the same manifest again changes
nothing. The answer lists each resource as created, changed or unchanged.

A manifest is concise YAML that expands to ARM resources (docs/manifest.md);
ARM JSON resources with their ids — one, an array, or {"value": [...]} — are
accepted as they are. With --dry-run the server checks everything (locks,
quotas, references, every validation error) and writes nothing.`,
		Example: `  vnetml apply -f examples/secure-network.yaml
  vnetml apply -f examples/secure-network.yaml --dry-run
  az network nsg show -g mygroup -n ml-nsg -o json | vnetml apply -f -`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	f := cmd.Flags()
	f.VarP(text(&c.file, "FILE"), "file", "f", "the manifest (- reads stdin)")
	f.Var(text(&c.location, "REGION"), "location", "the region of resources that name none (default eastus)")
	f.BoolVar(&c.dryRun, "dry-run", false, "check everything and write nothing; print the plan")
	c.server.register(f)
	c.out.register(f)
	return cmd
}

func (c *applyCmd) run(ctx context.Context, _ []string) error {
	if c.file == "" {
		return usageErr(armerror.New(codeMissingArgument, "--file", "--file is required: the manifest to apply (- for stdin)."))
	}
	cl, srv, err := c.server.client()
	if err != nil {
		return err
	}
	name, data, err := c.read()
	if err != nil {
		return err
	}
	loc := c.location
	if loc == "" {
		loc = "eastus"
	}
	res, err := manifest.Parse(name, data, manifest.Defaults{Subscription: srv.subscription, Location: loc})
	if err != nil {
		return err
	}
	docs := make([]json.RawMessage, len(res))
	for i, r := range res {
		docs[i] = r.Doc
	}
	out, err := cl.Apply(ctx, docs, c.dryRun)
	if err != nil {
		if e, ok := armerror.As(err); ok {
			return located(e, res)
		}
		return err
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, out)
	}
	return c.print(c.env.stdout, out, res)
}

func (c *applyCmd) read() (string, []byte, error) {
	if c.file == "-" {
		b, err := io.ReadAll(io.LimitReader(c.env.stdin, manifest.MaxBytes+1))
		if err != nil {
			return "", nil, usageErr(armerror.New(codeInvalidArgument, "--file", "reading stdin: %v", err))
		}
		return "stdin", b, nil
	}
	b, err := os.ReadFile(c.file)
	if err != nil {
		return "", nil, usageErr(armerror.New(codeInvalidArgument, "--file", "cannot read the manifest: %v", err))
	}
	return c.file, b, nil
}

// print writes one line per resource and a summary.
func (c *applyCmd) print(w io.Writer, out api.ApplyResult, res []manifest.Resource) error {
	verb := map[string]string{api.ActionCreated: "created", api.ActionChanged: "changed", api.ActionUnchanged: "unchanged"}
	if out.DryRun {
		verb = map[string]string{api.ActionCreated: "would create", api.ActionChanged: "would change", api.ActionUnchanged: "unchanged"}
		fmt.Fprintln(w, "Plan (dry run: nothing was written):")
	}
	t := table{header: []string{"Action", "Type", "Resource"}}
	counts := map[string]int{}
	for _, a := range out.Resources {
		counts[a.Action]++
		t.add(verb[a.Action], shortType(a.Type), shortID(a.ID))
	}
	if err := t.write(w); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d %s, %d %s, %d unchanged.\n",
		counts[api.ActionCreated], verb[api.ActionCreated], counts[api.ActionChanged], verb[api.ActionChanged], counts[api.ActionUnchanged])
	return err
}

// shortType drops the namespace of a type: virtualNetworks/subnets.
func shortType(t string) string {
	if i := strings.IndexByte(t, '/'); i >= 0 {
		return t[i+1:]
	}
	return t
}

// shortID names a resource by group and name path.
func shortID(id string) string {
	segs := strings.Split(strings.Trim(id, "/"), "/")
	var group string
	var names []string
	for i := 0; i+1 < len(segs); i++ {
		switch strings.ToLower(segs[i]) {
		case "resourcegroups":
			group = segs[i+1]
			i++
		case "providers":
			i++ // skip the namespace
		case "subscriptions":
			i++
		default:
			names = append(names, segs[i+1])
			i++
		}
	}
	switch {
	case group == "" && len(names) == 0:
		return id
	case len(names) == 0:
		return group
	case group == "":
		return strings.Join(names, "/")
	}
	return group + "/" + strings.Join(names, "/")
}

var resourceIndex = regexp.MustCompile(`^resources\[(\d+)\]\.?`)

// located rewrites the server's targets "resources[i].…" to the manifest
// place that declared resource i, so that an error points into the file.
func located(e *armerror.Error, res []manifest.Resource) *armerror.Error {
	c := *e
	if m := resourceIndex.FindStringSubmatch(c.Target); m != nil {
		if i, err := strconv.Atoi(m[1]); err == nil && i < len(res) {
			rest := c.Target[len(m[0]):]
			c.Target = res[i].Source
			if rest != "" {
				c.Target += " " + rest
			}
			c.Message = shortID(res[i].ID) + ": " + c.Message
		}
	}
	if len(e.Details) > 0 {
		c.Details = make([]*armerror.Error, len(e.Details))
		for i, d := range e.Details {
			c.Details[i] = located(d, res)
		}
	}
	return &c
}
