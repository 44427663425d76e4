package fabric

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func seqs(rs []Record) []uint64 {
	var out []uint64
	for _, r := range rs {
		out = append(out, r.Seq)
	}
	return out
}

func TestFlowLogRing(t *testing.T) {
	l := NewFlowLog(4)
	for i := range 8 {
		l.Append(Record{Src: fmt.Sprintf("10.0.0.%d:1", i), Dst: "10.0.0.9:80", Decision: "A", State: "B"})
	}
	tests := []struct {
		name             string
		after            uint64
		limit            int
		match            func(*Record) bool
		want             []uint64
		next             uint64
		truncated, reset bool
	}{
		{"all kept", 0, 0, nil, []uint64{5, 6, 7, 8}, 8, true, false},
		{"from a kept cursor", 6, 0, nil, []uint64{7, 8}, 8, false, false},
		{"caught up", 8, 0, nil, nil, 8, false, false},
		{"an evicted cursor", 2, 0, nil, []uint64{5, 6, 7, 8}, 8, true, false},
		{"a cursor from before a restart", 100, 0, nil, []uint64{5, 6, 7, 8}, 8, true, true},
		{"limit", 0, 2, nil, []uint64{5, 6}, 6, true, false},
		{"limit counts matches only", 4, 1, func(r *Record) bool { return r.Seq%2 == 0 }, []uint64{6}, 6, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, next, truncated, reset := l.Query(tc.match, tc.after, tc.limit)
			if fmt.Sprint(seqs(got)) != fmt.Sprint(tc.want) || next != tc.next || truncated != tc.truncated || reset != tc.reset {
				t.Errorf("Query(after %d, limit %d) = %v next %d truncated %v reset %v; want %v next %d truncated %v reset %v",
					tc.after, tc.limit, seqs(got), next, truncated, reset, tc.want, tc.next, tc.truncated, tc.reset)
			}
		})
	}
}

func TestFlowLogWait(t *testing.T) {
	l := NewFlowLog(0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	if err := l.Wait(ctx, 0); err == nil {
		t.Error("Wait on an empty log returned")
	}
	cancel()
	woke := make(chan error)
	go func() { woke <- l.Wait(context.Background(), 0) }()
	l.Append(Record{})
	if err := <-woke; err != nil {
		t.Fatal(err)
	}
	// A cursor beyond the newest (before a restart) does not wait.
	if err := l.Wait(context.Background(), 50); err != nil {
		t.Fatal(err)
	}
}

func TestFilter(t *testing.T) {
	r := &Record{Src: "10.0.0.4:5000", Dst: "198.18.1.4:443", SrcNIC: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkInterfaces/node0", Decision: "D"}
	for _, tc := range []struct {
		f    Filter
		want bool
	}{
		{Filter{}, true},
		{Filter{NIC: "node0"}, true},
		{Filter{NIC: "NODE0"}, true},
		{Filter{NIC: "node1"}, false},
		{Filter{NIC: r.SrcNIC}, true},
		{Filter{Addr: netip.MustParseAddr("198.18.1.4")}, true},
		{Filter{Addr: netip.MustParseAddr("10.0.0.5")}, false},
		{Filter{Decision: "Deny"}, true},
		{Filter{Decision: "A"}, false},
	} {
		if got := tc.f.Matches(r); got != tc.want {
			t.Errorf("%+v.Matches = %v, want %v", tc.f, got, tc.want)
		}
	}
	if tup := (&Record{Time: time.Unix(100, 0), Proto: "T", Src: "10.0.0.4:5000", Dst: "198.18.1.4:443", SrcNIC: "n", Decision: "A", State: "E", BytesSent: 7, BytesReceived: 9}).Tuple(); tup != "100,10.0.0.4,198.18.1.4,5000,443,T,O,A,E,,7,,9" {
		t.Errorf("tuple %q", tup)
	}
}
