package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/oauth2"
)

// logs keeps what a client logs, as JSON lines.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines returns each logged line as its fields.
func (l *logs) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// newClient returns a client of the API at base that waits a few
// milliseconds between attempts, and what it logs.
func newClient(t *testing.T, base string, change func(*Options)) (*Client, *logs) {
	t.Helper()
	l := &logs{}
	o := Options{
		BaseURL:     base,
		Service:     "People API",
		Tokens:      Bearer("secret-token"),
		Log:         hclog.New(&hclog.LoggerOptions{Output: l, JSONFormat: true}),
		MaxAttempts: 3,
		MinWait:     time.Millisecond,
		MaxWait:     5 * time.Millisecond,
	}
	if change != nil {
		change(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, l
}

// script is a server that answers the i-th request with answers[i], and
// the last one from then on.
type script struct {
	answers []func(http.ResponseWriter, *http.Request)
	n       atomic.Int32
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(s.n.Add(1)) - 1
	s.answers[min(i, len(s.answers)-1)](w, r)
}

func serve(t *testing.T, answers ...func(http.ResponseWriter, *http.Request)) (*httptest.Server, *script) {
	t.Helper()
	s := &script{answers: answers}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, s
}

func status(code int, header ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":"status %d"}`, code)
	}
}

func people(w http.ResponseWriter, _ *http.Request) {
	fmt.Fprint(w, `{"data":[{"id":"7"}]}`)
}

type peoplePage struct {
	Data []struct {
		ID string `json:"id"`
	} `json:"data"`
}

// A 429 with Retry-After is retried no sooner than the service asked, and
// the warning before the retry says the attempt, the limit and the status.
func TestTooManyRequestsWaitsForRetryAfter(t *testing.T) {
	var first, second time.Time
	ts, s := serve(t,
		func(w http.ResponseWriter, r *http.Request) {
			first = time.Now()
			status(429, "Retry-After", "1")(w, r)
		},
		func(w http.ResponseWriter, r *http.Request) { second = time.Now(); people(w, r) })
	c, l := newClient(t, ts.URL, nil)

	var page peoplePage
	if err := c.Get(context.Background(), "/v1/people", nil, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 || page.Data[0].ID != "7" || s.n.Load() != 2 {
		t.Fatalf("got %+v after %d requests", page, s.n.Load())
	}
	if gap := second.Sub(first); gap < time.Second {
		t.Errorf("retried after %v; Retry-After asked for 1s", gap)
	}
	lines := l.lines(t)
	if len(lines) != 1 {
		t.Fatalf("logged %v, want one warning", lines)
	}
	w := lines[0]
	if w["@level"] != "warn" || w["call"] != "GET /v1/people" || w["attempt"] != 1.0 || w["max_attempts"] != 3.0 ||
		w["status"] != 429.0 || w["wait"] != "1s" {
		t.Errorf("warning %v", w)
	}
	if strings.Contains(l.buf.String(), "secret-token") {
		t.Error("the log shows the token")
	}
}

// A Retry-After past the time the client retries for ends the request at
// once, saying how long the service asked to wait: in seconds or as an
// HTTP date.
func TestRetryAfterPastTheLimit(t *testing.T) {
	for name, value := range map[string]string{
		"seconds":   "3600",
		"HTTP date": time.Now().Add(time.Hour).UTC().Format(http.TimeFormat),
	} {
		t.Run(name, func(t *testing.T) {
			ts, s := serve(t, status(429, "Retry-After", value))
			c, _ := newClient(t, ts.URL, func(o *Options) { o.MaxElapsed = time.Minute })
			err := c.Get(context.Background(), "/v1/people", nil, nil)
			var se *StatusError
			if !errors.As(err, &se) || se.Status != 429 || s.n.Load() != 1 {
				t.Fatalf("err %v after %d requests, want a 429 StatusError after one", err, s.n.Load())
			}
			if !strings.Contains(err.Error(), "People API asks to wait") || !strings.Contains(err.Error(), "run again later") {
				t.Errorf("error %q does not say the service asked to wait", err)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"120", 2 * time.Minute, true},
		{" 0 ", 0, true},
		{"Fri, 01 May 2026 10:00:30 GMT", 30 * time.Second, true},
		{"Friday, 01-May-26 10:00:30 GMT", 30 * time.Second, true}, // RFC 850, which HTTP still accepts
		{"Fri, 01 May 2026 09:00:00 GMT", 0, true},                 // already past
		{"-1", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	} {
		got, ok := retryAfter(c.header, now)
		if got != c.want || ok != c.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", c.header, got, ok, c.want, c.ok)
		}
	}
}

// 5xx answers are retried for idempotent requests, up to MaxAttempts; the
// error then carries the status and the service's body, and says it gave
// up. A POST is retried after a 429 only: a 500 may mean it was applied.
func TestServerErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("recovers", func(t *testing.T) {
		ts, s := serve(t, status(503), status(502), people)
		c, l := newClient(t, ts.URL, nil)
		if err := c.Get(ctx, "/v1/people", nil, &peoplePage{}); err != nil || s.n.Load() != 3 {
			t.Fatalf("err %v after %d requests", err, s.n.Load())
		}
		if lines := l.lines(t); len(lines) != 2 || lines[1]["attempt"] != 2.0 || lines[1]["status"] != 502.0 {
			t.Errorf("warnings %v", lines)
		}
	})
	t.Run("gives up", func(t *testing.T) {
		ts, s := serve(t, status(500))
		c, _ := newClient(t, ts.URL, nil)
		err := c.Get(ctx, "/v1/people", url.Values{"limit": {"5"}}, nil)
		var se *StatusError
		if !errors.As(err, &se) || se.Status != 500 || string(se.Body) != `{"error":"status 500"}` ||
			se.GaveUp != "gave up after 3 attempts" || s.n.Load() != 3 {
			t.Fatalf("err %v after %d requests", err, s.n.Load())
		}
		want := `GET /v1/people: People API answered 500 Internal Server Error: {"error":"status 500"}` +
			` (gave up after 3 attempts)`
		if err.Error() != want {
			t.Errorf("error\n%s\nwant\n%s", err, want)
		}
	})
	t.Run("POST", func(t *testing.T) {
		ts, s := serve(t, status(500))
		c, _ := newClient(t, ts.URL, nil)
		err := c.JSON(ctx, Request{Method: http.MethodPost, Path: "/v1/people", Body: map[string]string{"name": "Ada"}}, nil)
		if !errors.As(err, new(*StatusError)) || s.n.Load() != 1 {
			t.Errorf("POST answered 500: err %v after %d requests, want one", err, s.n.Load())
		}
		ts, s = serve(t, status(429, "Retry-After", "0"), people)
		c, _ = newClient(t, ts.URL, nil)
		err = c.JSON(ctx, Request{Method: http.MethodPost, Path: "/v1/people", Body: "x"}, nil)
		if err != nil || s.n.Load() != 2 {
			t.Errorf("POST answered 429: err %v after %d requests, want a retry", err, s.n.Load())
		}
	})
}

// An answer the service will not change its mind about is not retried; its
// error keeps the start of the service's body.
func TestClientErrors(t *testing.T) {
	long := strings.Repeat("x", 2*MaxErrorBodyBytes)
	ts, s := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, long)
	})
	c, _ := newClient(t, ts.URL, nil)
	err := c.Get(context.Background(), "/v1/people/9", nil, nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 404 || s.n.Load() != 1 {
		t.Fatalf("err %v after %d requests", err, s.n.Load())
	}
	if len(se.Body) != MaxErrorBodyBytes {
		t.Errorf("kept %d bytes of the body, want %d", len(se.Body), MaxErrorBodyBytes)
	}
	msg := err.Error()
	if len(msg) > 400 || !strings.HasPrefix(msg, "GET /v1/people/9: People API answered 404 Not Found: xxx") {
		t.Errorf("error of %d bytes: %.100s…", len(msg), msg)
	}
}

// A request whose context is cancelled returns context.Canceled, while
// the server is still answering or while the client waits to retry.
func TestCancelledContext(t *testing.T) {
	for name, answer := range map[string]func(http.ResponseWriter, *http.Request){
		"slow server": func(http.ResponseWriter, *http.Request) {},
		"waiting":     status(503, "Retry-After", "60"),
	} {
		t.Run(name, func(t *testing.T) {
			got := make(chan struct{}, 5)
			ts, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
				got <- struct{}{}
				answer(w, r)
				if name == "slow server" {
					<-r.Context().Done()
				}
			})
			c, _ := newClient(t, ts.URL, func(o *Options) { o.MaxElapsed = time.Hour })
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Get(ctx, "/v1/people", nil, nil) }()
			<-got
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("err %v, want context.Canceled", err)
			}
		})
	}
}

