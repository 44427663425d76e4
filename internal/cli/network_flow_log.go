package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
)

// flowLogCmd is `vnetml network flow-log`: the fabric's decisions, NSG
// flow log style.
type flowLogCmd struct {
	env      *env
	srv      serverFlags
	out      outputFlag
	nic      string
	address  string
	decision string
	limit    int
	follow   bool
}

func newFlowLogCmd(e *env) *cobra.Command {
	c := &flowLogCmd{env: e}
	cmd := &cobra.Command{
		Use:   "flow-log [--nic NIC] [--address IP] [--decision Allow|Deny] [--follow]",
		Short: "Show the data plane's flow log: every connection allowed or denied, and by which rule",
		Long: `Show the flow log of the server's data plane (the fabric): one record when a
connection is decided — allowed (state B) or denied (state D), with the
deciding rule, the resource that holds it and, for a denial, the fix — and
one when an allowed connection ends (state E), with its bytes. Each record
carries its NSG flow log (version 2) tuple.

--follow keeps printing new records as they come, until interrupted.`,
		Example: `  vnetml network flow-log --decision Deny
  vnetml network flow-log --nic node0 --follow
  vnetml network flow-log --address 198.18.3.9 -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	f := cmd.Flags()
	f.Var(text(&c.nic, "NIC"), "nic", "only flows from or to this network interface (name or id)")
	f.Var(text(&c.address, "IP"), "address", "only flows from or to this virtual address")
	f.Var(text(&c.decision, "Allow|Deny"), "decision", "only allowed or only denied flows")
	f.IntVar(&c.limit, "limit", 100, "at most this many records (the newest), unless --follow")
	f.BoolVarP(&c.follow, "follow", "f", false, "keep printing new records as they come")
	c.srv.register(f)
	c.out.register(f)
	return cmd
}

func (c *flowLogCmd) run(ctx context.Context, _ []string) error {
	q := url.Values{}
	if c.nic != "" {
		q.Set("nic", c.nic)
	}
	if c.address != "" {
		q.Set("address", c.address)
	}
	if c.decision != "" {
		q.Set("decision", c.decision)
	}
	cl, _, err := c.srv.client()
	if err != nil {
		return err
	}
	fetch := func(after uint64, wait string) (api.FlowLogPage, error) {
		q.Set("after", strconv.FormatUint(after, 10))
		if wait != "" {
			q.Set("wait", wait)
		}
		var page api.FlowLogPage
		err := cl.GetInto(ctx, api.FlowLogPath+"?"+q.Encode(), &page)
		return page, err
	}
	// Everything there is, keeping the newest --limit.
	var recs []api.FlowRecord
	var next uint64
	for {
		page, err := fetch(next, "")
		if err != nil {
			return flowLogErr(err)
		}
		recs = append(recs, page.Value...)
		if page.Truncated {
			fmt.Fprintln(c.env.stderr, "vnetml: older records were dropped from the server's flow log (it keeps the newest 65,536)")
		}
		if c.limit > 0 && len(recs) > c.limit {
			recs = recs[len(recs)-c.limit:]
		}
		next = page.Next
		if len(page.Value) < flowLogPage {
			break // the server scanned to the end
		}
	}
	t := c.print(recs, true)
	if !c.follow {
		return t
	}
	for {
		page, err := fetch(next, "30s")
		if errors.Is(err, context.Canceled) || ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return flowLogErr(err)
		}
		next = page.Next
		if page.Reset {
			fmt.Fprintln(c.env.stderr, "vnetml: the server restarted; its flow log starts again")
		}
		if err := c.print(page.Value, false); err != nil {
			return err
		}
	}
}

// flowLogPage is the most records the server answers at once.
const flowLogPage = 1000

func flowLogErr(err error) error {
	if a, ok := armerror.As(err); ok && a.Code == "InvalidQueryParameterValue" {
		return usageErr(a)
	}
	return err
}

// print writes records: JSON lines with -o json; else a table the first
// time, then (following) one line per record in the table's column order.
func (c *flowLogCmd) print(recs []api.FlowRecord, first bool) error {
	w := c.env.stdout
	if c.out.json() {
		for _, r := range recs {
			b, err := json.Marshal(r)
			if err != nil {
				return internalErr(err)
			}
			if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
				return internalErr(err)
			}
		}
		return nil
	}
	if first && len(recs) == 0 {
		_, err := fmt.Fprintln(w, "No flows recorded (yet).")
		return internalErr(err)
	}
	t := table{header: []string{"Time", "Source", "Destination", "Decision", "State", "Rule", "Bytes", "Reason"}}
	for _, r := range recs {
		t.add(flowRow(r)...)
	}
	if first {
		return t.write(w)
	}
	for _, row := range t.rows {
		if _, err := fmt.Fprintln(w, strings.TrimRight(strings.Join(row, "  "), " ")); err != nil {
			return internalErr(err)
		}
	}
	return nil
}

// flowRow is a record's table row.
func flowRow(r api.FlowRecord) []string {
	when := r.Time
	if tm, err := time.Parse(time.RFC3339Nano, r.Time); err == nil {
		when = tm.Local().Format("15:04:05.000")
	}
	dec := map[string]string{"A": "Allow", "D": "Deny"}[r.Decision]
	state := map[string]string{"B": "begin", "E": "end"}[r.State]
	if r.Decision == "D" {
		state = "refused"
	}
	bytes := ""
	if r.State == "E" {
		bytes = fmt.Sprintf("%d/%d", r.BytesSent, r.BytesReceived)
	}
	return []string{when, r.Source, r.Destination, dec, state, r.Rule, bytes, oneLine(r.Reason)}
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
