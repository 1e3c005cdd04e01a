package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// checkMetricsBearer checks a /metrics request's bearer token against the
// digest want, under the client's limit on attempts, and answers the
// request itself when it is missing or wrong. own says the token is
// metrics_token rather than the console token, for the message.
func checkMetricsBearer(w http.ResponseWriter, r *http.Request, g *guard, now time.Time, want [sha256.Size]byte, own bool) bool {
	name := "the console token"
	if own {
		name = "the metrics token (metrics_token)"
	}
	tok, has := bearer(r)
	if !has {
		w.Header().Set("WWW-Authenticate", `Bearer realm="replicator"`)
		http.Error(w, "metrics need "+name+": send it as Authorization: Bearer <token>", http.StatusUnauthorized)
		return false
	}
	wait, done := g.attempt(r.RemoteAddr, now)
	if wait > 0 {
		secs, msg := tooMany(wait)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		http.Error(w, msg, http.StatusTooManyRequests)
		return false
	}
	sum := sha256.Sum256([]byte(tok))
	ok := subtle.ConstantTimeCompare(sum[:], want[:]) == 1
	done(ok)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="replicator", error="invalid_token"`)
		http.Error(w, "the bearer token is not "+name, http.StatusUnauthorized)
	}
	return ok
}

// MetricsEndpoint serves /metrics alone, on a listener of its own
// (metrics_listen): to a bearer of its token when it has one, else to
// anyone who can reach it, as a scraper on a private network expects.
// Nothing else of the console is served there.
type MetricsEndpoint struct {
	metrics http.Handler
	guard   *guard
	now     func() time.Time

	mu    sync.Mutex
	token *[sha256.Size]byte // nil for none
}

// NewMetricsEndpoint returns an endpoint serving metrics without a token
// until SetToken gives it one.
func NewMetricsEndpoint(metrics http.Handler, log hclog.Logger) *MetricsEndpoint {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &MetricsEndpoint{metrics: metrics, guard: newGuard(log), now: time.Now}
}

// SetToken sets the bearer token the endpoint takes; "" for none.
func (m *MetricsEndpoint) SetToken(token string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.token = nil
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		m.token = &sum
	}
}

func (m *MetricsEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/metrics" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	m.mu.Lock()
	token := m.token
	m.mu.Unlock()
	if token != nil && !checkMetricsBearer(w, r, m.guard, m.now(), *token, true) {
		return
	}
	m.metrics.ServeHTTP(w, r)
}
