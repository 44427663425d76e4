package apiserver

import (
	"context"
	"net/http"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/auth"
)

// Tokens live at tenant scope, /providers/vnetml.Authorization/tokens/{name};
// the auth package authorizes each call (only Owners manage tokens, and
// only within their scope).

// tokenRequest is the body of a token PUT.
type tokenRequest struct {
	Name       string               `json:"name,omitempty"`
	Type       string               `json:"type,omitempty"`
	ID         string               `json:"id,omitempty"`
	Properties auth.TokenProperties `json:"properties"`
}

func (s *Server) putToken(ctx context.Context, rq *request) (response, error) {
	var req tokenRequest
	if err := decodeBody(rq.body, &req); err != nil {
		return response{}, err
	}
	id := rq.target.id
	if err := checkName(id, req.Name, req.Type); err != nil {
		return response{}, err
	}
	tok, err := s.auth.Create(ctx, rq.principal, lastSegment(id.ID), req.Properties)
	if err != nil {
		return response{}, err
	}
	return response{http.StatusCreated, tok}, nil
}

func (s *Server) getToken(ctx context.Context, rq *request) (response, error) {
	tok, err := s.auth.Get(ctx, rq.principal, lastSegment(rq.target.id.ID))
	if err != nil {
		return response{}, err
	}
	return ok(tok)
}

func (s *Server) listTokens(ctx context.Context, rq *request) (response, error) {
	toks, err := s.auth.List(ctx, rq.principal)
	if err != nil {
		return response{}, err
	}
	if toks == nil {
		toks = []auth.Token{}
	}
	return ok(struct {
		Value []auth.Token `json:"value"`
	}{toks})
}

func (s *Server) deleteToken(ctx context.Context, rq *request) (response, error) {
	if err := s.auth.Revoke(ctx, rq.principal, lastSegment(rq.target.id.ID)); err != nil {
		return response{}, err
	}
	return response{status: http.StatusOK}, nil
}

// whoAmI answers GET /providers/vnetml.Authorization/whoami: the caller's
// token name (what key vault access policies name), role and scope.
func (s *Server) whoAmI(_ context.Context, rq *request) (response, error) {
	p := rq.principal
	return ok(api.WhoAmI{TokenName: p.TokenID, Role: string(p.Role), Scope: p.Scope})
}
