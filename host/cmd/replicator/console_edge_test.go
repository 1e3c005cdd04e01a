package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The tests here are the console as an attacker on the network or in the
// operator's browser would try it.

// waitLog waits up to a minute for the fixture's log to hold want n times.
func (f *consoleFixture) waitLog(want string, n int) {
	f.t.Helper()
	for deadline := time.Now().Add(time.Minute); strings.Count(f.log.String(), want) < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			f.t.Fatalf("the log does not say %q %d times within a minute:\n%s", want, n, f.log.String())
		}
	}
}

// getAs sends GET path addressed to host (the Host header) with the
// fixture's session cookie and the console token as a bearer token.
func (f *consoleFixture) getAs(host, path string) (int, http.Header, string) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.base+path, nil)
	// The client's jar picks cookies by the Host sent, so the session's
	// goes by hand.
	for _, ck := range f.c.Jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	req.Host = host
	req.Header.Set("Authorization", "Bearer "+consoleToken)
	return f.do(req)
}

// TestConsoleRefusesForeignHostNames: a page whose own name resolves to
// 127.0.0.1 (DNS rebinding) is same-origin with a console that answers
// any Host. Each path, even with the session and the token, is refused
// with 421 and no data unless the Host is a loopback name, a configured
// name, or the address the connection came to.
func TestConsoleRefusesForeignHostNames(t *testing.T) {
	f := newConsoleFixtureWith(t, consoleSetup{host: tokenHost + `  allowed_hosts = ["console.example.com"]` + "\n"})
	f.login()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(f.base, "http://"))
	paths := []string{"/", "/pipelines/hourly", "/login", "/metrics", "/readyz", "/healthz", "/sources/source.generator.g/authorize"}
	for _, host := range []string{
		"evil.example", "evil.example:" + port, "localhost.evil.example", "127.0.0.1.nip.io:" + port,
		"console.example.com.evil.example", "evil.console.example.com", "192.0.2.1:" + port,
	} {
		for _, path := range paths {
			code, _, body := f.getAs(host, path)
			if code != http.StatusMisdirectedRequest || strings.Contains(body, "hourly") || strings.Contains(body, "replicator_") || strings.Contains(body, "csrf") {
				t.Errorf("GET %s with Host %q: %d, want 421 and no data:\n%.300s", path, host, code, body)
			}
		}
	}
	for _, host := range []string{
		"localhost:" + port, "LOCALHOST:" + port, "localhost.:" + port, "127.0.0.1:" + port, "[::1]:" + port, "127.0.0.1",
		"console.example.com", "Console.Example.COM:443",
	} {
		if code, _, body := f.getAs(host, "/"); code != http.StatusOK || !strings.Contains(body, `id="pipeline-hourly"`) {
			t.Errorf("GET / with Host %q: %d\n%.300s", host, code, body)
		}
	}
}

