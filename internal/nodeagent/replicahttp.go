package nodeagent

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/replica"
)

// The replica routes of the control port (29877), as package replica
// describes them.
func (a *agent) replicaRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/replicas", api(a.startReplica))
	mux.HandleFunc("GET /v1/replicas", api(a.listReplicas))
	mux.HandleFunc("GET /v1/replicas/{id}", api(a.replicaStatus))
	mux.HandleFunc("GET /v1/replicas/{id}/logs", a.replicaLogs)
	mux.HandleFunc("DELETE /v1/replicas/{id}", a.stopReplica)
}

func (a *agent) startReplica(r *http.Request) (int, any, error) {
	var spec replica.Spec
	if err := decodeBody(r, &spec); err != nil {
		return 0, nil, err
	}
	if err := validateReplica(spec); err != nil {
		return 0, nil, err
	}
	st, started, err := a.replicas.start(spec)
	switch {
	case err != nil:
		return 0, nil, replicaError(err, spec.ID)
	case started:
		return http.StatusAccepted, st, nil
	}
	return http.StatusOK, st, nil
}

func (a *agent) listReplicas(*http.Request) (int, any, error) {
	return http.StatusOK, a.replicas.list(), nil
}

func (a *agent) replicaStatus(r *http.Request) (int, any, error) {
	rr, err := a.replicas.get(r.PathValue("id"))
	if err != nil {
		return 0, nil, replicaError(err, r.PathValue("id"))
	}
	return http.StatusOK, rr.status(), nil
}

func (a *agent) replicaLogs(w http.ResponseWriter, r *http.Request) {
	rr, err := a.replicas.get(r.PathValue("id"))
	if err != nil {
		writeError(w, r, replicaError(err, r.PathValue("id")))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(rr.logs.text())
}

// stopReplica answers once the replica's processes are gone: that takes
// up to the grace period, longer than the server's usual deadlines.
func (a *agent) stopReplica(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(a.cfg.JobGrace + 15*time.Second)
	rc.SetReadDeadline(deadline)
	rc.SetWriteDeadline(deadline)
	api(func(r *http.Request) (int, any, error) {
		if err := a.replicas.remove(r.Context(), r.PathValue("id")); err != nil {
			return 0, nil, replicaError(err, r.PathValue("id"))
		}
		return http.StatusNoContent, nil, nil
	})(w, r)
}

// replicaError gives the replica's errors their status; others are
// writeError's.
func replicaError(err error, id string) error {
	var stale *staleError
	switch {
	case errors.Is(err, errNoReplica):
		return &apiError{http.StatusNotFound, armerror.New("ReplicaNotFound", "id",
			"this node has no replica %q: it was never started here, or was deleted", id)}
	case errors.As(err, &stale):
		return &apiError{http.StatusConflict, armerror.New("StaleReplicaGeneration", "generation", "%s", stale.Error())}
	}
	return err
}

// validateReplica says everything that is wrong with a spec at once.
func validateReplica(s replica.Spec) error {
	var bad []string
	add := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	if !validNodeID(s.ID) {
		add("id %q: give 1 to 128 letters, digits, '.', '_' or '-', not starting with '.' or '-'", s.ID)
	}
	if s.Generation < 1 {
		add("generation %d: generations count from 1", s.Generation)
	}
	names := map[string]bool{}
	for i, f := range s.Model {
		switch {
		case !cleanRelPath(f.Name):
			add("model[%d].name %q: give a clean relative path, such as model.pkl or vocab/words.txt", i, f.Name)
		case names[f.Name]:
			add("model[%d].name %q: given twice", i, f.Name)
		}
		names[f.Name] = true
		if err := httpsURL(f.URL); err != nil {
			add("model[%d].url: %v", i, err)
		}
	}
	for _, f := range s.Model {
		if !cleanRelPath(f.Name) {
			continue
		}
		for d := path.Dir(f.Name); d != "."; d = path.Dir(d) {
			if names[d] {
				add("model: %q is a file, so %q cannot be in it", d, f.Name)
			}
		}
	}
	if !cleanRelPath(s.Entry.Name) || !strings.HasSuffix(s.Entry.Name, ".py") {
		add("entry.name %q: give the entry script's file name, such as score.py", s.Entry.Name)
	}
	if strings.TrimSpace(s.Entry.Content) == "" {
		add("entry.content: give the entry script's text, with init() and run(raw_data)")
	}
	for k := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			add("env: %q is not a variable name", k)
		}
	}
	if s.Workers < 1 {
		add("workers %d: give 1 or more (replica_max_concurrent_requests)", s.Workers)
	}
	if s.MaxWaitMs < 0 {
		add("maxWaitMs %d: give 0 or more (max_request_wait_time)", s.MaxWaitMs)
	}
	if s.TimeoutMs < 1 {
		add("timeoutMs %d: give 1 or more (scoring_timeout_ms)", s.TimeoutMs)
	}
	if s.MaxBodyBytes < 1 {
		add("maxBodyBytes %d: give 1 or more", s.MaxBodyBytes)
	}
	if !x509.NewCertPool().AppendCertsFromPEM([]byte(s.CACert)) {
		add("caCert: give the deployment CA's certificate in PEM")
	}
	if _, err := parseProxy(s.Proxy); err != nil {
		add("%v", err)
	}
	if s.Netns != "" && (path.Clean(s.Netns) != s.Netns || path.Dir(s.Netns) != "/run/netns") {
		add("netns %q: give a network namespace's path under /run/netns", s.Netns)
	}
	if len(bad) == 0 {
		return nil
	}
	return badRequest(replica.CodeInvalidSpec, "the replica spec is not valid: %s", strings.Join(bad, "; "))
}

// cleanRelPath reports whether name is a clean slash-separated relative
// path inside a directory: no "..", ".", empty or absolute parts.
func cleanRelPath(name string) bool {
	return name != "." && fs.ValidPath(name) && !strings.ContainsAny(name, "\\\x00")
}
