// Package console is the operator's web console of `replicator run`: the
// pipelines, counted by state, searched, filtered and paged with the query
// in the URL, the failing ones first; a page per pipeline with its runs,
// their whole errors and the lines their plugins logged; "Sync now",
// "Full refresh", "Pause" and "Resume" buttons; and an "Authorize" form
// for a source that needs a grant code; beside /metrics, /healthz and
// /readyz.
//
// Every page and form works without JavaScript. Every request must name
// the console in its Host header (a loopback name, a configured one, or
// the address it came to), so a page of another name that resolves here
// reads nothing. Pages need a session, opened by pasting the console token
// on the login page or by a login URL carrying it; /metrics takes the same
// token as a bearer token; each client's wrong tokens are limited.
// State-changing requests are POST forms that carry the session's CSRF
// token and pass Go's cross-origin protection. Nothing the console renders
// comes from a sensitive configuration attribute.
package console

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/host/state"
	pluginconfig "github.com/replicatorhq/replicator/plugin/config"
)

// MaxFormBytes bounds the body of every request the console accepts.
const MaxFormBytes = 16 << 10

// Pipeline states as the console shows them. A pipeline is in exactly
// one, the first that applies in the order of States.
const (
	StateRunning    = "running"   // a run is underway on this host
	StateElse       = "elsewhere" // another host holds it now
	StatePaused     = "paused"    // an operator paused it; no host runs it
	StateNeedsGrant = "needs-authorization"
	StateFailed     = "failed" // its last finished run failed or crashed
	StateQueued     = "queued" // due, waiting for a free slot
	StateIdle       = "idle"   // waiting for its next run; the last one did not fail
)

// States are the states in the order the console counts them, the ones
// that want a person first.
func States() []string {
	return []string{StateFailed, StateNeedsGrant, StateRunning, StateQueued, StatePaused, StateIdle, StateElse}
}

// stateLabel is how a state reads on a page.
func stateLabel(s string) string {
	if s == StateNeedsGrant {
		return "needs authorization"
	}
	return s
}

// Pipeline is what the console shows of one pipeline.
type Pipeline struct {
	Name        string
	Source      string // reference, e.g. source.zoho.eu
	Destination string
	Streams     []string
	Interval    time.Duration
	State       string
	// Queued says a run waits for a slot, whatever the state shows.
	Queued bool
	// Live holds the counts of the run underway; zero when none is.
	LiveRead, LiveWritten int64
	LiveSince             time.Time
	NextRun               time.Time // zero when the pipeline runs only when asked
	Host                  string    // the host running it now, when several share the work
	// Last is the newest run with the failures in a row that led to it;
	// Last.Run.ID is 0 before the first run.
	Last state.Latest
	// Runs are the newest runs, newest first: on a pipeline's own page.
	Runs []state.Run
	// PausedSince is when an operator paused it; zero when not paused.
	PausedSince time.Time
	// Backoff is the failure backoff its history holds it back by; its
	// Until is zero, or past, when it does not back off.
	Backoff state.Backoff
	// CanAuthorize says the source's connector takes a grant code; with
	// NeedsGrant, it has none stored yet and cannot run until it does.
	CanAuthorize, NeedsGrant bool
	// Notifications says whether its source's service calls back on
	// changes, until when, and the last callback; "" when the pipeline
	// has no notification channels.
	Notifications string
}

// Failing says the pipeline's last finished run failed.
func (p *Pipeline) Failing() bool { return p.Last.Failures > 0 }

// BackingOff says the pipeline waits longer than its interval for its
// next run because its runs keep failing.
func (p *Pipeline) BackingOff() bool { return !p.Backoff.Until.IsZero() }

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
	// Pipelines returns every configured pipeline with its newest run
	// (Runs empty), in any order: one read of the state for them all.
	Pipelines(ctx context.Context) ([]Pipeline, error)
	// Pipeline returns one pipeline with up to runs of its newest runs,
	// or an error wrapping ErrUnknown.
	Pipeline(ctx context.Context, name string, runs int) (Pipeline, error)
	// Sources returns every configured source, sorted by reference.
	Sources(ctx context.Context) ([]Source, error)
	// SyncNow queues a run of the pipeline ahead of its schedule, one
	// that reads every stream from scratch when fullRefresh is set. It
	// fails for a pipeline that is paused or running.
	SyncNow(ctx context.Context, pipeline string, fullRefresh bool) error
	// SetPaused pauses the pipeline on every host, or resumes it.
	SetPaused(ctx context.Context, pipeline string, paused bool) error
	// Authorize exchanges a grant code for the source's credentials and
	// stores them; the message says what was granted.
	Authorize(ctx context.Context, source, code string) (string, error)
	// MakeLink makes a connect link for the source, lasting ttl (0 for
	// the default), and says when it expires.
	MakeLink(ctx context.Context, source string, ttl time.Duration) (string, time.Time, error)
	// Revoke has the service forget the source's stored credentials, then
	// forgets them.
	Revoke(ctx context.Context, source string) (string, error)
	// Ready reports why the host cannot serve yet, or nil.
	Ready(ctx context.Context) error
}

