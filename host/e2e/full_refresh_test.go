package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/state"
)

// A pipeline with full_refresh_every reads incrementally until its last
// full refresh is that old; then `replicator sync` reads everything again.
func TestPeriodicFullRefreshUnderSync(t *testing.T) {
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
  full_refresh_every = "24h"
}
`)
	w.mustRun("init")
	w.mustRun("sync", "items")
	w.mustRun("sync", "items")
	if _, lines := outputKeys(t, w.path("out.jsonl")); lines != 500 {
		t.Fatalf("a sync within the day after the first wrote %d more lines, want none", lines-500)
	}

	// The last full refresh completed a day ago.
	ctx := context.Background()
	store, err := state.OpenFile(w.path("replicator.db"), state.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	claim, err := store.Claim(ctx, "items", "test")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Stream(ctx, "items", "items")
	if err != nil || st.FullRefreshed.IsZero() {
		t.Fatalf("the first sync's full refresh is not on record: %+v, %v", st, err)
	}
	st.FullRefreshed = st.FullRefreshed.Add(-24 * time.Hour)
	if err := store.SaveStream(ctx, claim.Fence, "items", st); err != nil {
		t.Fatal(err)
	}
	if err := claim.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	r := w.mustRun("sync", "items")
	if !strings.Contains(r.stderr, "starting a periodic full refresh") {
		t.Errorf("the host's log does not say why it refreshed fully:\n%s", r.stderr)
	}
	if keys, lines := outputKeys(t, w.path("out.jsonl")); len(keys) != 500 || lines != 1000 {
		t.Fatalf("after the periodic full refresh the output has %d keys in %d lines, want 500 in 1000", len(keys), lines)
	}
}
