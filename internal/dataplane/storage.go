package dataplane

import (
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/blobstore"
	"github.com/vnetml/vnetml/internal/storageauth"
)

// storageHandler serves account name (id) from st at addr:port: the blob
// endpoint (443) or the file share endpoint (445, the same REST subset).
//
// The firewall decides before anything of the request is read, as in
// Azure: a refused caller learns nothing from a malformed request.
func (s *Server) storageHandler(st *blobstore.Store, id, name string, addr netip.Addr, port uint16) http.Handler {
	h := st.Handler(
		func(*http.Request) (string, bool) { return name, true },
		func(r *http.Request, req blobstore.Request) error {
			return s.authenticateStorage(r, req, id, name, port)
		})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ref := s.firewall(r, id, addr, port); ref != nil {
			blobstore.WriteError(w, r, storageRefusal(name, ref))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// authenticateStorage admits a request signed with one of the account's
// keys (Shared Key), carrying a SAS token those keys signed, or carrying a
// vnetml bearer token whose role covers the account (Reader reads and
// lists; Contributor writes and deletes).
func (s *Server) authenticateStorage(r *http.Request, req blobstore.Request, id, name string, port uint16) error {
	now := time.Now()
	authz := r.Header.Get("Authorization")
	sas, hasSAS, err := storageauth.ParseSAS(r.URL.Query())
	if err != nil {
		return err
	}
	switch {
	case hasSAS:
		keys, err := s.keys(r, id)
		if err != nil {
			return err
		}
		a := storageauth.NewAccess(storageKind(r, req), req.Container, req.Blob)
		if port == PortFile {
			a.Service = storageauth.ServiceFile
		}
		var caller netip.Addr // the address the firewall judged: sip judges the same
		if p, ok := peerOf(r); ok {
			caller = p.Verdict.Caller.Addr
		}
		return sas.Verify(name, keys, a, caller, true, now) // front ends speak TLS only
	case strings.HasPrefix(authz, "SharedKey "):
		keys, err := s.keys(r, id)
		if err != nil {
			return err
		}
		return storageauth.VerifySharedKey(r, name, keys, now)
	case strings.HasPrefix(authz, "Bearer "):
		p, err := s.cfg.Auth.Authenticate(r.Context(), authz)
		if err != nil {
			return armerror.New(blobstore.CodeAuthenticationFailed, "Authorization",
				"Server failed to authenticate the request. The bearer token is not a valid vnetml token.")
		}
		act := auth.Read
		switch req.Kind() {
		case blobstore.KindWrite:
			act = auth.Write
		case blobstore.KindDelete:
			act = auth.Delete
		}
		if err := auth.Authorize(p, act, id); err != nil {
			return armerror.New(blobstore.CodeAuthorizationPermissionMismatch, "Authorization",
				"This request is not authorized to perform this operation using this permission: token %s (%s on %s) may not %s in storage account %s.",
				p.TokenID, p.Role, p.Scope, req.Kind(), name)
		}
		return nil
	}
	return armerror.New(blobstore.CodeNoAuthenticationInformation, "Authorization",
		"Server failed to authenticate the request. Sign it with an account key (Authorization: SharedKey), add a SAS token to the URL, or send a vnetml token (Authorization: Bearer).")
}

// storageKind maps a blob store operation onto the kind a SAS decides on:
// creating what cannot be overwritten (a container, a blob Put with
// If-None-Match: *) is Create, which c or w allows.
func storageKind(r *http.Request, req blobstore.Request) storageauth.Kind {
	switch {
	case req.Operation == blobstore.OpCreateContainer,
		req.Operation == blobstore.OpPutBlob && r.Header.Get("If-None-Match") == "*":
		return storageauth.KindCreate
	case req.Kind() == blobstore.KindWrite:
		return storageauth.KindWrite
	case req.Kind() == blobstore.KindDelete:
		return storageauth.KindDelete
	case req.Kind() == blobstore.KindList:
		return storageauth.KindList
	}
	return storageauth.KindRead
}

// keys returns the account's keys; failing to read them is the server's
// fault, answered 500 with the reason in the server's log only.
func (s *Server) keys(r *http.Request, id string) ([][]byte, error) {
	keys, err := s.cfg.AccountKeys(r.Context(), id)
	if err != nil {
		s.log.Error("dataplane: reading a storage account's keys", "account", id, "error", err)
		return nil, armerror.New(blobstore.CodeInternalError, "", "The server could not read the account's keys; its log says why.")
	}
	return keys, nil
}
