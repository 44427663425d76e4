package runs

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/job"
)

// This file is run history: the platform service nodes and jobs report
// to, at an AzureMachineLearning address of the run's region, on TCP 443
// through the fabric — so the network decides whether a node can report
// (see internal/job for the protocol).

// historyPrefix starts every run history path; the run's resource id
// follows.
const historyPrefix = "/history/v1.0"

// HistoryHost is run history's host name in a region.
func HistoryHost(location string) string {
	return strings.ToLower(location) + ".experiments.azureml.net"
}

// Limits of run history requests.
const (
	maxLogChunk      = 4 << 20
	maxMetricsBody   = 4 << 20
	maxMetricsBatch  = 10000
	maxMetricName    = 255
	maxEventBody     = 1 << 20
	maxMetricStrings = 1 << 10
)

// Codes of run history's refusals.
const (
	codeSuperseded   = job.CodeSuperseded // the agent stops the job on it
	codeUnauthorized = "Unauthorized"
)

// front is run history's front end in one region.
type front struct {
	ln  net.Listener
	srv *http.Server
}

func (f *front) close() {
	f.srv.Close()
	f.ln.Close()
}

// historyFront starts run history in a region on first use, and returns
// its host name.
func (s *Service) historyFront(location string, addr netip.Addr) (string, error) {
	host := HistoryHost(location)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", errors.New("the server is shutting down")
	}
	if _, ok := s.fronts[strings.ToLower(location)]; ok {
		return host, nil
	}
	leaf, err := s.cfg.CA.NewLeaf([]string{"*.experiments.azureml.net"}, 90*24*time.Hour)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln, err := s.cfg.Fabric.Listen(ctx, fabric.Endpoint{Addr: addr}, 443)
	if err != nil {
		return "", fmt.Errorf("run history cannot listen at %s:443: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           s.HistoryHandler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	cfg := &tls.Config{GetCertificate: leaf.GetCertificate, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	go srv.Serve(tls.NewListener(ln, cfg))
	s.fronts[strings.ToLower(location)] = &front{ln: ln, srv: srv}
	s.cfg.Fabric.SetName(host, addr)
	return host, nil
}

// HistoryHandler serves run history's protocol (internal/job).
func (s *Service) HistoryHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("runs: run history handler panicked", "path", r.URL.Path, "panic", p)
				historyError(w, fmt.Errorf("panic: %v", p))
			}
		}()
		v, err := s.history(r)
		if err != nil {
			historyError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

// history handles one request.
func (s *Service) history(r *http.Request) (any, error) {
	id, op, ok := splitHistoryPath(r.URL.Path)
	if !ok {
		return nil, armerror.New(CodeNotFound, "", "Not a run history path: %s%s/experiments/{experiment}/runs/{run}/{events|logs|metrics|secrets/{name}} is.", historyPrefix, "/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.MachineLearningServices/workspaces/{w}")
	}
	key := strings.ToLower(id)
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	attempt, ok := s.checkToken(key, tok)
	if !ok {
		return nil, armerror.New(codeUnauthorized, "Authorization", "Run history needs the run's token (Authorization: Bearer $AZUREML_RUN_TOKEN), which the node hands to the job.")
	}
	switch {
	case op == "events" && r.Method == http.MethodPost:
		var ev job.Event
		if err := decode(r, maxEventBody, &ev); err != nil {
			return nil, err
		}
		if ev.Attempt != attempt {
			return nil, armerror.New(CodeInvalid, "attempt", "The event is of attempt %d, and the token of attempt %d.", ev.Attempt, attempt)
		}
		if job.Rank(ev.State) < 0 {
			return nil, armerror.New(CodeInvalid, "state", "%q is not a run state.", clip(ev.State))
		}
		if !s.report(key, ev) {
			return nil, superseded(attempt)
		}
		v, err := s.Get(r.Context(), id)
		if err != nil {
			return nil, err
		}
		return map[string]string{"status": v.Properties.Status}, nil
	case op == "logs" && r.Method == http.MethodPost:
		return s.postLog(r, key, attempt)
	case op == "metrics" && r.Method == http.MethodPost:
		var b job.MetricBatch
		if err := decode(r, maxMetricsBody, &b); err != nil {
			return nil, err
		}
		if err := checkBatch(&b, s.cfg.Now()); err != nil {
			return nil, err
		}
		if !s.current(key, attempt) {
			return nil, superseded(attempt)
		}
		if err := s.files.addMetrics(key, b); err != nil {
			return nil, err
		}
		return map[string]int{"accepted": len(b.Metrics)}, nil
	case strings.HasPrefix(op, "secrets/") && r.Method == http.MethodGet:
		name := strings.TrimPrefix(op, "secrets/")
		if !s.current(key, attempt) {
			return nil, superseded(attempt)
		}
		s.mu.Lock()
		ws := ""
		if rr, ok := s.active[key]; ok {
			ws = rr.rec.Internal.Workspace
		}
		s.mu.Unlock()
		v, err := s.cfg.Platform.Secret(r.Context(), ws, name)
		if err != nil {
			return nil, err
		}
		return map[string]string{"name": name, "value": v}, nil
	}
	return nil, armerror.New(CodeNotFound, "", "Run history has no %s %s: POST events, POST logs, POST metrics and GET secrets/{name} are served.", r.Method, clip(op))
}

// current reports whether attempt is the run's attempt on a node.
func (s *Service) current(key string, attempt int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.active[key]
	return ok && r.claimed && r.rec.Properties.Attempt == attempt
}

func superseded(attempt int) error {
	return armerror.New(codeSuperseded, "attempt", "Attempt %d is no longer the run's: it was canceled, it ended, or the run was retried on another node. Stop the job.", attempt)
}

func (s *Service) postLog(r *http.Request, key string, attempt int) (any, error) {
	q := r.URL.Query()
	a, err := strconv.Atoi(q.Get("attempt"))
	if err != nil || a != attempt {
		return nil, armerror.New(CodeInvalid, "attempt", "attempt=%q must be the token's attempt, %d.", clip(q.Get("attempt")), attempt)
	}
	off, err := strconv.ParseInt(q.Get("offset"), 10, 64)
	if err != nil || off < 0 {
		return nil, armerror.New(CodeInvalid, "offset", "offset=%q must be a byte offset (0 or more) into the attempt's log.", clip(q.Get("offset")))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxLogChunk+1))
	if err != nil {
		return nil, armerror.New(CodeInvalid, "", "Reading the log chunk: %v.", err)
	}
	if len(body) > maxLogChunk {
		return nil, armerror.New(CodeInvalid, "", "A log chunk is at most %d bytes; send the log in smaller chunks.", maxLogChunk)
	}
	s.mu.Lock()
	rr, ok := s.active[key]
	var base int64
	if ok && rr.claimed && rr.rec.Properties.Attempt == attempt && len(rr.rec.Internal.LogBase) >= attempt {
		base = rr.rec.Internal.LogBase[attempt-1]
	} else {
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		return nil, superseded(attempt)
	}
	length, gap, err := s.files.appendLog(key, base, off, body)
	if err != nil {
		return nil, err
	}
	if gap {
		return nil, &logGap{length}
	}
	return map[string]int64{"length": length}, nil
}

