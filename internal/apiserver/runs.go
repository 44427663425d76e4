package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/keyvault"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/runs"
	"github.com/vnetml/vnetml/internal/storageauth"
	"github.com/vnetml/vnetml/internal/store"
)

// This file serves experiments and runs (internal/runs; the API is
// documented in internal/api/runs.go), and is the control plane that the
// runs service asks (runs.Platform, through the daemon).

// Runs is the runs service (internal/runs).
type Runs interface {
	Submit(ctx context.Context, sub runs.Submission) (api.Run, error)
	Get(ctx context.Context, id string) (api.Run, error)
	List(ctx context.Context, workspaceID, experiment string) ([]api.Run, error)
	Experiments(ctx context.Context, workspaceID string) ([]json.RawMessage, error)
	Cancel(ctx context.Context, id string) (api.Run, error)
	Logs(ctx context.Context, id string, offset int64, follow bool) (*runs.LogReader, error)
	Metrics(ctx context.Context, id string) ([]api.RunMetric, error)
	DeleteWorkspace(ctx context.Context, workspaceID string) error
}

func (s *Server) runsOrUnavailable() (Runs, error) {
	if s.runs == nil {
		return nil, armerror.New(codeUnavailable, "", "This server runs no experiments: it was started without compute (a server started by `vnetml server` has it).")
	}
	return s.runs, nil
}

// workspaceOfRun returns the stored workspace id of an experiment's or a
// run's id, or ParentResourceNotFound.
func (s *Server) workspaceOf(ctx context.Context, wsID string) (string, error) {
	r, err := s.st.Get(ctx, wsID)
	if err != nil {
		if store.IsNotFound(err) {
			return "", armerror.New(codeParentNotFound, "", "Workspace %s was not found; create it first (vnetml workspace create).", lastSegment(wsID))
		}
		return "", err
	}
	return r.ID, nil
}

// runsIn returns the runs service and the stored id of workspace wsID.
func (s *Server) runsIn(ctx context.Context, wsID string) (Runs, string, error) {
	rs, err := s.runsOrUnavailable()
	if err != nil {
		return nil, "", err
	}
	ws, err := s.workspaceOf(ctx, wsID)
	return rs, ws, err
}

// putRun submits a run.
func (s *Server) putRun(ctx context.Context, rq *request) (response, error) {
	id := rq.target.id
	exp, err := store.ParseID(id.Parent)
	if err != nil {
		return response{}, err
	}
	rs, ws, err := s.runsIn(ctx, exp.Parent)
	if err != nil {
		return response{}, err
	}
	var in api.Run
	if err := decodeBody(rq.body, &in); err != nil {
		return response{}, err
	}
	v, err := rs.Submit(ctx, runs.Submission{WorkspaceID: ws, Experiment: lastSegment(exp.ID), RunID: lastSegment(id.ID), Run: in, By: rq.principal.TokenID})
	if err != nil {
		return response{}, err
	}
	return created(v)
}

func (s *Server) getRun(ctx context.Context, rq *request) (response, error) {
	rs, err := s.runsOrUnavailable()
	if err != nil {
		return response{}, err
	}
	v, err := rs.Get(ctx, rq.target.id.ID)
	if err != nil {
		return response{}, err
	}
	return ok(v)
}

// listRuns lists an experiment's runs (the target is the experiment).
func (s *Server) listRuns(ctx context.Context, rq *request) (response, error) {
	return s.listRunsOf(ctx, rq, rq.target.id.Parent, lastSegment(rq.target.id.ID))
}

// listWorkspaceRuns lists the runs of every experiment of a workspace
// ({workspace}/runs).
func (s *Server) listWorkspaceRuns(ctx context.Context, rq *request) (response, error) {
	return s.listRunsOf(ctx, rq, rq.target.id.ID, "")
}

// listRunsOf lists the runs of an experiment of workspace wsID (of every
// experiment, for ""), those the caller may read.
func (s *Server) listRunsOf(ctx context.Context, rq *request, wsID, experiment string) (response, error) {
	rs, ws, err := s.runsIn(ctx, wsID)
	if err != nil {
		return response{}, err
	}
	list, err := rs.List(ctx, ws, experiment)
	if err != nil {
		return response{}, err
	}
	return ok(map[string]any{"value": visibleRuns(rq, list)})
}

func visibleRuns(rq *request, list []api.Run) []api.Run {
	out := make([]api.Run, 0, len(list))
	for _, r := range list {
		if auth.Authorize(rq.principal, auth.Read, r.ID) == nil {
			out = append(out, r)
		}
	}
	return out
}

func (s *Server) listExperiments(ctx context.Context, rq *request) (response, error) {
	rs, ws, err := s.runsIn(ctx, rq.target.id.ID)
	if err != nil {
		return response{}, err
	}
	list, err := rs.Experiments(ctx, ws)
	if err != nil {
		return response{}, err
	}
	return ok(map[string]any{"value": list})
}

