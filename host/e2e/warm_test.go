//go:build unix

package e2e

import (
	"os"
	"testing"
)

// TestWarmPluginsNotUsedOnceTheirBinaryChanged: plugins kept running
// between runs are not used once their binary is replaced on disk: the
// next run starts the new binary, which the lock file refuses.
func TestWarmPluginsNotUsedOnceTheirBinaryChanged(t *testing.T) {
	w := newWorkspace(t, tenantConfig("items", 100, "1s"))
	w.mustRun("init")
	cmd, log := w.startRun()
	waitLog(t, log, "run finished", 3)
	plugin := w.path("plugins/replicator-source-generator")
	other, err := os.ReadFile(w.path("plugins/replicator-destination-jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plugin+".new", other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(plugin+".new", plugin); err != nil {
		t.Fatal(err)
	}
	waitLog(t, log, "but the lock file records", 1)
	stop(t, cmd, log)
}
