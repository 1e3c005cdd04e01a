package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// tenantOnShared is a tenant file whose pipeline writes through the
// destination block jsonl.shared of another file, and reads source.
func tenantOnShared(name, source string) string {
	return fmt.Sprintf(`
pipeline %[1]q {
  source      = %[2]s
  destination = destination.jsonl.shared
  streams     = ["items"]
  interval    = "1s"
}
`, name, source)
}

// hostFile is the folder's host-wide file: the console with a token, and
// the destination block the tenants share.
const hostFile = `
host {
  listen        = "127.0.0.1:0"
  console_token = env("REPLICATOR_CONSOLE_TOKEN")
}

destination "jsonl" "shared" {
  path = "out-shared.jsonl"
}
`

// TestRunLeavesOutTenantFilesWithErrors runs a folder of tenant files,
// one with an error and one whose pipeline names a source block of that
// file: the others run, those two are left out, each error logged once,
// shown in the console's notice and counted in /metrics. Fixed, they run.
// A file broken at a reload keeps running in its last good version until
// it is fixed. validate still fails on a file with errors.
func TestRunLeavesOutTenantFilesWithErrors(t *testing.T) {
	const token = "e2e-tenant-errors-token-91c3"
	t.Setenv("REPLICATOR_CONSOLE_TOKEN", token)
	w := newWorkspace(t, hostFile)
	alpha := tenantConfig("alpha", 10, "1s")
	bravo := `source "generator" "bravo" {
  count = 10
}
` + tenantOnShared("bravo", "source.generator.bravo")
	brokenFixed := `source "generator" "broken" {
  count = 10
}
` + tenantOnShared("broken", "source.generator.broken")
	broken := strings.Replace(brokenFixed, "destination.jsonl.shared", "destination.jsonl.nowhere", 1)
	w.write("alpha.hcl", alpha)
	w.write("bravo.hcl", bravo)
	w.mustRun("init", "-config", ".")
	w.write("broken.hcl", broken)
	w.write("charlie.hcl", tenantOnShared("charlie", "source.generator.broken"))
	if r := w.run("validate", "-config", "."); r.code == 0 || !strings.Contains(r.stderr, "broken.hcl") {
		t.Fatalf("validate of a folder with a broken file: exit %d\n%s", r.code, r.stderr)
	}

	cmd, log := w.startRun("-config", ".")
	waitLog(t, log, "run finished: pipeline=alpha", 1)
	waitLog(t, log, "run finished: pipeline=bravo", 1)
	waitLog(t, log, "its pipelines are left out until it is fixed: file=broken.hcl", 1)
	waitLog(t, log, "its pipelines are left out until it is fixed: file=charlie.hcl", 1)
	waitLog(t, log, "Reference to undeclared destination", 1)
	waitLog(t, log, "source.generator.broken is declared in broken.hcl, which has errors and is left out", 1)
	base := consoleURL(t, log)
	scrapeHas(t, scrapeMetrics(t, base, token), "replicator_config_files_rejected 2")
	page := consolePage(t, base, token)
	for _, want := range []string{"broken.hcl (its pipelines left out)", "charlie.hcl (its pipelines left out)"} {
		if !strings.Contains(page, want) {
			t.Errorf("the console's notice lacks %q", want)
		}
	}

	// A reload that does not touch them logs their errors no more.
	w.write("alpha.hcl", strings.Replace(alpha, "count       = 10", "count       = 20", 1))
	waitLog(t, log, "configuration reloaded", 1)
	if n := strings.Count(log.String(), "Reference to undeclared destination"); n != 1 {
		t.Errorf("broken.hcl's error was logged %d times, want once:\n%s", n, log.String())
	}

	// Fixed, both files run.
	w.write("broken.hcl", brokenFixed)
	waitLog(t, log, "run finished: pipeline=broken", 1)
	waitLog(t, log, "run finished: pipeline=charlie", 1)
	waitLog(t, log, "left out for its errors loads again: file=charlie.hcl", 1)
	scrapeHas(t, scrapeMetrics(t, base, token), "replicator_config_files_rejected 0")

	// Broken at a reload, bravo runs as it was.
	w.write("bravo.hcl", strings.Replace(bravo, "count = 10", "count = ", 1))
	waitLog(t, log, "its pipelines keep running as they were until it is fixed: file=bravo.hcl", 1)
	bravos := strings.Count(log.String(), "run finished: pipeline=bravo")
	waitLog(t, log, "run finished: pipeline=bravo", bravos+2)
	if strings.Contains(log.String(), "pipeline removed; it stops after its run in flight: pipeline=bravo") {
		t.Errorf("bravo was removed at the reload that broke its file:\n%s", log.String())
	}
	if page := consolePage(t, base, token); !strings.Contains(page, "bravo.hcl (its last good version runs)") {
		t.Error("the console's notice does not name bravo.hcl")
	}
	w.write("bravo.hcl", bravo)
	waitLog(t, log, "left out for its errors loads again: file=bravo.hcl", 1)
	stop(t, cmd, log)
}

// TestRunStopsOnHostWideErrors: errors in a file with host-wide settings
// stop `run` at start, saying so, whatever the tenant files hold.
func TestRunStopsOnHostWideErrors(t *testing.T) {
	w := newWorkspace(t, "host {\n  max_concurrent_runs = 2\n}\n")
	w.write("alpha.hcl", tenantConfig("alpha", 10, "1s"))
	w.mustRun("init", "-config", ".")
	w.write("replicator.hcl", "host {\n  max_concurrent_runs = \"many\"\n}\n")
	r := w.run("run", "-config", ".")
	if r.code == 0 || !strings.Contains(r.stderr, "host-wide settings have errors") ||
		!strings.Contains(r.stderr, "max_concurrent_runs") {
		t.Fatalf("run with a broken host block: exit %d\n%s", r.code, r.stderr)
	}
}

// TestRunLogsTenantErrorsAsJSON: under -log-format json the errors of a
// tenant file left out are log lines like every other.
func TestRunLogsTenantErrorsAsJSON(t *testing.T) {
	w := newWorkspace(t, tenantConfig("alpha", 10, "1s"))
	w.mustRun("init", "-config", ".")
	w.write("broken.hcl", "pipeline \"broken\" {\n  source = \n}\n")
	cmd, log := w.startRun("-config", ".", "-log-format", "json")
	waitLog(t, log, `"file":"broken.hcl"`, 1)
	waitLog(t, log, "run finished", 1)
	stop(t, cmd, log)
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Errorf("a log line that is not JSON: %s", line)
		}
	}
	if !strings.Contains(log.String(), "Invalid expression") {
		t.Errorf("the file's error is not logged:\n%s", log.String())
	}
}

// consolePage logs in to the console at base with token and returns its
// front page.
func consolePage(t *testing.T, base, token string) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := client.Get(base + "/login?token=" + url.QueryEscape(token))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the console's front page: %d %v\n%s", resp.StatusCode, err, b)
	}
	return string(b)
}
