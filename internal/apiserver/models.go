package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/store"
)

// This file serves a workspace's model registry (internal/api/models.go):
// model containers and their numbered versions, stored as plain documents
// under the workspace, and the register action that adds a version after
// checking that its files exist — in a Completed run's artifacts or in a
// datastore.

// Error codes of the model registry.
const (
	codeModelPathNotFound = "ModelPathNotFound"
	codeRunNotCompleted   = "RunNotCompleted"
)

var (
	// modelNameRE is Azure ML's rule for asset names.
	modelNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$`)
	// The runs service's rules for the names a registration from a run
	// gives.
	modelRunIDRE      = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$`)
	modelExperimentRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$`)
)

// modelKinds registers the model container and version kinds.
func (s *Server) modelKinds(add func(*kind)) {
	add(&kind{name: "workspaces.models", typ: api.TypeModel, methods: map[string]route{
		http.MethodGet:    {h: s.getModel, name: "workspaces.models.get", act: auth.Read},
		http.MethodDelete: {h: s.deletePlain, name: "workspaces.models.delete", act: auth.Delete},
	}, actions: map[string]route{
		"register": {h: s.registerModel, name: "workspaces.models.register", act: auth.Write},
	}, list: &route{h: s.listModels, name: "workspaces.models.list", act: auth.Read, list: true}})
	add(&kind{name: "workspaces.models.versions", typ: api.TypeModelVersion, methods: map[string]route{
		http.MethodGet:    {h: s.getModelVersion, name: "workspaces.models.versions.get", act: auth.Read},
		http.MethodDelete: {h: s.deleteModelVersion, name: "workspaces.models.versions.delete", act: auth.Delete},
	}, list: &route{h: s.listModelVersions, name: "workspaces.models.versions.list", act: auth.Read, list: true}})
}

// modelWorkspace returns the stored id of the workspace id names (a
// workspace, or a model under one), or why there is none.
func (s *Server) modelWorkspace(ctx context.Context, id store.ID) (string, error) {
	for id.Type != typeWorkspace {
		if id.Parent == "" || !strings.HasPrefix(strings.ToLower(id.Type), strings.ToLower(typeWorkspace)+"/") {
			return "", armerror.New(codeInvalidParameter, "", "Models are listed per workspace: GET {workspace}/models, not under %s.", id.ID)
		}
		p, err := store.ParseID(id.Parent)
		if err != nil {
			return "", err
		}
		id = p
	}
	return s.workspaceOf(ctx, id.ID)
}

// getModel shows a model container; a missing one is named with the
// models there are.
func (s *Server) getModel(ctx context.Context, rq *request) (response, error) {
	id := rq.target.id
	ws, err := s.modelWorkspace(ctx, id)
	if err != nil {
		return response{}, err
	}
	r, err := s.st.Get(ctx, id.ID)
	if err != nil {
		if store.IsNotFound(err) {
			return response{}, s.modelNotFound(ctx, ws, lastSegment(id.ID), "")
		}
		return response{}, err
	}
	return ok(withEtag(r.Doc, r.Etag))
}

// modelNotFound says that model name (or its version, when not "") is
// not in workspace ws, and what is.
func (s *Server) modelNotFound(ctx context.Context, ws, name, version string) error {
	if version != "" {
		if r, err := s.st.Get(ctx, ws+"/models/"+name); err == nil {
			var m api.Model
			_ = json.Unmarshal(r.Doc, &m)
			versions, _ := s.modelVersionDocs(ctx, r.ID)
			have := "it has no versions left (vnetml model register --name " + m.Name + " ... adds one)"
			if len(versions) > 0 {
				nums := make([]string, len(versions))
				for i, v := range versions {
					nums[i] = v.Properties.Version
				}
				have = fmt.Sprintf("its versions are %s (latest %s)", strings.Join(clipNames(nums, 20), ", "), m.Properties.LatestVersion)
			}
			return armerror.New(codeNotFound, "version", "Model %s has no version %s in workspace %s: %s.", m.Name, version, lastSegment(ws), have)
		}
	}
	page, err := s.st.List(ctx, store.ListOptions{Parent: ws, Type: api.TypeModel, Limit: 21})
	have := "it has no models yet: register one with `vnetml model register --name " + name + " ...`"
	if err == nil && len(page.Resources) > 0 {
		names := make([]string, len(page.Resources))
		for i, r := range page.Resources {
			names[i] = lastSegment(r.ID)
		}
		slices.Sort(names)
		have = "its models are " + strings.Join(clipNames(names, 20), ", ") + " (vnetml model list)"
	}
	return armerror.New(codeNotFound, "name", "Model %s was not found in workspace %s: %s.", name, lastSegment(ws), have)
}

// clip keeps the first n of names, saying how many more there are.
func clipNames(names []string, n int) []string {
	if len(names) <= n {
		return names
	}
	return append(names[:n:n], fmt.Sprintf("and %d more", len(names)-n))
}

// listModels lists a workspace's models.
func (s *Server) listModels(ctx context.Context, rq *request) (response, error) {
	ws, err := s.modelWorkspace(ctx, rq.target.id)
	if err != nil {
		return response{}, err
	}
	return s.listStored(ctx, rq, store.ListOptions{Parent: ws, Type: api.TypeModel})
}

// modelVersionDocs returns every version of the model container id, in
// version order.
func (s *Server) modelVersionDocs(ctx context.Context, id string) ([]api.ModelVersion, error) {
	var out []api.ModelVersion
	opts := store.ListOptions{Parent: id, Type: api.TypeModelVersion, Limit: 1000}
	for first := true; first || opts.Continuation != ""; first = false {
		page, err := s.st.List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, r := range page.Resources {
			var v api.ModelVersion
			if err := json.Unmarshal(r.Doc, &v); err != nil {
				s.log.Error("stored model version is unreadable", "id", r.ID, "error", err)
				continue
			}
			v.Etag = r.Etag
			out = append(out, v)
		}
		opts.Continuation = page.Next
	}
	slices.SortFunc(out, func(a, b api.ModelVersion) int { return versionNumber(a.Name) - versionNumber(b.Name) })
	return out, nil
}

func versionNumber(v string) int {
	n, _ := strconv.Atoi(v)
	return n
}

// listModelVersions lists a model's versions, oldest first.
func (s *Server) listModelVersions(ctx context.Context, rq *request) (response, error) {
	id := rq.target.id
	ws, err := s.modelWorkspace(ctx, id)
	if err != nil {
		return response{}, err
	}
	if _, err := s.st.Get(ctx, id.ID); err != nil {
		if store.IsNotFound(err) {
			return response{}, s.modelNotFound(ctx, ws, lastSegment(id.ID), "")
		}
		return response{}, err
	}
	all, err := s.modelVersionDocs(ctx, id.ID)
	if err != nil {
		return response{}, err
	}
	out := make([]api.ModelVersion, 0, len(all))
	for _, v := range all {
		if auth.Authorize(rq.principal, auth.Read, v.ID) == nil {
			out = append(out, v)
		}
	}
	return ok(map[string]any{"value": out})
}

// getModelVersion shows a version; a missing one is named with the
// versions there are.
func (s *Server) getModelVersion(ctx context.Context, rq *request) (response, error) {
	id := rq.target.id
	ws, err := s.modelWorkspace(ctx, id)
	if err != nil {
		return response{}, err
	}
	r, err := s.st.Get(ctx, id.ID)
	if err != nil {
		if store.IsNotFound(err) {
			return response{}, s.modelNotFound(ctx, ws, lastSegment(id.Parent), lastSegment(id.ID))
		}
		return response{}, err
	}
	return ok(withEtag(r.Doc, r.Etag))
}

// deleteModelVersion deletes a version; the model's latestVersion falls
// to the highest one left (the model stays, and numbers are not reused).
func (s *Server) deleteModelVersion(ctx context.Context, rq *request) (response, error) {
	return s.deleteStored(ctx, rq, true, func(t *txn, cur *entry) error {
		parent, err := store.ParseID(cur.id.Parent)
		if err != nil {
			return err
		}
		c := t.get(parent.Key)
		if c == nil {
			return nil
		}
		var m api.Model
		if err := json.Unmarshal(c.res.Doc, &m); err != nil {
			return err
		}
		latest := 0
		t.each(func(e *entry) {
			if e != cur && strings.EqualFold(e.id.Type, api.TypeModelVersion) && lower(e.id.Parent) == parent.Key {
				latest = max(latest, versionNumber(lastSegment(e.id.ID)))
			}
		})
		m.Properties.LatestVersion = ""
		if latest > 0 {
			m.Properties.LatestVersion = strconv.Itoa(latest)
		}
		m.Etag = ""
		_, err = t.stagePlain(c.id, m, store.Condition{}, true)
		return err
	})
}

// modelSource is where a registration's files are: a path in a
// datastore's container, as the data planes address it.
type modelSource struct {
	datastore string
	account   string // the storage account's lower-case name
	container string
	file      bool // a file share
	path      string
	// what names the source in messages.
	what string
}

// registerModel is POST {workspace}/models/{name}/register: it checks the
// request and that its files exist, then adds the next version under the
// write lock (so concurrent registrations get consecutive numbers),
// creating the model with its first version.
func (s *Server) registerModel(ctx context.Context, rq *request) (response, error) {
	id := rq.target.id
	var in api.ModelRegisterRequest
	if err := decodeBody(rq.body, &in); err != nil {
		return response{}, err
	}
	name := lastSegment(id.ID)
	if err := checkModelRequest(name, &in); err != nil {
		return response{}, err
	}
	ws, err := s.modelWorkspace(ctx, id)
	if err != nil {
		return response{}, err
	}
	var src modelSource
	if in.RunID != "" {
		src, err = s.runModelSource(ctx, rq.principal, ws, in)
	} else {
		src, err = s.datastoreModelSource(ctx, rq.principal, ws, in)
	}
	if err != nil {
		return response{}, err
	}
	if err := s.checkModelFiles(ctx, src); err != nil {
		return response{}, err
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	var stored *entry
	// The model's id spells the workspace as it is stored.
	cidIn, err := store.ParseID(ws + "/models/" + name)
	if err != nil {
		return response{}, err
	}
	err = s.write(ctx, rq.principal, func(t *txn) error {
		cid := t.canonical(cidIn)
		var m api.Model
		if c := t.get(cid.Key); c != nil {
			if err := json.Unmarshal(c.res.Doc, &m); err != nil {
				return err
			}
		} else {
			m = api.Model{ID: cid.ID, Name: name, Type: api.TypeModel, Properties: api.ModelProperties{
				Description: in.Description, Tags: in.Tags, NextVersion: "1", CreatedTime: now, ProvisioningState: succeeded}}
		}
		version := max(versionNumber(m.Properties.NextVersion), 1)
		m.Properties.LatestVersion, m.Properties.NextVersion = strconv.Itoa(version), strconv.Itoa(version+1)
		m.Etag = ""
		if _, err := t.stagePlain(cid, m, store.Condition{}, true); err != nil {
			return err
		}
		vid, err := store.ParseID(cid.ID + "/versions/" + strconv.Itoa(version))
		if err != nil {
			return err
		}
		if t.get(vid.Key) != nil {
			return armerror.New(store.CodeConflict, "", "Model %s already has a version %d; its nextVersion is inconsistent. Retry the registration.", m.Name, version)
		}
		v := api.ModelVersion{ID: vid.ID, Name: strconv.Itoa(version), Type: api.TypeModelVersion, Properties: api.ModelVersionProperties{
			ModelName: m.Name, Version: strconv.Itoa(version), ModelURI: api.ModelURI(src.datastore, src.path),
			Description: in.Description, Tags: in.Tags, Properties: in.Properties, RunID: in.RunID, ExperimentName: in.ExperimentName,
			CreatedTime: now, CreatedBy: rq.principal.TokenID, ProvisioningState: succeeded}}
		if _, err := t.stagePlain(vid, v, store.CreateOnly(), true); err != nil {
			return err
		}
		stored = t.get(vid.Key)
		return nil
	})
	if err != nil {
		return response{}, err
	}
	return created(withEtag(stored.res.Doc, stored.res.Etag))
}

// checkModelRequest checks what a registration asks for, every problem
// at once, and normalizes the path (no trailing slash).
func checkModelRequest(name string, in *api.ModelRegisterRequest) error {
	var l armerror.List
	if !modelNameRE.MatchString(name) {
		l.Addf(codeInvalidParameter, "name", "The model name %q is invalid: 1-%d letters, digits, '-', '_' and '.', starting with a letter or digit.",
			name, api.MaxModelNameLength)
	}
	p, err := cleanModelPath(in.Path)
	if err != nil {
		l.Add(err)
	}
	in.Path = p
	switch {
	case in.RunID != "" && in.Datastore != "":
		l.Addf(codeInvalidParameter, "datastore", "Give runId (a path in the run's artifacts) or datastore (a path in the datastore), not both.")
	case in.RunID != "" && in.ExperimentName == "":
		l.Addf(codeInvalidParameter, "experimentName", "experimentName is required with runId: the run %s is looked up in its experiment.", in.RunID)
	case in.RunID == "" && in.ExperimentName != "":
		l.Addf(codeInvalidParameter, "runId", "experimentName %q names no run: give runId too, or leave both out to register from a datastore.", in.ExperimentName)
	}
	if in.RunID != "" && !modelRunIDRE.MatchString(in.RunID) {
		l.Addf(codeInvalidParameter, "runId", "runId %q is not a run id: 1 to 255 letters, digits, '_', '-' and '.', not starting with '.'.", in.RunID)
	}
	if in.ExperimentName != "" && !modelExperimentRE.MatchString(in.ExperimentName) {
		l.Addf(codeInvalidParameter, "experimentName", "experimentName %q is not an experiment name: 1 to 255 letters, digits, '_' and '-', starting with a letter or digit.", in.ExperimentName)
	}
	if n := utf8.RuneCountInString(in.Description); n > api.MaxModelDescription {
		l.Addf(codeInvalidParameter, "description", "The description is %d characters long; the limit is %d.", n, api.MaxModelDescription)
	}
	checkStringMap(&l, "tags", in.Tags, api.MaxModelTagValue)
	checkStringMap(&l, "properties", in.Properties, api.MaxModelPropertyValue)
	return l.Err()
}

// checkStringMap checks tags or properties: how many, key and value
// lengths, no control characters in keys.
func checkStringMap(l *armerror.List, field string, m map[string]string, maxValue int) {
	if len(m) > api.MaxModelTags {
		l.Addf(codeInvalidParameter, field, "A model version has %d %s; the limit is %d.", len(m), field, api.MaxModelTags)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch n := utf8.RuneCountInString(k); {
		case n == 0:
			l.Addf(codeInvalidParameter, field, "A key of %s is empty: give each a name.", field)
		case n > api.MaxModelTagKeyLength:
			l.Addf(codeInvalidParameter, field+"."+k[:16], "The %s key %.16q… is %d characters long; the limit is %d.", field, k, n, api.MaxModelTagKeyLength)
		case strings.IndexFunc(k, isControl) >= 0:
			l.Addf(codeInvalidParameter, field, "The %s key %q holds a control character.", field, k)
		}
		if n := utf8.RuneCountInString(m[k]); n > maxValue {
			l.Addf(codeInvalidParameter, field+"."+k, "The value of %s %q is %d characters long; the limit is %d.", field, k, n, maxValue)
		}
	}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// cleanModelPath checks a model's path (relative, '/'-separated, no '.'
// or '..' element) and drops a trailing slash.
func cleanModelPath(p string) (string, *armerror.Error) {
	bad := func(why string) (string, *armerror.Error) {
		return p, armerror.New(codeInvalidParameter, "path", "The path %q is invalid: %s. Give the model's file or folder relative to the run's artifacts (outputs/model.json) or to the datastore.", p, why)
	}
	q := strings.TrimSuffix(p, "/")
	switch {
	case p == "":
		return p, armerror.New(codeInvalidParameter, "path", "path is required: the model's file or folder, such as outputs/model.json in a run's artifacts.")
	case strings.HasPrefix(p, "/"):
		return bad("it must be relative, not start with '/'")
	case strings.Contains(p, "\\"):
		return bad("it holds '\\'; separate folders with '/'")
	case strings.IndexFunc(p, isControl) >= 0:
		return bad("it holds a control character")
	case utf8.RuneCountInString(p) > api.MaxModelPathLength:
		return bad(fmt.Sprintf("it is longer than %d characters", api.MaxModelPathLength))
	}
	for _, seg := range strings.Split(q, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return bad("it has an empty, '.' or '..' element")
		}
	}
	return q, nil
}

// runModelSource resolves a path in a run's artifacts: the run must be in
// the workspace, readable by the caller, and Completed.
func (s *Server) runModelSource(ctx context.Context, who auth.Principal, ws string, in api.ModelRegisterRequest) (modelSource, error) {
	rs, err := s.runsOrUnavailable()
	if err != nil {
		return modelSource{}, err
	}
	runID := ws + "/experiments/" + in.ExperimentName + "/runs/" + in.RunID
	if err := auth.Authorize(who, auth.Read, runID); err != nil {
		return modelSource{}, err
	}
	r, err := rs.Get(ctx, runID)
	if err != nil {
		if e, ok := armerror.As(err); ok && e.Code == codeNotFound {
			return modelSource{}, armerror.New(codeNotFound, "runId", "Run %s was not found in experiment %s of workspace %s; see its runs with `vnetml run list -w %s`.",
				in.RunID, in.ExperimentName, lastSegment(ws), lastSegment(ws))
		}
		return modelSource{}, err
	}
	p := r.Properties
	if p.Status != "Completed" {
		why := "wait for it to complete (vnetml run show " + in.RunID + ")"
		if p.Status == "Failed" || p.Status == "Canceled" {
			why = "its outputs may be incomplete; register from a run that completed"
		}
		return modelSource{}, armerror.New(codeRunNotCompleted, "runId", "Run %s is %s; a model is registered from the outputs of a Completed run: %s.", in.RunID, p.Status, why)
	}
	o := p.Outputs
	if o == nil || o.Container == "" || o.Account == "" {
		return modelSource{}, armerror.New(codeModelPathNotFound, "path", "Run %s kept no artifacts to register a model from.", in.RunID)
	}
	// Outputs.Prefix is <the run's artifacts>/outputs/: paths are
	// relative to the artifacts, as Run.register_model's model_path.
	root := strings.TrimSuffix(o.Prefix, "/")
	root = root[:strings.LastIndexByte(root, '/')+1]
	files := "it has no output files"
	if len(p.OutputFiles) > 0 {
		files = "its outputs are outputs/" + strings.Join(clipNames(slices.Clone(p.OutputFiles), 20), ", outputs/")
	}
	return modelSource{datastore: o.Datastore, account: strings.ToLower(lastSegment(o.Account)), container: o.Container, path: root + in.Path,
		what: fmt.Sprintf("Run %s has no artifact %s (%s)", in.RunID, in.Path, files)}, nil
}

// datastoreModelSource resolves a path in a datastore of the workspace
// (workspaceblobstore unless the request names one).
func (s *Server) datastoreModelSource(ctx context.Context, who auth.Principal, ws string, in api.ModelRegisterRequest) (modelSource, error) {
	name := in.Datastore
	if name == "" {
		name = DatastoreBlob
	}
	dsID := ws + "/datastores/" + name
	if !datastoreNameRE.MatchString(name) {
		return modelSource{}, armerror.New(codeInvalidParameter, "datastore", "The datastore name %q is invalid: letters, digits and '_' only.", name)
	}
	if err := auth.Authorize(who, auth.Read, dsID); err != nil {
		return modelSource{}, err
	}
	r, err := s.st.Get(ctx, dsID)
	if err != nil {
		if store.IsNotFound(err) {
			have := ""
			if page, err := s.st.List(ctx, store.ListOptions{Parent: ws, Type: typeDatastore, Limit: 50}); err == nil {
				names := make([]string, len(page.Resources))
				for i, d := range page.Resources {
					names[i] = lastSegment(d.ID)
				}
				slices.Sort(names)
				have = ": its datastores are " + strings.Join(names, ", ")
			}
			return modelSource{}, armerror.New(codeNotFound, "datastore", "Datastore %s was not found in workspace %s%s.", name, lastSegment(ws), have)
		}
		return modelSource{}, err
	}
	var d datastoreDoc
	if err := json.Unmarshal(r.Doc, &d); err != nil {
		return modelSource{}, err
	}
	src := modelSource{datastore: d.Name, account: strings.ToLower(d.Properties.AccountName), container: d.Properties.ContainerName, path: in.Path}
	kind := "blob container"
	if d.Properties.DatastoreType == "AzureFile" {
		src.file, src.container, kind = true, d.Properties.ShareName, "file share"
	}
	src.what = fmt.Sprintf("Datastore %s (%s %s of storage account %s) holds no file %s and nothing under %s/; upload the model there first (vnetml model register --file uploads a local file)",
		d.Name, kind, src.container, d.Properties.AccountName, in.Path, in.Path)
	return src, nil
}

// checkModelFiles checks that a source names a blob, or a folder with at
// least one blob under it.
func (s *Server) checkModelFiles(ctx context.Context, src modelSource) error {
	if s.dp == nil {
		return armerror.New(codeUnavailable, "", "This server runs no storage data planes, so it cannot check a model's files (a server started by `vnetml server` has them).")
	}
	_, found, err := s.dp.BlobSize(ctx, src.account, src.container, src.path, src.file)
	if err != nil || found {
		return err
	}
	names, err := s.dp.BlobNames(ctx, src.account, src.container, src.path+"/", src.file, 1)
	if err != nil || len(names) > 0 {
		return err
	}
	return armerror.New(codeModelPathNotFound, "path", "%s.", src.what)
}
