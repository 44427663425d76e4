package apiserver

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/inference"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/replica"
	"github.com/vnetml/vnetml/internal/storageauth"
	"github.com/vnetml/vnetml/internal/store"
)

// This file serves web services (api/services.go): a registered model
// and an entry script deployed to an inference cluster, validated as the
// SDK's AksWebservice.deploy_configuration is (surface §A.8), run by the
// inference controller.

// Inference runs web services (internal/inference's Controller).
type Inference interface {
	Upsert(sp inference.Spec) error
	Remove(ctx context.Context, id string)
	Status(id string) (inference.Status, bool)
	Logs(ctx context.Context, id string) (string, error)
	// RemoveCluster stops a deleted inference cluster's front end.
	RemoveCluster(clusterID string)
}

// sealServiceKeys is the purpose a service's keys are sealed for, and
// typeServiceKeys the type of the document that holds them.
const (
	sealServiceKeys = "service/keys"
	typeServiceKeys = api.TypeService + "/keys"
)

// Defaults of AksWebservice.deploy_configuration.
const (
	defaultAutoscaleMin     = 1
	defaultAutoscaleMax     = 10
	defaultAutoscaleTarget  = 70
	defaultAutoscaleRefresh = 1
	defaultScoringTimeoutMs = 60000
	defaultMaxWaitMs        = 500
	maxEntryScriptBytes     = 1 << 20
)

