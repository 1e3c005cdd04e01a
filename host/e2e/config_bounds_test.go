package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// bigFile is what the expanding configurations read with file(): 1 MiB,
// the most file() reads.
var bigFile = strings.Repeat("s", 1<<20)

// thousandFileCalls is a source block of 13 KB whose streams call
// file("big") a thousand times, on line 2: once 1 GiB of strings.
func thousandFileCalls(name string) string {
	calls := strings.TrimSuffix(strings.Repeat(`file("big"), `, 1000), ", ")
	return fmt.Sprintf("source \"generator\" %q {\n  streams = [%s]\n}\n", name, calls)
}

// bigHeredoc is a source block of 15 MB whose streams are one heredoc of
// lines of 80 bytes. It passes 1 MiB in line 13109.
func bigHeredoc(name string) string {
	return fmt.Sprintf("source \"generator\" %q {\n  streams = [<<EOT\n", name) +
		strings.Repeat(strings.Repeat("x", 79)+"\n", 15<<20/80) + "EOT\n  ]\n}\n"
}

// TestValidateRefusesExpandingConfigurations: the configurations that once
// held gigabytes, ran out of memory or took minutes are refused by
// validate with a diagnostic at their place and exit status 1.
func TestValidateRefusesExpandingConfigurations(t *testing.T) {
	for _, tt := range []struct {
		name, hcl, summary, where string
	}{
		{"a thousand file() calls", thousandFileCalls("g"), "Configuration reads too much through env() and file()", "replicator.hcl line 2"},
		{"a 15 MB heredoc", bigHeredoc("g"), "Configuration file too large", "replicator.hcl line 13109"},
		{"for expressions", "source \"generator\" \"g\" {\n  streams = [for a in [1, 2] : [for b in [1, 2] : \"s\"]]\n}\n", "Unsupported expression", "replicator.hcl line 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorkspace(t, tt.hcl)
			w.write("big", bigFile)
			r := w.run("validate")
			if r.code != 1 || !strings.Contains(r.stderr, "Error: "+tt.summary) || !strings.Contains(r.stderr, tt.where) {
				t.Fatalf("validate exited %d, want 1 with %q at %q:\n%.3000s", r.code, tt.summary, tt.where, r.stderr)
			}
		})
	}
}

// TestRunRefusesAnExpandingTenantFile saves tenant files that expand
// without bound while `replicator run` runs: each is refused at the
// reload with its diagnostic, and the other tenant keeps running.
func TestRunRefusesAnExpandingTenantFile(t *testing.T) {
	w := newWorkspace(t, tenantConfig("alpha", 100, "1s"))
	w.write("big", bigFile)
	w.mustRun("init", "-config", ".")
	cmd, log := w.startRun("-config", ".")
	waitLog(t, log, "run finished: pipeline=alpha", 1)

	for i, tt := range []struct{ hcl, summary, where string }{
		{thousandFileCalls("mallory"), "Configuration reads too much through env() and file()", "mallory.hcl line 2"},
		{bigHeredoc("mallory"), "Configuration file too large", "mallory.hcl line 13109"},
	} {
		w.write("mallory.hcl", tt.hcl)
		waitLog(t, log, "its pipelines are left out until it is fixed: file=mallory.hcl", i+1)
		// The diagnostics follow that line in writes of their own.
		waitLog(t, log, tt.where, 1)
		waitLog(t, log, tt.summary, 1)
		alphas := strings.Count(log.String(), "run finished: pipeline=alpha")
		waitLog(t, log, "run finished: pipeline=alpha", alphas+2)
	}
	stop(t, cmd, log)
}
