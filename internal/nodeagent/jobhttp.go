package nodeagent

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/job"
)

// The job routes of the control port (29877). Each handler returns its
// status and answer, or an error that apiError maps to a status and ARM's
// error shape, in one place.
func (a *agent) jobRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/jobs", api(a.submitJob))
	mux.HandleFunc("GET /v1/jobs/{runId}", api(a.jobStatus))
	mux.HandleFunc("POST /v1/jobs/{runId}/cancel", api(a.cancelJob))
	mux.HandleFunc("POST /v1/jobs/{runId}/rebind", api(a.rebindJob))
}

// maxSpecBytes bounds a request body: a spec carries a CA certificate and
// a few URLs.
const maxSpecBytes = 1 << 20

func (a *agent) submitJob(r *http.Request) (int, any, error) {
	var spec job.Spec
	if err := decodeBody(r, &spec); err != nil {
		return 0, nil, err
	}
	if err := validateSpec(spec); err != nil {
		return 0, nil, err
	}
	st, started, err := a.jobs.submit(spec)
	if err != nil {
		return 0, nil, err
	}
	if started {
		return http.StatusAccepted, st, nil
	}
	return http.StatusOK, st, nil
}

func (a *agent) jobStatus(r *http.Request) (int, any, error) {
	st, err := a.jobs.status(r.PathValue("runId"))
	return http.StatusOK, st, err
}

func (a *agent) cancelJob(r *http.Request) (int, any, error) {
	st, err := a.jobs.cancel(r.PathValue("runId"))
	return http.StatusAccepted, st, err
}

func (a *agent) rebindJob(r *http.Request) (int, any, error) {
	var rb job.Rebind
	if err := decodeBody(r, &rb); err != nil {
		return 0, nil, err
	}
	if _, err := parseProxy(rb.Proxy); err != nil {
		return 0, nil, badRequest("InvalidRebind", "%v", err)
	}
	st, err := a.jobs.rebind(r.PathValue("runId"), rb.Proxy)
	return http.StatusOK, st, err
}

// apiError is an error with its HTTP status.
type apiError struct {
	status int
	err    *armerror.Error
}

func (e *apiError) Error() string { return e.err.Error() }

func badRequest(code, format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, armerror.New(code, "", format, args...)}
}

// api turns a handler's answer or error into the response; 204 has no
// body.
func api(h func(*http.Request) (int, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		code, v, err := h(r)
		switch {
		case err != nil:
			writeError(w, r, err)
		case code == http.StatusNoContent:
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(code)
		default:
			writeJSON(w, code, v)
		}
	}
}

// writeError maps an error to its status and ARM's error shape, in one
// place.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		ae   *apiError
		busy *busyError
	)
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &busy):
		ae = &apiError{http.StatusConflict, armerror.New("NodeBusy", "", "%s", busy.Error())}
	case errors.Is(err, errNoRun):
		ae = &apiError{http.StatusNotFound, armerror.New("JobNotFound", "runId",
			"this node has no attempt of run %q: it was never submitted here, or was forgotten", r.PathValue("runId"))}
	case errors.Is(err, errClosed):
		ae = &apiError{http.StatusServiceUnavailable, armerror.New("NodeStopping", "", "%v", err)}
	default:
		ae = &apiError{http.StatusInternalServerError, armerror.New("InternalError", "", "%v", err)}
	}
	writeJSON(w, ae.status, armerror.Envelope{Error: ae.err})
}

func decodeBody(r *http.Request, v any) error {
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxSpecBytes)).Decode(v); err != nil {
		return badRequest("InvalidRequestContent", "the body is not the JSON expected: %v", err)
	}
	return nil
}

// validateSpec says everything that is wrong with a spec at once.
func validateSpec(s job.Spec) error {
	var bad []string
	add := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	if !job.ValidRunID(s.RunID) {
		add("runId %q: give 1 to 255 letters, digits, '_', '-' or '.', not starting with '.'", s.RunID)
	}
	if s.Attempt < 1 {
		add("attempt %d: attempts count from 1", s.Attempt)
	}
	if len(s.Argv) == 0 || s.Argv[0] == "" {
		add("argv: give the command to run, such as [\"python3\", \"train.py\"]")
	}
	for k := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			add("env: %q is not a variable name", k)
		}
	}
	if err := httpsURL(s.Snapshot.URL); err != nil {
		add("snapshot.url: %v", err)
	}
	if b, err := hex.DecodeString(s.Snapshot.SHA256); err != nil || len(b) != 32 || strings.ToLower(s.Snapshot.SHA256) != s.Snapshot.SHA256 {
		add("snapshot.sha256 %q: give the snapshot's SHA-256 in lower-case hex", s.Snapshot.SHA256)
	}
	if err := httpsURL(s.Artifacts.URL); err != nil {
		add("artifacts.url: %v", err)
	} else if _, err := parseContainer(s.Artifacts); err != nil {
		add("artifacts.url: %v", err)
	}
	if err := httpsURL(s.History); err != nil {
		add("history: %v", err)
	}
	if s.Token == "" {
		add("token: give the run's token")
	}
	if !x509.NewCertPool().AppendCertsFromPEM([]byte(s.CACert)) {
		add("caCert: give the deployment CA's certificate in PEM")
	}
	if _, err := parseProxy(s.Proxy); err != nil {
		add("%v", err)
	}
	if s.MaxDurationSeconds < 0 {
		add("maxDurationSeconds %d: give 0 (no bound) or more", s.MaxDurationSeconds)
	}
	if len(bad) == 0 {
		return nil
	}
	return badRequest("InvalidJobSpec", "the job spec is not valid: %s", strings.Join(bad, "; "))
}

func httpsURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return errors.New("missing")
	case err != nil:
		return errors.New("not a URL") // url's error would print a SAS
	case u.Scheme != "https" || u.Host == "":
		return fmt.Errorf("%s: give an https:// URL", redactURL(u))
	}
	return nil
}
