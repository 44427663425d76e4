package apiserver

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/keyvault"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/store"
)

// A storage account's two keys are stored beside it, at
// {account}/keys/default, sealed under the deployment's master key
// (keyvault.Keyring): created with the account in the same transaction,
// deleted with it, never in a GET of the account, never in plaintext on
// disk. listKeys and regenerateKey are the ways to see and change them.
const (
	typeAccountKeys = network.TypeStorageAccount + "/keys"
	sealAccountKey  = "storage/account-key"
)

// sealedDoc holds credentials sealed under the master keyring: a storage
// account's keys, a registry's passwords.
type sealedDoc struct {
	Keys []sealedKey `json:"keys"`
}

// sealedKey is one named credential of a sealedDoc.
type sealedKey struct {
	Name   string          `json:"keyName"`
	Sealed keyvault.Sealed `json:"sealed"`
}

func accountKeysID(accountID string) string { return accountID + "/keys/default" }

// putAccountKeys stages new keys for an account: both (which == ""), or
// key1 or key2 alone, keeping the other.
func (t *txn) putAccountKeys(accountID, which string) error {
	if t.s.keyring == nil {
		return nil // a server without a keyring serves no data plane
	}
	id, err := store.ParseID(accountKeysID(accountID))
	if err != nil {
		return err
	}
	var doc sealedDoc
	if cur := t.get(id.Key); cur != nil {
		_ = json.Unmarshal(cur.res.Doc, &doc)
	}
	for _, name := range []string{"key1", "key2"} {
		if which != "" && which != name {
			continue
		}
		sk := sealedKey{Name: name, Sealed: t.s.keyring.Seal(sealAccountKey, accountID+"/"+name, newAccountKey())}
		replaced := false
		for i := range doc.Keys {
			if doc.Keys[i].Name == name {
				doc.Keys[i], replaced = sk, true
			}
		}
		if !replaced {
			doc.Keys = append(doc.Keys, sk)
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return t.put(id, nil, b, "")
}

// AccountKeys returns a storage account's keys, key1 then key2, as of the
// newest committed write. It never blocks on writers.
func (s *Server) AccountKeys(_ context.Context, accountID string) ([][]byte, error) {
	if s.keyring == nil {
		return nil, armerror.New(codeInternal, "", "This server has no master keyring; storage account keys are not available.")
	}
	return s.openSealed(accountKeysID(accountID), sealAccountKey, accountID,
		armerror.New(codeNotFound, "", "The storage account %s has no keys yet: run listKeys on it once (vnetml storage account keys list), which creates them.", lastSegment(accountID)))
}

// openSealed opens the values of the sealed document docID, sealed for
// purpose and owner, as of the newest committed write; missing is the
// error when there is no such document.
func (s *Server) openSealed(docID, purpose, owner string, missing error) ([][]byte, error) {
	id, err := store.ParseID(docID)
	if err != nil {
		return nil, err
	}
	doc, ok := s.view.Load().sealed[id.Key]
	if !ok {
		return nil, missing
	}
	out := make([][]byte, 0, len(doc.Keys))
	for _, k := range doc.Keys {
		p, err := s.keyring.Open(purpose, owner+"/"+k.Name, k.Sealed)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// listKeys answers POST {account}/listKeys as Azure does:
// {"keys": [{"keyName", "value", "permissions": "FULL", "creationTime"}]}.
// Keys missing (an account created before keys were kept) are created.
func (s *Server) listKeys(ctx context.Context, rq *request) (response, error) {
	return s.keysAction(ctx, rq, "")
}

// regenerateKey answers POST {account}/regenerateKey {"keyName": "key1"}.
func (s *Server) regenerateKey(ctx context.Context, rq *request) (response, error) {
	var body struct {
		KeyName string `json:"keyName"`
	}
	if err := decodeBody(rq.body, &body); err != nil {
		return response{}, err
	}
	which := strings.ToLower(body.KeyName)
	if which != "key1" && which != "key2" {
		return response{}, armerror.New(codeInvalidParameter, "keyName", "keyName must be key1 or key2, not %q.", body.KeyName)
	}
	return s.keysAction(ctx, rq, which)
}

func (s *Server) keysAction(ctx context.Context, rq *request, regenerate string) (response, error) {
	id := rq.target.id
	if s.keyring == nil {
		return response{}, armerror.New(codeInternal, "", "This server has no master keyring; storage account keys are not available.")
	}
	err := s.write(ctx, rq.principal, func(t *txn) error {
		if t.get(id.Key) == nil {
			return notFound(store.NotFound(id.ID), id)
		}
		kid, _ := store.ParseID(accountKeysID(id.ID))
		if regenerate == "" && t.get(kid.Key) != nil {
			return nil
		}
		t.guard(id.ID, false)
		return t.putAccountKeys(t.get(id.Key).id.ID, regenerate)
	})
	if err != nil {
		return response{}, err
	}
	keys, err := s.AccountKeys(ctx, id.ID)
	if err != nil {
		return response{}, err
	}
	type keyJSON struct {
		KeyName     string `json:"keyName"`
		Value       string `json:"value"`
		Permissions string `json:"permissions"`
	}
	out := struct {
		Keys []keyJSON `json:"keys"`
	}{}
	for i, k := range keys {
		out.Keys = append(out.Keys, keyJSON{KeyName: []string{"key1", "key2"}[i%2], Value: base64.StdEncoding.EncodeToString(k), Permissions: "FULL"})
	}
	return response{status: http.StatusOK, body: out}, nil
}

// newAccountKey returns a fresh account key: 64 random bytes, as Azure's.
func newAccountKey() []byte {
	k := make([]byte, 64)
	rand.Read(k) // never fails
	return k
}

// servicesChanged returns the storage accounts and key vaults this
// transaction creates and those it deletes: the data of each is purged,
// so that a resource deleted — or created again under a name a deleted
// one had — holds no data of its predecessor.
func (t *txn) servicesChanged() (created, deleted []*entry) {
	isService := func(e *entry) bool {
		return strings.EqualFold(e.id.Type, network.TypeStorageAccount) || strings.EqualFold(e.id.Type, network.TypeKeyVault)
	}
	for _, k := range t.order {
		if e, ok := t.dels[k]; ok && isService(e) {
			deleted = append(deleted, e)
		} else if e, ok := t.puts[k]; ok && isService(e) && t.s.world.byKey[k] == nil {
			created = append(created, e)
		}
	}
	return created, deleted
}

// purgeData deletes a storage account's blobs and file shares, or a key
// vault's secrets. deleted says the resource is gone (its data is then
// removed again when a resource of its name is created, should this
// fail).
func (s *Server) purgeData(ctx context.Context, e *entry, deleted bool) error {
	name := lastSegment(e.id.ID)
	var err error
	switch {
	case strings.EqualFold(e.id.Type, network.TypeStorageAccount) && s.dp != nil:
		err = s.dp.DeleteAccountData(ctx, strings.ToLower(name))
	case strings.EqualFold(e.id.Type, network.TypeKeyVault) && s.secrets != nil:
		var list []keyvault.Bundle
		if list, err = s.secrets.List(ctx, e.id.ID); err == nil {
			for _, b := range list {
				if _, derr := s.secrets.Delete(ctx, e.id.ID, b.Name); derr != nil && err == nil {
					err = derr
				}
			}
		}
	}
	if err == nil {
		return nil
	}
	s.log.Error("purging the data of a storage account or key vault", "id", e.id.ID, "deleted", deleted, "error", err)
	if deleted {
		return armerror.New(codeInternal, "", "%s is deleted, but its data could not be removed (%v); it will be when a resource of that name is created again.", e.id.ID, err)
	}
	return armerror.New(codeInternal, "", "%s was not created: the data a deleted resource of that name left could not be removed (%v); retry.", e.id.ID, err)
}
