package warm_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/host/engine"
	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/host/warm"
)

const hcl = `
source "generator" "g" {
  count = 1
}
destination "jsonl" "out" {
  path = "out.jsonl"
}
pipeline "a" {
  source      = source.generator.g
  destination = destination.jsonl.out
  streams     = ["items"]
}
pipeline "b" {
  source      = source.generator.g
  destination = destination.jsonl.out
  streams     = ["items"]
}
`

// setUp returns an engine of a configuration with pipelines a and b, its
// plugins from $REPLICATOR_BIN, locked, and a state store.
func setUp(t *testing.T) (*engine.Engine, state.Store) {
	t.Helper()
	bin := os.Getenv("REPLICATOR_BIN")
	if bin == "" {
		t.Skip("REPLICATOR_BIN is not set: run make build, then the tests with REPLICATOR_BIN=$PWD/bin")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "replicator.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REPLICATOR_PLUGIN_PATH", bin)
	init := exec.Command(filepath.Join(bin, "replicator"), "init")
	init.Dir = dir
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	cfg, diags := config.Load(filepath.Join(dir, "replicator.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	eng, err := engine.New(cfg, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.OpenFile(filepath.Join(dir, "state.db"), state.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return eng, store
}

func open(t *testing.T, eng *engine.Engine, store state.Store, name string) *engine.Pipeline {
	t.Helper()
	pc, _ := eng.Config.Pipeline(name)
	p, err := eng.Open(t.Context(), pc, store, state.NoFence, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// answers reports whether p's plugins still run.
func answers(eng *engine.Engine, p *engine.Pipeline) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return eng.Refresh(ctx, p) == nil
}

func TestPoolKeepsTakesAndCloses(t *testing.T) {
	eng, store := setUp(t)
	var pool warm.Pool
	t.Cleanup(pool.Close)
	pool.Configure(1, time.Hour, eng)
	a := open(t, eng, store, "a")
	pool.Put("a", eng, a)
	got, ok := pool.Take("a", eng)
	if !ok || got != a || !answers(eng, a) {
		t.Fatalf("Take of a kept pipeline: %v, %v", got, ok)
	}
	if _, ok := pool.Take("a", eng); ok {
		t.Fatal("a pipeline taken twice")
	}
	// Beyond the bound, the least recently kept is closed.
	pool.Put("a", eng, a)
	b := open(t, eng, store, "b")
	pool.Put("b", eng, b)
	if _, ok := pool.Take("a", eng); ok || answers(eng, a) {
		t.Error("a pipeline beyond the bound is still kept, or still runs")
	}
	// Another engine (a reload) closes what was kept for the last.
	again, err := eng.Reload(eng.Config, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	pool.Configure(1, time.Hour, again)
	if _, ok := pool.Take("b", again); ok || answers(eng, b) {
		t.Error("a pipeline of the engine before a reload is still kept, or still runs")
	}
	// Plugins of a run under the engine before are closed, not kept.
	c := open(t, eng, store, "a")
	pool.Put("a", eng, c)
	if pool.Len() != 0 || answers(eng, c) {
		t.Error("a pipeline of the engine before a reload was kept")
	}
}

func TestPoolClosesIdlePlugins(t *testing.T) {
	eng, store := setUp(t)
	var pool warm.Pool
	t.Cleanup(pool.Close)
	pool.Configure(2, 100*time.Millisecond, eng)
	a := open(t, eng, store, "a")
	pool.Put("a", eng, a)
	for pool.Len() != 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if answers(eng, a) {
		t.Error("idle plugins still run")
	}
	// A pool that keeps none closes what it is given.
	pool.Configure(0, time.Minute, eng)
	b := open(t, eng, store, "b")
	pool.Put("b", eng, b)
	if pool.Len() != 0 || answers(eng, b) {
		t.Error("a pool that keeps none kept plugins")
	}
}
