package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/state/postgres/pgtest"
	"github.com/replicatorhq/replicator/internal/logbuf"
)

// An outage of the state database, against `replicator run` with a real
// PostgreSQL stopped and started again: one warning when it starts and
// one when it ends, however many pipelines come due meanwhile; the
// console keeps showing what it last read, with a notice; /readyz says
// what is wrong without naming the database; the pipelines go on after.
func TestDatabaseOutage(t *testing.T) {
	server := testDatabase(t)
	t.Setenv("REPLICATOR_CONSOLE_TOKEN", consoleToken)
	const pipelines = 5
	files := map[string]string{"host.hcl": "host {" + tokenHost + "}\n" + testStateBlock}
	for i := range pipelines {
		name := fmt.Sprintf("t%d", i)
		files[name+".hcl"] = strings.Replace(tenantHCL(name), `"1h"`, `"1s"`, 1)
	}
	w := newWorkspace(t, files)
	if code, _, stderr := w.run("init"); code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	cmd, log := w.start("run", "-log-format", "json", "-log-level", "debug")
	count := func(s, msg string) int { return strings.Count(s, `"@message":"`+msg+`"`) }
	waitFor(t, log, "a run of each pipeline", func(s string) bool { return count(s, "run finished") >= pipelines })
	c := consoleClient(t, log)
	for _, page := range []string{"/", "/pipelines/t1"} {
		if code, body := c.get(page); code != http.StatusOK || strings.Contains(body, `id="notice"`) {
			t.Fatalf("%s with the database up: %d\n%s", page, code, body)
		}
	}

	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, log, "the outage warning", func(s string) bool {
		return count(s, "the state database does not answer; the pipelines wait for it, and the console shows what it last read") == 1
	})
	// Every pipeline comes due several times during the outage.
	waitFor(t, log, "runs waiting", func(s string) bool { return count(s, "run waits for the state database") >= 4*pipelines })
	for _, page := range []string{"/", "/pipelines/t1"} {
		code, body := c.get(page)
		if code != http.StatusOK || !strings.Contains(body, `id="notice"`) || !strings.Contains(body, "does not answer") || !strings.Contains(body, "t1") {
			t.Errorf("%s during the outage: %d, want the last known state with a notice\n%s", page, code, body)
		}
	}
	resp, err := http.Get(c.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "does not answer") ||
		strings.Contains(string(body), "postgres") || strings.Contains(string(body), "host=") {
		t.Errorf("/readyz during the outage: %d %q", resp.StatusCode, body)
	}

	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, log, "the end of the outage", func(s string) bool { return count(s, "the state database answers again; the pipelines go on") == 1 })
	ran := count(log.String(), "run finished")
	waitFor(t, log, "runs after the outage", func(s string) bool { return count(s, "run finished") >= ran+pipelines })
	w.stop(cmd, log)

	// Besides the two about the outage, a warning or error is about a
	// run that was underway when the database went away: at most one of
	// each kind per pipeline, never one per pipeline per try.
	seen := map[string]int{}
	for _, l := range jsonLines(t, log.String()) {
		if l["@level"] != "warn" && l["@level"] != "error" {
			continue
		}
		seen[fmt.Sprint(l["@message"], " pipeline=", l["pipeline"])]++
	}
	for line, n := range seen {
		if n > 1 {
			t.Errorf("logged %d times: %s", n, line)
		}
	}
}

// testStateBlock keeps the state in the database $TEST_DATABASE_URL
// names (testDatabase).
const testStateBlock = `
state {
  postgres       = env("TEST_DATABASE_URL")
  encryption_key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
}
`

// testDatabase starts PostgreSQL, removed when the test ends, with a new
// database that $TEST_DATABASE_URL names.
func testDatabase(t *testing.T) *pgtest.Server {
	t.Helper()
	server, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(server.Remove)
	dsn, err := server.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_DATABASE_URL", dsn)
	return server
}

// consoleSession is a client logged in to the console of the replicator
// run whose log is given.
type consoleSession struct {
	t    *testing.T
	base string
	c    *http.Client
}

func consoleClient(t *testing.T, log *logbuf.Buffer) *consoleSession {
	t.Helper()
	waitFor(t, log, "the console's address", func(s string) bool { return servedAtJSON(s) != "" })
	jar, _ := cookiejar.New(nil)
	c := &consoleSession{t: t, base: servedAtJSON(log.String()), c: &http.Client{Jar: jar, Timeout: time.Minute}}
	resp, err := c.c.PostForm(c.base+"/login", url.Values{"token": {consoleToken}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	return c
}

// servedAtJSON finds the console's address in a JSON log, or "".
func servedAtJSON(log string) string {
	for l := range strings.Lines(log) {
		if strings.Contains(l, "health checks are served") {
			if _, after, ok := strings.Cut(l, `"url":"`); ok {
				u, _, _ := strings.Cut(after, `"`)
				return strings.TrimSuffix(u, "/")
			}
		}
	}
	return ""
}

func (c *consoleSession) get(path string) (int, string) {
	c.t.Helper()
	resp, err := c.c.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