// logGap is the answer to a chunk that starts past the log's end.
type logGap struct{ length int64 }

func (g *logGap) Error() string {
	return fmt.Sprintf("the log has %d bytes: resend from there", g.length)
}

// checkBatch validates a metrics batch.
func checkBatch(b *job.MetricBatch, now time.Time) error {
	if b.BatchID == "" || len(b.BatchID) > 128 {
		return armerror.New(CodeInvalid, "batchId", "A metrics batch needs a batchId of 1 to 128 characters (it makes a retry harmless).")
	}
	if len(b.Metrics) > maxMetricsBatch {
		return armerror.New(CodeInvalid, "metrics", "A batch holds at most %d metrics, not %d.", maxMetricsBatch, len(b.Metrics))
	}
	for i := range b.Metrics {
		m := &b.Metrics[i]
		target := fmt.Sprintf("metrics[%d]", i)
		if m.Name == "" || len(m.Name) > maxMetricName {
			return armerror.New(CodeInvalid, target+".name", "A metric's name is 1 to %d characters.", maxMetricName)
		}
		switch v := m.Value.(type) {
		case float64, bool:
		case string:
			if len(v) > maxMetricStrings {
				return armerror.New(CodeInvalid, target+".value", "A string metric is at most %d bytes.", maxMetricStrings)
			}
		default:
			return armerror.New(CodeInvalid, target+".value", "Metric %q has a value of type %T; a metric is a number, a string or a bool (log a list with run.log_list).", clip(m.Name), v)
		}
		if m.Time.IsZero() {
			m.Time = now.UTC()
		}
	}
	return nil
}

// splitHistoryPath splits /history/v1.0<run id>/<op>.
func splitHistoryPath(p string) (id, op string, ok bool) {
	rest, ok := strings.CutPrefix(p, historyPrefix+"/")
	if !ok {
		return "", "", false
	}
	seg := strings.SplitN(rest, "/", 13)
	if len(seg) != 13 || !strings.EqualFold(seg[0], "subscriptions") || !strings.EqualFold(seg[2], "resourceGroups") ||
		!strings.EqualFold(seg[4], "providers") || !strings.EqualFold(seg[5], "Microsoft.MachineLearningServices") ||
		!strings.EqualFold(seg[6], "workspaces") || !strings.EqualFold(seg[8], "experiments") || !strings.EqualFold(seg[10], "runs") {
		return "", "", false
	}
	for _, s := range seg[:12] {
		if s == "" {
			return "", "", false
		}
	}
	return "/" + strings.Join(seg[:12], "/"), seg[12], true
}

func decode(r *http.Request, limit int64, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return armerror.New(CodeInvalid, "", "Reading the request: %v.", err)
	}
	if int64(len(body)) > limit {
		return armerror.New(CodeInvalid, "", "The request body is larger than %d bytes.", limit)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return armerror.New(CodeInvalid, "", "The request body is not valid JSON for this request: %v.", err)
	}
	return nil
}

// historyStatus maps run history's error codes to HTTP statuses.
var historyStatus = map[string]int{
	CodeInvalid: http.StatusBadRequest, codeUnauthorized: http.StatusUnauthorized, CodeNotFound: http.StatusNotFound,
	codeSuperseded: http.StatusConflict, CodeConflict: http.StatusConflict, "Forbidden": http.StatusForbidden,
	"SecretNotFound": http.StatusNotFound, CodeUnavailable: http.StatusServiceUnavailable,
}

func historyError(w http.ResponseWriter, err error) {
	var gap *logGap
	if errors.As(err, &gap) {
		writeJSON(w, http.StatusConflict, map[string]int64{"length": gap.length})
		return
	}
	e, ok := armerror.As(err)
	if !ok {
		e = armerror.New("InternalServerError", "", "Run history failed: %v.", err)
	}
	status, known := historyStatus[e.Code]
	switch {
	case !ok:
		status = http.StatusInternalServerError
	case !known:
		status = http.StatusBadRequest
	}
	writeJSON(w, status, json.RawMessage(e.MarshalEnvelope()))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, armerror.New("InternalServerError", "", "encoding the answer: %v", err).MarshalEnvelope()
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}
