package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// tenantHCL is one generator -> jsonl pipeline called name, hourly.
func tenantHCL(name string) string {
	return fmt.Sprintf(`
source "generator" %[1]q {
  count = 20
}
destination "jsonl" %[1]q {
  path = "%[1]s.jsonl"
}
pipeline %[1]q {
  source      = source.generator.%[1]s
  destination = destination.jsonl.%[1]s
  streams     = ["items"]
  interval    = "1h"
}
`, name)
}

// jsonLines parses every line of log as a JSON object, failing the test
// at the first that is not one.
func jsonLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for l := range strings.Lines(log) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("a line of the JSON log is not JSON (%v):\n%s\nthe log:\n%s", err, l, log)
		}
		out = append(out, m)
	}
	return out
}

// Under -log-format json every line `replicator run` writes is JSON: the
// run's, its plugins', and the diagnostics of a reload that is refused,
// one line each with file, line, column, summary and detail. Every line
// of a run names its pipeline and the run's ID, the one `status` shows,
// and durations read as text.
func TestRunLogsOnlyJSON(t *testing.T) {
	w := newWorkspace(t, map[string]string{"a.hcl": tenantHCL("a")})
	if code, _, stderr := w.run("init"); code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	cmd, log := w.start("run", "-log-format", "json", "-log-level", "debug")
	waitFor(t, log, "the first run", func(s string) bool { return strings.Contains(s, `"@message":"run finished"`) })

	// A syntax error in one file, then an attribute the plugin does not
	// take in another: the one found by the parser, the other only once
	// the plugin said its schema.
	w.write("b.hcl", tenantHCL("b")+"pipeline {\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	refused := func(n int) func(string) bool {
		return func(s string) bool { return strings.Count(s, "a configuration file has errors") == n }
	}
	waitFor(t, log, "the reload refused", refused(1))
	w.write("b.hcl", strings.Replace(tenantHCL("b"), "count = 20", "count = 20\n  colour = \"red\"", 1))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, log, "the second reload refused", refused(2))
	w.stop(cmd, log)

	lines := jsonLines(t, log.String())
	var diags, runLines, pluginLines int
	for _, l := range lines {
		switch {
		case l["@message"] == "configuration error":
			diags++
			if l["file"] != "b.hcl" || l["line"] == nil || l["column"] == nil || l["summary"] == "" || l["detail"] == "" {
				t.Errorf("a diagnostic without its file, line, column, summary or detail: %v", l)
			}
		case l["run"] != nil:
			runLines++
			if l["pipeline"] != "a" || l["run"] != float64(1) {
				t.Errorf("a line of run 1 of a names another: %v", l)
			}
			if mod, _ := l["@module"].(string); strings.HasSuffix(mod, "replicator-source-generator") {
				pluginLines++
			}
		}
		if took, ok := l["took"]; ok {
			if s, _ := took.(string); !regexp.MustCompile(`^[0-9.]+(ns|µs|ms|s)$`).MatchString(s) {
				t.Errorf("took is %#v, not a readable duration: %v", took, l)
			}
		}
	}
	if diags < 2 {
		t.Errorf("%d diagnostics logged, want one for each refused reload", diags)
	}
	if runLines == 0 || pluginLines == 0 {
		t.Errorf("%d lines name the run, %d of them the plugin's; want some of each:\n%s", runLines, pluginLines, log.String())
	}

	// `status` shows the ID the log lines carry.
	_, stdout, _ := w.run("status")
	if !regexp.MustCompile(`(?m)^a\s+1\s`).MatchString(stdout) {
		t.Errorf("status does not show run 1 of a:\n%s", stdout)
	}
}