// stageService validates and stages a deployment.
func (s *Server) stageService(t *txn, id store.ID, body []byte, cond store.Condition, patch bool) (bool, error) {
	id = t.canonical(id)
	if t.get(lower(id.Parent)) == nil {
		return false, parentMissing(id)
	}
	cur := t.get(id.Key)
	if err := checkCond(cond, id.ID, cur); err != nil {
		return false, err
	}
	var in api.Service
	if err := decodeBody(body, &in); err != nil {
		return false, err
	}
	p := in.Properties
	var l armerror.List
	bad := func(target, format string, args ...any) {
		l.Addf(codeInvalidParameter, "properties."+target, format, args...)
	}
	name := lastSegment(id.ID)
	if !serviceNameRE.MatchString(name) {
		bad("name", "Service name %q is invalid: 3 to 32 lower-case letters, digits and dashes, starting with a letter and not ending with a dash (the SDK's rule).", name)
	}
	// The target: an inference cluster of the workspace.
	var clusterID, feAddr, tlsHost string
	if p.ComputeTarget == "" {
		bad("computeTarget", "A service needs a computeTarget: an inference cluster (vnetml compute create NAME --type aks).")
	} else if ce := t.get(lower(id.Parent + "/computes/" + p.ComputeTarget)); ce == nil {
		l.Addf(codeNotFound, "properties.computeTarget", "Compute %s was not found in the workspace; create an inference cluster first (vnetml compute create %s --type aks ...).", p.ComputeTarget, p.ComputeTarget)
	} else {
		var d computeDoc
		_ = json.Unmarshal(ce.res.Doc, &d)
		if !strings.EqualFold(d.Properties.ComputeType, computeTypeAKS) {
			bad("computeTarget", "Compute %s is an %s cluster; web services are deployed to an inference cluster (computeType AKS).", p.ComputeTarget, d.Properties.ComputeType)
		} else {
			clusterID = ce.id.ID
			var ap aksProps
			_ = json.Unmarshal(d.Properties.Properties, &ap)
			feAddr = ap.frontEndAddr()
			tlsHost, _ = ap.scoringTLS()
		}
	}
	if len(p.Models) == 0 {
		bad("models", "A service serves at least one registered model: give name or name:version (vnetml model list).")
	}
	for i, m := range p.Models {
		if _, err := s.modelVersion(t, id.Parent, m); err != nil {
			l.Addf(codeNotFound, fmt.Sprintf("properties.models[%d]", i), "%v", err)
		}
	}
	if p.EntryScript.Name == "" || strings.ContainsAny(p.EntryScript.Name, `/\`) || p.EntryScript.Content == "" {
		bad("entryScript", "A service needs an entry script: a file name (no directory) and its content, defining init() and run(raw_data).")
	} else if len(p.EntryScript.Content) > maxEntryScriptBytes {
		bad("entryScript.content", "The entry script is %d bytes; at most %d are accepted.", len(p.EntryScript.Content), maxEntryScriptBytes)
	}
	// The SDK's rules (AksServiceDeploymentConfiguration.validate_configuration).
	autoscale := p.NumReplicas == nil
	if p.AutoscaleEnabled != nil {
		if *p.AutoscaleEnabled && p.NumReplicas != nil {
			bad("autoscaleEnabled", "Invalid configuration, autoscale enabled and num_replicas cannot both be set: num_replicas fixes the replicas.")
		}
		autoscale = *p.AutoscaleEnabled
	}
	if !autoscale && (p.AutoscaleMinReplicas != nil || p.AutoscaleMaxReplicas != nil || p.AutoscaleTargetUtilization != nil || p.AutoscaleRefreshSeconds != nil) {
		bad("autoscaleEnabled", "Invalid configuration, autoscale parameters were provided but autoscale is not enabled.")
	}
	if !autoscale && (p.NumReplicas == nil || *p.NumReplicas < 1) {
		bad("numReplicas", "num_replicas must be 1 or more when autoscale is disabled.")
	}
	minR, maxR := intOr(p.AutoscaleMinReplicas, defaultAutoscaleMin), intOr(p.AutoscaleMaxReplicas, defaultAutoscaleMax)
	target, refresh := intOr(p.AutoscaleTargetUtilization, defaultAutoscaleTarget), intOr(p.AutoscaleRefreshSeconds, defaultAutoscaleRefresh)
	if autoscale {
		if minR < 1 || maxR < minR {
			bad("autoscaleMinReplicas", "autoscale_min_replicas (%d) must be at least 1 and at most autoscale_max_replicas (%d).", minR, maxR)
		}
		if target < 1 || target > 100 {
			bad("autoscaleTargetUtilization", "autoscale_target_utilization must be 1 to 100, not %d.", target)
		}
		if refresh < 1 {
			bad("autoscaleRefreshSeconds", "autoscale_refresh_seconds must be 1 or more, not %d.", refresh)
		}
	}
	keyAuth := p.AuthEnabled == nil || *p.AuthEnabled
	if p.TokenAuthEnabled && keyAuth {
		bad("tokenAuthEnabled", "Invalid configuration, key auth and token auth cannot both be enabled: set authEnabled false to use tokens.")
	}
	if p.ScoringTimeoutMs < 0 || p.ReplicaMaxConcurrentRequests < 0 || p.MaxRequestWaitTime < 0 || p.MaxRequestBodyBytes < 0 {
		bad("scoringTimeoutMs", "scoringTimeoutMs, replicaMaxConcurrentRequests, maxRequestWaitTime and maxRequestBodyBytes are 0 (the default) or more.")
	}
	if l.Len() > 0 {
		return false, l.Err()
	}

	// The stored document: settings with their defaults, and what the
	// server computes; the keys are sealed apart.
	now := time.Now().UTC()
	out := api.Service{ID: id.ID, Name: name, Type: api.TypeService, Properties: p}
	op := &out.Properties
	op.ComputeTarget = lastSegment(clusterID)
	op.AuthEnabled = &keyAuth
	if autoscale {
		op.NumReplicas, op.AutoscaleEnabled = nil, &autoscale
		op.AutoscaleMinReplicas, op.AutoscaleMaxReplicas, op.AutoscaleTargetUtilization, op.AutoscaleRefreshSeconds = &minR, &maxR, &target, &refresh
	} else {
		op.AutoscaleEnabled = &autoscale
	}
	if op.ScoringTimeoutMs == 0 {
		op.ScoringTimeoutMs = defaultScoringTimeoutMs
	}
	if op.ReplicaMaxConcurrentRequests == 0 {
		op.ReplicaMaxConcurrentRequests = 1
	}
	if op.MaxRequestWaitTime == 0 {
		op.MaxRequestWaitTime = defaultMaxWaitMs
	}
	primary, secondary := op.PrimaryKey, op.SecondaryKey
	op.PrimaryKey, op.SecondaryKey = "", ""
	op.State, op.Error, op.Replicas = api.ServiceTransitioning, nil, nil
	// As the SDK shows them: http://<front end IP>:80/... without TLS;
	// with it, https://<cname or generated name>/... (port 443).
	base := fmt.Sprintf("http://%s:%d", feAddr, inference.FrontEndPort)
	if tlsHost != "" {
		base = "https://" + tlsHost
	}
	op.ScoringURI = base + "/api/v1/service/" + name + "/score"
	op.SwaggerURI = base + "/api/v1/service/" + name + "/swagger.json"
	op.CreatedTime, op.UpdatedTime, op.Generation = &now, &now, 1
	if cur != nil {
		var old api.Service
		_ = json.Unmarshal(cur.res.Doc, &old)
		op.CreatedTime, op.Generation = old.Properties.CreatedTime, old.Properties.Generation+1
	}
	existed, err := t.stagePlain(id, out, cond, true)
	if err != nil {
		return false, err
	}
	// Keys: kept across redeployments unless new ones are given.
	keys := map[string][]byte{}
	if cur != nil {
		if old, err := s.openSealed(id.ID+"/keys/default", sealServiceKeys, id.ID, nil); err == nil && len(old) == 3 {
			keys["primaryKey"], keys["secondaryKey"], keys["tokenKey"] = old[0], old[1], old[2]
		}
	}
	for n, v := range map[string]string{"primaryKey": primary, "secondaryKey": secondary} {
		if v != "" {
			keys[n] = []byte(v)
		} else if keys[n] == nil {
			keys[n] = []byte(newServiceKey())
		}
	}
	if keys["tokenKey"] == nil {
		keys["tokenKey"] = []byte(newServiceKey())
	}
	if err := t.putSealedValues(id.ID+"/keys/default", sealServiceKeys, id.ID, keys); err != nil {
		return false, err
	}
	t.afterCommit(func(ctx context.Context) error { return s.upsertService(ctx, id.ID) })
	return existed, nil
}

var serviceNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{1,30}[a-z0-9]$`)

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func newServiceKey() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// modelVersion resolves "name" (the latest version) or "name:version" to
// a registered version of the workspace.
func (s *Server) modelVersion(t *txn, ws, ref string) (api.ModelVersion, error) {
	name, version, _ := strings.Cut(ref, ":")
	var mv api.ModelVersion
	if version == "" {
		c := t.get(lower(ws + "/models/" + name))
		if c == nil {
			return mv, fmt.Errorf("model %s is not registered in the workspace (vnetml model register --name %s ...)", name, name)
		}
		var m api.Model
		_ = json.Unmarshal(c.res.Doc, &m)
		if m.Properties.LatestVersion == "" {
			return mv, fmt.Errorf("model %s has no version left", name)
		}
		version = m.Properties.LatestVersion
	}
	e := t.get(lower(ws + "/models/" + name + "/versions/" + version))
	if e == nil {
		return mv, fmt.Errorf("model %s has no version %s (vnetml model list --name %s)", name, version, name)
	}
	err := json.Unmarshal(e.res.Doc, &mv)
	return mv, err
}

// upsertService hands the controller a service as stored now.
func (s *Server) upsertService(ctx context.Context, id string) error {
	if s.inference == nil {
		return nil
	}
	s.infMu.Lock()
	defer s.infMu.Unlock()
	sp, err := s.serviceSpec(ctx, id)
	if err != nil {
		return err
	}
	return s.inference.Upsert(sp)
}

// serviceSpec is what the controller runs for a stored service.
func (s *Server) serviceSpec(ctx context.Context, id string) (inference.Spec, error) {
	r, err := s.st.Get(ctx, id)
	if err != nil {
		return inference.Spec{}, err
	}
	var d api.Service
	if err := json.Unmarshal(r.Doc, &d); err != nil {
		return inference.Spec{}, err
	}
	sid, err := store.ParseID(r.ID)
	if err != nil {
		return inference.Spec{}, err
	}
	ws := sid.Parent
	p := d.Properties
	sp := inference.Spec{ID: r.ID, Name: d.Name, Generation: p.Generation, Entry: replica.Script{Name: p.EntryScript.Name, Content: p.EntryScript.Content},
		Env: p.EnvironmentVariables, CACert: string(s.caPEM), Workers: p.ReplicaMaxConcurrentRequests, MaxWaitMs: p.MaxRequestWaitTime,
		TimeoutMs: p.ScoringTimeoutMs, MaxBodyBytes: p.MaxRequestBodyBytes, Retry: p.RetryIdempotentRequests}
	if p.NumReplicas != nil {
		sp.Fixed = *p.NumReplicas
	} else {
		sp.Min, sp.Max, sp.TargetUtilization = intOr(p.AutoscaleMinReplicas, 1), intOr(p.AutoscaleMaxReplicas, 10), intOr(p.AutoscaleTargetUtilization, 70)
		sp.Refresh = time.Duration(intOr(p.AutoscaleRefreshSeconds, 1)) * time.Second
	}
	s.mu.Lock()
	t := &txn{s: s, ctx: ctx}
	ce := t.get(lower(ws + "/computes/" + p.ComputeTarget))
	var models []api.ModelVersion
	var merr error
	for _, m := range p.Models {
		mv, err := s.modelVersion(t, ws, m)
		if err != nil {
			merr = err
			break
		}
		models = append(models, mv)
	}
	s.mu.Unlock()
	if ce == nil {
		return sp, fmt.Errorf("the service's compute %s is gone", p.ComputeTarget)
	}
	if merr != nil {
		return sp, merr
	}
	sp.ClusterID = ce.id.ID
	var cd computeDoc
	_ = json.Unmarshal(ce.res.Doc, &cd)
	var ap aksProps
	_ = json.Unmarshal(cd.Properties.Properties, &ap)
	if len(ap.SystemServices) > 0 {
		sp.FrontEnd.NIC = ap.SystemServices[0].NetworkInterface
		sp.FrontEnd.Addr, _ = netip.ParseAddr(ap.SystemServices[0].PrivateIPAddress)
	}
	if sp.TLS, err = s.scoringTLS(sp.ClusterID, ap); err != nil {
		return sp, err
	}
	if cd.Properties.ResourceID != "" {
		// An attached compute's nodes are its managed cluster's.
		sp.ClusterID = cd.Properties.ResourceID
	}
	// Each model file, with a read SAS valid for a month: replicas
	// restarted later fetch it again.
	for _, mv := range models {
		dsName, path, ok := api.ParseModelURI(mv.Properties.ModelURI)
		if !ok {
			return sp, fmt.Errorf("model %s:%s has an unreadable modelUri %q", mv.Properties.ModelName, mv.Properties.Version, mv.Properties.ModelURI)
		}
		ds, err := s.RunDatastore(ctx, ws, dsName)
		if err != nil {
			return sp, err
		}
		// One file, or every blob under a folder.
		names := []string{path}
		base := path[:strings.LastIndexByte(path, '/')+1]
		if s.dp != nil {
			if _, found, err := s.dp.BlobSize(ctx, ds.AccountName, ds.Container, path, ds.File); err == nil && !found {
				prefix := strings.TrimSuffix(path, "/") + "/"
				if names, err = s.dp.BlobNames(ctx, ds.AccountName, ds.Container, prefix, ds.File, 1000); err != nil {
					return sp, err
				}
				base = prefix
			}
		}
		for _, name := range names {
			u, err := s.RunSAS(ctx, ds, name, storageauth.PermRead, time.Now().Add(30*24*time.Hour))
			if err != nil {
				return sp, err
			}
			file := strings.TrimPrefix(name, base)
			if len(models) > 1 {
				file = mv.Properties.ModelName + "/" + file
			}
			sp.Model = append(sp.Model, replica.File{Name: file, URL: u, Account: ds.AccountName})
		}
	}
	keys, err := s.openSealed(r.ID+"/keys/default", sealServiceKeys, r.ID, fmt.Errorf("service %s has no keys", d.Name))
	if err == nil && len(keys) == 3 {
		if p.AuthEnabled == nil || *p.AuthEnabled {
			sp.Keys = []string{string(keys[0]), string(keys[1])}
		}
		if p.TokenAuthEnabled {
			sp.TokenKey = keys[2]
		}
	}
	return sp, nil
}

// StartServices hands the controller every stored service (a restarted
// server deploys them again).
func (s *Server) StartServices(ctx context.Context) {
	if s.inference == nil {
		return
	}
	page, err := s.st.List(ctx, store.ListOptions{Type: api.TypeService})
	if err != nil {
		s.log.Error("listing the stored services", "error", err)
		return
	}
	for _, r := range page.Resources {
		if err := s.upsertService(ctx, r.ID); err != nil {
			s.log.Error("a stored service cannot be deployed", "service", r.ID, "error", err)
		}
	}
}

// renderService merges a service's live state into its document.
func (s *Server) renderService(r store.Resource) (json.RawMessage, error) {
	var d api.Service
	if err := json.Unmarshal(r.Doc, &d); err != nil {
		return nil, err
	}
	if s.inference != nil {
		if st, ok := s.inference.Status(r.ID); ok {
			d.Properties.State, d.Properties.Error, d.Properties.Replicas = st.State, st.Error, st.Replicas
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return withEtag(b, r.Etag), nil
}

func (s *Server) getService(ctx context.Context, rq *request) (response, error) {
	r, err := s.st.Get(ctx, rq.target.id.ID)
	if err != nil {
		return response{}, notFound(err, rq.target.id)
	}
	b, err := s.renderService(r)
	if err != nil {
		return response{}, err
	}
	return ok(b)
}

func (s *Server) listServices(ctx context.Context, rq *request) (response, error) {
	return s.listRendered(ctx, rq, store.ListOptions{Parent: rq.target.id.ID, Type: api.TypeService}, s.renderService)
}

// deleteService deletes a web service and its keys; once committed, the
// write retires it from the controller (retireService).
func (s *Server) deleteService(ctx context.Context, rq *request) (response, error) {
	return s.deleteStored(ctx, rq, false, func(t *txn, cur *entry) error {
		if e := t.get(lower(cur.id.ID + "/keys/default")); e != nil {
			t.del(e.id.Key)
		}
		return nil
	})
}

// serviceKeys answers POST {service}/listKeys.
func (s *Server) serviceKeys(ctx context.Context, rq *request) (response, error) {
	id := rq.target.id
	if _, err := s.st.Get(ctx, id.ID); err != nil {
		return response{}, notFound(err, id)
	}
	keys, err := s.openSealed(id.ID+"/keys/default", sealServiceKeys, id.ID, armerror.New(codeNotFound, "", "Service %s has no keys.", lastSegment(id.ID)))
	if err != nil {
		return response{}, err
	}
	return ok(api.ServiceKeys{PrimaryKey: string(keys[0]), SecondaryKey: string(keys[1])})
}

// regenerateServiceKey answers POST {service}/regenerateKeys
// {"keyType": "Primary"|"Secondary"}.
func (s *Server) regenerateServiceKey(ctx context.Context, rq *request) (response, error) {
	var in struct {
		KeyType string `json:"keyType"`
	}
	if err := decodeBody(rq.body, &in); err != nil {
		return response{}, err
	}
	idx := map[string]int{"primary": 0, "secondary": 1}[strings.ToLower(in.KeyType)]
	if !strings.EqualFold(in.KeyType, "Primary") && !strings.EqualFold(in.KeyType, "Secondary") {
		return response{}, armerror.New(codeInvalidParameter, "keyType", "keyType must be Primary or Secondary, not %q.", in.KeyType)
	}
	id := rq.target.id
	err := s.write(ctx, rq.principal, func(t *txn) error {
		if t.get(id.Key) == nil {
			return notFound(store.NotFound(id.ID), id)
		}
		keys, err := s.openSealed(id.ID+"/keys/default", sealServiceKeys, id.ID, fmt.Errorf("service %s has no keys", lastSegment(id.ID)))
		if err != nil || len(keys) != 3 {
			return fmt.Errorf("service %s has no keys", lastSegment(id.ID))
		}
		keys[idx] = []byte(newServiceKey())
		if err := t.putSealedValues(id.ID+"/keys/default", sealServiceKeys, id.ID, map[string][]byte{"primaryKey": keys[0], "secondaryKey": keys[1], "tokenKey": keys[2]}); err != nil {
			return err
		}
		t.afterCommit(func(ctx context.Context) error { return s.upsertService(ctx, id.ID) })
		return nil
	})
	if err != nil {
		return response{}, err
	}
	return s.serviceKeys(ctx, rq)
}

// serviceToken answers POST {service}/token for a service with token
// auth: a token valid for an hour, to refresh after half of it.
func (s *Server) serviceToken(ctx context.Context, rq *request) (response, error) {
	id := rq.target.id
	sp, err := s.serviceSpec(ctx, id.ID)
	if err != nil {
		return response{}, notFound(err, id)
	}
	if sp.TokenKey == nil {
		return response{}, armerror.New(codeInvalidParameter, "", "Service %s uses key auth, not tokens: get its keys (vnetml service get-keys %s), or redeploy it with token auth.", sp.Name, sp.Name)
	}
	now := time.Now().UTC()
	exp := now.Add(time.Hour)
	return ok(api.ServiceToken{AccessToken: inference.Token(sp, exp), ExpiryOn: exp, RefreshAfter: now.Add(30 * time.Minute)})
}

// serviceLogs answers GET {service}/logs: the replicas' output.
func (s *Server) serviceLogs(ctx context.Context, rq *request) (response, error) {
	if s.inference == nil {
		return response{}, armerror.New(codeUnavailable, "", "This server runs no web services.")
	}
	out, err := s.inference.Logs(ctx, rq.target.id.ID)
	if err != nil {
		return response{}, armerror.New(codeNotFound, "", "Service %s does not run: %v.", lastSegment(rq.target.id.ID), err)
	}
	return response{status: 200, body: streamed{contentType: "text/plain; charset=utf-8", r: strings.NewReader(out)}}, nil
}

// PodAddress implements inference.Platform: a secondary ip configuration
// named name on the node interface nic, with an address of its subnet
// (as Azure CNI gives pods), written as the platform.
func (s *Server) PodAddress(ctx context.Context, nic, name string) (netip.Addr, error) {
	id, err := store.ParseID(nic)
	if err != nil {
		return netip.Addr{}, err
	}
	var addr netip.Addr
	err = s.write(ctx, systemPrincipal, func(t *txn) error {
		e := t.get(id.Key)
		if e == nil {
			return fmt.Errorf("node interface %s does not exist", lastSegment(nic))
		}
		n, ok := e.obj.(*network.NetworkInterface)
		if !ok || len(n.Properties.IPConfigurations) == 0 {
			return fmt.Errorf("node interface %s does not exist", lastSegment(nic))
		}
		find := func(n *network.NetworkInterface) (netip.Addr, bool) {
			for _, c := range n.Properties.IPConfigurations {
				if strings.EqualFold(c.Name, name) {
					a, err := netip.ParseAddr(c.Properties.PrivateIPAddress)
					return a, err == nil
				}
			}
			return netip.Addr{}, false
		}
		if a, ok := find(n); ok {
			addr = a
			return nil
		}
		c := clone(n)
		ic := network.IPConfiguration{Name: name}
		ic.Properties.Subnet = n.Properties.IPConfigurations[0].Properties.Subnet
		c.Properties.IPConfigurations = append(c.Properties.IPConfigurations, ic)
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if err := s.stageAs(t, id.ID, string(b)); err != nil {
			return err
		}
		n2, _ := t.get(id.Key).obj.(*network.NetworkInterface)
		a, ok := find(n2)
		if !ok {
			return fmt.Errorf("pod address %s was not assigned", name)
		}
		addr = a
		return nil
	})
	return addr, err
}

// ReleasePodAddress implements inference.Platform.
func (s *Server) ReleasePodAddress(ctx context.Context, nic, name string) error {
	id, err := store.ParseID(nic)
	if err != nil {
		return err
	}
	return s.write(ctx, systemPrincipal, func(t *txn) error {
		e := t.get(id.Key)
		if e == nil {
			return nil
		}
		n, ok := e.obj.(*network.NetworkInterface)
		if !ok {
			return nil
		}
		c := clone(n)
		kept := c.Properties.IPConfigurations[:0]
		for _, ic := range c.Properties.IPConfigurations {
			if !strings.EqualFold(ic.Name, name) {
				kept = append(kept, ic)
			}
		}
		if len(kept) == len(n.Properties.IPConfigurations) {
			return nil
		}
		c.Properties.IPConfigurations = kept
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		return s.stageAs(t, id.ID, string(b))
	})
}
