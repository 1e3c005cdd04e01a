// Package apisim is a stand-in for the contacts API that the httpcontacts
// source reads, served on loopback for the source's tests and demos. It
// serves the API as the source's README describes it, in the shape most
// HTTP APIs have:
//
//	GET /v1/contacts?updated_since=T&limit=N&cursor=C
//	    {"data": [contact, ...], "next_cursor": "..."}: the contacts changed
//	    at or after T (RFC 3339), sorted by updated_at and then by id as
//	    text ("10" before "9")
//	GET /v1/contacts/deleted?deleted_since=T&limit=N&cursor=C
//	    {"data": [{"id", "deleted_at"}, ...], "next_cursor": "..."}: the
//	    deletions at or after T, sorted by deleted_at and then by id
//
// Every request needs "Authorization: Bearer TOKEN" (401 otherwise). A
// page holds limit items, 1 to 500 (100 when absent); next_cursor is
// empty on the last page; a bad parameter answers 400. Errors are
// {"error": "code", "message": "..."}. The service stamps updated_at and
// deleted_at in whole seconds, so contacts share them. Throttle makes the
// next requests answer 429 with Retry-After, as the service does when a
// client calls too often.
package apisim

import (
	"cmp"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Page sizes of the API.
const (
	DefaultLimit = 100
	MaxLimit     = 500
)

// Contact is a contact as the API sends it.
type Contact struct {
	ID        string    `json:"id"`
	FirstName string    `json:"first_name,omitempty"`
	LastName  string    `json:"last_name,omitempty"`
	Company   string    `json:"company,omitempty"`
	Emails    []string  `json:"emails,omitempty"`
	Phones    []Phone   `json:"phones,omitempty"`
	Country   string    `json:"country,omitempty"` // ISO 3166 code
	URL       string    `json:"url"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Phone is one of a contact's phone numbers, as typed.
type Phone struct {
	Label  string `json:"label"` // work, mobile, home, fax or the user's own
	Number string `json:"number"`
}

// Deletion says a contact was deleted, and when.
type Deletion struct {
	ID        string    `json:"id"`
	DeletedAt time.Time `json:"deleted_at"`
}

// Options configure a Server.
type Options struct {
	Token string           // the API token it accepts
	Now   func() time.Time // the clock that stamps changes; time.Now when nil
}

// Server is the stand-in API. Its methods are safe for concurrent use.
type Server struct {
	token string
	now   func() time.Time

	mu         sync.Mutex
	contacts   map[string]Contact
	deletions  []Deletion
	lastID     int
	throttled  int
	retryAfter time.Duration
	requests   int
}

// New returns a server without contacts.
func New(o Options) *Server {
	s := &Server{token: o.Token, now: o.Now, contacts: map[string]Contact{}}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Put creates c, with the next free id when c.ID is empty, or replaces the
// contact with its id, stamping it with the time of the change. It returns
// the contact as stored.
func (s *Server) Put(c Contact) Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.ID == "" {
		s.lastID++
		c.ID = strconv.Itoa(s.lastID)
	}
	c.UpdatedAt = s.now().UTC().Truncate(time.Second)
	c.URL = "https://contacts.example.com/people/" + c.ID
	s.contacts[c.ID] = c
	return c
}

// Delete deletes the contact id.
func (s *Server) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.contacts[id]; !ok {
		return fmt.Errorf("no contact %s", id)
	}
	delete(s.contacts, id)
	s.deletions = append(s.deletions, Deletion{ID: id, DeletedAt: s.now().UTC().Truncate(time.Second)})
	return nil
}

// Throttle makes the next n requests answer 429 Too Many Requests with
// Retry-After: retryAfter, in whole seconds.
func (s *Server) Throttle(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttled, s.retryAfter = n, retryAfter
}

// Requests returns how many API requests the server has answered.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Handler serves the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/contacts", s.listContacts)
	mux.HandleFunc("GET /v1/contacts/deleted", s.listDeletions)
	return s.guard(mux)
}

// guard answers the throttled requests and those without the token.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		throttled := s.throttled > 0
		if throttled {
			s.throttled--
		}
		retryAfter := s.retryAfter
		s.mu.Unlock()
		if throttled {
			w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
			writeError(w, http.StatusTooManyRequests, "rate_limited", "too many requests; retry after the time in Retry-After")
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(token), []byte(s.token)) != 1 {
			writeError(w, http.StatusUnauthorized, "unauthorized", "send a valid API token as Authorization: Bearer TOKEN")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// key is an item's place in a list: its time, then its id as text.
type key struct {
	At time.Time `json:"t"`
	ID string    `json:"id"`
}

func (k key) compare(o key) int {
	return cmp.Or(k.At.Compare(o.At), strings.Compare(k.ID, o.ID))
}

// page is what a list request asks for.
type page struct {
	since time.Time
	after *key // the last item of the page before
	limit int
}

func (s *Server) listContacts(w http.ResponseWriter, r *http.Request) {
	p, err := readPage(r, "updated_since")
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	s.mu.Lock()
	items := make([]Contact, 0, len(s.contacts))
	for _, c := range s.contacts {
		items = append(items, c)
	}
	s.mu.Unlock()
	writePage(w, p, items, func(c Contact) key { return key{c.UpdatedAt, c.ID} })
}

func (s *Server) listDeletions(w http.ResponseWriter, r *http.Request) {
	p, err := readPage(r, "deleted_since")
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	s.mu.Lock()
	items := slices.Clone(s.deletions)
	s.mu.Unlock()
	writePage(w, p, items, func(d Deletion) key { return key{d.DeletedAt, d.ID} })
}

// readPage reads a list request's parameters; since names its time filter.
func readPage(r *http.Request, since string) (page, error) {
	q := r.URL.Query()
	p := page{limit: DefaultLimit}
	if v := q.Get(since); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return p, fmt.Errorf("%s: %q is not an RFC 3339 time", since, v)
		}
		p.since = t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return p, fmt.Errorf("limit: %q is not a number from 1 to %d", v, MaxLimit)
		}
		p.limit = n
	}
	if v := q.Get("cursor"); v != "" {
		k, err := decodeCursor(v)
		if err != nil {
			return p, fmt.Errorf("cursor: %q is not a cursor this API handed out", v)
		}
		p.after = &k
	}
	return p, nil
}

// writePage writes the page of items that p asks for.
func writePage[T any](w http.ResponseWriter, p page, items []T, keyOf func(T) key) {
	slices.SortFunc(items, func(a, b T) int { return keyOf(a).compare(keyOf(b)) })
	out := make([]T, 0, p.limit)
	next := ""
	for _, it := range items {
		k := keyOf(it)
		if k.At.Before(p.since) || (p.after != nil && k.compare(*p.after) <= 0) {
			continue
		}
		if len(out) == p.limit {
			next = encodeCursor(keyOf(out[len(out)-1]))
			break
		}
		out = append(out, it)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out, "next_cursor": next})
}

func encodeCursor(k key) string {
	b, _ := json.Marshal(k) // a key always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (key, error) {
	var k key
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return k, err
	}
	if err := json.Unmarshal(b, &k); err != nil {
		return k, err
	}
	if k.ID == "" {
		return k, errors.New("no id")
	}
	return k, nil
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]string{"error": code, "message": message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
