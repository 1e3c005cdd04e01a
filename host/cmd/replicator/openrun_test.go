package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/host/engine"
	"github.com/replicatorhq/replicator/host/lockfile"
	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/host/state/postgres"
	"github.com/replicatorhq/replicator/internal/logbuf"
)

// A run is recorded before its plugins start. A host that loses the
// pipeline's claim to another while they start (it was paused, its
// connection cut) records the run's failure under the claim, and learns
// from the refusal that its successor's record stands.
func TestRunLosingItsClaimWhilePluginsStartIsRefused(t *testing.T) {
	testDatabase(t)
	dir := t.TempDir()
	// The source plugin never answers Spec: the run waits in its start.
	hang := filepath.Join(dir, "replicator-source-hang")
	if out, err := exec.Command("go", "build", "-o", hang, "../../../plugin/launch/testdata/misbehave").CombinedOutput(); err != nil {
		t.Fatalf("build the test plugin: %v\n%s", err, out)
	}
	jsonl := filepath.Join(pluginDir(t), "replicator-destination-jsonl")
	lock := &lockfile.Lock{}
	for _, p := range []struct{ kind, typ, path string }{{"source", "hang", hang}, {"destination", "jsonl", jsonl}} {
		sum, err := lockfile.FileSHA256(p.path)
		if err != nil {
			t.Fatal(err)
		}
		lock.Set(lockfile.Entry{Kind: p.kind, Type: p.typ, Version: "0.0.1", SHA256: sum})
	}
	if err := lock.Save(filepath.Join(dir, engine.LockFileName)); err != nil {
		t.Fatal(err)
	}
	hcl := testStateBlock + `
source "hang" "s" {}
destination "jsonl" "d" {
  path = "out.jsonl"
}
pipeline "p" {
  source      = source.hang.s
  destination = destination.jsonl.d
  streams     = ["items"]
}
`
	if err := os.WriteFile(filepath.Join(dir, "replicator.hcl"), []byte(hcl), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load(filepath.Join(dir, "replicator.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var log logbuf.Buffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &log, Level: hclog.Debug})
	eng, err := engine.New(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	eng.Dirs = []string{dir, filepath.Dir(jsonl)}
	keys, err := stateKeys(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	open := func() *postgres.Store {
		s, err := postgres.Open(ctx, postgres.Options{URL: os.Getenv("TEST_DATABASE_URL"), Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	here, other := open(), open()

	rc, err := claimRun(ctx, hclog.NewNullLogger(), here, "p")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.done(hclog.NewNullLogger())
	// Once both plugins run (the source waiting in Spec), another host
	// takes the pipeline over: this host's claim session ends, and the
	// other claims it.
	tookOver := make(chan error, 1)
	go func() {
		for deadline := time.Now().Add(time.Minute); strings.Count(log.String(), "using plugin") < 2; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				tookOver <- errors.New("the plugins did not start within a minute:\n" + log.String())
				return
			}
		}
		if err := testServerExec(ctx, `SELECT pg_terminate_backend(holder_pid) FROM pipelines WHERE name = 'p'`); err != nil {
			tookOver <- err
			return
		}
		for {
			c, err := other.Claim(ctx, "p", "other-host:1")
			if err == nil {
				t.Cleanup(func() { _ = c.Release(ctx) })
				tookOver <- nil
				return
			}
			if !errors.Is(err, state.ErrClaimed) {
				tookOver <- err
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	p, rec, err := openRun(ctx, rc, eng, cfg.Pipelines[0], here, logger)
	if p != nil {
		p.Close()
	}
	if err := <-tookOver; err != nil {
		t.Fatal(err)
	}
	if !errors.Is(err, state.ErrFenced) || rec.ID != 1 {
		t.Fatalf("the run of a host that lost its claim while its plugins started: run %d, %v; want run 1 and the write refused", rec.ID, err)
	}
}

// testServerExec runs SQL as a superuser in the database of
// $TEST_DATABASE_URL's server.
func testServerExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, os.Getenv("TEST_DATABASE_URL"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
