// Package rogersim simulates the ROGER365 phonebook ingest API on loopback,
// for the destination's tests, the benchmark and demos.
//
// It serves the modelled contract of package ingest in full: bearer API
// keys, replicators, contact upserts (at most ingest.MaxBatch per request)
// with per-item results, older versions answered stale, deletes, sweeps by
// generation, and lookup by E.164 number across replicators, served from an
// index by number. Faults are switched on through SetFault or the admin
// API: 429 with Retry-After, 5xx, slow responses, connections dropped after
// a write was applied, and per-contact rejections.
//
// The admin endpoints take no key; the simulator listens on loopback and this
// is how tests and demo scripts steer it:
//
//	GET    /admin/faults                      the faults still armed
//	PUT    /admin/faults                      replace them: {"rate_limited":3,"retry_after":1,"server_errors":2,
//	                                          "server_error_status":503,"delay_ms":100,"drop_after_apply":1,
//	                                          "reject_ids":["42"]}
//	DELETE /admin/faults                      clear them
//	GET    /admin/requests                    API requests by endpoint (faulted ones included)
//	DELETE /admin/requests                    reset the counters
//	GET    /admin/replicators                 configured replicators
//	POST   /admin/replicators                 add one: {"id","name","source_type","entity"}
//	GET    /admin/replicators/{id}/contacts   a replicator's stored contacts
//	POST   /admin/keys                        accept another key: {"key":"..."}
//	POST   /admin/flush                       write the data file now
//
// Persistence is for restarts, not crash safety. With a data file, the
// phonebook is written atomically (temporary file, fsync, rename) at most
// once per Options.PersistEvery after a change (further apart when writing
// takes long), and on Close; a simulator
// killed between writes loses the changes since the last one. Options.SyncWrites
// writes the file before every mutating request is answered instead, which is
// durable but slow for large phonebooks. Keys are not stored in the file.
package rogersim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Endpoint names used by Requests.
const (
	EndpointGetReplicator  = "get_replicator"
	EndpointPutContacts    = "put_contacts"
	EndpointDeleteContacts = "delete_contacts"
	EndpointSweepContacts  = "sweep_contacts"
	EndpointLookup         = "lookup"
)

var endpoints = [...]string{
	EndpointGetReplicator, EndpointPutContacts, EndpointDeleteContacts, EndpointSweepContacts, EndpointLookup,
}

// Options configure a Server.
type Options struct {
	// DataFile, when set, is where the phonebook is kept between restarts.
	// It is read by New if it exists.
	DataFile string
	// PersistEvery bounds how often the data file is rewritten; 0 means one second.
	PersistEvery time.Duration
	// SyncWrites writes the data file before answering each mutating request.
	SyncWrites bool
	// Keys are the API keys accepted as bearer tokens.
	Keys []string
	// Replicators are configured at start; they are kept in the data file too.
	Replicators []Replicator
	// Logger receives errors and, with LogRequests, one line per request.
	// Nil discards everything.
	Logger      hclog.Logger
	LogRequests bool
}

// Faults are the failures the simulator injects into API requests (not
// admin ones). Counts are consumed one per request; Delay stays until cleared.
type Faults struct {
	// RateLimited answers the next N requests with 429 and Retry-After.
	RateLimited int
	// RetryAfter is the Retry-After value in seconds; 0 sends "0".
	RetryAfter int
	// ServerErrors answers the next N requests with ServerErrorStatus.
	ServerErrors int
	// ServerErrorStatus is the 5xx status to send; 0 means 503.
	ServerErrorStatus int
	// Delay holds every request this long before handling it.
	Delay time.Duration
	// DropAfterApply makes the next N mutating requests apply their change
	// and then close the connection without a response.
	DropAfterApply int
	// RejectIDs are source ids whose upserts get a "rejected" result.
	RejectIDs []string
}

