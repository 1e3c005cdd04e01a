package rogersim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/replicatorhq/replicator/connector/roger365/ingest"
)

// maxBody bounds a request body; 500 contacts fit many times over.
const maxBody = 32 << 20

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(string(ingest.GetReplicator), s.api(EndpointGetReplicator, s.getReplicator))
	mux.Handle(string(ingest.PutContacts), s.api(EndpointPutContacts, s.putContacts))
	mux.Handle(string(ingest.DeleteContacts), s.api(EndpointDeleteContacts, s.deleteContacts))
	mux.Handle(string(ingest.SweepContacts), s.api(EndpointSweepContacts, s.sweepContacts))
	mux.Handle(string(ingest.Lookup), s.api(EndpointLookup, s.lookup))
	s.adminRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, ingest.CodeNotFound, fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// api wraps an endpoint with counting, logging, injected faults and the key check.
func (s *Server) api(name string, h http.HandlerFunc) http.Handler {
	counter := s.reqs[name]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		counter.Add(1)
		if s.opts.LogRequests {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			w = sw
			// The Authorization header is never logged.
			defer func() {
				s.log.Info("request",
					"method", r.Method, "path", r.URL.Path, "status", sw.status, "duration", time.Since(start).Round(time.Microsecond))
			}()
		}
		if d := s.delay(); d > 0 {
			// Read the body first: only then does net/http notice a client
			// that hangs up, and end the wait.
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if status, retryAfter := s.takeFault(); status != 0 {
			if status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
				writeError(w, status, ingest.CodeRateLimited, "too many requests; retry after the Retry-After seconds")
				return
			}
			writeError(w, status, ingest.CodeUnavailable, "injected server error")
			return
		}
		if !s.authorized(r.Header.Get("Authorization")) {
			writeError(w, http.StatusUnauthorized, ingest.CodeUnauthorized,
				"send a valid API key as Authorization: Bearer <key>")
			return
		}
		h(w, r)
	})
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach Hijack underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, detail string) {
	writeJSON(w, status, ingest.ErrorBody{Error: code, Detail: detail})
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, ingest.CodeInvalidJSON,
			fmt.Sprintf("the request body is not the expected JSON: %v", err))
		return false
	}
	return true
}

// required answers 400 invalid_request with message unless present holds;
// it returns present.
func required(w http.ResponseWriter, present bool, message string) bool {
	if !present {
		writeError(w, http.StatusBadRequest, ingest.CodeInvalidRequest, message)
	}
	return present
}

func notFound(w http.ResponseWriter, id string) {
	writeError(w, http.StatusNotFound, ingest.CodeNotFound, fmt.Sprintf("replicator %q is not configured", id))
}

// mutate applies change to the replicator the path names, under the store
// lock, and answers with change's result.
func (s *Server) mutate(w http.ResponseWriter, r *http.Request, change func(rs *replicatorState) any) {
	id := r.PathValue(ingest.ReplicatorIDParam)
	s.mu.Lock()
	rs := s.st.replicators[id]
	var resp any
	if rs != nil {
		resp = change(rs)
	}
	s.mu.Unlock()
	if rs == nil {
		notFound(w, id)
		return
	}
	s.answerMutation(w, resp)
}

// answerMutation persists the change and answers, or drops the connection
// when that fault is armed: the change is applied either way.
func (s *Server) answerMutation(w http.ResponseWriter, v any) {
	if err := s.changed(); err != nil {
		s.log.Error("could not persist the phonebook", "error", err)
		writeError(w, http.StatusInternalServerError, "storage", "the change was applied but could not be persisted")
		return
	}
	if s.takeDrop() {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
			return
		}
		panic(http.ErrAbortHandler) // net/http closes the connection without a response
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) getReplicator(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue(ingest.ReplicatorIDParam)
	s.mu.RLock()
	rs := s.st.replicators[id]
	var info Replicator
	if rs != nil {
		info = rs.info
	}
	s.mu.RUnlock()
	if rs == nil {
		notFound(w, id)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) putContacts(w http.ResponseWriter, r *http.Request) {
	var req ingest.UpsertRequest
	if !decodeBody(w, r, &req) || !required(w, req.Stream != "", "stream is required") {
		return
	}
	if len(req.Contacts) > ingest.MaxBatch {
		writeError(w, http.StatusBadRequest, ingest.CodeTooManyContacts,
			fmt.Sprintf("a request carries at most %d contacts, this one has %d", ingest.MaxBatch, len(req.Contacts)))
		return
	}
	reject := s.rejectIDs()
	s.mutate(w, r, func(rs *replicatorState) any {
		return ingest.UpsertResponse{Results: s.st.upsert(rs, req.Stream, req.Generation, req.Contacts, reject)}
	})
}

func (s *Server) deleteContacts(w http.ResponseWriter, r *http.Request) {
	var req ingest.DeleteRequest
	if !decodeBody(w, r, &req) || !required(w, req.Stream != "", "stream is required") {
		return
	}
	s.mutate(w, r, func(rs *replicatorState) any {
		return ingest.DeleteResponse{Deleted: s.st.deleteIDs(rs, req.Stream, req.SourceIDs)}
	})
}

func (s *Server) sweepContacts(w http.ResponseWriter, r *http.Request) {
	var req ingest.SweepRequest
	if !decodeBody(w, r, &req) ||
		!required(w, req.Stream != "" && req.Generation != nil, "stream and generation are required") {
		return
	}
	s.mutate(w, r, func(rs *replicatorState) any {
		return ingest.SweepResponse{Removed: s.st.sweep(rs, req.Stream, *req.Generation)}
	})
}

func (s *Server) lookup(w http.ResponseWriter, r *http.Request) {
	number := r.URL.Query().Get(ingest.LookupNumberParam)
	if strings.HasPrefix(number, " ") {
		// An unencoded + in a query string arrives as a space.
		number = "+" + strings.TrimLeft(number, " ")
	}
	if !ingest.IsE164(number) {
		writeError(w, http.StatusBadRequest, ingest.CodeInvalidNumber,
			"number must be E.164, such as +31201234567, with + written as %2B in the URL")
		return
	}
	writeJSON(w, http.StatusOK, ingest.LookupResponse{Matches: s.Lookup(number)})
}