func (s *Server) getExperiment(ctx context.Context, rq *request) (response, error) {
	id := rq.target.id
	rs, ws, err := s.runsIn(ctx, id.Parent)
	if err != nil {
		return response{}, err
	}
	list, err := rs.Experiments(ctx, ws)
	if err != nil {
		return response{}, err
	}
	for _, e := range list {
		var h struct{ ID string }
		if json.Unmarshal(e, &h) == nil && network.SameID(h.ID, id.ID) {
			return ok(e)
		}
	}
	return response{}, armerror.New(codeNotFound, "", "Experiment %s was not found: an experiment is created by its first run.", lastSegment(id.ID))
}

func (s *Server) cancelRun(ctx context.Context, rq *request) (response, error) {
	rs, err := s.runsOrUnavailable()
	if err != nil {
		return response{}, err
	}
	v, err := rs.Cancel(ctx, rq.target.id.ID)
	if err != nil {
		return response{}, err
	}
	return ok(v)
}

func (s *Server) runMetrics(ctx context.Context, rq *request) (response, error) {
	rs, err := s.runsOrUnavailable()
	if err != nil {
		return response{}, err
	}
	m, err := rs.Metrics(ctx, rq.target.id.ID)
	if err != nil {
		return response{}, err
	}
	if m == nil {
		m = []api.RunMetric{}
	}
	return ok(map[string]any{"value": m})
}

// runLogs streams a run's driver log (text/plain): from ?offset, and with
// ?follow=true until the run ends. It writes its own answer.
func (s *Server) runLogs(ctx context.Context, rq *request) (response, error) {
	rs, err := s.runsOrUnavailable()
	if err != nil {
		return response{}, err
	}
	var off int64
	if v := rq.query("offset"); v != "" {
		if off, err = strconv.ParseInt(v, 10, 64); err != nil || off < 0 {
			return response{}, armerror.New(codeInvalidParameter, "offset", "offset=%q must be a byte offset, 0 or more.", v)
		}
	}
	follow := strings.EqualFold(rq.query("follow"), "true")
	lr, err := rs.Logs(ctx, rq.target.id.ID, off, follow)
	if err != nil {
		return response{}, err
	}
	return response{status: http.StatusOK, body: streamed{contentType: "text/plain; charset=utf-8", r: lr}}, nil
}

// streamed is a response body written as it is read, flushed after each
// read.
type streamed struct {
	contentType string
	r           io.Reader
}

// RunPlatform is the server as internal/runs asks it (see runs.Platform;
// the daemon adds what the blob stores answer).

// RunTarget resolves a run's compute target.
func (s *Server) RunTarget(ctx context.Context, workspaceID, name string) (runs.Target, error) {
	r, err := s.st.Get(ctx, workspaceID+"/computes/"+name)
	if err != nil {
		if store.IsNotFound(err) {
			return runs.Target{}, armerror.New(codeNotFound, "properties.target", "Compute %s was not found in workspace %s; create it first (vnetml compute create %s ...), or name one of the workspace's computes (vnetml compute list).", name, lastSegment(workspaceID), name)
		}
		return runs.Target{}, err
	}
	var d computeDoc
	if err := json.Unmarshal(r.Doc, &d); err != nil {
		return runs.Target{}, err
	}
	if !strings.EqualFold(d.Properties.ComputeType, "AmlCompute") {
		return runs.Target{}, armerror.New(codeInvalidParameter, "properties.target", "Compute %s is of type %s; runs go to an AmlCompute cluster.", name, d.Properties.ComputeType)
	}
	return runs.Target{ClusterID: r.ID, Location: d.Location}, nil
}

// RunDatastore resolves a datastore of a workspace.
func (s *Server) RunDatastore(ctx context.Context, workspaceID, name string) (runs.Datastore, error) {
	r, err := s.st.Get(ctx, workspaceID+"/datastores/"+name)
	if err != nil {
		if store.IsNotFound(err) {
			return runs.Datastore{}, armerror.New(codeNotFound, "properties.sourceDirectoryDataStore", "Datastore %s was not found in workspace %s; use %s, %s or a datastore you registered (vnetml workspace datastore list).", name, lastSegment(workspaceID), runs.DatastoreBlob, runs.DatastoreFile)
		}
		return runs.Datastore{}, err
	}
	var d datastoreDoc
	if err := json.Unmarshal(r.Doc, &d); err != nil {
		return runs.Datastore{}, err
	}
	out := runs.Datastore{Name: d.Name, File: d.Properties.DatastoreType == "AzureFile", AccountID: d.Properties.StorageAccount,
		AccountName: strings.ToLower(d.Properties.AccountName), Container: d.Properties.ContainerName}
	if out.File {
		out.Container = d.Properties.ShareName
	}
	for _, a := range s.view.Load().snap.StorageAccounts {
		if network.SameID(a.ID, out.AccountID) {
			out.AccountName = strings.ToLower(a.Name)
			out.FirewallDeny = a.Properties.NetworkAcls != nil && strings.EqualFold(a.Properties.NetworkAcls.DefaultAction, "Deny")
		}
	}
	return out, nil
}

