package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestPluginsRunsNoUnverifiedBinary: `replicator plugins` lists a plugin
// missing from the lock file and one that changed since `init` without
// executing either.
func TestPluginsRunsNoUnverifiedBinary(t *testing.T) {
	w := newWorkspace(t, generatorConfig(10, 5, ""))
	w.mustRun("init")

	// Stand-ins that leave a mark when executed: one new plugin, and the
	// jsonl destination replaced after init.
	marker := func(name string) string { return w.path(name + ".ran") }
	script := func(name string) string {
		return fmt.Sprintf("#!/bin/sh\necho ran > %q\nexit 1\n", marker(name))
	}
	if err := os.WriteFile(w.path("plugins/replicator-source-stranger"), []byte(script("stranger")), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.path("plugins/replicator-destination-jsonl"), []byte(script("jsonl")), 0o755); err != nil {
		t.Fatal(err)
	}

	r := w.mustRun("plugins")
	for _, name := range []string{"stranger", "jsonl"} {
		if _, err := os.Stat(marker(name)); err == nil {
			t.Errorf("plugins executed the unverified %s binary", name)
		}
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(line); len(f) == 5 {
			rows[f[1]] = f
		}
	}
	for typ, want := range map[string][2]string{
		"generator": {"", "yes"}, // its version, from the lock file
		"jsonl":     {"-", "CHANGED"},
		"stranger":  {"-", "no"},
	} {
		row, ok := rows[typ]
		if !ok {
			t.Errorf("plugins does not list %s:\n%s", typ, r.stdout)
			continue
		}
		if want[0] == "" && (row[2] == "-" || row[2] == "?") || want[0] != "" && row[2] != want[0] || row[3] != want[1] {
			t.Errorf("%s: version %q, locked %q; want version %q, locked %q", typ, row[2], row[3], want[0], want[1])
		}
	}
	if !strings.Contains(r.stdout, "not run") {
		t.Errorf("plugins does not say why versions are missing:\n%s", r.stdout)
	}
}
