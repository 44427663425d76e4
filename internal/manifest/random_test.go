package manifest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// gen builds random valid manifests: the fuzzer mostly finds broken input,
// this finds the corners of valid input (odd names and strings, every
// optional field, references in every form, verbatim documents of any
// shape), written out by the YAML library itself.
type gen struct {
	r *rand.Rand
	n int // names handed out, to keep them unique
}

var alphabet = []string{"a", "b", "Z", "0", "9", "-", "_", ".", " ", "é", "ß", "名", "😀", "(", ")", "'", "\"", "#", ":", "*", "&", "!", "%", "@", "~", "\\"}

// name returns a name that is valid and unique in the run.
func (g *gen) name() string {
	var b strings.Builder
	for i := g.r.IntN(6); i >= 0; i-- {
		b.WriteString(alphabet[g.r.IntN(len(alphabet))])
	}
	g.n++
	return fmt.Sprintf("%s%d", b.String(), g.n)
}

// text returns any string: control characters, line breaks and YAML's
// special words included.
func (g *gen) text() string {
	switch g.r.IntN(8) {
	case 0:
		return []string{"", "true", "null", "~", "0x1f", "1e400", "2020-01-01", "- a", "a: b", "[x]", "{}", "*", "&x"}[g.r.IntN(13)]
	case 1:
		var b strings.Builder
		for i := g.r.IntN(5); i >= 0; i-- {
			b.WriteRune([]rune{0, 1, '\t', '\n', '\r', 0x7f, 0x85, 0xa0, 0x2028, 0x2029, 0xfeff, 0xfffd, 0x10ffff}[g.r.IntN(13)])
		}
		return b.String()
	}
	return g.name()
}

func (g *gen) pick(xs ...any) any { return xs[g.r.IntN(len(xs))] }

func (g *gen) maybe(m map[string]any, key string, v func() any) {
	if g.r.IntN(2) == 0 {
		m[key] = v()
	}
}

func (g *gen) list(n int, f func() any) []any {
	out := make([]any, g.r.IntN(n+1))
	for i := range out {
		out[i] = f()
	}
	return out
}

// json returns a random JSON-able value.
func (g *gen) json(depth int) any {
	k := g.r.IntN(9)
	if depth > 3 {
		k %= 6
	}
	switch k {
	case 0:
		return g.text()
	case 1:
		return g.r.Int64() >> g.r.IntN(64)
	case 2:
		return g.r.NormFloat64() * 1e6
	case 3:
		return g.r.IntN(2) == 0
	case 4:
		return nil
	case 5:
		return -g.r.IntN(1000)
	case 6, 7:
		m := map[string]any{}
		for i := g.r.IntN(4); i > 0; i-- {
			m[g.text()] = g.json(depth + 1)
		}
		return m
	}
	return g.list(3, func() any { return g.json(depth + 1) })
}

func (g *gen) tags() any {
	m := map[string]any{}
	for i := g.r.IntN(3); i > 0; i-- {
		m[g.text()] = g.pick(g.text(), g.r.IntN(100), 1.5, true)
	}
	return m
}

func (g *gen) locks() any {
	return g.list(2, func() any {
		l := map[string]any{"name": g.name(), "level": g.pick("CanNotDelete", "ReadOnly", "readonly")}
		g.maybe(l, "notes", func() any { return g.text() })
		return l
	})
}

func (g *gen) common(m map[string]any) map[string]any {
	m["name"] = g.name()
	g.maybe(m, "location", func() any { return g.text() })
	g.maybe(m, "tags", g.tags)
	g.maybe(m, "locks", g.locks)
	return m
}

// ref returns a reference: a name, or an id in another group.
func (g *gen) ref(typ string) any {
	if g.r.IntN(3) == 0 {
		path := typ + "/" + g.name()
		if typ == "virtualNetworks/subnets" {
			path = "virtualNetworks/" + g.name() + "/subnets/" + g.name()
		}
		return "/subscriptions/x/resourceGroups/" + g.name() + "/providers/Microsoft.Network/" + path
	}
	if typ == "virtualNetworks/subnets" {
		return g.name() + "/" + g.name()
	}
	return g.name()
}

