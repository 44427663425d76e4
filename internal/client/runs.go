package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/snapshot"
)

// This file is the client of experiments and runs (internal/api/runs.go)
// and of the snapshot upload that comes before a submission.

// The states of a run, as Azure ML names them.
const (
	RunNotStarted = "NotStarted"
	RunQueued     = "Queued"
	RunPreparing  = "Preparing"
	RunRunning    = "Running"
	RunFinalizing = "Finalizing"
	RunCompleted  = "Completed"
	RunFailed     = "Failed"
	RunCanceled   = "Canceled"
)

// RunTerminal reports whether a run in status s is over.
func RunTerminal(s string) bool { return s == RunCompleted || s == RunFailed || s == RunCanceled }

// ExperimentPath is the resource id of an experiment of a workspace.
func ExperimentPath(workspaceID, experiment string) string {
	return workspaceID + "/experiments/" + experiment
}

// RunPath is the resource id of a run: the id the run methods take.
func RunPath(workspaceID, experiment, runID string) string {
	return ExperimentPath(workspaceID, experiment) + "/runs/" + runID
}

// SubmitRun submits run as runID of experiment (created by its first
// run) in workspace workspaceID, and returns it as the server took it.
// The snapshot it names must have been uploaded (UploadSnapshot).
func (c *Client) SubmitRun(ctx context.Context, workspaceID, experiment, runID string, run api.Run) (api.Run, error) {
	r, err := c.Do(ctx, http.MethodPut, RunPath(workspaceID, experiment, runID), run)
	if err != nil {
		return api.Run{}, err
	}
	return decodeRun(r.Body)
}

// GetRun returns the run whose resource id is id.
func (c *Client) GetRun(ctx context.Context, id string) (api.Run, error) {
	r, err := c.Do(ctx, http.MethodGet, id, nil)
	if err != nil {
		return api.Run{}, err
	}
	return decodeRun(r.Body)
}

// CancelRun asks the server to cancel the run id and returns it; a run
// that has ended is returned as it is.
func (c *Client) CancelRun(ctx context.Context, id string) (api.Run, error) {
	r, err := c.Do(ctx, http.MethodPost, id+"/cancel", nil)
	if err != nil {
		return api.Run{}, err
	}
	if len(strings.TrimSpace(string(r.Body))) == 0 {
		return c.GetRun(ctx, id)
	}
	return decodeRun(r.Body)
}

func decodeRun(b []byte) (api.Run, error) {
	var run api.Run
	if err := json.Unmarshal(b, &run); err != nil {
		return api.Run{}, fmt.Errorf("decoding the run: %w", err)
	}
	return run, nil
}

// ListExperiments returns the names of the experiments of a workspace,
// sorted.
func (c *Client) ListExperiments(ctx context.Context, workspaceID string) ([]string, error) {
	docs, err := c.List(ctx, workspaceID+"/experiments")
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(docs))
	for _, d := range docs {
		var e struct{ ID, Name string }
		if err := json.Unmarshal(d, &e); err != nil {
			return nil, fmt.Errorf("decoding an experiment: %w", err)
		}
		if e.Name == "" {
			e.Name = e.ID[strings.LastIndexByte(e.ID, '/')+1:]
		}
		names = append(names, e.Name)
	}
	sort.Strings(names)
	return names, nil
}

// ListRuns returns the runs of an experiment of a workspace, or of every
// experiment when experiment is "".
func (c *Client) ListRuns(ctx context.Context, workspaceID, experiment string) ([]api.Run, error) {
	exps := []string{experiment}
	if experiment == "" {
		var err error
		if exps, err = c.ListExperiments(ctx, workspaceID); err != nil {
			return nil, err
		}
	}
	var out []api.Run
	for _, e := range exps {
		docs, err := c.List(ctx, ExperimentPath(workspaceID, e)+"/runs")
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			run, err := decodeRun(d)
			if err != nil {
				return nil, err
			}
			out = append(out, run)
		}
	}
	return out, nil
}

// RunMetrics returns the metrics the run id logged.
func (c *Client) RunMetrics(ctx context.Context, id string) ([]api.RunMetric, error) {
	var out struct {
		Value []api.RunMetric `json:"value"`
	}
	if err := c.GetInto(ctx, id+"/metrics", &out); err != nil {
		return nil, err
	}
	return out.Value, nil
}

