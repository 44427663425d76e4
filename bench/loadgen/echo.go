package loadgen

import (
	"io"
	"net/http"
	"strconv"
)

// Echo is the baseline backend: an http.Handler that answers every request
// with 200 and the request's own body and Content-Type, doing nothing else,
// so that a run against it measures the generator, the network and Go's
// HTTP stack. The zero value is ready to use.
type Echo struct {
	// MaxBody bounds the body echoed; a longer body gets 413. 0 is 64 MiB.
	MaxBody int64
}

func (e Echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	limit := e.MaxBody
	if limit == 0 {
		limit = 64 << 20
	}
	if r.ContentLength > limit {
		http.Error(w, "body over "+strconv.FormatInt(limit, 10)+" bytes", http.StatusRequestEntityTooLarge)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	// The body is streamed back while it is read: without full duplex,
	// Go's server drops the rest of the request once the answer starts
	// (the client sees the first 512 bytes, then EOF).
	_ = http.NewResponseController(w).EnableFullDuplex()
	if r.ContentLength >= 0 {
		// Known up front: the response is not chunked.
		w.Header().Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
		io.Copy(w, r.Body)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}
