package api

import (
	"strings"
	"time"
)

// The model registry of a workspace (DESIGN.md §7; issue 8). SDK v1's
// model API was not ARM-shaped; vnetml lays models out as Azure ML v2's
// resource provider does: a model is a container of numbered versions.
//
//	GET    {workspace}/models                              list the models (containers)
//	GET    {workspace}/models/{name}                       show a model
//	DELETE {workspace}/models/{name}                       delete it with every version
//	POST   {workspace}/models/{name}/register              register the next version (201, a ModelVersion)
//	GET    {workspace}/models/{name}/versions              list its versions, oldest first
//	GET    {workspace}/models/{name}/versions/{version}    show a version
//	DELETE {workspace}/models/{name}/versions/{version}    delete a version
//
// A version's files stay where they were registered: in a datastore of
// the workspace, which ModelURI names. Deleting a model deletes no blob.
const (
	TypeModel        = "Microsoft.MachineLearningServices/workspaces/models"
	TypeModelVersion = TypeModel + "/versions"
)

// Limits of what a model carries, checked by the server.
const (
	MaxModelNameLength    = 255
	MaxModelDescription   = 5000
	MaxModelTags          = 50 // tags, and properties, of one version
	MaxModelTagKeyLength  = 256
	MaxModelTagValue      = 256
	MaxModelPropertyValue = 1024
	MaxModelPathLength    = 1024 // Azure's longest blob name
)

// ModelRegisterRequest is the body of POST {workspace}/models/{name}/register:
// the SDK v1's Model.register (a path in a datastore) and
// Run.register_model (a path in a run's artifacts).
type ModelRegisterRequest struct {
	// Path is the model's file, or the folder holding its files: relative
	// to the run's artifacts (outputs/model.json) when RunID is given,
	// else to the datastore's container.
	Path string `json:"path"`
	// RunID and ExperimentName name a Completed run of the workspace.
	RunID          string `json:"runId,omitempty"`
	ExperimentName string `json:"experimentName,omitempty"`
	// Datastore holds Path when no run is named (default
	// workspaceblobstore, as the SDK's).
	Datastore   string            `json:"datastore,omitempty"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Properties  map[string]string `json:"properties,omitempty"`
}

// Model is a model container: what the versions of one name share.
type Model struct {
	ID         string          `json:"id,omitempty"`
	Name       string          `json:"name,omitempty"`
	Type       string          `json:"type,omitempty"`
	Etag       string          `json:"etag,omitempty"`
	Properties ModelProperties `json:"properties"`
}

// ModelProperties are a container's. Description and Tags are those of
// the registration that created it.
type ModelProperties struct {
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	// LatestVersion is the highest version there is ("" when every
	// version was deleted); NextVersion the one the next registration
	// gets: numbers are never reused.
	LatestVersion     string    `json:"latestVersion,omitempty"`
	NextVersion       string    `json:"nextVersion,omitempty"`
	CreatedTime       time.Time `json:"createdTime"`
	ProvisioningState string    `json:"provisioningState,omitempty"`
}

// ModelVersion is one registered version of a model; its name is the
// version number.
type ModelVersion struct {
	ID         string                 `json:"id,omitempty"`
	Name       string                 `json:"name,omitempty"`
	Type       string                 `json:"type,omitempty"`
	Etag       string                 `json:"etag,omitempty"`
	Properties ModelVersionProperties `json:"properties"`
}

// ModelVersionProperties are what a version is and where its files are.
type ModelVersionProperties struct {
	// ModelName is the container's name (the version's own is its number).
	ModelName string `json:"modelName"`
	Version   string `json:"version"`
	// ModelURI is azureml://datastores/<datastore>/paths/<path>: one file,
	// or every blob under <path>/.
	ModelURI    string            `json:"modelUri"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Properties  map[string]string `json:"properties,omitempty"`
	// RunID and ExperimentName: the run it was registered from.
	RunID          string    `json:"runId,omitempty"`
	ExperimentName string    `json:"experimentName,omitempty"`
	CreatedTime    time.Time `json:"createdTime"`
	// CreatedBy names the token that registered it.
	CreatedBy         string `json:"createdBy,omitempty"`
	ProvisioningState string `json:"provisioningState,omitempty"`
}

// ModelURIPrefix starts every ModelURI.
const ModelURIPrefix = "azureml://datastores/"

// ModelURI is the URI of path in datastore.
func ModelURI(datastore, path string) string {
	return ModelURIPrefix + datastore + "/paths/" + path
}

// ParseModelURI splits azureml://datastores/<datastore>/paths/<path>.
func ParseModelURI(uri string) (datastore, path string, ok bool) {
	rest, found := strings.CutPrefix(uri, ModelURIPrefix)
	if !found {
		return "", "", false
	}
	datastore, path, found = strings.Cut(rest, "/paths/")
	if !found || datastore == "" || path == "" || strings.Contains(datastore, "/") {
		return "", "", false
	}
	return datastore, path, true
}
