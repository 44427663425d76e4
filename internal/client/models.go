package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
)

// This file is the client of a workspace's model registry
// (internal/api/models.go), and of the data-plane transfers around it: a
// local model uploaded to a datastore before it is registered, a
// registered model downloaded. Both go through the data plane as a client
// outside the virtual network, so the storage account's firewall judges
// the caller's address.

// ModelPath is the resource id of model name of a workspace.
func ModelPath(workspaceID, name string) string { return workspaceID + "/models/" + name }

// ModelVersionPath is the resource id of a version of a model.
func ModelVersionPath(workspaceID, name, version string) string {
	return ModelPath(workspaceID, name) + "/versions/" + version
}

// RegisterModel registers the next version of model name (creating the
// model with its first version) and returns it.
func (c *Client) RegisterModel(ctx context.Context, workspaceID, name string, req api.ModelRegisterRequest) (api.ModelVersion, error) {
	var v api.ModelVersion
	err := c.Post(ctx, ModelPath(workspaceID, name)+"/register", req, &v)
	return v, err
}

// GetModel returns model name (its container: latestVersion, …).
func (c *Client) GetModel(ctx context.Context, workspaceID, name string) (api.Model, error) {
	var m api.Model
	err := c.GetInto(ctx, ModelPath(workspaceID, name), &m)
	return m, err
}

// GetModelVersion returns a version of model name; "" is its latest.
func (c *Client) GetModelVersion(ctx context.Context, workspaceID, name, version string) (api.ModelVersion, error) {
	if version == "" {
		m, err := c.GetModel(ctx, workspaceID, name)
		if err != nil {
			return api.ModelVersion{}, err
		}
		if m.Properties.LatestVersion == "" {
			return api.ModelVersion{}, armerror.New("ResourceNotFound", "version", "Model %s has no versions left: every one was deleted; register one (vnetml model register --name %s ...).", m.Name, m.Name)
		}
		version = m.Properties.LatestVersion
	}
	var v api.ModelVersion
	err := c.GetInto(ctx, ModelVersionPath(workspaceID, name, version), &v)
	return v, err
}

