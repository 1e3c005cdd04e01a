package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/internal/logbuf"
)

const consoleToken = "test-console-token-0123456789"

// pluginDir returns a folder holding the generator and jsonl plugins:
// $REPLICATOR_BIN (make test), or one this test builds them into.
func pluginDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("REPLICATOR_BIN"); dir != "" {
		return dir
	}
	dir := t.TempDir()
	for name, pkg := range map[string]string{
		"replicator-source-generator":  "../../../connector/generator/cmd/replicator-source-generator",
		"replicator-destination-jsonl": "../../../connector/jsonl/cmd/replicator-destination-jsonl",
	} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, out)
		}
	}
	return dir
}

// consoleFixture is `replicator run` serving its console, in this process,
// over two generator -> jsonl pipelines: "hourly" on an interval and
// "manual" without one.
type consoleFixture struct {
	t    *testing.T
	base string
	dir  string
	log  *logbuf.Buffer
	c    *http.Client // keeps the session cookie
	// stop stops replicator run and waits for it; the test's end does
	// too, unless the test did.
	stop func()
}

// consoleSetup varies the fixture's configuration.
type consoleSetup struct {
	// host is the host block's body; the default listens on a loopback
	// port the system chooses, with consoleToken read from the environment.
	host string
	// extra is appended to the configuration, such as a state block.
	extra string
	// before runs before `replicator init` and `replicator run`.
	before func(dir string)
}

const tokenHost = `
  listen        = "127.0.0.1:0"
  console_token = env("REPLICATOR_CONSOLE_TOKEN")
`

func newConsoleFixture(t *testing.T) *consoleFixture {
	t.Helper()
	return newConsoleFixtureWith(t, consoleSetup{host: tokenHost})
}

func newConsoleFixtureWith(t *testing.T, setup consoleSetup) *consoleFixture {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("REPLICATOR_PLUGIN_PATH", pluginDir(t))
	t.Setenv("REPLICATOR_CONSOLE_TOKEN", consoleToken)
	hcl := "host {" + setup.host + "}\n" + `
source "generator" "g" {
  count            = 500
  checkpoint_every = 100
}
destination "jsonl" "hourly" {
  path = "hourly.jsonl"
}
destination "jsonl" "manual" {
  path = "manual.jsonl"
}
pipeline "hourly" {
  source      = source.generator.g
  destination = destination.jsonl.hourly
  streams     = ["items"]
  interval    = "1h"
}
pipeline "manual" {
  source      = source.generator.g
  destination = destination.jsonl.manual
  streams     = ["items"]
}
` + setup.extra
	cfg := filepath.Join(dir, "replicator.hcl")
	if err := os.WriteFile(cfg, []byte(hcl), 0o600); err != nil {
		t.Fatal(err)
	}
	if setup.before != nil {
		setup.before(dir)
	}
	if code, _, stderr := replicator(t, "init", "-config", cfg); code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	f := &consoleFixture{t: t, dir: dir, log: &logbuf.Buffer{}}
	a := &app{
		opts:   options{config: cfg},
		log:    hclog.New(&hclog.LoggerOptions{Output: f.log, Level: hclog.Debug, IndependentLevels: true}),
		stdin:  strings.NewReader(""),
		stdout: f.log, stderr: f.log,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmdRun(ctx, a, nil) }()
	var once sync.Once
	f.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("replicator run: %v", err)
			}
			a.close()
		})
	}
	t.Cleanup(func() {
		f.stop()
		if t.Failed() {
			t.Logf("replicator run's log:\n%s", f.log.String())
		}
	})
	jar, _ := cookiejar.New(nil)
	f.c = &http.Client{Jar: jar, Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	// The console listens on a port the system chose, and says which.
	deadline := time.Now().Add(time.Minute)
	for {
		if m := servedAt.FindStringSubmatch(f.log.String()); m != nil {
			f.base = m[1]
			break
		}
		select {
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("replicator run ended before it served the console: %v\n%s", err, f.log.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the console was not served within a minute:\n%s", f.log.String())
		}
	}
	// The console is served while the host starts: its pipelines are
	// scheduled, and can be acted on, once it says it runs them.
	waitFor(t, f.log, "the host to run its pipelines", func(s string) bool {
		return strings.Contains(s, "running pipelines on their intervals")
	})
	return f
}

// do sends a request and returns the status and body.
func (f *consoleFixture) do(req *http.Request) (int, http.Header, string) {
	f.t.Helper()
	resp, err := f.c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func (f *consoleFixture) get(path string, header ...string) (int, http.Header, string) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.base+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return f.do(req)
}

func (f *consoleFixture) post(path string, form url.Values, header ...string) (int, http.Header, string) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return f.do(req)
}