// RunSAS returns a datastore blob's (or its container's) https URL with a
// service SAS signed with the account's first key.
func (s *Server) RunSAS(ctx context.Context, ds runs.Datastore, name string, perms storageauth.Permission, expiry time.Time) (string, error) {
	keys, err := s.AccountKeys(ctx, ds.AccountID)
	if err != nil {
		return "", err
	}
	if len(keys) == 0 {
		return "", fmt.Errorf("storage account %s has no keys", ds.AccountName)
	}
	q, err := storageauth.SignServiceSAS(ds.AccountName, keys[0], storageauth.ServiceSASParams{
		Container: ds.Container, Blob: name, Permissions: perms, Expiry: expiry, Protocol: storageauth.ProtocolHTTPS})
	if err != nil {
		return "", err
	}
	host := ds.AccountName + ".blob.core.windows.net"
	if ds.File {
		host = ds.AccountName + ".file.core.windows.net:445"
	}
	u := "https://" + host + "/" + ds.Container
	if name != "" {
		u += "/" + escapeBlobPath(name)
	}
	return u + "?" + q.Encode(), nil
}

func escapeBlobPath(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// RunSecret reads a secret of a workspace's key vault as run history
// does: as the workspace, a trusted Azure service calling from an
// AzureMachineLearning address — so the vault's firewall admits it only
// when its bypass includes AzureServices, or a rule admits the address or
// the workspace.
func (s *Server) RunSecret(ctx context.Context, workspaceID, name string) (string, error) {
	if s.secrets == nil {
		return "", armerror.New(codeUnavailable, "", "This server keeps no secrets.")
	}
	r, err := s.st.Get(ctx, workspaceID)
	if err != nil {
		return "", err
	}
	var ws workspaceDoc
	if err := json.Unmarshal(r.Doc, &ws); err != nil {
		return "", err
	}
	vault := s.serviceEndpoint(ws.Properties.KeyVault)
	if !vault.Addr.IsValid() {
		return "", armerror.New(codeNotFound, "", "Workspace %s's key vault %s has no address; it may have been deleted.", lastSegment(workspaceID), lastSegment(ws.Properties.KeyVault))
	}
	from, ok := s.HistoryAddr(ws.Location)
	if !ok {
		return "", armerror.New(codeUnavailable, "", "No AzureMachineLearning.%s address to read the key vault from.", ws.Location)
	}
	pv, err := s.engine().eng.Path(flow.Endpoint{Addr: from, Trusted: true, Resource: r.ID}, vault, network.ProtoTCP, 49152, 443)
	if err != nil {
		return "", err
	}
	if pv.Access == flow.Deny {
		return "", armerror.New(keyvault.CodeForbidden, "", "Run history reads secrets from the workspace's key vault %s as the workspace, a trusted Azure service calling from %s, and the vault refuses it: %s",
			lastSegment(ws.Properties.KeyVault), from, pv.Explain())
	}
	b, err := s.secrets.Get(ctx, ws.Properties.KeyVault, name, "")
	if err != nil {
		if e, ok := armerror.As(err); ok && (e.Code == keyvault.CodeSecretNotFound || e.Code == keyvault.CodeNotFound) {
			return "", armerror.New(keyvault.CodeSecretNotFound, "", "Secret %s was not found in the workspace's key vault %s (vnetml keyvault secret set %s %s ...).", name, lastSegment(ws.Properties.KeyVault), lastSegment(ws.Properties.KeyVault), name)
		}
		return "", err
	}
	return string(b.Value), nil
}

// Explain says why the network refuses src → dst, or "" when it admits it.
func (s *Server) Explain(src fabric.Endpoint, dst netip.AddrPort) string {
	pv, err := s.engine().eng.Path(src.FlowEndpoint(), flow.Endpoint{Addr: dst.Addr()}, network.ProtoTCP, 49152, dst.Port())
	if err != nil {
		return err.Error()
	}
	if pv.Access == flow.Deny {
		return pv.Explain()
	}
	return ""
}

// HistoryAddr is run history's address in a region: the first host of
// AzureMachineLearning.<region>.
func (s *Server) HistoryAddr(location string) (netip.Addr, bool) {
	return s.ManagerAddr("AzureMachineLearning", location)
}