// Server is a simulated ROGER365 API. Its methods are safe for concurrent use.
type Server struct {
	opts Options
	log  hclog.Logger

	mu   sync.RWMutex // guards st and keys
	st   *store
	keys map[string]struct{}

	faultMu sync.Mutex
	faults  Faults

	reqs map[string]*atomic.Int64 // fixed at New; the counters change

	changes   atomic.Uint64 // count of mutations, for persistence
	persistMu sync.Mutex    // serialises file writes; guards written
	written   uint64        // changes value covered by the last write
	dirty     chan struct{}
	stop      chan struct{}
	loopDone  chan struct{}

	handler http.Handler

	srvMu   sync.Mutex
	httpSrv *http.Server
	url     string

	closeOnce sync.Once
	closeErr  error
}

// New builds a Server, loading the data file if one is configured and present.
func New(opts Options) (*Server, error) {
	if opts.PersistEvery <= 0 {
		opts.PersistEvery = time.Second
	}
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	s := &Server{
		opts:     opts,
		log:      log,
		st:       newStore(),
		keys:     map[string]struct{}{},
		reqs:     map[string]*atomic.Int64{},
		dirty:    make(chan struct{}, 1),
		stop:     make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	for _, e := range endpoints {
		s.reqs[e] = new(atomic.Int64)
	}
	if opts.DataFile != "" {
		if err := s.st.loadFile(opts.DataFile); err != nil {
			return nil, err
		}
	}
	for _, k := range opts.Keys {
		s.keys[k] = struct{}{}
	}
	for _, r := range opts.Replicators {
		if r.ID == "" {
			return nil, errors.New("a replicator needs an id")
		}
		s.st.addReplicator(r)
	}
	s.handler = s.routes()
	if opts.DataFile != "" {
		go s.persistLoop()
	} else {
		close(s.loopDone)
	}
	return s, nil
}

// Handler returns the HTTP handler serving the API and the admin endpoints,
// for use with httptest or an own server.
func (s *Server) Handler() http.Handler { return s.handler }

// Start serves on addr (such as "127.0.0.1:0") until Close.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          s.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	s.srvMu.Lock()
	s.httpSrv, s.url = srv, "http://"+ln.Addr().String()
	s.srvMu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serving stopped", "error", err)
		}
	}()
	return nil
}

// URL is the base URL after Start, such as http://127.0.0.1:43123.
func (s *Server) URL() string {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	return s.url
}

// Close stops serving if Start was called and writes the data file one last time.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.srvMu.Lock()
		srv := s.httpSrv
		s.srvMu.Unlock()
		var errs []error
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := srv.Shutdown(ctx); err != nil {
				srv.Close()
			}
			cancel()
		}
		close(s.stop)
		<-s.loopDone
		if s.opts.DataFile != "" {
			errs = append(errs, s.Flush())
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// AddReplicator configures a replicator, or updates its description; its
// contacts are kept. The error says the change could not be persisted.
func (s *Server) AddReplicator(r Replicator) error {
	s.mu.Lock()
	s.st.addReplicator(r)
	s.mu.Unlock()
	return s.changed()
}

// Replicators lists the configured replicators.
func (s *Server) Replicators() []Replicator {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Replicator, 0, len(s.st.replicators))
	for _, rs := range s.st.replicators {
		out = append(out, rs.info)
	}
	return out
}

// AddKey accepts key as a bearer token from now on.
func (s *Server) AddKey(key string) {
	s.mu.Lock()
	s.keys[key] = struct{}{}
	s.mu.Unlock()
}

// SetFault replaces the injected faults; the zero Faults clears them.
func (s *Server) SetFault(f Faults) {
	f.RejectIDs = slices.Clone(f.RejectIDs)
	s.faultMu.Lock()
	s.faults = f
	s.faultMu.Unlock()
}

// Faults returns the faults still to be injected.
func (s *Server) Faults() Faults {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	f := s.faults
	f.RejectIDs = slices.Clone(f.RejectIDs)
	return f
}

