package console

import (
	"fmt"
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// Limits on guessing the token. A client may try LoginBurst wrong tokens
// at once, then one every LoginEvery; a right token costs nothing.
const (
	LoginBurst = 10
	LoginEvery = 6 * time.Second
	// MaxLoginClients bounds the clients whose attempts are counted; the
	// one seen least recently is forgotten first.
	MaxLoginClients = 4096
	// LoginSummaryEvery is how often at most the log says how many wrong
	// tokens came: one line per guess would let a guesser fill the disk.
	LoginSummaryEvery = time.Minute
)

// guard limits the attempts at the token per client: logins with the
// token, and bearer tokens on /metrics and /readyz.
type guard struct {
	log hclog.Logger

	mu      sync.Mutex
	clients *simplelru.LRU[string, *client]
	// The counts since the last log line, which started the window.
	window          time.Time
	wrong, refused  int
	guessers        int
	summaryPending  bool
	limitedReported bool
}

type client struct {
	lim *rate.Limiter
	// counted is the window in which this client was last counted.
	counted time.Time
}

func newGuard(log hclog.Logger) *guard {
	clients, _ := simplelru.NewLRU[string, *client](MaxLoginClients, nil) // fails only for a size below 1
	return &guard{log: log, clients: clients}
}

// clientKey is who the guard counts a request's attempts against: its IP
// address, or for IPv6 its /64, the block one machine usually has.
func clientKey(remoteAddr string) string {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// attempt is called before a token from remote is compared. wait > 0
// means the client has tried too often: it must wait that long, and its
// token must not be looked at. Otherwise the caller compares the token
// and calls done with the outcome.
func (g *guard) attempt(remote string, now time.Time) (wait time.Duration, done func(right bool)) {
	key := clientKey(remote)
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.clients.Get(key)
	if !ok {
		c = &client{lim: rate.NewLimiter(rate.Every(LoginEvery), LoginBurst)}
		g.clients.Add(key, c)
	}
	r := c.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		g.count(key, c, now, true)
		return d, nil
	}
	return 0, func(right bool) {
		if right {
			r.CancelAt(now)
			return
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		g.count(key, c, now, false)
	}
}

// count notes a wrong token (or a refused attempt) of the client at key.
// The first wrong token and the first refusal of a window are logged at
// once with who sent them; the rest are summed up in one line when the
// window ends. g.mu is held.
func (g *guard) count(key string, c *client, now time.Time, refused bool) {
	first := g.window.IsZero()
	if first {
		g.window = now
		time.AfterFunc(LoginSummaryEvery, g.summarize)
	}
	if c.counted != g.window {
		c.counted = g.window
		g.guessers++
	}
	switch {
	case refused && !g.limitedReported:
		g.limitedReported = true
		g.log.Warn("too many wrong tokens from one client; its attempts are refused for a while", "remote", key)
	case !refused && first:
		g.log.Warn("wrong token; further ones are summed up once a minute", "remote", key)
	default:
		g.summaryPending = true
	}
	if refused {
		g.refused++
	} else {
		g.wrong++
	}
}

// summarize logs the window's counts and starts a new one.
func (g *guard) summarize() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.summaryPending {
		g.log.Warn("wrong tokens in the last minute", "wrong", g.wrong, "refused", g.refused, "clients", g.guessers)
	}
	g.window, g.wrong, g.refused, g.guessers = time.Time{}, 0, 0, 0
	g.summaryPending, g.limitedReported = false, false
}

// tooMany is what a client that tried too often is told.
func tooMany(wait time.Duration) (seconds int, msg string) {
	seconds = int(math.Ceil(wait.Seconds()))
	return seconds, fmt.Sprintf("too many login attempts; wait %d seconds", seconds)
}