// RunLogs streams the driver log of the run id from byte offset on. With
// follow the server holds the stream open, writing as the run writes,
// and ends it when the run ends; without, it sends what there is. The
// caller closes the reader; canceling ctx ends the stream. Unlike the
// other calls, the stream is not bounded by the client's timeout.
func (c *Client) RunLogs(ctx context.Context, id string, offset int64, follow bool) (io.ReadCloser, error) {
	path := id + "/logs?offset=" + strconv.FormatInt(offset, 10)
	if follow {
		path += "&follow=true"
	}
	u, err := c.resolve(path)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Accept", "text/plain")
	hc := *c.http
	hc.Timeout = 0 // a followed log lasts as long as the run
	resp, err := hc.Do(req)
	if err != nil {
		return nil, c.transportError(err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var env armerror.Envelope
		if json.Unmarshal(b, &env) == nil && env.Error != nil {
			return nil, env.Error
		}
		return nil, armerror.New("UnexpectedResponse", "", "GET %s answered %s: %s", path, resp.Status, truncate(b))
	}
	return resp.Body, nil
}

// Datastore is a workspace's datastore, as GET {workspace}/datastores/{name}
// answers it.
type Datastore struct {
	ID         string              `json:"id"`
	Name       string              `json:"name"`
	Properties DatastoreProperties `json:"properties"`
}

// DatastoreProperties say where a datastore's data is.
type DatastoreProperties struct {
	DatastoreType  string `json:"datastoreType"` // AzureBlob or AzureFile
	AccountName    string `json:"accountName"`
	StorageAccount string `json:"storageAccount"` // the account's resource id
	ContainerName  string `json:"containerName"`  // AzureBlob
	ShareName      string `json:"shareName"`      // AzureFile
}

// File reports whether the datastore is a file share.
func (d Datastore) File() bool { return strings.EqualFold(d.Properties.DatastoreType, "AzureFile") }

// Container is the datastore's blob container, or its file share.
func (d Datastore) Container() string {
	if d.File() {
		return d.Properties.ShareName
	}
	return d.Properties.ContainerName
}

// GetDatastore returns datastore name of a workspace.
func (c *Client) GetDatastore(ctx context.Context, workspaceID, name string) (Datastore, error) {
	var d Datastore
	err := c.GetInto(ctx, workspaceID+"/datastores/"+name, &d)
	return d, err
}

// SnapshotUpload says where UploadSnapshot put a snapshot.
type SnapshotUpload struct {
	Account   string // the storage account's name
	Container string // the blob container or file share
	Blob      string // api.SnapshotPath of the snapshot's id
	File      bool   // a file share
	// Reused is true when a blob of that name and size was there: the
	// same snapshot, uploaded before, is not uploaded again.
	Reused bool
}

// UploadSnapshot uploads the packed snapshot in file (as snapshot.Pack
// wrote it and info describes it) to blob api.SnapshotPath(info.SHA256)
// of the datastore's container or file share, over hc (DataPlane: as a
// client outside the virtual network, which the account's firewall
// judges), signing with the account's key. A blob of that name and size
// is the same snapshot (its name is its hash): it is reused, not sent
// again. progress, if not nil, is told the bytes sent so far.
func (c *Client) UploadSnapshot(ctx context.Context, hc *http.Client, ds Datastore, file string, info snapshot.Info, progress func(int64)) (SnapshotUpload, error) {
	up := SnapshotUpload{Account: ds.Properties.AccountName, Container: ds.Container(), Blob: api.SnapshotPath(info.SHA256), File: ds.File()}
	if up.Container == "" {
		return up, armerror.New("InvalidDatastore", "", "Datastore %s names no blob container or file share.", ds.Name)
	}
	account, err := c.datastoreAccount(ctx, ds)
	if err != nil {
		return up, err
	}
	st, err := c.Storage(ctx, hc, account, StorageOptions{File: up.File})
	if err != nil {
		return up, err
	}
	up.Account = st.Account()
	props, err := st.Properties(ctx, up.Container, up.Blob)
	switch e, _ := armerror.As(err); {
	case err == nil && props.Size == info.Size:
		up.Reused = true
		return up, nil
	case err == nil:
		// A blob of another size under a hash's name: a broken upload.
		// Replace it.
	case e != nil && (e.Code == "BlobNotFound" || e.Code == "ContainerNotFound" || e.Code == "ResourceNotFound"):
	case e != nil:
		// A HEAD's refusal has no body, so no explanation (the
		// firewall's rule): ask again with a GET, whose refusal has.
		if _, lerr := st.List(ctx, up.Container, up.Blob); lerr != nil {
			return up, lerr
		}
		return up, err
	default:
		return up, err
	}
	if err := st.CreateContainer(ctx, up.Container); err != nil {
		return up, err
	}
	f, err := os.Open(file)
	if err != nil {
		return up, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() != info.Size {
		return up, fmt.Errorf("the packed snapshot %s is not the %d bytes Pack wrote", file, info.Size)
	}
	return up, st.Upload(ctx, up.Container, up.Blob, f, info.Size, progress)
}

// datastoreAccount returns the id of a datastore's storage account: the
// one the server computed, else the account of that name in the
// datastore's subscription.
func (c *Client) datastoreAccount(ctx context.Context, ds Datastore) (string, error) {
	if ds.Properties.StorageAccount != "" {
		return ds.Properties.StorageAccount, nil
	}
	parts := strings.Split(strings.Trim(ds.ID, "/"), "/")
	if len(parts) < 2 || !strings.EqualFold(parts[0], "subscriptions") {
		return "", armerror.New("InvalidDatastore", "", "Datastore %q has no resource id to find its storage account %s by.", ds.Name, ds.Properties.AccountName)
	}
	docs, err := c.List(ctx, "/subscriptions/"+parts[1]+"/providers/Microsoft.Storage/storageAccounts")
	if err != nil {
		return "", err
	}
	for _, d := range docs {
		var a struct{ ID, Name string }
		if json.Unmarshal(d, &a) == nil && strings.EqualFold(a.Name, ds.Properties.AccountName) {
			return a.ID, nil
		}
	}
	return "", armerror.New("ResourceNotFound", "", "Storage account %s of datastore %s was not found in subscription %s.", ds.Properties.AccountName, ds.Name, parts[1])
}
