// Package console is the operator's web console of `replicator run`: a
// server-rendered page of every pipeline with its state, last and next
// run, a "Sync now" button, and an "Authorize" form for a source that
// needs a grant code, beside /metrics, /healthz and /readyz.
//
// Every page and form works without JavaScript. Pages need a session,
// opened by pasting the console token on the login page; /metrics takes
// the same token as a bearer token. State-changing requests are POST
// forms that carry the session's CSRF token and pass Go's cross-origin
// protection. Nothing the console renders comes from a sensitive
// configuration attribute.
package console

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/host/state"
	pluginconfig "github.com/replicatorhq/replicator/plugin/config"
)

// MaxFormBytes bounds the body of every request the console accepts.
const MaxFormBytes = 16 << 10

// Pipeline states as the console shows them.
const (
	StateIdle    = "idle"    // waiting for its next run; the last one did not fail
	StateQueued  = "queued"  // due, waiting for a free slot
	StateRunning = "running" // a run is underway
	StateFailed  = "failed"  // its last run failed
	StateElse    = "elsewhere"
)

// Pipeline is what the console shows of one pipeline.
type Pipeline struct {
	Name        string
	Source      string // reference, e.g. source.zoho.eu
	Destination string
	Streams     []string
	Interval    time.Duration
	State       string
	// Live holds the counts of the run underway; zero when none is.
	LiveRead, LiveWritten int64
	LiveSince             time.Time
	NextRun               time.Time // zero when the pipeline runs only when asked
	Host                  string    // the host running it now, when several share the work
	Runs                  []state.Run
	// NeedsGrant says the pipeline's source takes a grant and has no
	// stored credentials yet: it cannot run until it is authorized.
	NeedsGrant bool
}

// Last returns the newest run, or nil.
func (p *Pipeline) Last() *state.Run {
	if len(p.Runs) == 0 {
		return nil
	}
	return &p.Runs[0]
}

// Source is what the console shows of one source.
type Source struct {
	Ref  string // e.g. source.zoho.eu
	Type string
	// Authorized says the source has stored credentials.
	Authorized bool
	// CanAuthorize says the source's connector takes a grant code.
	CanAuthorize bool
	Pipelines    []string
}

// Host is the running host the console shows and acts on.
type Host interface {
	// Pipelines returns every configured pipeline with its newest runs
	// (up to runs each), sorted by name.
	Pipelines(ctx context.Context, runs int) ([]Pipeline, error)
	// Pipeline returns one pipeline with its newest runs, or an error
	// wrapping ErrUnknown.
	Pipeline(ctx context.Context, name string, runs int) (Pipeline, error)
	// Sources returns every configured source, sorted by reference.
	Sources(ctx context.Context) ([]Source, error)
	// SyncNow queues a run of the pipeline ahead of its schedule.
	SyncNow(ctx context.Context, pipeline string) error
	// Authorize exchanges a grant code for the source's credentials and
	// stores them; the message says what was granted.
	Authorize(ctx context.Context, source, code string) (string, error)
	// Ready reports why the host cannot serve yet, or nil.
	Ready(ctx context.Context) error
}

// ErrUnknown is returned by a Host for a pipeline or source it does not have.
var ErrUnknown = errors.New("not in the configuration")

// Options configure a console.
type Options struct {
	Host Host
	// Token opens sessions and authorises /metrics. Empty means no token:
	// allowed only on a loopback address, with a warning.
	Token   string
	Metrics http.Handler
	Log     hclog.Logger
	// Listen is the address the console serves on, for the token check.
	Listen string
}

// Console serves the console's pages and endpoints.
type Console struct {
	host     Host
	token    string
	metrics  http.Handler
	log      hclog.Logger
	sessions *sessions
	mux      *http.ServeMux
	handler  http.Handler
	tmpl     *template.Template
	now      func() time.Time
}

// New returns a console. It refuses an empty token unless listen is a
// loopback address.
func New(o Options) (*Console, error) {
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	if o.Token == "" {
		if !IsLoopback(o.Listen) {
			return nil, fmt.Errorf("the console on %s has no token: set host { console_token = env(\"REPLICATOR_CONSOLE_TOKEN\") }, or listen on a loopback address such as 127.0.0.1:8080", o.Listen)
		}
		o.Log.Warn("the console has no token: anyone who can connect to this machine's loopback address can use it; set console_token in the host block", "listen", o.Listen)
	}
	c := &Console{
		host:     o.Host,
		token:    o.Token,
		metrics:  o.Metrics,
		log:      o.Log,
		sessions: newSessions(),
		mux:      http.NewServeMux(),
		tmpl:     parsePages(),
		now:      time.Now,
	}
	c.routes()
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusForbidden, "This form was sent from another site. Open the console and press the button there.")
	}))
	c.handler = securityHeaders(cop.Handler(bound(c.mux)))
	return c, nil
}

// ServeHTTP serves the console.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.handler.ServeHTTP(w, r) }

func (c *Console) routes() {
	c.mux.HandleFunc("GET /healthz", c.healthz)
	c.mux.HandleFunc("GET /readyz", c.readyz)
	c.mux.HandleFunc("GET /metrics", c.serveMetrics)
	c.mux.HandleFunc("GET /login", c.loginPage)
	c.mux.HandleFunc("POST /login", c.login)
	c.mux.HandleFunc("POST /logout", c.page(c.logout))
	c.mux.HandleFunc("GET /{$}", c.page(c.pipelinesPage))
	c.mux.HandleFunc("GET /pipelines/{name}", c.page(c.pipelinePage))
	c.mux.HandleFunc("POST /pipelines/{name}/sync", c.page(c.syncNow))
	c.mux.HandleFunc("GET /sources/{ref}/authorize", c.page(c.authorizePage))
	c.mux.HandleFunc("POST /sources/{ref}/authorize", c.page(c.authorize))
}

// IsLoopback says whether a listen address only takes connections from
// this machine.
func IsLoopback(listen string) bool {
	h, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	return pluginconfig.IsLoopbackHost(h)
}

func (c *Console) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

func (c *Console) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := c.host.Ready(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %v\n", err)
		return
	}
	fmt.Fprintln(w, "ready")
}

func (c *Console) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if c.token != "" {
		auth := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok && c.sessions.get(r, c.now()) == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="replicator"`)
			http.Error(w, "metrics need the console token: send it as Authorization: Bearer <token>", http.StatusUnauthorized)
			return
		}
		if ok && !c.tokenMatches(tok) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="replicator", error="invalid_token"`)
			http.Error(w, "the bearer token is not the console token", http.StatusUnauthorized)
			return
		}
	}
	if c.metrics == nil {
		http.NotFound(w, r)
		return
	}
	c.metrics.ServeHTTP(w, r)
}

func (c *Console) tokenMatches(got string) bool {
	return c.token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(c.token)) == 1
}

// bound caps every request body; a form over the cap gets 413.
func bound(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxFormBytes {
			http.Error(w, fmt.Sprintf("the request body is larger than %d bytes", MaxFormBytes), http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
		next.ServeHTTP(w, r)
	})
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}