// ListModels returns the models of a workspace, by name.
func (c *Client) ListModels(ctx context.Context, workspaceID string) ([]api.Model, error) {
	docs, err := c.List(ctx, workspaceID+"/models")
	if err != nil {
		return nil, err
	}
	out := make([]api.Model, 0, len(docs))
	for _, d := range docs {
		var m api.Model
		if err := json.Unmarshal(d, &m); err != nil {
			return nil, fmt.Errorf("decoding a model: %w", err)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ListModelVersions returns the versions of model name, oldest first.
func (c *Client) ListModelVersions(ctx context.Context, workspaceID, name string) ([]api.ModelVersion, error) {
	docs, err := c.List(ctx, ModelPath(workspaceID, name)+"/versions")
	if err != nil {
		return nil, err
	}
	out := make([]api.ModelVersion, 0, len(docs))
	for _, d := range docs {
		var v api.ModelVersion
		if err := json.Unmarshal(d, &v); err != nil {
			return nil, fmt.Errorf("decoding a model version: %w", err)
		}
		out = append(out, v)
	}
	return out, nil
}

// DeleteModel deletes model name with every version (not its files);
// existed is false when there was none.
func (c *Client) DeleteModel(ctx context.Context, workspaceID, name string) (existed bool, err error) {
	return c.Delete(ctx, ModelPath(workspaceID, name))
}

// DeleteModelVersion deletes one version of a model (not its files).
func (c *Client) DeleteModelVersion(ctx context.Context, workspaceID, name, version string) (existed bool, err error) {
	return c.Delete(ctx, ModelVersionPath(workspaceID, name, version))
}

// ModelFile is one file of a model: its blob and where it goes (or came
// from) relative to the download directory.
type ModelFile struct {
	Blob string `json:"blob"`
	Path string `json:"path"` // '/'-separated
	Size int64  `json:"size"`
}

// Progress is told, for each file, the bytes moved so far of its total.
type Progress func(file string, done, total int64)

// UploadModel uploads the local file or directory local to the datastore
// under prefix (LocalUpload/<unix time>, as the SDK v1's Model.register
// did), over hc (DataPlane), and returns the path to register: prefix/<the
// file's name>, or prefix/<the directory's name> holding every regular
// file under it (symlinks and other special files are left out).
func (c *Client) UploadModel(ctx context.Context, hc *http.Client, ds Datastore, local, prefix string, progress Progress) (string, []ModelFile, error) {
	st, err := os.Stat(local)
	if err != nil {
		return "", nil, armerror.New("InvalidArgument", "file", "Cannot read the model %s: %v.", local, err)
	}
	base := filepath.Base(filepath.Clean(local))
	modelPath := strings.TrimSuffix(prefix, "/") + "/" + base
	var files []ModelFile
	switch {
	case st.Mode().IsRegular():
		files = []ModelFile{{Blob: modelPath, Path: local, Size: st.Size()}}
	case st.IsDir():
		err := filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(local, p)
			if err != nil {
				return err
			}
			files = append(files, ModelFile{Blob: modelPath + "/" + filepath.ToSlash(rel), Path: p, Size: info.Size()})
			return nil
		})
		if err != nil {
			return "", nil, armerror.New("InvalidArgument", "file", "Reading the model directory %s: %v.", local, err)
		}
		if len(files) == 0 {
			return "", nil, armerror.New("InvalidArgument", "file", "The model directory %s holds no regular file.", local)
		}
	default:
		return "", nil, armerror.New("InvalidArgument", "file", "%s is neither a regular file nor a directory.", local)
	}
	container := ds.Container()
	if container == "" {
		return "", nil, armerror.New("InvalidDatastore", "", "Datastore %s names no blob container or file share.", ds.Name)
	}
	account, err := c.datastoreAccount(ctx, ds)
	if err != nil {
		return "", nil, err
	}
	s, err := c.Storage(ctx, hc, account, StorageOptions{File: ds.File()})
	if err != nil {
		return "", nil, err
	}
	if err := s.CreateContainer(ctx, container); err != nil {
		return "", nil, err
	}
	for _, f := range files {
		if err := uploadFile(ctx, s, container, f, progress); err != nil {
			return "", nil, err
		}
	}
	return modelPath, files, nil
}

func uploadFile(ctx context.Context, s *Storage, container string, f ModelFile, progress Progress) error {
	r, err := os.Open(f.Path)
	if err != nil {
		return armerror.New("InvalidArgument", "file", "Cannot read %s: %v.", f.Path, err)
	}
	defer r.Close()
	var tell func(int64)
	if progress != nil {
		tell = func(n int64) { progress(f.Path, n, f.Size) }
	}
	return s.Upload(ctx, container, f.Blob, r, f.Size, tell)
}

// ModelFiles resolves a version's modelUri to its datastore's storage (a
// client of it over hc), container and files: the one blob it names, or
// every blob under it as a folder. Each file's Path is where it goes in a
// download directory: the blob's base name, or the folder's name and the
// blob's path under it.
func (c *Client) ModelFiles(ctx context.Context, hc *http.Client, workspaceID string, v api.ModelVersion) (*Storage, string, []ModelFile, error) {
	dsName, p, ok := api.ParseModelURI(v.Properties.ModelURI)
	if !ok {
		return nil, "", nil, armerror.New("InvalidModelUri", "", "Model %s version %s has the modelUri %q, not %sDATASTORE/paths/PATH.",
			v.Properties.ModelName, v.Name, v.Properties.ModelURI, api.ModelURIPrefix)
	}
	ds, err := c.GetDatastore(ctx, workspaceID, dsName)
	if err != nil {
		if e, ok := armerror.As(err); ok && e.Code == "ResourceNotFound" {
			return nil, "", nil, armerror.New("ResourceNotFound", "", "Datastore %s of model %s version %s was not found in the workspace: it was unregistered after the model was.",
				dsName, v.Properties.ModelName, v.Name)
		}
		return nil, "", nil, err
	}
	account, err := c.datastoreAccount(ctx, ds)
	if err != nil {
		return nil, "", nil, err
	}
	s, err := c.Storage(ctx, hc, account, StorageOptions{File: ds.File()})
	if err != nil {
		return nil, "", nil, err
	}
	blobs, err := s.List(ctx, ds.Container(), p)
	if err != nil {
		return s, ds.Container(), nil, err
	}
	base := path.Base(p)
	var files []ModelFile
	for _, b := range blobs {
		switch {
		case b.Name == p:
			return s, ds.Container(), []ModelFile{{Blob: b.Name, Path: base, Size: b.Size}}, nil
		case strings.HasPrefix(b.Name, p+"/"):
			files = append(files, ModelFile{Blob: b.Name, Path: base + "/" + strings.TrimPrefix(b.Name, p+"/"), Size: b.Size})
		}
	}
	if len(files) == 0 {
		return s, ds.Container(), nil, armerror.New("ModelPathNotFound", "", "Model %s version %s names %s in datastore %s (container %s of storage account %s), and nothing is there any more: its files were deleted after it was registered.",
			v.Properties.ModelName, v.Name, p, dsName, ds.Container(), s.Account())
	}
	return s, ds.Container(), files, nil
}

// DownloadModel downloads every file of a model version into root, each
// at its ModelFile.Path, through a temporary file renamed into place. A
// blob whose name would leave root (a '..' element, a backslash) is not
// downloaded: it is returned in skipped. Nothing is written outside root.
func (c *Client) DownloadModel(ctx context.Context, hc *http.Client, workspaceID string, v api.ModelVersion, root *os.Root, progress Progress) (files, skipped []ModelFile, err error) {
	s, container, all, err := c.ModelFiles(ctx, hc, workspaceID, v)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range all {
		if !localPath(f.Path) {
			skipped = append(skipped, f)
			continue
		}
		if err := downloadFile(ctx, s, container, root, f, progress); err != nil {
			return files, skipped, err
		}
		files = append(files, f)
	}
	return files, skipped, nil
}

// localPath reports whether a '/'-separated path stays inside the
// directory it is relative to and names a file.
func localPath(p string) bool {
	return p != "" && p != "." && !strings.HasSuffix(p, "/") && !strings.Contains(p, "\\") && path.Clean(p) == p &&
		filepath.IsLocal(filepath.FromSlash(p))
}

// partSuffix marks a file being downloaded.
const partSuffix = ".part"

func downloadFile(ctx context.Context, s *Storage, container string, root *os.Root, f ModelFile, progress Progress) error {
	rel := filepath.FromSlash(f.Path)
	if d := filepath.Dir(rel); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return armerror.New("InvalidArgument", "dest", "Cannot make %s: %v.", d, err)
		}
	}
	part := rel + partSuffix
	w, err := root.OpenFile(part, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return armerror.New("InvalidArgument", "dest", "Cannot write %s: %v.", f.Path, err)
	}
	var tell func(int64)
	if progress != nil {
		tell = func(n int64) { progress(f.Path, n, f.Size) }
	}
	_, err = s.Download(ctx, container, f.Blob, 0, "", w, tell)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(part, rel)
	}
	if err != nil {
		root.Remove(part)
		return err
	}
	return nil
}