// ErrUnknown is returned by a Host for a pipeline or source it does not have.
var ErrUnknown = errors.New("not in the configuration")

// Settings are what a configuration reload may change.
type Settings struct {
	// Token opens sessions and authorises /metrics; required. A host
	// whose configuration has none makes one (NewToken) and prints a
	// login URL.
	Token string
	// MetricsToken, when set, is the bearer token /metrics takes instead
	// of Token, so that a scraper holds no key to the console.
	MetricsToken string
	// AllowedHosts are the names the console answers to in the Host
	// header besides loopback names, the host of Listen and the IP address
	// a connection came to.
	AllowedHosts []string
}

// Options configure a console.
type Options struct {
	Settings
	Host    Host
	Metrics http.Handler
	// Notice, when set, says what every page should say at its top, such
	// as that the state database does not answer and the pages show what
	// was last read; "" for nothing.
	Notice func() string
	Log    hclog.Logger
	// Listen is the address the console serves on.
	Listen string
	// Callbacks, when set, serves services' callbacks under CallbacksPath
	// (see package notify): public, with no session or token, as each
	// callback proves itself; it bounds its own bodies. The Host check
	// and the security headers apply to it as to every page.
	Callbacks http.Handler
}

// CallbacksPath is where Options.Callbacks is served, a channel's key
// following.
const CallbacksPath = "/hooks/"

// auth is the token in use: its digest, so that comparing takes the same
// time whatever the lengths, and its generation, which sessions carry.
type auth struct {
	sum [sha256.Size]byte
	gen uint64
	// metrics is the digest of the token /metrics takes: sum's unless
	// Settings.MetricsToken is set.
	metrics [sha256.Size]byte
}

// Console serves the console's pages and endpoints.
type Console struct {
	host     Host
	metrics  http.Handler
	notice   func() string // nil for none
	log      hclog.Logger
	listen   string
	sessions *sessions
	guard    *guard
	mux      *http.ServeMux
	handler  http.Handler
	tmpl     *template.Template
	now      func() time.Time

	// auth and names change at a reload, under mu.
	mu    sync.Mutex
	auth  auth
	names hostNames
	// notReady is the last reason /readyz gave, so that the log says
	// when it changes rather than at each probe.
	notReady string
}

// New returns a console. It needs a token.
func New(o Options) (*Console, error) {
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	if o.Token == "" {
		return nil, errors.New("the console needs a token")
	}
	c := &Console{
		host:     o.Host,
		metrics:  o.Metrics,
		notice:   o.Notice,
		log:      o.Log,
		listen:   o.Listen,
		sessions: newSessions(),
		guard:    newGuard(o.Log),
		mux:      http.NewServeMux(),
		tmpl:     parsePages(),
		now:      time.Now,
	}
	c.Configure(o.Settings)
	c.routes()
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusForbidden, "This form was sent from another site. Open the console and press the button there.")
	}))
	pages := cop.Handler(bound(c.mux))
	if o.Callbacks != nil {
		// Callbacks come from servers, with bodies larger than forms and
		// no Origin to check.
		callbacks := http.NewServeMux()
		callbacks.Handle(CallbacksPath+"{key}", o.Callbacks)
		callbacks.Handle("/", pages)
		pages = callbacks
	}
	c.handler = securityHeaders(c.checkHost(pages))
	return c, nil
}

// Configure applies settings of a reloaded configuration. A changed token
// ends the sessions opened with the old one; an empty one is ignored.
func (c *Console) Configure(s Settings) {
	names := newHostNames(c.listen, s.AllowedHosts)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.names = names
	if s.Token == "" {
		return
	}
	sum := sha256.Sum256([]byte(s.Token))
	c.auth.metrics = sum
	if s.MetricsToken != "" {
		c.auth.metrics = sha256.Sum256([]byte(s.MetricsToken))
	}
	if sum == c.auth.sum {
		return
	}
	rotated := c.auth.gen > 0
	c.auth.sum, c.auth.gen = sum, c.auth.gen+1
	if rotated {
		c.sessions.endBefore(c.auth.gen)
		c.log.Info("the token changed: sessions opened with the old one are ended")
	}
}