func (f *consoleFixture) login() {
	f.t.Helper()
	code, h, body := f.post("/login", url.Values{"token": {consoleToken}, "next": {"/"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/" {
		f.t.Fatalf("login: %d %s\n%s", code, h.Get("Location"), body)
	}
}

// servedAt finds the console's address in replicator run's log.
var servedAt = regexp.MustCompile(`health checks are served: url=(http://[^/\s]+)/`)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token the pipelines page's forms carry.
func (f *consoleFixture) csrf() string {
	f.t.Helper()
	_, _, body := f.get("/")
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		f.t.Fatalf("no CSRF token on the page:\n%s", body)
	}
	return m[1]
}

func TestConsoleHealth(t *testing.T) {
	f := newConsoleFixture(t)
	if code, _, body := f.get("/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, _, body := f.get("/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}
}

func TestConsoleNeedsTheToken(t *testing.T) {
	f := newConsoleFixture(t)
	if code, h, _ := f.get("/"); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login") {
		t.Errorf("the pipelines page without a session: %d to %q, want the login page", code, h.Get("Location"))
	}
	code, _, body := f.post("/login", url.Values{"token": {"not-the-token"}})
	if code != http.StatusUnauthorized || !strings.Contains(body, "not the console token") {
		t.Errorf("login with a wrong token: %d\n%s", code, body)
	}
	if code, _, _ := f.get("/"); code != http.StatusSeeOther {
		t.Errorf("a wrong token opened a session: %d", code)
	}
	// A post-login redirect never leaves the console.
	code, h, _ := f.post("/login", url.Values{"token": {consoleToken}, "next": {"//evil.example/"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/" {
		t.Errorf("login with next=//evil.example/: %d to %q", code, h.Get("Location"))
	}
	code, _, body = f.get("/")
	if code != http.StatusOK || !strings.Contains(body, `id="pipeline-hourly"`) || !strings.Contains(body, `id="pipeline-manual"`) {
		t.Fatalf("the pipelines page after login: %d\n%s", code, body)
	}
	if strings.Contains(body, consoleToken) {
		t.Error("a page shows the console token")
	}
	// Logging out ends the session.
	if code, _, _ := f.post("/logout", url.Values{"csrf": {f.csrf()}}); code != http.StatusSeeOther {
		t.Errorf("logout: %d", code)
	}
	if code, _, _ := f.get("/"); code != http.StatusSeeOther {
		t.Errorf("the session survived logout: %d", code)
	}
}

func TestConsoleMetricsNeedTheToken(t *testing.T) {
	f := newConsoleFixture(t)
	if code, h, _ := f.get("/metrics"); code != http.StatusUnauthorized || !strings.Contains(h.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("/metrics without a token: %d", code)
	}
	if code, _, _ := f.get("/metrics", "Authorization", "Bearer wrong-token-0000000000"); code != http.StatusUnauthorized {
		t.Errorf("/metrics with a wrong token: %d", code)
	}
	code, _, body := f.get("/metrics", "Authorization", "Bearer "+consoleToken)
	if code != http.StatusOK || !strings.Contains(body, "replicator_queue_length") || !strings.Contains(body, "replicator_runs_in_flight") {
		t.Fatalf("/metrics with the token: %d\n%s", code, body)
	}
	if strings.Contains(body, consoleToken) {
		t.Error("the metrics show the console token")
	}
}

func TestConsoleSyncNow(t *testing.T) {
	f := newConsoleFixture(t)
	f.login()
	csrf := f.csrf()

	// Forms without the session's CSRF token, or from another site, are refused.
	if code, _, body := f.post("/pipelines/manual/sync", url.Values{}); code != http.StatusForbidden || !strings.Contains(body, "security token") {
		t.Errorf("sync without a CSRF token: %d\n%s", code, body)
	}
	if code, _, _ := f.post("/pipelines/manual/sync", url.Values{"csrf": {"forged"}}); code != http.StatusForbidden {
		t.Errorf("sync with a forged CSRF token: %d", code)
	}
	if code, _, _ := f.post("/pipelines/manual/sync", url.Values{"csrf": {csrf}}, "Sec-Fetch-Site", "cross-site"); code != http.StatusForbidden {
		t.Errorf("sync sent from another site: %d", code)
	}
	// Bodies are bounded.
	big := url.Values{"csrf": {csrf}, "pad": {strings.Repeat("x", 20<<10)}}
	if code, _, _ := f.post("/pipelines/manual/sync", big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("an oversized form: %d, want 413", code)
	}
	if code, _, _ := f.post("/pipelines/nobody/sync", url.Values{"csrf": {csrf}}); code != http.StatusNotFound {
		t.Errorf("sync of an unknown pipeline: %d", code)
	}
	if code, _, body := f.get("/pipelines/nobody"); code != http.StatusNotFound || !strings.Contains(body, "no pipeline") {
		t.Errorf("the page of an unknown pipeline: %d\n%s", code, body)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "manual.jsonl")); err == nil {
		t.Fatal("a refused form ran the pipeline")
	}

	code, h, _ := f.post("/pipelines/manual/sync", url.Values{"csrf": {csrf}})
	if code != http.StatusSeeOther || h.Get("Location") != "/?queued=manual" {
		t.Fatalf("sync now: %d to %q", code, h.Get("Location"))
	}
	deadline := time.Now().Add(time.Minute)
	for {
		_, _, body := f.get("/pipelines/manual")
		if strings.Contains(body, `class="state succeeded">succeeded`) {
			if !strings.Contains(body, `data-label="Written">500</td>`) {
				t.Errorf("the run's counts are not on the page:\n%s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pipeline did not succeed within a minute:\n%s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The run's metrics are counted as its run ends, a moment after the
	// store has it. The series is there from the start, at 0.
	var metrics string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, _, metrics = f.get("/metrics", "Authorization", "Bearer "+consoleToken); strings.Contains(metrics, `replicator_runs_total{outcome="succeeded",pipeline="manual"} 1`+"\n") {
			break
		}
	}
	for _, want := range []string{
		`replicator_records_total{kind="written",pipeline="manual",stream="items"} 500`,
		`replicator_runs_total{outcome="succeeded",pipeline="manual"} 1`,
		`replicator_plugin_starts_total{kind="source",pipeline="manual"} 1`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestConsoleAuthorizeOnlyWhereAGrantIsTaken(t *testing.T) {
	f := newConsoleFixture(t)
	f.login()
	_, _, body := f.get("/")
	if strings.Contains(body, "has no credentials yet") {
		t.Errorf("a source that takes no grant is shown as needing one:\n%s", body)
	}
	if code, _, body := f.get("/sources/source.generator.g/authorize"); code != http.StatusNotFound || !strings.Contains(body, "takes no grant") {
		t.Errorf("the authorize form of a source that takes no grant: %d\n%s", code, body)
	}
	if code, _, _ := f.get("/sources/source.nothing.x/authorize"); code != http.StatusNotFound {
		t.Errorf("the authorize form of an unknown source: %d", code)
	}
}