// loginURL finds the login URL replicator run prints when it made the
// console's token itself.
var loginURL = regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+/login\?token=([A-Za-z0-9_-]+))`)

// TestConsoleWithoutATokenMakesOne: with no console_token the host makes
// one at start and prints a login URL once; the console is not open to
// whoever reaches the port, and the URL logs a browser in and sends it
// to / without the token.
func TestConsoleWithoutATokenMakesOne(t *testing.T) {
	f := newConsoleFixtureWith(t, consoleSetup{host: "\n  listen = \"127.0.0.1:0\"\n"})
	m := loginURL.FindStringSubmatch(f.log.String())
	if m == nil {
		t.Fatalf("replicator run printed no login URL:\n%s", f.log.String())
	}
	link, token := m[1], m[2]
	if len(token) < 32 || strings.Count(f.log.String(), token) != 1 {
		t.Errorf("token %q: want at least 32 characters, printed once", token)
	}
	if code, h, _ := f.get("/"); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login") {
		t.Fatalf("the console without a session: %d to %q, want the login page", code, h.Get("Location"))
	}
	if code, _, _ := f.get("/metrics"); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d", code)
	}
	if code, _, _ := f.get("/login?token=not-the-token-0123456789"); code != http.StatusUnauthorized {
		t.Errorf("the login URL with a wrong token: %d", code)
	}
	req, _ := http.NewRequest(http.MethodGet, link, nil)
	code, h, _ := f.do(req)
	if code != http.StatusSeeOther || h.Get("Location") != "/" {
		t.Fatalf("the login URL: %d to %q, want 303 to /", code, h.Get("Location"))
	}
	ck := h.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(ck, attr) {
			t.Errorf("session cookie %q lacks %s", ck, attr)
		}
	}
	if code, _, body := f.get("/"); code != http.StatusOK || !strings.Contains(body, `id="pipeline-hourly"`) || strings.Contains(body, token) {
		t.Errorf("the pipelines page after the login URL: %d\n%s", code, body)
	}
	if code, _, _ := f.get("/metrics", "Authorization", "Bearer "+token); code != http.StatusOK {
		t.Errorf("/metrics with the made token: %d", code)
	}
}

// TestConsoleLoginRedirectsOnlyToLocalPaths: whatever next a link carries,
// the Location after login is a path on this console, never one a
// browser reads as another host.
func TestConsoleLoginRedirectsOnlyToLocalPaths(t *testing.T) {
	f := newConsoleFixture(t)
	// The login page keeps next in its form; it must already be safe there.
	_, _, page := f.get("/login?next=/%09/evil.example")
	if !strings.Contains(page, `name="next" value="/"`) {
		t.Errorf("the login page keeps next=/%%09/evil.example:\n%s", page)
	}
	for _, next := range []string{
		"/\t/evil.example", "/\n/evil.example", "/\r/evil.example", "/\x00/evil.example", "/\x7f/evil.example",
		"//evil.example", "///evil.example", "/\\evil.example", "\\/evil.example", "\\\\evil.example",
		"https://evil.example/", "https:evil.example", "javascript:alert(1)", "evil.example", " /x",
		"/\u3000/evil.example", "/\u2028/evil.example", "/a\r\nSet-Cookie: x=1", "/%zz",
	} {
		code, h, _ := f.post("/login", url.Values{"token": {consoleToken}, "next": {next}})
		if code != http.StatusSeeOther || h.Get("Location") != "/" {
			t.Errorf("POST login with next=%q: %d to %q, want /", next, code, h.Get("Location"))
		}
		code, h, _ = f.get("/login?token=" + consoleToken + "&next=" + url.QueryEscape(next))
		if code != http.StatusSeeOther || h.Get("Location") != "/" {
			t.Errorf("GET login with next=%q: %d to %q, want /", next, code, h.Get("Location"))
		}
	}
	for _, next := range []string{"/pipelines/hourly", "/pipelines/a%20b", "/sources/source.zoho.eu/authorize"} {
		if code, h, _ := f.post("/login", url.Values{"token": {consoleToken}, "next": {next}}); code != http.StatusSeeOther || h.Get("Location") != next {
			t.Errorf("login with next=%q: %d to %q", next, code, h.Get("Location"))
		}
	}
}

// TestConsoleLimitsLoginAttempts: guesses of the token from one client
// are answered with 429 after a few, with how long to wait, and the log
// sums them up instead of a line per guess. A session opened before goes
// on working.
func TestConsoleLimitsLoginAttempts(t *testing.T) {
	f := newConsoleFixture(t)
	f.login()
	const guesses = 200
	var limited, metricsLimited int
	var body string
	var retry http.Header
	for i := range guesses {
		guess := fmt.Sprintf("guess-%04d-0123456789abcdef", i)
		code, h, b := f.post("/login", url.Values{"token": {guess}})
		switch code {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			if limited == 0 {
				body, retry = b, h
			}
			limited++
		default:
			t.Fatalf("guess %d: %d\n%s", i, code, b)
		}
		if code, _, _ := f.get("/metrics", "Authorization", "Bearer "+guess); code == http.StatusTooManyRequests {
			metricsLimited++
		}
	}
	if limited < guesses-20 || metricsLimited < guesses-20 {
		t.Fatalf("of %d wrong tokens, %d logins and %d bearer tokens were answered 429", guesses, limited, metricsLimited)
	}
	wait := regexp.MustCompile(`(?i)too many login attempts; wait (\d+) seconds`).FindStringSubmatch(body)
	if wait == nil {
		t.Fatalf("429 without what to do:\n%s", body)
	}
	if s, err := strconv.Atoi(retry.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After %q", retry.Get("Retry-After"))
	}
	// The right token is refused too while the client is limited: a
	// different answer would tell a guesser when it has found it.
	if code, _, _ := f.post("/login", url.Values{"token": {consoleToken}}); code != http.StatusTooManyRequests {
		t.Errorf("the right token from a limited client: %d, want 429", code)
	}
	if code, _, _ := f.get("/"); code != http.StatusOK {
		t.Errorf("the session opened before the guesses: %d", code)
	}
	if n := len(f.log.Lines("console")); n > 5 {
		t.Errorf("%d guesses made %d console lines in the log, want a summary:\n%s", 2*guesses, n, strings.Join(f.log.Lines("console"), "\n"))
	}
	if len(f.log.Lines("console: wrong token", "remote=127.0.0.1")) == 0 {
		t.Errorf("the log does not say who guessed:\n%s", f.log.String())
	}
}

// TestConsoleTokenRotation: a token changed in its file takes effect at
// the reload; the old one no longer logs in or reads /metrics, and the
// sessions it opened end.
func TestConsoleTokenRotation(t *testing.T) {
	const rotated = "rotated-console-token-9876543210"
	f := newConsoleFixtureWith(t, consoleSetup{
		host: "\n  listen        = \"127.0.0.1:0\"\n  console_token = file(\"console-token\")\n",
		before: func(dir string) {
			if err := os.WriteFile(filepath.Join(dir, "console-token"), []byte(consoleToken+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		},
	})
	f.login()
	if code, _, _ := f.get("/"); code != http.StatusOK {
		t.Fatalf("the session before the rotation: %d", code)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "console-token"), []byte(rotated+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// As an operator would: the token file is not the configuration's.
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	f.waitLog("configuration reloaded", 1)

	if code, h, _ := f.get("/"); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login") {
		t.Errorf("the session opened with the old token after the rotation: %d to %q", code, h.Get("Location"))
	}
	if code, _, _ := f.post("/login", url.Values{"token": {consoleToken}}); code != http.StatusUnauthorized {
		t.Errorf("login with the old token: %d", code)
	}
	if code, _, _ := f.get("/metrics", "Authorization", "Bearer "+consoleToken); code != http.StatusUnauthorized {
		t.Errorf("/metrics with the old token: %d", code)
	}
	if code, _, _ := f.get("/metrics", "Authorization", "Bearer "+rotated); code != http.StatusOK {
		t.Errorf("/metrics with the new token: %d", code)
	}
	if code, h, _ := f.post("/login", url.Values{"token": {rotated}}); code != http.StatusSeeOther || h.Get("Location") != "/" {
		t.Errorf("login with the new token: %d", code)
	}
	if code, _, _ := f.get("/"); code != http.StatusOK {
		t.Errorf("the session opened with the new token: %d", code)
	}
	if strings.Contains(f.log.String(), rotated) || strings.Contains(f.log.String(), consoleToken) {
		t.Error("the log shows a configured token")
	}
}

// padStateFile adds a bucket of n small entries to the state file at
// path: a file of many pages, which bbolt's open-time check walks page by
// page. The store ignores buckets it does not know.
func padStateFile(t *testing.T, path string, n int) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("padding"))
		if err != nil {
			return err
		}
		v := make([]byte, 200)
		for i := range n {
			if err := b.Put(binary.BigEndian.AppendUint64(nil, uint64(i)), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReadyzLeavesTheStateFileToTheCommands: /readyz answers ready while
// another process holds the state file's lock, and, polled without pause
// from several clients as a load balancer and monitors would, it never
// keeps `replicator status` and `state backup` out of a large state file.
func TestReadyzLeavesTheStateFileToTheCommands(t *testing.T) {
	var path string
	f := newConsoleFixtureWith(t, consoleSetup{host: tokenHost, before: func(dir string) {
		path = filepath.Join(dir, "replicator.db")
		padStateFile(t, path, 150_000)
	}})
	// The hourly run at start holds the file while it runs.
	f.waitLog("run finished: pipeline=hourly", 1)

	// While another process has the file (a sync, a backup), the probe
	// answers without waiting for it.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	code, _, body := f.get("/readyz")
	db.Close()
	if code != http.StatusOK || body != "ready\n" {
		t.Errorf("/readyz while another process has the state file: %d %q", code, body)
	}

	ctx, stop := context.WithCancel(context.Background())
	var polls atomic.Int64
	var mu sync.Mutex
	var problems []string
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for ctx.Err() == nil {
				resp, err := http.Get(f.base + "/readyz")
				if err != nil {
					mu.Lock()
					problems = append(problems, err.Error())
					mu.Unlock()
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					mu.Lock()
					problems = append(problems, fmt.Sprintf("%d %s", resp.StatusCode, b))
					mu.Unlock()
				}
				polls.Add(1)
			}
		})
	}
	for polls.Load() < 6 {
		time.Sleep(5 * time.Millisecond)
	}
	cfg := filepath.Join(f.dir, "replicator.hcl")
	var stdout, stderr string
	code, stdout, stderr = replicator(t, "status", "-config", cfg)
	if code != 0 || !strings.Contains(stdout, "hourly") {
		t.Errorf("status while /readyz is polled: exit %d\n%s%s", code, stdout, stderr)
	}
	code, _, stderr = replicator(t, "state", "backup", "-state", path, "-to", filepath.Join(f.dir, "backup.db"))
	if code != 0 {
		t.Errorf("state backup while /readyz is polled: exit %d\n%s", code, stderr)
	}
	stop()
	wg.Wait()
	if len(problems) > 0 {
		t.Errorf("/readyz answered %d of %d polls with: %s", len(problems), polls.Load(), problems[0])
	}
}

// TestReadyzNamesNoDatabase: /readyz says a database is down without
// naming its user, host or port to a caller without the token; with the
// token it says more.
func TestReadyzNamesNoDatabase(t *testing.T) {
	server := testDatabase(t)
	f := newConsoleFixtureWith(t, consoleSetup{host: tokenHost, extra: testStateBlock})
	// The console is served while the host reaches its database.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		code, _, body := f.get("/readyz")
		if code == http.StatusOK && body == "ready\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz with the database up: %d %q", code, body)
		}
	}
	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	anonymous := &http.Client{Timeout: time.Minute}
	var body string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		resp, err := anonymous.Get(f.base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			body = string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz with the database down: %d %s", resp.StatusCode, b)
		}
	}
	for _, secret := range []string{"postgres", "user", "5432", "host=", "dbname", "database", os.TempDir()} {
		if strings.Contains(body, secret) {
			t.Errorf("/readyz tells a caller without the token %q:\n%s", secret, body)
		}
	}
	if !strings.Contains(body, "not ready") {
		t.Errorf("/readyz with the database down: %q", body)
	}
	if code, _, detail := f.get("/readyz", "Authorization", "Bearer "+consoleToken); code != http.StatusServiceUnavailable || !strings.Contains(detail, "state database") {
		t.Errorf("/readyz with the token, the database down: %d %q", code, detail)
	}
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		code, _, body := f.get("/readyz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz after the database came back: %d %q", code, body)
		}
	}
}

// TestConsoleSecurityHeaders: every page forbids framing, inline scripts,
// sniffing and referrers, and is not cached.
func TestConsoleSecurityHeaders(t *testing.T) {
	f := newConsoleFixture(t)
	for _, path := range []string{"/login", "/", "/healthz", "/nothing-here"} {
		_, h, _ := f.get(path)
		for name, want := range map[string]string{
			"X-Frame-Options":        "DENY",
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
			"Cache-Control":          "no-store",
		} {
			if got := h.Get(name); got != want {
				t.Errorf("%s: %s %q, want %q", path, name, got, want)
			}
		}
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: Content-Security-Policy %q lacks %s", path, csp, want)
			}
		}
	}
}