// An attempt that takes longer than Timeout is abandoned and tried again.
func TestAttemptTimeout(t *testing.T) {
	ts, s := serve(t, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, people)
	c, l := newClient(t, ts.URL, func(o *Options) { o.Timeout = 100 * time.Millisecond })
	if err := c.Get(context.Background(), "/v1/people", nil, &peoplePage{}); err != nil || s.n.Load() != 2 {
		t.Fatalf("err %v after %d requests", err, s.n.Load())
	}
	lines := l.lines(t)
	if len(lines) != 1 || lines[0]["status"] != "no answer" ||
		!strings.Contains(fmt.Sprint(lines[0]["error"]), "Timeout") {
		t.Errorf("warnings %v", lines)
	}
}

// An answer larger than MaxBodyBytes fails with an error that says the
// limit; one of exactly the limit is read.
func TestBodyLimit(t *testing.T) {
	body := `{"data":[{"id":"` + strings.Repeat("7", 1000) + `"}]}`
	ts, _ := serve(t, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, body) })
	c, _ := newClient(t, ts.URL, func(o *Options) { o.MaxBodyBytes = int64(len(body)) - 1 })
	err := c.Get(context.Background(), "/v1/people", nil, &peoplePage{})
	var tooLarge *BodyTooLargeError
	if !errors.As(err, &tooLarge) || tooLarge.Limit != int64(len(body))-1 {
		t.Fatalf("err %v, want a BodyTooLargeError", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("larger than %d bytes", len(body)-1)) {
		t.Errorf("error %q does not say the limit", err)
	}
	c, _ = newClient(t, ts.URL, func(o *Options) { o.MaxBodyBytes = int64(len(body)) })
	if err := c.Get(context.Background(), "/v1/people", nil, &peoplePage{}); err != nil {
		t.Errorf("a body of exactly the limit: %v", err)
	}
	if got := (&BodyTooLargeError{Limit: 32 << 20}).Error(); !strings.Contains(got, "larger than 32 MiB") {
		t.Errorf("the default limit reads %q", got)
	}
}