func (g *gen) oneOrMany() any {
	if g.r.IntN(2) == 0 {
		return g.pick(g.text(), g.r.IntN(65536))
	}
	return g.list(3, func() any { return g.pick(g.text(), g.r.IntN(65536)) })
}

func (g *gen) group() map[string]any {
	grp := g.common(map[string]any{"location": g.text()})
	g.maybe(grp, "applicationSecurityGroups", func() any {
		return g.list(2, func() any { return g.common(map[string]any{}) })
	})
	g.maybe(grp, "networkSecurityGroups", func() any {
		return g.list(2, func() any {
			return g.common(map[string]any{"rules": g.list(3, func() any {
				r := map[string]any{"name": g.name(), "priority": g.r.IntN(5000)}
				for _, k := range []string{"direction", "access", "protocol", "description"} {
					g.maybe(r, k, func() any { return g.text() })
				}
				for _, k := range []string{"source", "sourcePorts", "destination", "destinationPorts"} {
					g.maybe(r, k, g.oneOrMany)
				}
				for _, k := range []string{"sourceApplicationSecurityGroups", "destinationApplicationSecurityGroups"} {
					g.maybe(r, k, func() any { return g.list(2, func() any { return g.ref("applicationSecurityGroups") }) })
				}
				return r
			})})
		})
	})
	g.maybe(grp, "routeTables", func() any {
		return g.list(2, func() any {
			rt := g.common(map[string]any{"routes": g.list(2, func() any {
				r := map[string]any{"name": g.name(), "addressPrefix": g.name(), "nextHopType": g.name()}
				g.maybe(r, "nextHopIpAddress", func() any { return g.text() })
				return r
			})})
			g.maybe(rt, "disableBgpRoutePropagation", func() any { return g.r.IntN(2) == 0 })
			return rt
		})
	})
	g.maybe(grp, "publicIPAddresses", func() any {
		return g.list(2, func() any {
			p := g.common(map[string]any{})
			for _, k := range []string{"sku", "allocationMethod", "version", "ipAddress"} {
				g.maybe(p, k, func() any { return g.text() })
			}
			g.maybe(p, "idleTimeoutInMinutes", func() any { return g.r.IntN(30) })
			return p
		})
	})
	g.maybe(grp, "virtualNetworks", func() any {
		return g.list(2, func() any {
			v := g.common(map[string]any{"addressSpace": g.list(2, func() any { return g.text() })})
			g.maybe(v, "dnsServers", func() any { return g.list(2, func() any { return g.text() }) })
			g.maybe(v, "subnets", func() any {
				return g.list(3, func() any {
					s := map[string]any{"name": g.name(), "addressPrefix": g.pick(g.name(), g.list(2, func() any { return g.text() }))}
					g.maybe(s, "networkSecurityGroup", func() any { return g.ref("networkSecurityGroups") })
					g.maybe(s, "routeTable", func() any { return g.ref("routeTables") })
					g.maybe(s, "serviceEndpoints", func() any {
						return g.list(2, func() any {
							if g.r.IntN(2) == 0 {
								return g.text()
							}
							return map[string]any{"service": g.name(), "locations": g.list(2, func() any { return g.text() })}
						})
					})
					return s
				})
			})
			g.maybe(v, "peerings", func() any {
				return g.list(2, func() any {
					p := map[string]any{"name": g.name(), "remoteVirtualNetwork": g.ref("virtualNetworks")}
					for _, k := range peeringSchema.fields[2:] {
						g.maybe(p, k, func() any { return g.r.IntN(2) == 0 })
					}
					return p
				})
			})
			return v
		})
	})
	firewall := func(m map[string]any, rule func() any) {
		g.maybe(m, "firewall", func() any {
			fw := map[string]any{"defaultAction": g.name()}
			g.maybe(fw, "bypass", func() any { return g.pick(g.text(), []any{g.text(), g.text()}) })
			g.maybe(fw, "ipRules", func() any { return g.list(2, func() any { return g.text() }) })
			g.maybe(fw, "virtualNetworkRules", func() any { return g.list(2, rule) })
			return fw
		})
		for _, k := range []string{"sku", "publicNetworkAccess"} {
			g.maybe(m, k, func() any { return g.text() })
		}
	}
	g.maybe(grp, "storageAccounts", func() any {
		return g.list(2, func() any {
			g.n++
			st := g.common(map[string]any{})
			st["name"] = fmt.Sprintf("st%d", g.n)
			g.maybe(st, "kind", func() any { return g.text() })
			firewall(st, func() any {
				if g.r.IntN(2) == 0 {
					return map[string]any{"subnet": g.ref("virtualNetworks/subnets")}
				}
				return g.ref("virtualNetworks/subnets")
			})
			return st
		})
	})
	g.maybe(grp, "keyVaults", func() any {
		return g.list(2, func() any {
			g.n++
			kv := g.common(map[string]any{})
			kv["name"] = fmt.Sprintf("Kv-%d", g.n)
			g.maybe(kv, "tenantId", func() any { return g.text() })
			firewall(kv, func() any {
				if g.r.IntN(2) == 0 {
					r := map[string]any{"subnet": g.ref("virtualNetworks/subnets")}
					g.maybe(r, "ignoreMissingVnetServiceEndpoint", func() any { return g.r.IntN(2) == 0 })
					return r
				}
				return g.ref("virtualNetworks/subnets")
			})
			return kv
		})
	})
	g.maybe(grp, "networkInterfaces", func() any {
		return g.list(2, func() any {
			n := g.common(map[string]any{"subnet": g.ref("virtualNetworks/subnets")})
			g.maybe(n, "privateIPAddress", func() any { return g.text() })
			g.maybe(n, "publicIPAddress", func() any { return g.ref("publicIPAddresses") })
			g.maybe(n, "networkSecurityGroup", func() any { return g.ref("networkSecurityGroups") })
			g.maybe(n, "applicationSecurityGroups", func() any { return g.list(2, func() any { return g.ref("applicationSecurityGroups") }) })
			g.maybe(n, "enableIPForwarding", func() any { return g.r.IntN(2) == 0 })
			return n
		})
	})
	g.maybe(grp, "resources", func() any {
		return g.list(3, func() any {
			typ, name := "Microsoft.Network/loadBalancers", g.name()
			if g.r.IntN(3) == 0 {
				typ, name = "Microsoft.Network/virtualNetworks/subnets", g.name()+"/"+name
			}
			m := map[string]any{"type": typ, "name": name}
			for i := g.r.IntN(4); i > 0; i-- {
				k := g.text()
				if k != "id" && k != "name" && k != "type" {
					m[k] = g.json(0)
				}
			}
			return m
		})
	})
	return grp
}

