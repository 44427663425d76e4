package storageauth

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/vnetml/vnetml/internal/armerror"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// stringToSign returns r's Shared Key string-to-sign.
func stringToSign(r *http.Request, account string) (string, error) {
	c := getCanon()
	defer putCanon(c)
	if err := c.sharedKey(r, account); err != nil {
		return "", err
	}
	return string(c.buf[macPad:]), nil
}

// expectCode fails unless err is an *armerror.Error with code and target.
func expectCode(t testing.TB, err error, code, target string) *armerror.Error {
	t.Helper()
	e, ok := armerror.As(err)
	if !ok {
		t.Fatalf("err = %v (%T), want %s (%s)", err, err, code, target)
	}
	if e.Code != code || e.Target != target {
		t.Fatalf("err = %v, want %s (%s)", err, code, target)
	}
	return e
}

func fmtAll(v any) string { return fmt.Sprintf("%v %+v %#v %s", v, v, v, v) }
