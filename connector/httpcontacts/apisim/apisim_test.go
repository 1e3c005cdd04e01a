package apisim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"
)

// clock is a settable time for the server.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func start(t *testing.T) (*Server, *httptest.Server, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 5, 1, 10, 0, 0, 300_000_000, time.UTC)}
	s := New(Options{Token: "tok", Now: c.now})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts, c
}

type listing struct {
	Data []struct {
		ID        string    `json:"id"`
		UpdatedAt time.Time `json:"updated_at"`
		DeletedAt time.Time `json:"deleted_at"`
	} `json:"data"`
	NextCursor string `json:"next_cursor"`
	Error      string `json:"error"`
}

func get(t *testing.T, ts *httptest.Server, token, path string, q url.Values) (int, http.Header, listing) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+path+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l listing
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, l
}

// ids pages through a list, two at a time, and returns the ids in order.
func ids(t *testing.T, ts *httptest.Server, path string, q url.Values) []string {
	t.Helper()
	q.Set("limit", "2")
	var out []string
	for page := 0; page < 20; page++ {
		status, _, l := get(t, ts, "tok", path, q)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, status, l.Error)
		}
		for _, d := range l.Data {
			out = append(out, d.ID)
		}
		if l.NextCursor == "" {
			return out
		}
		q.Set("cursor", l.NextCursor)
	}
	t.Fatal("more than 20 pages")
	return nil
}

// Contacts come sorted by their time in whole seconds, then by id as
// text; updated_since includes its own second.
func TestListContacts(t *testing.T) {
	s, ts, c := start(t)
	for range 11 {
		s.Put(Contact{FirstName: "x"})
	}
	c.t = c.t.Add(time.Second)
	s.Put(Contact{ID: "2", FirstName: "changed"})
	want := []string{"1", "10", "11", "3", "4", "5", "6", "7", "8", "9", "2"}
	if got := ids(t, ts, "/v1/contacts", url.Values{}); !slices.Equal(got, want) {
		t.Errorf("contacts %v, want %v", got, want)
	}
	since := url.Values{"updated_since": {"2026-05-01T10:00:01Z"}}
	if got := ids(t, ts, "/v1/contacts", since); !slices.Equal(got, []string{"2"}) {
		t.Errorf("contacts since 10:00:01: %v", got)
	}
	if err := s.Delete("4"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("4"); err == nil {
		t.Error("deleted 4 twice")
	}
	deletedSince := func(t string) url.Values { return url.Values{"deleted_since": {t}} }
	if got := ids(t, ts, "/v1/contacts/deleted", deletedSince("2026-05-01T10:00:01Z")); !slices.Equal(got, []string{"4"}) {
		t.Errorf("deletions %v", got)
	}
	if got := ids(t, ts, "/v1/contacts/deleted", deletedSince("2026-05-01T10:00:02Z")); len(got) != 0 {
		t.Errorf("deletions since after the last: %v", got)
	}
}

func TestRefusals(t *testing.T) {
	s, ts, _ := start(t)
	status, _, l := get(t, ts, "wrong", "/v1/contacts", nil)
	if status != http.StatusUnauthorized || l.Error != "unauthorized" {
		t.Errorf("a wrong token: %d %s", status, l.Error)
	}
	for _, q := range []url.Values{
		{"limit": {"0"}}, {"limit": {"501"}}, {"cursor": {"nonsense"}}, {"updated_since": {"yesterday"}},
	} {
		status, _, l := get(t, ts, "tok", "/v1/contacts", q)
		if status != http.StatusBadRequest || l.Error != "invalid_request" {
			t.Errorf("%v: %d %s", q, status, l.Error)
		}
	}
	s.Throttle(1, 3*time.Second)
	status, h, _ := get(t, ts, "tok", "/v1/contacts", nil)
	if status != http.StatusTooManyRequests || h.Get("Retry-After") != "3" {
		t.Errorf("throttled: %d, Retry-After %q", status, h.Get("Retry-After"))
	}
	if status, _, _ := get(t, ts, "tok", "/v1/contacts", nil); status != http.StatusOK {
		t.Errorf("after the throttled request: %d", status)
	}
	if s.Requests() != 7 {
		t.Errorf("counted %d requests, want 7", s.Requests())
	}
}