// The token goes unencrypted only to this machine: plain http elsewhere
// is refused, as a base URL, a redirect or a link from an answer.
func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	for _, base := range []string{"http://api.example.com", "http://10.0.0.1:8080/v1", "http://localhost.example.com"} {
		if _, err := New(Options{BaseURL: base}); !errors.Is(err, ErrPlainHTTP) {
			t.Errorf("New(%s): %v, want ErrPlainHTTP", base, err)
		}
	}
	for _, base := range []string{"ftp://api.example.com", "api.example.com", "https://"} {
		if _, err := New(Options{BaseURL: base}); err == nil || !strings.Contains(err.Error(), "not an http(s) URL") {
			t.Errorf("New(%s): %v", base, err)
		}
	}
	for _, base := range []string{"https://api.example.com/v1", "http://127.0.0.1:8080", "http://localhost:1",
		"http://[::1]:2"} {
		if _, err := New(Options{BaseURL: base}); err != nil {
			t.Errorf("New(%s): %v", base, err)
		}
	}

	// Nothing reaches api.example.com: both are refused before dialling.
	ts, s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://api.example.com/v1/people", http.StatusFound)
	})
	c, _ := newClient(t, ts.URL, nil)
	if err := c.Get(context.Background(), "/v1/people", nil, nil); !errors.Is(err, ErrPlainHTTP) || s.n.Load() != 1 {
		t.Errorf("redirect to plain http: %v after %d requests, want ErrPlainHTTP after one", err, s.n.Load())
	}
	err := c.Get(context.Background(), "https://api.example.com/v1/people?cursor=2", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "not on http://127.0.0.1") {
		t.Errorf("a link to another host: %v", err)
	}
}