// TestRandomManifests: random valid manifests parse; their resources
// satisfy FuzzParse's properties and round-trip.
func TestRandomManifests(t *testing.T) {
	g := &gen{r: rand.New(rand.NewPCG(1, 2))}
	runs := 300
	if testing.Short() {
		runs = 30
	}
	resources := 0
	for i := range runs {
		m := map[string]any{"resourceGroups": g.list(3, func() any { return g.group() })}
		g.maybe(m, "subscription", func() any { return g.name() })
		g.maybe(m, "location", func() any { return g.text() })
		data, err := yaml.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if yaml.Unmarshal(data, &v) != nil {
			// The YAML library writes some strings (a tab alone on a line
			// of a block scalar) that it cannot read back; JSON is YAML.
			if data, err = json.Marshal(m); err != nil {
				t.Fatal(err)
			}
		}
		rs, err := Parse("f.yaml", data, Defaults{Location: "eastus"})
		if err != nil {
			t.Fatalf("manifest %d does not parse: %v\n%s", i, err, data)
		}
		resources += len(rs)
		checkResources(t, rs, "f.yaml:")
		checkRoundTrip(t, rs)
	}
	if resources < runs {
		t.Errorf("only %d resources in %d manifests: the generator is too timid", resources, runs)
	}
}
