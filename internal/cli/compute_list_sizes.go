package cli

import (
	"context"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/compute"
)

// computeListSizesCmd is `vnetml compute list-sizes [-l LOCATION]`: the
// SDK's AmlCompute.supported_vmsizes(ws, location), offline.
type computeListSizesCmd struct {
	env      *env
	out      outputFlag
	location string
}

func newComputeListSizesCmd(e *env) *cobra.Command {
	c := &computeListSizesCmd{env: e}
	cmd := &cobra.Command{
		Use:   "list-sizes [-l LOCATION] [-o table|json]",
		Short: "List the VM sizes a compute cluster can use (offline)",
		Long: `List the VM sizes AmlCompute offers in a region, as the SDK's
AmlCompute.supported_vmsizes does: each size's vCPUs, memory, GPUs, local
temporary disk and whether it can run low-priority nodes. It needs no
server: the catalog is vnetml's (the sizes of 2019, with Azure's figures;
every region of vnetml's cloud offers all of them). -o json prints the
SDK's fields (name, vCPUs, gpus, memoryGB, maxResourceVolumeMB) and
lowPriorityCapable.`,
		Example: `  vnetml compute list-sizes
  vnetml compute list-sizes -l westeurope -o json | jq -r '.[] | select(.gpus > 0) | .name'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	locationFlag(f, &c.location)
	c.out.register(f)
	return cmd
}

// vmSizeView is one size as supported_vmsizes returns it.
type vmSizeView struct {
	Name                string  `json:"name"`
	VCPUs               int     `json:"vCPUs"`
	GPUs                int     `json:"gpus"`
	MemoryGB            float64 `json:"memoryGB"`
	MaxResourceVolumeMB int     `json:"maxResourceVolumeMB"`
	LowPriorityCapable  bool    `json:"lowPriorityCapable"`
}

func (c *computeListSizesCmd) run(_ context.Context, _ []string) error {
	loc := firstOf(c.location, defaultLocation)
	sizes := compute.Sizes(loc)
	if len(sizes) == 0 {
		return usageErr(armerror.New(codeInvalidArgument, "--location",
			"AmlCompute offers no VM sizes in %q: it is not a region of vnetml's cloud (for example %s)", loc, defaultLocation))
	}
	if c.out.json() {
		out := make([]vmSizeView, len(sizes))
		for i, s := range sizes {
			out[i] = vmSizeView{s.Name, s.VCPUs, s.GPUs, s.MemoryGB, s.MaxResourceVolumeMB, s.LowPriorityCapable}
		}
		return writeJSON(c.env.stdout, out)
	}
	t := table{header: []string{"Name", "vCPUs", "MemoryGB", "GPUs", "TempDiskGB", "LowPriorityCapable"}}
	for _, s := range sizes {
		t.add(s.Name, strconv.Itoa(s.VCPUs), strconv.FormatFloat(s.MemoryGB, 'f', -1, 64), strconv.Itoa(s.GPUs),
			strconv.Itoa(s.MaxResourceVolumeMB/1024), strconv.FormatBool(s.LowPriorityCapable))
	}
	return t.write(c.env.stdout)
}
