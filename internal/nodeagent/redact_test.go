package nodeagent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
)

func TestSecretNeverPrinted(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef-very-secret"
	a := &Agent{NodeID: "node-1", ClusterID: "c", PID: 42, Secret: Secret(secret),
		Management: netip.MustParseAddrPort("127.0.0.1:1"), Control: netip.MustParseAddrPort("127.0.0.1:2")}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		outs = append(outs, fmt.Sprintf(verb, a), fmt.Sprintf(verb, a.Secret), fmt.Sprintf(verb, struct{ A *Agent }{a}),
			fmt.Sprintf(verb, struct{ S Secret }{a.Secret}))
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "agent", a, "secret", a.Secret)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "agent", a, "secret", a.Secret)
	outs = append(outs, buf.String())
	b, err := json.Marshal(struct {
		S Secret
		A *Agent
	}{a.Secret, a})
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(b))
	for _, o := range outs {
		if strings.Contains(o, secret) || strings.Contains(o, "very-secret") {
			t.Errorf("the secret leaked: %s", o)
		}
	}
	if !strings.Contains(fmt.Sprint(a), "node-1") {
		t.Errorf("%v says nothing of the node", a)
	}
	if string(a.Secret) != secret {
		t.Error("string(Secret) is not the secret")
	}
}
