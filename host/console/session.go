package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

const (
	sessionCookie = "replicator_session"
	// sessionTTL is how long a session lasts after its last use.
	sessionTTL = 12 * time.Hour
	// maxSessions bounds the sessions kept; the least recently used one
	// goes when a new one would pass it.
	maxSessions = 256
)

// session is one browser's login.
type session struct {
	id       string
	csrf     string // carried by every form of the session
	lastSeen time.Time
	// gen is the generation of the token it was opened with: a session
	// of an older token has ended.
	gen uint64
}

// sessions are the console's logins, kept in memory: a restart logs
// everyone out, which is the safe way round.
type sessions struct {
	mu   sync.Mutex
	byID map[string]*session
}

func newSessions() *sessions { return &sessions{byID: map[string]*session{}} }

// NewToken returns a console token: 32 random bytes, URL-safe.
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *sessions) open(now time.Time, gen uint64) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= maxSessions {
		var oldest *session
		for _, x := range s.byID {
			if oldest == nil || x.lastSeen.Before(oldest.lastSeen) {
				oldest = x
			}
		}
		delete(s.byID, oldest.id)
	}
	x := &session{id: NewToken(), csrf: NewToken(), lastSeen: now, gen: gen}
	s.byID[x.id] = x
	return x
}

// get returns the request's live session of token generation gen, or nil.
func (s *sessions) get(r *http.Request, now time.Time, gen uint64) *session {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.byID[ck.Value]
	if !ok {
		return nil
	}
	if now.Sub(x.lastSeen) > sessionTTL || x.gen != gen {
		delete(s.byID, x.id)
		return nil
	}
	x.lastSeen = now
	return x
}

func (s *sessions) close(id string) {
	s.mu.Lock()
	delete(s.byID, id)
	s.mu.Unlock()
}

// endBefore ends every session of a token generation before gen.
func (s *sessions) endBefore(gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, x := range s.byID {
		if x.gen < gen {
			delete(s.byID, id)
		}
	}
}

// csrfOK says whether a submitted form carries the session's CSRF token.
func (x *session) csrfOK(r *http.Request) bool {
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(x.csrf)) == 1
}

func setSessionCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		// Behind a proxy that ends TLS, the proxy says so; a client that
		// claims it falsely only makes its own cookie stricter.
		Secure:   r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
		SameSite: http.SameSiteStrictMode,
	})
}
