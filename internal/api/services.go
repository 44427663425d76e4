package api

import "time"

// Web services (DESIGN.md §7, issue 8): a registered model served by an
// entry script on an inference cluster's nodes, behind the cluster's
// front end (azureml-fe). The API:
//
//	PUT    {workspace}/services/{name}                deploy (201) or redeploy (200)
//	GET    {workspace}/services/{name}                show, with state, scoring URI, replicas
//	GET    {workspace}/services                       list
//	DELETE {workspace}/services/{name}                delete (its replicas stop)
//	POST   {workspace}/services/{name}/listKeys       {"primaryKey", "secondaryKey"}
//	POST   {workspace}/services/{name}/regenerateKeys {"keyType": "Primary"|"Secondary"}
//	POST   {workspace}/services/{name}/token          {"accessToken", "expiryOn", "refreshAfter"} (token auth)
//	GET    {workspace}/services/{name}/logs           text/plain: the replicas' output
//
// Scoring: POST <scoringUri> (http://<front end>:80/api/v1/service/<name>/score,
// or https://<cname or generated name>/api/v1/service/<name>/score on an
// inference cluster with sslConfiguration) with Authorization: Bearer
// <key or token> — from where the network admits it.
const TypeService = "Microsoft.MachineLearningServices/workspaces/services"

// Service states (the SDK's Webservice.state).
const (
	ServiceTransitioning = "Transitioning"
	ServiceHealthy       = "Healthy"
	ServiceUnhealthy     = "Unhealthy"
	ServiceFailed        = "Failed"
)

// Service is a web service, as deployed and as shown.
type Service struct {
	ID         string            `json:"id,omitempty"`
	Name       string            `json:"name,omitempty"`
	Type       string            `json:"type,omitempty"`
	Properties ServiceProperties `json:"properties"`
}

// ServiceProperties are AksWebservice.deploy_configuration's settings and
// Model.deploy's inputs (surface §A.8), and what became of them.
type ServiceProperties struct {
	// ComputeTarget is the inference cluster's name.
	ComputeTarget string `json:"computeTarget"`
	// Models are "name:version" (or "name": the latest) of the
	// workspace's registry.
	Models []string `json:"models"`
	// EntryScript is the scoring script (init() / run(raw_data)).
	EntryScript          ServiceScript     `json:"entryScript"`
	EnvironmentVariables map[string]string `json:"environmentVariables,omitempty"`
	Description          string            `json:"description,omitempty"`
	Tags                 map[string]string `json:"tags,omitempty"`

	// NumReplicas fixes the replicas; without it autoscale is on.
	NumReplicas                *int  `json:"numReplicas,omitempty"`
	AutoscaleEnabled           *bool `json:"autoscaleEnabled,omitempty"`
	AutoscaleMinReplicas       *int  `json:"autoscaleMinReplicas,omitempty"`
	AutoscaleMaxReplicas       *int  `json:"autoscaleMaxReplicas,omitempty"`
	AutoscaleTargetUtilization *int  `json:"autoscaleTargetUtilization,omitempty"`
	AutoscaleRefreshSeconds    *int  `json:"autoscaleRefreshSeconds,omitempty"`

	// AuthEnabled (default true) asks callers for a key; TokenAuthEnabled
	// for a token instead (then AuthEnabled must be false).
	AuthEnabled      *bool  `json:"authEnabled,omitempty"`
	TokenAuthEnabled bool   `json:"tokenAuthEnabled,omitempty"`
	PrimaryKey       string `json:"primaryKey,omitempty"`
	SecondaryKey     string `json:"secondaryKey,omitempty"`

	ScoringTimeoutMs             int   `json:"scoringTimeoutMs,omitempty"`
	ReplicaMaxConcurrentRequests int   `json:"replicaMaxConcurrentRequests,omitempty"`
	MaxRequestWaitTime           int   `json:"maxRequestWaitTime,omitempty"`
	MaxRequestBodyBytes          int64 `json:"maxRequestBodyBytes,omitempty"`
	// RetryIdempotentRequests says the service's scoring calls are
	// idempotent: a call whose replica fails before answering (its
	// connection refused or lost) is sent to another ready replica, up
	// to MaxScoringTries in all. A vnetml extension; off by default, as a
	// call that may have run once must not run twice unasked.
	RetryIdempotentRequests bool `json:"retryIdempotentRequests,omitempty"`

	// Read-only.
	State       string           `json:"state,omitempty"`
	ScoringURI  string           `json:"scoringUri,omitempty"`
	SwaggerURI  string           `json:"swaggerUri,omitempty"`
	Error       *ServiceError    `json:"error,omitempty"`
	Replicas    []ServiceReplica `json:"replicas,omitempty"`
	CreatedTime *time.Time       `json:"createdTime,omitempty"`
	UpdatedTime *time.Time       `json:"updatedTime,omitempty"`
	// Generation counts deployments: each PUT replaces every replica.
	Generation int64 `json:"generation,omitempty"`
}

// ServiceScript is a script given inline.
type ServiceScript struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

// ServiceError says why a service is Failed or Unhealthy.
type ServiceError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ServiceReplica is one replica of a service.
type ServiceReplica struct {
	ID         string `json:"id"`
	NodeID     string `json:"nodeId"`
	PodAddress string `json:"podAddress"`
	State      string `json:"state"`
	Restarts   int    `json:"restarts"`
	Error      string `json:"error,omitempty"`
}

// ServiceKeys is listKeys' answer.
type ServiceKeys struct {
	PrimaryKey   string `json:"primaryKey"`
	SecondaryKey string `json:"secondaryKey"`
}

// ServiceToken is token's answer.
type ServiceToken struct {
	AccessToken  string    `json:"accessToken"`
	ExpiryOn     time.Time `json:"expiryOn"`
	RefreshAfter time.Time `json:"refreshAfter"`
}