// Contacts lists a replicator's contacts ordered by stream and source id.
func (s *Server) Contacts(replicatorID string) []StoredContact {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.contacts(replicatorID)
}

// Lookup returns the contacts carrying an E.164 number, across replicators.
func (s *Server) Lookup(number string) []Match {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.lookup(number)
}

// Requests returns how many API requests each endpoint received, faulted
// ones included.
func (s *Server) Requests() map[string]int64 {
	out := make(map[string]int64, len(s.reqs))
	for name, n := range s.reqs {
		out[name] = n.Load()
	}
	return out
}

// ResetRequests sets the request counters to zero.
func (s *Server) ResetRequests() {
	for _, n := range s.reqs {
		n.Store(0)
	}
}

// Flush writes the data file now if anything changed since the last write.
func (s *Server) Flush() error {
	if s.opts.DataFile == "" {
		return nil
	}
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	c := s.changes.Load()
	if c == s.written {
		return nil
	}
	s.mu.RLock()
	snap := s.st.snapshot()
	s.mu.RUnlock()
	if err := writeFile(s.opts.DataFile, snap); err != nil {
		return fmt.Errorf("persisting the phonebook: %w", err)
	}
	s.written = c
	return nil
}

// changed records a mutation and gets it persisted. It returns an error only
// with SyncWrites, when the file could not be written.
func (s *Server) changed() error {
	s.changes.Add(1)
	if s.opts.DataFile == "" {
		return nil
	}
	if s.opts.SyncWrites {
		return s.Flush()
	}
	select {
	case s.dirty <- struct{}{}:
	default:
	}
	return nil
}

// persistLoop writes the data file at most once per PersistEvery while
// changes keep coming, and leaves at least four times the last write's
// duration between writes, so a large phonebook under bulk load spends at
// most a fifth of a core on persistence.
func (s *Server) persistLoop() {
	defer close(s.loopDone)
	t := time.NewTimer(0)
	<-t.C
	wait := s.opts.PersistEvery
	for {
		select {
		case <-s.stop:
			return
		case <-s.dirty:
		}
		t.Reset(wait)
		select {
		case <-s.stop:
			t.Stop()
			return // Close writes the last state
		case <-t.C:
		}
		start := time.Now()
		if err := s.Flush(); err != nil {
			s.log.Error("could not persist the phonebook", "error", err)
		}
		wait = max(s.opts.PersistEvery, 4*time.Since(start))
	}
}

// takeFault consumes one injected fault for an API request and returns the
// status to answer with, or 0 to proceed.
func (s *Server) takeFault() (status, retryAfter int) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	switch {
	case s.faults.RateLimited > 0:
		s.faults.RateLimited--
		return http.StatusTooManyRequests, s.faults.RetryAfter
	case s.faults.ServerErrors > 0:
		s.faults.ServerErrors--
		if st := s.faults.ServerErrorStatus; st >= 500 && st <= 599 {
			return st, 0
		}
		return http.StatusServiceUnavailable, 0
	}
	return 0, 0
}

func (s *Server) delay() time.Duration {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.faults.Delay
}

// rejectIDs returns the source ids to reject, nil when none.
func (s *Server) rejectIDs() map[string]bool {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	if len(s.faults.RejectIDs) == 0 {
		return nil
	}
	m := make(map[string]bool, len(s.faults.RejectIDs))
	for _, id := range s.faults.RejectIDs {
		m[id] = true
	}
	return m
}

// takeDrop consumes one dropped-connection fault.
func (s *Server) takeDrop() bool {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	if s.faults.DropAfterApply > 0 {
		s.faults.DropAfterApply--
		return true
	}
	return false
}

func (s *Server) authorized(header string) bool {
	const prefix = "Bearer "
	if len(header) <= len(prefix) || header[:len(prefix)] != prefix {
		return false
	}
	s.mu.RLock()
	_, ok := s.keys[header[len(prefix):]]
	s.mu.RUnlock()
	return ok
}
