package storageauth

import (
	"bytes"
	"strings"
	"testing"
)

func TestKeys(t *testing.T) {
	a, b := NewKey(), NewKey()
	if len(a) != KeySize || bytes.Equal(a, b) {
		t.Fatalf("NewKey: %d bytes; two keys equal: %v", len(a), bytes.Equal(a, b))
	}
	s := FormatKey(a)
	if len(s) != 88 {
		t.Errorf("FormatKey gave %d characters, Azure's keys have 88", len(s))
	}
	got, err := ParseKey(" " + s + "\n")
	if err != nil || !bytes.Equal(got, a) {
		t.Fatalf("ParseKey(FormatKey(k)) = %x, %v", got, err)
	}
	// Azurite's well-known development key parses.
	if _, err := ParseKey("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="); err != nil {
		t.Error(err)
	}
	secret := "c2VjcmV0IHRoYXQgaXMgdG9vIHNob3J0"
	for _, bad := range []string{"", "not base64!", secret, strings.TrimRight(s, "=") + "!"} {
		_, err := ParseKey(bad)
		e := expectCode(t, err, CodeInvalidParameter, "key")
		if bad != "" && strings.Contains(e.Message, bad) {
			t.Errorf("the error repeats the key: %v", e)
		}
	}
}
