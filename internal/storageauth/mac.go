package storageauth

import (
	"crypto/sha256"
	"crypto/subtle"
)

// macPad is the headroom a message buffer reserves in front of the message
// for HMAC's inner key pad (SHA-256's block size).
const macPad = sha256.BlockSize

// macSHA256 returns HMAC-SHA256(key, buf[macPad:]) (RFC 2104). It writes the
// inner pad into buf[:macPad] so that the inner hash is one sha256.Sum256
// over buf, which is what makes verification allocation-free; it clears the
// pad afterwards so that no key material stays in a pooled buffer.
// TestMACMatchesCryptoHMAC holds it to crypto/hmac.
func macSHA256(key, buf []byte) [sha256.Size]byte {
	var k [sha256.BlockSize]byte
	if len(key) > len(k) {
		s := sha256.Sum256(key)
		copy(k[:], s[:])
	} else {
		copy(k[:], key)
	}
	for i, b := range k {
		buf[i] = b ^ 0x36
	}
	inner := sha256.Sum256(buf)
	clear(buf[:macPad])
	var outer [sha256.BlockSize + sha256.Size]byte
	for i, b := range k {
		outer[i] = b ^ 0x5c
	}
	copy(outer[sha256.BlockSize:], inner[:])
	sum := sha256.Sum256(outer[:])
	clear(k[:])
	clear(outer[:])
	return sum
}

// verifyMAC reports whether sig is the MAC of buf[macPad:] under any of
// keys. Empty keys never verify: a zero-length key is no secret. Every key
// is tried, so the time taken does not say which one matched.
func verifyMAC(keys [][]byte, buf []byte, sig *[sha256.Size]byte) bool {
	ok := 0
	for _, k := range keys {
		if len(k) == 0 {
			continue
		}
		sum := macSHA256(k, buf)
		ok |= subtle.ConstantTimeCompare(sum[:], sig[:])
	}
	return ok == 1
}
