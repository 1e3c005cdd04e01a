// Package promtool runs Prometheus's promtool for the tests that check
// what the host exports. CI installs it (.ci/run); a test fails, with the
// command that installs it, rather than skip without it.
package promtool

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// Install says how to get promtool.
const Install = "install Debian's prometheus package (sudo apt-get install -y prometheus; .ci/run does), or set PROMTOOL to a promtool binary"

// Path returns promtool's path: $PROMTOOL, or promtool on PATH. It fails
// the test when there is none.
func Path(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PROMTOOL"); p != "" {
		return p
	}
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("no promtool on PATH: " + Install)
	}
	return p
}

// CheckMetrics fails the test when `promtool check metrics` finds
// anything in a scrape: a problem, or a lint of Prometheus's naming
// conventions.
func CheckMetrics(t testing.TB, scrape string) {
	t.Helper()
	cmd := exec.Command(Path(t), "check", "metrics")
	cmd.Stdin = bytes.NewBufferString(scrape)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
