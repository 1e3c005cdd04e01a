package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// OnResponse sees the answer of every attempt, the retried ones included,
// so a service's limit headers are read even from a 429.
func TestOnResponseSeesEveryAttempt(t *testing.T) {
	ts, _ := serve(t, status(429, "X-Requests-Left", "0", "Retry-After", "0"),
		func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Requests-Left", "99")
			people(w, r)
		})
	var mu sync.Mutex
	var left []string
	c, _ := newClient(t, ts.URL, func(o *Options) {
		o.OnResponse = func(resp *http.Response) {
			mu.Lock()
			defer mu.Unlock()
			left = append(left, fmt.Sprint(resp.StatusCode, " ", resp.Header.Get("X-Requests-Left")))
		}
	})
	var page peoplePage
	if err := c.Get(context.Background(), "/v1/people", nil, &page); err != nil || len(page.Data) != 1 {
		t.Fatalf("err %v, page %+v", err, page)
	}
	if want := []string{"429 0", "200 99"}; !slices.Equal(left, want) {
		t.Errorf("OnResponse saw %q, want %q", left, want)
	}
}

// A request's Timeout and MaxBodyBytes override the client's, for a
// download larger and slower than the pages the client is tuned for.
func TestRequestOverrides(t *testing.T) {
	body := strings.Repeat("z", 4096)
	ts, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(300 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, body)
	})
	c, _ := newClient(t, ts.URL, func(o *Options) {
		o.Timeout = 50 * time.Millisecond
		o.MaxBodyBytes = 100
		o.MaxAttempts = 2
	})
	ctx := context.Background()
	resp, err := c.Do(ctx, Request{Path: "/export"})
	if err == nil {
		resp.Body.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "Timeout") {
		t.Fatalf("a 300ms answer within the client's 50ms: %v", err)
	}
	resp, err = c.Do(ctx, Request{Path: "/export", Timeout: time.Minute, MaxBodyBytes: 1 << 20})
	if err != nil {
		t.Fatalf("a request with a minute: %v", err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != body {
		t.Errorf("read %d bytes of %d", len(got), len(body))
	}
}

type ctxKey struct{}

// ctxTokens hands out the token its context carries, as a source that
// needs the request's context does.
type ctxTokens struct{}

func (ctxTokens) Token() (*oauth2.Token, error) {
	return nil, errors.New("Token called without the request's context")
}

func (ctxTokens) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	tok, _ := ctx.Value(ctxKey{}).(string)
	return &oauth2.Token{AccessToken: tok, TokenType: "Service-token"}, nil
}

// A ContextTokenSource is asked with the request's context, and the
// token's type names the scheme.
func TestContextTokenSource(t *testing.T) {
	var got string
	ts, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		people(w, r)
	})
	c, _ := newClient(t, ts.URL, func(o *Options) { o.Tokens = ctxTokens{} })
	ctx := context.WithValue(context.Background(), ctxKey{}, "from-ctx")
	if err := c.Get(ctx, "/v1/people", nil, nil); err != nil {
		t.Fatal(err)
	}
	if got != "Service-token from-ctx" {
		t.Errorf("Authorization %q", got)
	}
}

// An escaped slash in a path stays one segment.
func TestEscapedPath(t *testing.T) {
	var got string
	ts, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.EscapedPath()
		people(w, r)
	})
	c, _ := newClient(t, ts.URL, nil)
	if err := c.Get(context.Background(), "/v1/people/a%2Fb/notes", nil, nil); err != nil {
		t.Fatal(err)
	}
	if got != "/v1/people/a%2Fb/notes" {
		t.Errorf("the server got %q", got)
	}
}