func (c *Console) current() (auth, hostNames) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.auth, c.names
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
	c.mux.HandleFunc("POST /pipelines/{name}/full-refresh", c.page(c.fullRefresh))
	c.mux.HandleFunc("POST /pipelines/{name}/pause", c.page(c.pause))
	c.mux.HandleFunc("POST /pipelines/{name}/resume", c.page(c.resume))
	c.mux.HandleFunc("GET /sources/{ref}/authorize", c.page(c.authorizePage))
	c.mux.HandleFunc("POST /sources/{ref}/authorize", c.page(c.authorize))
	c.mux.HandleFunc("POST /sources/{ref}/connect-link", c.page(c.connectLink))
	c.mux.HandleFunc("POST /sources/{ref}/revoke", c.page(c.revoke))
}

// checkHost answers a request for a name the console does not serve with
// 421 and nothing else, whatever its path: the health endpoints too, as a
// probe reaches them by an address or a configured name.
func (c *Console) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, names := c.current(); !names.serves(r) {
			c.log.Debug("request for a name the console does not answer to", "host", r.Host, "remote", r.RemoteAddr)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusMisdirectedRequest)
			_, _ = io.WriteString(w, misdirected)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CheckHost is checkHost for handlers served beside the console on its
// listener, such as the connect pages and the portal API: a name the
// console does not answer to is refused there too.
func (c *Console) CheckHost(next http.Handler) http.Handler { return c.checkHost(next) }

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

// notReadyPublic is what /readyz says of a host that is not ready to a
// caller without the token: the reason may name the database's user,
// host and port.
const notReadyPublic = "not ready: the state store does not answer; the host's log says why\n"

func (c *Console) readyz(w http.ResponseWriter, r *http.Request) {
	// A caller with the token or a session is told why the host is not
	// ready; a wrong bearer token counts as a guess.
	_, trusted := bearer(r)
	if trusted && !c.checkBearer(w, r) {
		return
	}
	trusted = trusted || c.session(r) != nil
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	err := c.host.Ready(ctx)
	c.noteReadiness(err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch {
	case err == nil:
		fmt.Fprintln(w, "ready")
	case trusted:
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %v\n", err)
	default:
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, notReadyPublic)
	}
}

// noteReadiness logs when the host stops or starts being ready.
func (c *Console) noteReadiness(err error) {
	why := ""
	if err != nil {
		why = err.Error()
	}
	c.mu.Lock()
	was := c.notReady
	c.notReady = why
	c.mu.Unlock()
	switch {
	case why == was:
	case why != "":
		// At info: what makes a host not ready, such as its database's
		// outage, is warned of where it is found.
		c.log.Info("not ready", "error", why)
	default:
		c.log.Info("ready again")
	}
}

// bearer returns the request's bearer token, and whether it has one.
func bearer(r *http.Request) (string, bool) {
	return strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
}

// checkBearer checks the request's bearer token, under the client's limit
// on attempts, and answers the request itself when it is not the token.
func (c *Console) checkBearer(w http.ResponseWriter, r *http.Request) bool {
	tok, _ := bearer(r)
	_, ok, wait := c.verify(r, tok)
	switch {
	case wait > 0:
		secs, msg := tooMany(wait)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		http.Error(w, msg, http.StatusTooManyRequests)
	case !ok:
		w.Header().Set("WWW-Authenticate", `Bearer realm="replicator", error="invalid_token"`)
		http.Error(w, "the bearer token is not the console token", http.StatusUnauthorized)
	}
	return ok
}

// verify compares token with the console's, unless the client of r has
// tried too often: then wait says how long it must wait. It returns the
// token generation the token opens.
func (c *Console) verify(r *http.Request, token string) (gen uint64, ok bool, wait time.Duration) {
	wait, done := c.guard.attempt(r.RemoteAddr, c.now())
	if wait > 0 {
		return 0, false, wait
	}
	a, _ := c.current()
	sum := sha256.Sum256([]byte(token))
	ok = subtle.ConstantTimeCompare(sum[:], a.sum[:]) == 1
	done(ok)
	return a.gen, ok, 0
}

// session returns the request's live session, or nil.
func (c *Console) session(r *http.Request) *session {
	a, _ := c.current()
	return c.sessions.get(r, c.now(), a.gen)
}

// serveMetrics serves /metrics to a console session, or to a bearer of
// the metrics token (the console token unless metrics_token is set).
func (c *Console) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if c.metrics == nil {
		http.NotFound(w, r)
		return
	}
	if _, ok := bearer(r); ok || c.session(r) == nil {
		a, _ := c.current()
		if !checkMetricsBearer(w, r, c.guard, c.now(), a.metrics, a.metrics != a.sum) {
			return
		}
	}
	c.metrics.ServeHTTP(w, r)
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

// SecurityHeaders sets the console's security headers on every answer,
// for the pages served beside it.
func SecurityHeaders(next http.Handler) http.Handler { return securityHeaders(next) }

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY") // for browsers without frame-ancestors
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}
