package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/state"
)

// A pipeline with full_refresh_every reads incrementally until its last
// full refresh is that old; then `replicator sync`, and `replicator run`
// alike, read everything again.
func TestPeriodicFullRefresh(t *testing.T) {
	w := newWorkspace(t, `
source "generator" "gen" {
  count            = 500
  checkpoint_every = 100
}

destination "jsonl" "out" {
  path = "out.jsonl"
}

pipeline "items" {
  source             = source.generator.gen
  destination        = destination.jsonl.out
  streams            = ["items"]
  interval           = "1h"
  full_refresh_every = "24h"
}
`)
	w.mustRun("init")
	w.mustRun("sync", "items")
	w.mustRun("sync", "items")
	if _, lines := outputKeys(t, w.path("out.jsonl")); lines != 500 {
		t.Fatalf("a sync within the day after the first wrote %d more lines, want none", lines-500)
	}

	ageLastFullRefresh(t, w, 24*time.Hour)
	r := w.mustRun("sync", "items")
	if !strings.Contains(r.stderr, "starting a periodic full refresh") {
		t.Errorf("the host's log does not say why sync refreshed fully:\n%s", r.stderr)
	}
	if keys, lines := outputKeys(t, w.path("out.jsonl")); len(keys) != 500 || lines != 1000 {
		t.Fatalf("after the periodic full refresh under sync the output has %d keys in %d lines, want 500 in 1000", len(keys), lines)
	}

	// replicator run's first run of the pipeline finds it due again.
	ageLastFullRefresh(t, w, 24*time.Hour)
	// At info, run logs one line per run; the runs' own lines show at debug.
	cmd, log := w.startRun("-log-level", "debug")
	deadline := time.Now().Add(time.Minute)
	for {
		if _, lines := outputKeys(t, w.path("out.jsonl")); lines >= 1500 && strings.Contains(log.String(), "run finished") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run did not refresh fully within a minute:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop(t, cmd, log)
	if !strings.Contains(log.String(), "starting a periodic full refresh") {
		t.Errorf("the host's log does not say why run refreshed fully:\n%s", log.String())
	}
	if keys, lines := outputKeys(t, w.path("out.jsonl")); len(keys) != 500 || lines != 1500 {
		t.Fatalf("after the periodic full refresh under run the output has %d keys in %d lines, want 500 in 1500", len(keys), lines)
	}
}

// ageLastFullRefresh moves the record of the pipeline's last completed
// full refresh back by d, as if it had happened that long ago.
func ageLastFullRefresh(t *testing.T, w *workspace, d time.Duration) {
	t.Helper()
	ctx := context.Background()
	store, err := state.OpenFile(w.path("replicator.db"), state.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	claim, err := store.Claim(ctx, "items", "test")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = claim.Release(ctx) }()
	st, err := store.Stream(ctx, "items", "items")
	if err != nil || st.FullRefreshed.IsZero() {
		t.Fatalf("no completed full refresh on record: %+v, %v", st, err)
	}
	st.FullRefreshed = st.FullRefreshed.Add(-d)
	if err := store.SaveStream(ctx, claim.Fence, "items", st); err != nil {
		t.Fatal(err)
	}
}
