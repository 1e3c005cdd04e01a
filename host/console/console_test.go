package console

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestNewNeedsAToken(t *testing.T) {
	if _, err := New(Options{Listen: "127.0.0.1:8080"}); err == nil {
		t.Error("New without a token succeeded")
	}
	if _, err := New(Options{Listen: "127.0.0.1:8080", Settings: Settings{Token: NewToken()}}); err != nil {
		t.Error(err)
	}
}

func TestIsLoopback(t *testing.T) {
	for listen, want := range map[string]bool{
		":8080": false, "0.0.0.0:8080": false, "192.0.2.7:8080": false, "example.org:80": false,
		"127.0.0.1:8080": true, "[::1]:8080": true, "localhost:8080": true,
	} {
		if got := IsLoopback(listen); got != want {
			t.Errorf("IsLoopback(%q) = %v", listen, got)
		}
	}
}

func TestNewTokenIsRandom(t *testing.T) {
	a, b := NewToken(), NewToken()
	if a == b || len(a) < 43 {
		t.Errorf("NewToken: %q then %q", a, b)
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/pipelines/a": "/pipelines/a", "/pipelines/a%20b": "/pipelines/a%20b", "/sources/source.zoho.eu/authorize": "/sources/source.zoho.eu/authorize",
		"": "/", "/": "/", "//evil.example/": "/", "https://evil.example/": "/", "https:evil.example": "/",
		"/\\evil": "/", "\\\\evil": "/", "/a\r\nSet-Cookie: x": "/", "/\t/evil.example": "/", "/\x00": "/",
		"/%": "/", "/%2": "/", "/%zz": "/", "/a b": "/", "/\u00e9": "/", "/?next=//evil": "/", "/#x": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHostNames(t *testing.T) {
	names := newHostNames("192.0.2.7:8080", []string{"Replicator.Example.com", "2001:db8::1"})
	local := &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 8080}
	for host, want := range map[string]bool{
		"localhost": true, "localhost:8080": true, "LocalHost.:1": true, "127.0.0.1:8080": true, "[::1]:8080": true, "[::1]": true,
		"192.0.2.7:8080": true, "replicator.example.com": true, "REPLICATOR.EXAMPLE.COM:443": true, "[2001:DB8:0::1]:80": true,
		"10.1.2.3": true, "10.1.2.3:8080": true, // the address the connection came to
		"evil.example": false, "localhost.evil.example": false, "replicator.example.com.evil.example": false,
		"10.1.2.4": false, "127.0.0.2": false, "": false, ":8080": false, "localhost:x": false, "[::1]:8080x": false,
	} {
		r := httptest.NewRequestWithContext(context.WithValue(context.Background(), http.LocalAddrContextKey, local), http.MethodGet, "/", nil)
		r.Host = host
		if got := names.serves(r); got != want {
			t.Errorf("Host %q: serves %v, want %v", host, got, want)
		}
	}
	// A console on every address does not answer to "0.0.0.0".
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Host = "0.0.0.0:8080"
	if newHostNames("0.0.0.0:8080", nil).serves(r) {
		t.Error("a console on 0.0.0.0 answers to Host 0.0.0.0")
	}
}

func TestGuardLimitsWrongTokens(t *testing.T) {
	g := newGuard(hclog.NewNullLogger())
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	// Right tokens cost nothing.
	for range 5 * LoginBurst {
		wait, done := g.attempt("192.0.2.1:1000", now)
		if wait > 0 {
			t.Fatalf("a client with right tokens waits %s", wait)
		}
		done(true)
	}
	for i := range LoginBurst {
		wait, done := g.attempt("192.0.2.1:1001", now)
		if wait > 0 {
			t.Fatalf("wrong token %d waits %s, want the first %d free", i, wait, LoginBurst)
		}
		done(false)
	}
	wait, _ := g.attempt("192.0.2.1:1002", now)
	if wait <= 0 || wait > LoginEvery {
		t.Errorf("after %d wrong tokens the client waits %s, want up to %s", LoginBurst, wait, LoginEvery)
	}
	if secs, msg := tooMany(wait); secs != 6 || msg != "too many login attempts; wait 6 seconds" {
		t.Errorf("tooMany(%s) = %d %q", wait, secs, msg)
	}
	// Another client, and the same one once it has waited, may try.
	if wait, _ := g.attempt("192.0.2.2:1000", now); wait > 0 {
		t.Errorf("another client waits %s", wait)
	}
	if wait, _ := g.attempt("192.0.2.1:1003", now.Add(LoginEvery)); wait > 0 {
		t.Errorf("after waiting %s the client still waits %s", LoginEvery, wait)
	}
	// One IPv6 machine (its /64) is one client.
	for i := range LoginBurst {
		_, done := g.attempt(fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1), now)
		done(false)
	}
	if wait, _ := g.attempt("[2001:db8:1:2:ffff::1]:443", now); wait <= 0 {
		t.Error("a new address in the same IPv6 /64 is not limited")
	}
}

// TestGuardMemoryIsBounded: attempts from many addresses keep at most
// MaxLoginClients clients.
func TestGuardMemoryIsBounded(t *testing.T) {
	g := newGuard(hclog.NewNullLogger())
	now := time.Now()
	for i := range 5 * MaxLoginClients {
		wait, done := g.attempt(fmt.Sprintf("10.%d.%d.%d:1", i>>16, (i>>8)&0xff, i&0xff), now)
		if wait == 0 {
			done(false)
		}
	}
	if n := g.clients.Len(); n > MaxLoginClients {
		t.Errorf("the guard keeps %d clients, want at most %d", n, MaxLoginClients)
	}
}

// TestGuardSumsUpInTheLog: a flood of wrong tokens makes a line for the
// first, one when a client is first refused, and one summary a minute.
func TestGuardSumsUpInTheLog(t *testing.T) {
	var out strings.Builder
	g := newGuard(hclog.New(&hclog.LoggerOptions{Output: &out}))
	now := time.Now()
	for i := range 1000 {
		wait, done := g.attempt(fmt.Sprintf("192.0.2.%d:1", i%3), now)
		if wait == 0 {
			done(false)
		}
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "wrong token") || !strings.Contains(lines[1], "too many wrong tokens") {
		t.Fatalf("1,000 wrong tokens logged:\n%s", out.String())
	}
	g.summarize()
	want := fmt.Sprintf("wrong tokens in the last minute: wrong=%d refused=%d clients=3", 3*LoginBurst, 1000-3*LoginBurst)
	if !strings.Contains(out.String(), want) {
		t.Errorf("the summary is not %q:\n%s", want, out.String())
	}
	g.summarize()
	if n := strings.Count(out.String(), "\n"); n != 3 {
		t.Errorf("a quiet minute is summed up too:\n%s", out.String())
	}
}
