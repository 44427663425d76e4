package cli

import (
	"os"
	"testing"

	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
)

// FuzzQueryLine: no --queries line panics; every line is either answered
// with Allow or Deny or refused with an error that has a code.
func FuzzQueryLine(f *testing.F) {
	data, err := os.ReadFile("../../examples/secure-network/network.json")
	if err != nil {
		f.Fatal(err)
	}
	var s network.Snapshot
	if err := s.DecodeBytes("network.json", data); err != nil {
		f.Fatal(err)
	}
	if err := s.Finish(); err != nil {
		f.Fatal(err)
	}
	eng := flow.Compile(&s, nil)
	for _, seed := range []string{
		`{"nic":"node0","direction":"Inbound","protocol":"TCP","local":"10.0.0.4:29876","remote":"198.18.3.9:443"}`,
		`{"nic":"node0","direction":"outbound","protocol":"udp","local":"10.0.0.4:*","remote":"8.8.8.8:53"}`,
		`{"nic":"nope","direction":"Inbound","protocol":"TCP","local":"10.0.0.4:1","remote":"1.1.1.1:1"}`,
		`{"nic":"node0","direction":"Inbound","protocol":"ICMP","local":"[::1]:1","remote":"1.1.1.1:99999"}`,
		`{"nic":1}`, `[]`, `{}`, `{"nic":"node0"} {"nic":"node0"}`, ``, `null`,
	} {
		f.Add([]byte(seed), false)
	}
	f.Fuzz(func(t *testing.T, line []byte, long bool) {
		res, aerr := answerQueryLine(eng, line, long)
		if aerr != nil {
			if aerr.Code == "" || aerr.Message == "" {
				t.Fatalf("error without code or message: %+v", aerr)
			}
			return
		}
		if res.Access != "Allow" && res.Access != "Deny" {
			t.Fatalf("answer %+v is neither Allow nor Deny", res)
		}
	})
}
