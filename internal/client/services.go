package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
)

// This file is the client of a workspace's web services
// (internal/api/services.go): deploy, show, list, delete, keys, tokens,
// logs — and the scoring call itself, which goes through the data plane as
// a client outside the virtual network, so the NSG of the inference
// cluster's subnet judges the caller's address.

// ServicePath is the resource id of web service name of a workspace: the
// id the service methods take.
func ServicePath(workspaceID, name string) string { return workspaceID + "/services/" + name }

// DeployService deploys svc as service name of a workspace (PUT: a new
// service, or a redeployment that replaces every replica) and returns it
// as the server stored it, in state Transitioning.
func (c *Client) DeployService(ctx context.Context, workspaceID, name string, svc api.Service) (api.Service, error) {
	r, err := c.Do(ctx, http.MethodPut, ServicePath(workspaceID, name), svc)
	if err != nil {
		return api.Service{}, err
	}
	return decodeService(r.Body)
}

// GetService returns the service whose resource id is id, with its live
// state, error and replicas.
func (c *Client) GetService(ctx context.Context, id string) (api.Service, error) {
	r, err := c.Do(ctx, http.MethodGet, id, nil)
	if err != nil {
		return api.Service{}, err
	}
	return decodeService(r.Body)
}

// ListServices returns the services of a workspace, by name.
func (c *Client) ListServices(ctx context.Context, workspaceID string) ([]api.Service, error) {
	docs, err := c.List(ctx, workspaceID+"/services")
	if err != nil {
		return nil, err
	}
	out := make([]api.Service, 0, len(docs))
	for _, d := range docs {
		s, err := decodeService(d)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DeleteService deletes the service id (its replicas stop); existed is
// false when there was none.
func (c *Client) DeleteService(ctx context.Context, id string) (existed bool, err error) {
	return c.Delete(ctx, id)
}

// ServiceKeys returns the service's primary and secondary keys.
func (c *Client) ServiceKeys(ctx context.Context, id string) (api.ServiceKeys, error) {
	var k api.ServiceKeys
	err := c.Post(ctx, id+"/listKeys", nil, &k)
	return k, err
}

// Key types of RegenerateServiceKey.
const (
	KeyPrimary   = "Primary"
	KeySecondary = "Secondary"
)

// RegenerateServiceKey replaces one key of the service id (KeyPrimary or
// KeySecondary) and returns both keys; the old key is refused from then
// on, the other one keeps working.
func (c *Client) RegenerateServiceKey(ctx context.Context, id, keyType string) (api.ServiceKeys, error) {
	var k api.ServiceKeys
	err := c.Post(ctx, id+"/regenerateKeys", map[string]string{"keyType": keyType}, &k)
	return k, err
}

// ServiceToken returns a token for a service with token auth (an hour's
// worth, to refresh after half of it).
func (c *Client) ServiceToken(ctx context.Context, id string) (api.ServiceToken, error) {
	var t api.ServiceToken
	err := c.Post(ctx, id+"/token", nil, &t)
	return t, err
}

// ServiceLogs returns the output of the service's replicas, as text.
func (c *Client) ServiceLogs(ctx context.Context, id string) (string, error) {
	r, err := c.Do(ctx, http.MethodGet, id+"/logs", nil, "Accept", "text/plain")
	return string(r.Body), err
}

func decodeService(b []byte) (api.Service, error) {
	var s api.Service
	if err := json.Unmarshal(b, &s); err != nil {
		return api.Service{}, fmt.Errorf("decoding the service: %w", err)
	}
	return s, nil
}

// maxScoreResponse bounds the answer of a scoring call kept in memory.
const maxScoreResponse = 64 << 20

// ScoreResult is what a service answered a scoring call: any HTTP
// status, the service's (or its front end's) answer.
type ScoreResult struct {
	Status      int
	ContentType string
	Body        []byte
}

// Err is the service's error when Status is 400 or more, else nil: the
// front end's {"error": {"code", "message"}}, or the body as it is (the
// traceback of an entry script's run() that raised), coded by status.
func (r ScoreResult) Err() *api.ServiceError {
	if r.Status < 400 {
		return nil
	}
	var env struct {
		Error *api.ServiceError `json:"error"`
	}
	if json.Unmarshal(r.Body, &env) == nil && env.Error != nil && (env.Error.Code != "" || env.Error.Message != "") {
		return env.Error
	}
	code := strings.ReplaceAll(http.StatusText(r.Status), " ", "")
	if code == "" {
		code = fmt.Sprintf("HTTP%d", r.Status)
	}
	return &api.ServiceError{Code: code, Message: strings.TrimRight(string(r.Body), "\n")}
}

// Score POSTs data (JSON) to a service's scoring URI over hc — a client
// from DataPlane, so the call comes from that client's address and the
// network judges it — with credential (a key or a token; "" sends none)
// as Authorization: Bearer. Every HTTP answer is a ScoreResult, errors
// included (see ScoreResult.Err); an error is a call that got no answer:
// a refusal by the network is the tunnel's *armerror.Error
// (ConnectionDenied, naming the rule), anything else DataPlaneUnreachable.
func (c *Client) Score(ctx context.Context, hc *http.Client, scoringURI, credential string, data []byte) (ScoreResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, scoringURI, bytes.NewReader(data))
	if err != nil {
		return ScoreResult{}, armerror.New("InvalidScoringUri", "", "The scoring URI %q is not a URL: %v.", scoringURI, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return ScoreResult{}, scoreTransportError(scoringURI, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxScoreResponse+1))
	if err != nil {
		return ScoreResult{}, scoreTransportError(scoringURI, err)
	}
	if len(b) > maxScoreResponse {
		return ScoreResult{}, armerror.New("ResponseTooLarge", "", "The answer of %s is larger than %d bytes.", scoringURI, maxScoreResponse)
	}
	return ScoreResult{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: b}, nil
}

// scoreTransportError keeps the tunnel's own error (a refusal names the
// rule) and wraps the others.
func scoreTransportError(uri string, err error) error {
	if a, ok := armerror.As(err); ok {
		return a
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return armerror.New("DataPlaneUnreachable", "", "Calling %s: %v.", uri, err)
}
