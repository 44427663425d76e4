package apiserver_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
	"github.com/vnetml/vnetml/internal/store"
)

// BenchmarkIPFlowVerify: the same question asked over HTTP (loopback,
// keep-alive, bearer token, JSON both ways) and of an engine compiled
// in-process from the very documents the server stores — the cost the API
// adds to a decision.
func BenchmarkIPFlowVerify(b *testing.B) {
	e := newEnv(b)
	e.secureNetwork()
	body := []byte(verifyBody("Inbound", "10.0.0.4", "198.18.3.9", 29876, 443))

	// The baseline engine: compiled from the server's own documents.
	var snap network.Snapshot
	for _, id := range []string{nsg, vnet, nic} {
		if err := snap.DecodeBytes(id, e.must(200, "GET", id, nil).body); err != nil {
			b.Fatal(err)
		}
	}
	if err := snap.Finish(); err != nil {
		b.Fatal(err)
	}
	eng := flow.Compile(&snap, servicetag.LocalCloud())
	q := flow.VerifyQuery{NIC: nic, Direction: flow.Inbound, Protocol: network.ProtoTCP,
		Local: netip.MustParseAddrPort("10.0.0.4:29876"), Remote: netip.MustParseAddrPort("198.18.3.9:443")}
	if r, err := eng.IPFlowVerify(q); err != nil || r.Access != "Allow" {
		b.Fatalf("baseline: %v %v", r, err)
	}

	b.Run("inprocess", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := eng.IPFlowVerify(q); err != nil {
				b.Fatal(err)
			}
		}
	})
	url := e.http.URL + nw + "/ipFlowVerify?api-version=2023-09-01"
	client := e.http.Client()
	post := func() error {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.admin)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	b.Run("http", func(b *testing.B) {
		var lat []time.Duration
		for b.Loop() {
			start := time.Now()
			if err := post(); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		reportPercentiles(b, lat)
	})
	// The floor: the same request to a handler that only reads the body
	// and answers a constant, over the same kind of loopback connection.
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access":"Allow","ruleName":"securityRules/allow-batch"}`))
	}))
	defer bare.Close()
	b.Run("http-bare", func(b *testing.B) {
		var lat []time.Duration
		bc := bare.Client()
		for b.Loop() {
			start := time.Now()
			req, _ := http.NewRequest(http.MethodPost, bare.URL+"/x", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+e.admin)
			resp, err := bc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lat = append(lat, time.Since(start))
		}
		reportPercentiles(b, lat)
	})
	b.Run("http-parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := post(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkWrite: an NSG rule changed through the API (validation, lock
// and quota checks, the durable store write, and waiting for the engine
// to reflect it) against the same document put straight into the store
// (one fsync'd SQLite transaction), in the same run.
func BenchmarkWrite(b *testing.B) {
	e := newEnv(b)
	e.secureNetwork()
	var n atomic.Int64
	rule := func() []byte {
		return fmt.Appendf(nil, `{"properties": {"priority": %d, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
			"sourceAddressPrefix": "AzureMachineLearning", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "22"}}`,
			300+n.Add(1)%100)
	}
	client := e.http.Client()
	put := func(path string, body []byte) error {
		req, _ := http.NewRequest(http.MethodPut, e.http.URL+path+"?api-version=2023-09-01", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.admin)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	b.Run("store", func(b *testing.B) {
		doc := e.must(200, "GET", nsg, nil).body
		ctx := context.Background()
		id := rg + "/providers/Microsoft.Network/networkSecurityGroups/raw"
		for b.Loop() {
			if _, err := e.st.Put(ctx, id, doc, store.Condition{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("api", func(b *testing.B) {
		for b.Loop() {
			if err := put(nsg+"/securityRules/ssh", rule()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("api-parallel", func(b *testing.B) {
		var i atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			w := i.Add(1)
			for i := 0; pb.Next(); i++ {
				path := fmt.Sprintf("%s/networkSecurityGroups/bench-%d", net, w)
				// A new tag each time: a PUT that changes nothing writes nothing.
				body := strings.Replace(nsgBody, `"location": "eastus"`, fmt.Sprintf(`"location": "eastus", "tags": {"n": "%d"}`, i), 1)
				if err := put(path, []byte(body)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
