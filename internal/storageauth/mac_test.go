package storageauth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"math/rand/v2"
	"testing"
)

// TestMACMatchesCryptoHMAC holds the allocation-free HMAC to crypto/hmac on
// seeded random keys (empty, short, a block, longer than a block) and
// messages.
func TestMACMatchesCryptoHMAC(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		key := make([]byte, []int{0, 1, 31, 63, 64, 65, 128, 200}[i%8])
		msg := make([]byte, rng.IntN(600))
		for j := range key {
			key[j] = byte(rng.Uint32())
		}
		for j := range msg {
			msg[j] = byte(rng.Uint32())
		}
		buf := append(make([]byte, macPad), msg...)
		got := macSHA256(key, buf)
		h := hmac.New(sha256.New, key)
		h.Write(msg)
		if want := h.Sum(nil); !bytes.Equal(got[:], want) {
			t.Fatalf("key %d bytes, message %d bytes: got %x, want %x", len(key), len(msg), got, want)
		}
		if !bytes.Equal(buf[:macPad], make([]byte, macPad)) {
			t.Fatal("macSHA256 left key material in the buffer's headroom")
		}
		if !bytes.Equal(buf[macPad:], msg) {
			t.Fatal("macSHA256 changed the message")
		}
	}
}

func TestVerifyMACSkipsEmptyKeys(t *testing.T) {
	buf := append(make([]byte, macPad), "message"...)
	sig := macSHA256(nil, buf) // the MAC under the empty key
	if verifyMAC([][]byte{nil, {}}, buf, &sig) {
		t.Fatal("an empty key verified a signature")
	}
	k := []byte("key2")
	sig = macSHA256(k, buf)
	if !verifyMAC([][]byte{[]byte("key1"), k}, buf, &sig) {
		t.Fatal("the second key did not verify")
	}
}
