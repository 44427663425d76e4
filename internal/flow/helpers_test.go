package flow_test

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

const (
	sub = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network"
)

// compile decodes ARM JSON documents (one per argument) into an engine over
// the local cloud, failing on any decode error or compile warning.
func compile(t testing.TB, docs ...string) *flow.Engine {
	t.Helper()
	return compileWith(t, servicetag.LocalCloud(), docs...)
}

func compileWith(t testing.TB, tags *servicetag.Registry, docs ...string) *flow.Engine {
	t.Helper()
	var s network.Snapshot
	for i, d := range docs {
		if err := s.DecodeBytes("doc"+string(rune('0'+i)), []byte(d)); err != nil {
			t.Fatalf("decode: %v", err)
		}
	}
	if err := s.Finish(); err != nil {
		t.Fatalf("finish: %v", err)
	}
	e := flow.Compile(&s, tags)
	for _, w := range e.Warnings() {
		t.Errorf("compile warning: %v", w)
	}
	return e
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
func ip(s string) netip.Addr     { return netip.MustParseAddr(s) }

// verify runs IP flow verify and returns "Access ruleName".
func verify(t testing.TB, e *flow.Engine, nic, dir, proto, local, remote string) string {
	t.Helper()
	d, ok := flow.ParseDirection(dir)
	if !ok {
		t.Fatalf("bad direction %q", dir)
	}
	p, _ := network.ParseProtocol(proto)
	r, err := e.IPFlowVerify(flow.VerifyQuery{NIC: nic, Direction: d, Protocol: p, Local: ap(local), Remote: ap(remote)})
	if err != nil {
		t.Fatalf("IPFlowVerify: %v", err)
	}
	return strings.TrimSpace(r.Access + " " + r.RuleName)
}

// nsgJSON renders an NSG with the given rules (each a JSON properties object
// plus name).
func nsgJSON(name string, rules ...string) string {
	return `{"type":"Microsoft.Network/networkSecurityGroups","id":"` + sub + `/networkSecurityGroups/` + name +
		`","name":"` + name + `","location":"eastus","properties":{"securityRules":[` + strings.Join(rules, ",") + `]}}`
}

// rule renders a security rule; extra holds the address/port fields.
func rule(name string, prio int, dir, access, proto, extra string) string {
	return `{"name":"` + name + `","properties":{"priority":` + itoa(prio) + `,"direction":"` + dir + `","access":"` + access +
		`","protocol":"` + proto + `",` + extra + `}}`
}

func itoa(i int) string { return strconv.Itoa(i) }

// any4 is the address/port part of a rule matching everything.
const any4 = `"sourceAddressPrefix":"*","sourcePortRange":"*","destinationAddressPrefix":"*","destinationPortRange":"*"`

func nicJSON(name, subnetID, addr, nsg string, extra ...string) string {
	n := ""
	if nsg != "" {
		n = `"networkSecurityGroup":{"id":"` + sub + `/networkSecurityGroups/` + nsg + `"},`
	}
	x := ""
	if len(extra) > 0 {
		x = "," + strings.Join(extra, ",")
	}
	return `{"type":"Microsoft.Network/networkInterfaces","id":"` + sub + `/networkInterfaces/` + name + `","name":"` + name +
		`","location":"eastus","properties":{` + n + `"ipConfigurations":[{"name":"ipconfig1","properties":{"privateIPAddress":"` + addr +
		`","subnet":{"id":"` + subnetID + `"}` + x + `}}]}}`
}

func subnetID(vnet, subnet string) string {
	return sub + "/virtualNetworks/" + vnet + "/subnets/" + subnet
}

// realTagFile is Azure's real tag file, kept beside the repository.
const realTagFile = "../../../shared/data/ServiceTags_Public.json"

// realTags parses it once for every test: a Registry is immutable.
var realTags = sync.OnceValues(func() (*servicetag.Registry, error) {
	f, err := os.Open(realTagFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return servicetag.Load(f)
})

// loadRealTags returns the real tag registry, skipping when the file is
// absent (it lives in ../shared/data, outside the repository).
func loadRealTags(tb testing.TB) *servicetag.Registry {
	tb.Helper()
	r, err := realTags()
	if errors.Is(err, fs.ErrNotExist) {
		tb.Skipf("real service tag file not available (%v); it lives in ../shared/data", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return r
}
