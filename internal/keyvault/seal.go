package keyvault

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"strconv"
)

// sealed is a secret value as stored: the id of the master key, the GCM
// nonce and the ciphertext with its tag. encoding/json writes the byte
// slices as base64.
type sealed struct {
	KeyID      string `json:"kid"`
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ct"`
}

// aadPrefix versions the additional data so that a later format cannot be
// confused with this one.
const aadPrefix = "vnetml/keyvault/secret/v1\x00"

// additionalData binds a ciphertext to the secret version it belongs to:
// versionKey is the case-folded store key of
// {vaultID}/secrets/{name}/versions/{version}, so a ciphertext copied into
// another secret's document, another version's or another vault's fails
// GCM's authentication instead of decrypting to the wrong secret.
func additionalData(versionKey string) []byte {
	return []byte(aadPrefix + versionKey)
}

// seal encrypts plaintext under the current key with a fresh random nonce.
func (k *Keyring) seal(versionKey string, plaintext []byte) sealed {
	s := k.set.Load()
	a := s.aeads[s.current]
	nonce := make([]byte, a.NonceSize())
	rand.Read(nonce) // never fails (crypto/rand since Go 1.24)
	return sealed{KeyID: s.current, Nonce: nonce, Ciphertext: a.Seal(nil, nonce, plaintext, additionalData(versionKey))}
}

// open decrypts v, which must have been sealed for versionKey. Its errors
// are *armerror.Errors naming the secret by id (never by value).
func (k *Keyring) open(versionID, versionKey string, v sealed) ([]byte, error) {
	a, ok := k.set.Load().aeads[v.KeyID]
	if !ok {
		return nil, errMasterKeyMissing(versionID, v.KeyID)
	}
	if len(v.Nonce) != a.NonceSize() {
		return nil, errIntegrity(versionID)
	}
	p, err := a.Open(nil, v.Nonce, v.Ciphertext, additionalData(versionKey))
	if err != nil {
		return nil, errIntegrity(versionID)
	}
	return p, nil
}

// Value is a secret's plaintext. It prints, logs and marshals as a
// redaction so that a Bundle passed to fmt, slog or encoding/json by
// mistake does not leak it; convert it to []byte or string to use it.
type Value []byte

const redacted = "[REDACTED]"

// String implements fmt.Stringer.
func (v Value) String() string { return redacted + " (" + strconv.Itoa(len(v)) + " bytes)" }

// GoString implements fmt.GoStringer.
func (v Value) GoString() string { return v.String() }

// Format makes every fmt verb (%s, %x, %q, %v, …) print the redaction.
func (v Value) Format(f fmt.State, _ rune) { f.Write([]byte(v.String())) }

// LogValue implements slog.LogValuer.
func (v Value) LogValue() slog.Value { return slog.StringValue(v.String()) }

// MarshalJSON implements json.Marshaler with the redaction.
func (v Value) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Sealed is a value sealed by Keyring.Seal, as it is stored (JSON, byte
// fields in base64).
type Sealed struct {
	KeyID      string `json:"kid"`
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ct"`
}

// sealFor is the additional data of a value sealed for another owner than
// a secret version: the purpose (e.g. "storage/account-key") and the
// case-folded id it belongs to, so that it opens only for that id.
func sealFor(purpose, id string) []byte {
	return []byte("vnetml/" + purpose + "/v1\x00" + storeKey(id))
}

// Seal encrypts plaintext under the current master key for id and
// purpose: platform credentials kept outside key vaults (storage account
// keys) are sealed so, never stored in plaintext. Service.Reencrypt does
// not see them; their owner re-seals them after a rotation.
func (k *Keyring) Seal(purpose, id string, plaintext []byte) Sealed {
	s := k.set.Load()
	a := s.aeads[s.current]
	nonce := make([]byte, a.NonceSize())
	rand.Read(nonce)
	return Sealed{KeyID: s.current, Nonce: nonce, Ciphertext: a.Seal(nil, nonce, plaintext, sealFor(purpose, id))}
}

// Open decrypts a value Seal sealed for the same purpose and id.
func (k *Keyring) Open(purpose, id string, v Sealed) ([]byte, error) {
	a, ok := k.set.Load().aeads[v.KeyID]
	if !ok {
		return nil, errMasterKeyMissing(id, v.KeyID)
	}
	if len(v.Nonce) != a.NonceSize() {
		return nil, errIntegrity(id)
	}
	p, err := a.Open(nil, v.Nonce, v.Ciphertext, sealFor(purpose, id))
	if err != nil {
		return nil, errIntegrity(id)
	}
	return p, nil
}
