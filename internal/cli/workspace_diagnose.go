package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"
)

// workspaceDiagnoseCmd is `vnetml workspace diagnose NAME`: Azure ML's
// workspace diagnostic API (Workspace.diagnose_workspace, az ml workspace
// diagnose).
type workspaceDiagnoseCmd struct {
	env   *env
	srv   serverFlags
	out   outputFlag
	group string
}

func newWorkspaceDiagnoseCmd(e *env) *cobra.Command {
	c := &workspaceDiagnoseCmd{env: e}
	cmd := &cobra.Command{
		Use:   "diagnose NAME [-g GROUP] [-o table|json]",
		Short: "Check every flow the workspace's compute clusters need, and what blocks it",
		Long: `Diagnose a workspace as Azure ML's workspace diagnostic API does: for each
of its compute clusters, check with the engine the network enforces every
flow the cluster needs — Batch node management in on TCP 29876-29877, the
storage account (443, and 445 for workspacefilestore) and key vault out,
through their firewalls, the container registry and the Azure ML service
out, the return path under forced tunneling — and the locks on the groups
where clusters create their resources. Each finding names the rule, route
or firewall that decides and how to fix it.

The table groups the findings by category (network security rules,
user-defined routes, resource locks, storage account, key vault, container
registry, ...), showing only the categories with findings, or "No problems
found."; -o json prints the API's answer, {"value": {"<category>_results":
[{code, level, message}]}}.

Exit status: 0 whatever the findings, as az ml workspace diagnose: they are
the answer. A script that must fail on errors counts them in the JSON, e.g.
jq '[.value[][] | select(.level == "Error")] | length'. 2 when the
workspace does not exist, 1 when the server cannot be reached.`,
		Example: `  vnetml workspace diagnose myworkspace -g mygroup
  vnetml workspace diagnose myworkspace -o json | jq '.value.network_security_rule_results'`,
		Args: nameArg("the name of the workspace to diagnose"),
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	groupFlag(f, &c.group, false)
	c.out.register(f)
	c.srv.register(f)
	return cmd
}

// finding is one finding of the diagnostic API.
type finding struct {
	Code    string `json:"code"`
	Level   string `json:"level"` // Error, Warning or Information
	Message string `json:"message"`
}

// diagnoseCategories are the categories of the diagnostic API, in its
// order, with the headings the table gives them.
var diagnoseCategories = []struct{ key, heading string }{
	{"user_defined_route_results", "User-defined routes"},
	{"network_security_rule_results", "Network security rules"},
	{"resource_lock_results", "Resource locks"},
	{"dns_resolution_results", "DNS resolution"},
	{"storage_account_results", "Storage account"},
	{"key_vault_results", "Key vault"},
	{"container_registry_results", "Container registry"},
	{"application_insights_results", "Application Insights"},
	{"other_results", "Other"},
}

func (c *workspaceDiagnoseCmd) run(ctx context.Context, args []string) error {
	cl, r, err := c.srv.client()
	if err != nil {
		return err
	}
	id, err := findResource(ctx, cl, workspaceType, r.subscription, c.group, args[0])
	if err != nil {
		return err
	}
	var answer json.RawMessage
	if err := cl.Post(ctx, id+"/diagnose", map[string]any{"value": map[string]any{}}, &answer); err != nil {
		return err
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, answer)
	}
	return printDiagnosis(c.env.stdout, answer)
}

// printDiagnosis prints the diagnostic API's answer: a heading and a
// table of level, code and message for each category with findings, then
// any category the API added that this CLI does not know.
func printDiagnosis(w io.Writer, answer json.RawMessage) error {
	var d struct {
		Value map[string][]finding `json:"value"`
	}
	if err := json.Unmarshal(answer, &d); err != nil {
		return internalErr(fmt.Errorf("the server's diagnosis is not JSON: %w", err))
	}
	known := map[string]bool{}
	type section struct {
		heading  string
		findings []finding
	}
	var sections []section
	for _, cat := range diagnoseCategories {
		known[cat.key] = true
		if f := d.Value[cat.key]; len(f) > 0 {
			sections = append(sections, section{cat.heading + " (" + cat.key + ")", f})
		}
	}
	var extra []string
	for key, f := range d.Value {
		if !known[key] && len(f) > 0 {
			extra = append(extra, key)
		}
	}
	sort.Strings(extra)
	for _, key := range extra {
		sections = append(sections, section{key, d.Value[key]})
	}
	if len(sections) == 0 {
		_, err := fmt.Fprintln(w, "No problems found.")
		return internalErr(err)
	}
	for i, s := range sections {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s:\n", s.heading)
		t := table{header: []string{"Level", "Code", "Message"}}
		for _, f := range s.findings {
			t.add(f.Level, f.Code, f.Message)
		}
		if err := t.write(w); err != nil {
			return err
		}
	}
	return nil
}
