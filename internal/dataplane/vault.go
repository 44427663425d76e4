package dataplane

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/keyvault"
	"github.com/vnetml/vnetml/internal/network"
)

// vaultHandler serves key vault id's secrets at addr.
// The firewall decides before anything of the request is read.
func (s *Server) vaultHandler(id string, addr netip.Addr) http.Handler {
	h := s.cfg.Secrets.Handler(
		func(*http.Request) (string, bool) { return id, true },
		func(r *http.Request, vaultID string, op keyvault.Op) error {
			v := (*s.vault.Load())[network.Key(id)]
			if v == nil {
				return armerror.New(keyvault.CodeNotFound, "", "Key vault %s no longer exists.", lastSegment(id))
			}
			p, err := s.cfg.Auth.Authenticate(r.Context(), r.Header.Get("Authorization"))
			if err != nil {
				return armerror.New(keyvault.CodeUnauthorized, "Authorization",
					"AKV10000: Request is missing a valid bearer token: send a vnetml token (vnetml token create) as Authorization: Bearer <token>.")
			}
			return mayUseSecrets(p, v, op)
		})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := (*s.vault.Load())[network.Key(id)]
		if v != nil {
			if ref := s.firewall(r, id, addr, PortVault); ref != nil {
				keyvault.WriteError(w, vaultRefusal(v.Name, v.Location, ref))
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// mayUseSecrets decides whether p may do op on v's secrets: by v's roles
// when it uses RBAC authorization (Owner and Contributor may do all,
// Reader may list), else by its access policies, whose objectId is the
// name of a vnetml token. An Owner of the vault may always use it (in
// Azure an Owner may grant itself an access policy; vnetml takes the
// step for it).
func mayUseSecrets(p auth.Principal, v *network.KeyVault, op keyvault.Op) error {
	if auth.Authorize(p, auth.ManageTokens, v.ID) == nil { // Owner of the vault's scope
		return nil
	}
	if v.Properties.EnableRbacAuthorization != nil && *v.Properties.EnableRbacAuthorization {
		act := auth.Write
		if op == keyvault.OpList {
			act = auth.Read
		}
		if err := auth.Authorize(p, act, v.ID); err != nil {
			return forbidden(p, v, op, "a role that allows it (Contributor, or Reader to list) on the vault")
		}
		return nil
	}
	for _, ap := range v.Properties.AccessPolicies {
		if !strings.EqualFold(ap.ObjectID, p.TokenID) {
			continue
		}
		if slices.ContainsFunc(ap.Permissions.Secrets, func(s string) bool { return strings.EqualFold(s, string(op)) || strings.EqualFold(s, "all") }) {
			return nil
		}
	}
	return forbidden(p, v, op, "an access policy with objectId "+p.TokenID+" and secret permission "+string(op))
}

func forbidden(p auth.Principal, v *network.KeyVault, op keyvault.Op, need string) error {
	e := armerror.New(keyvault.CodeForbidden, "",
		"The user, group or application 'token=%s' does not have secrets %s permission on key vault '%s;location=%s'. To grant it, give it %s.",
		p.TokenID, op, v.Name, v.Location, need)
	e.Details = []*armerror.Error{{Code: "AccessDenied"}}
	return e
}
