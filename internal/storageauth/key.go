package storageauth

import (
	"crypto/rand"
	"encoding/base64"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
)

// KeySize is the length of a key NewKey makes: Azure's account keys are 64
// random bytes, shown as 88 base64 characters.
const KeySize = 64

// minKeySize is the shortest key ParseKey accepts: 256 bits.
const minKeySize = 32

// NewKey returns a new random account key. FormatKey shows it.
func NewKey() []byte {
	k := make([]byte, KeySize)
	rand.Read(k) // never fails (crypto/rand)
	return k
}

// FormatKey returns k in Azure's form, standard base64.
func FormatKey(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

// ParseKey reads a key in Azure's form, standard base64 (surrounding
// whitespace ignored). A key must be at least 32 bytes long. The error
// never repeats the input.
func ParseKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, armerror.New(CodeInvalidParameter, "key", "the key is not standard base64; copy it whole, as the storage account's keys show it")
	}
	if len(k) < minKeySize {
		return nil, armerror.New(CodeInvalidParameter, "key", "the key is %d bytes long; a key must be at least %d bytes (Azure's are %d)", len(k), minKeySize, KeySize)
	}
	return k, nil
}