// countingTokens hands out a new token on every call, as a token source
// does when tokens expire.
type countingTokens struct{ n atomic.Int32 }

func (c *countingTokens) Token() (*oauth2.Token, error) {
	return &oauth2.Token{AccessToken: fmt.Sprintf("t%d", c.n.Add(1))}, nil
}

type failingTokens struct{}

func (failingTokens) Token() (*oauth2.Token, error) {
	return nil, errors.New("oauth2: invalid_grant")
}

// Every attempt asks the token source for a token; a source that fails
// sends no request.
func TestTokens(t *testing.T) {
	var seen []string
	var mu sync.Mutex
	ts, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		first := len(seen) == 1
		mu.Unlock()
		if first {
			status(503)(w, r)
			return
		}
		people(w, r)
	})
	c, _ := newClient(t, ts.URL, func(o *Options) { o.Tokens = &countingTokens{} })
	if err := c.Get(context.Background(), "/v1/people", nil, nil); err != nil {
		t.Fatal(err)
	}
	if want := []string{"Bearer t1", "Bearer t2"}; strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("Authorization %q, want %q", seen, want)
	}

	c, _ = newClient(t, ts.URL, func(o *Options) { o.Tokens = failingTokens{} })
	err := c.Get(context.Background(), "/v1/people", nil, nil)
	want := "getting an access token for People API: oauth2: invalid_grant"
	if err == nil || !strings.Contains(err.Error(), want) || len(seen) != 2 {
		t.Errorf("err %v after %d requests", err, len(seen))
	}
}

type cursorPage struct {
	Data       []string `json:"data"`
	NextCursor string   `json:"next_cursor"`
}

func (p cursorPage) Next() string { return p.NextCursor }

func TestPages(t *testing.T) {
	pages := map[string]string{
		"":   `{"data":["a","b"],"next_cursor":"c2"}`,
		"c2": `{"data":["c"],"next_cursor":"c3"}`,
		"c3": `{"data":["d"],"next_cursor":""}`,
		"c4": `{"data":["e"],"next_cursor":"c4"}`,
	}
	ts, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("limit") != "2" {
			http.Error(w, "limit lost", http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, pages[r.URL.Query().Get("cursor")])
	})
	c, _ := newClient(t, ts.URL, nil)
	read := func(q url.Values, stopAt string) ([]string, error) {
		var got []string
		err := Pages(context.Background(), c, "/v1/letters", q, "cursor", func(p cursorPage) (bool, error) {
			got = append(got, p.Data...)
			return p.Data[0] != stopAt, nil
		})
		return got, err
	}
	if got, err := read(url.Values{"limit": {"2"}}, ""); err != nil || strings.Join(got, "") != "abcd" {
		t.Errorf("read %v, %v", got, err)
	}
	if got, err := read(url.Values{"limit": {"2"}}, "c"); err != nil || strings.Join(got, "") != "abc" {
		t.Errorf("stopped at c: read %v, %v", got, err)
	}
	_, err := read(url.Values{"limit": {"2"}, "cursor": {"c4"}}, "")
	if err == nil || !strings.Contains(err.Error(), `returned the cursor "c4" it was given`) {
		t.Errorf("a cursor handed back: %v", err)
	}
}
