package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/host/state/postgres"
	"github.com/replicatorhq/replicator/host/state/postgres/pgtest"
)

const fleetKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// fleetConfig is n pipelines, generator into one jsonl file each, sharing
// the database named by $FLEET_DATABASE_URL.
func fleetConfig(n, count int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `state {
  postgres       = env("FLEET_DATABASE_URL")
  encryption_key = %q
  takeover_after = "3s"
}

source "generator" "gen" {
  count            = %d
  record_size      = 100
  checkpoint_every = 100
  delay_ms         = 150
}
`, fleetKey, count)
	for i := range n {
		fmt.Fprintf(&b, `
destination "jsonl" "t%[1]d" {
  path = "out/t%[1]d.jsonl"
}

pipeline "t%[1]d" {
  source      = source.generator.gen
  destination = destination.jsonl.t%[1]d
  streams     = ["items"]
  interval    = "3s"
}
`, i)
	}
	return b.String()
}

// TestFleetPostgres runs three hosts on one database and the same
// configuration, kills one, pauses another past the takeover bound and
// restarts PostgreSQL, then checks that every pipeline's output is complete
// and that the history shows one run at a time per pipeline, each under a
// fencing token of its own. REPLICATOR_FLEET_PIPELINES sets the number of
// pipelines (default 24).
func TestFleetPostgres(t *testing.T) {
	n := 24
	if v, err := strconv.Atoi(os.Getenv("REPLICATOR_FLEET_PIPELINES")); err == nil && v > 0 {
		n = v
	}
	const count = 1000
	server, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Remove()
	url, err := server.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	t.Setenv("FLEET_DATABASE_URL", url) // replicator's commands inherit it
	w := newWorkspace(t, fleetConfig(n, count))
	if err := os.Mkdir(w.path("out"), 0o755); err != nil {
		t.Fatal(err)
	}
	w.mustRun("init")
	type host struct {
		cmd    *exec.Cmd
		stderr *syncWriter
	}
	start := func() host {
		cmd := w.command(context.Background(), "run")
		stderr := &syncWriter{w: &strings.Builder{}}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return host{cmd, stderr}
	}
	hosts := []host{start(), start(), start()}
	defer func() {
		for _, h := range hosts {
			_ = h.cmd.Process.Kill()
		}
	}()

	complete := func(i int) bool {
		keys, _ := outputKeys(t, w.path(fmt.Sprintf("out/t%d.jsonl", i)))
		return len(keys) == count
	}
	waitFor := func(what string, limit time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s within %s\nhost 2:\n%s\nhost 3:\n%s", what, limit, tail(hosts[1].stderr.String()), tail(hosts[2].stderr.String()))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Mid-way: some output, not all of it.
	waitFor("no pipeline wrote anything", 2*time.Minute, func() bool {
		for i := range n {
			if _, lines := outputKeys(t, w.path(fmt.Sprintf("out/t%d.jsonl", i))); lines > 0 {
				return true
			}
		}
		return false
	})

	// Host 1 is killed; host 2 is paused past the takeover bound.
	if err := hosts[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = hosts[0].cmd.Wait()
	if err := hosts[1].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(8 * time.Second) // the bound is 3s
	if err := hosts[1].cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// PostgreSQL restarts once: every session ends.
	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}

	waitFor("not every pipeline's output is complete", 5*time.Minute, func() bool {
		for i := range n {
			if !complete(i) {
				return false
			}
		}
		return true
	})
	for _, h := range hosts[1:] {
		_ = h.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, h := range hosts[1:] {
		_ = h.cmd.Wait()
	}

	keys, err := state.NewKeyring(fleetKey, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := postgres.Open(ctx, postgres.Options{URL: url, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	duplicates, crashed, runsTotal := 0, 0, 0
	for i := range n {
		name := fmt.Sprintf("t%d", i)
		runs, err := db.Runs(ctx, name, 0)
		if err != nil {
			t.Fatal(err)
		}
		slices.Reverse(runs) // oldest first
		runsTotal += len(runs)
		for j, r := range runs {
			if r.Outcome == state.OutcomeCrashed {
				crashed++
			}
			if j == 0 {
				continue
			}
			prev := runs[j-1]
			// Each run had a claim of its own, taken after the last.
			if r.Fence <= prev.Fence {
				t.Errorf("pipeline %s: run %d has fence %d, not above run %d's %d", name, r.ID, r.Fence, prev.ID, prev.Fence)
			}
			// Runs that ended under their claim did not overlap.
			if !prev.Ended.IsZero() && prev.Ended.After(r.Started) {
				t.Errorf("pipeline %s: run %d (%s, %s) ended at %s, after run %d (%s) started at %s",
					name, prev.ID, prev.Host, prev.Outcome, prev.Ended, r.ID, r.Host, r.Started)
			}
		}
		keysOut, lines := outputKeys(t, w.path(fmt.Sprintf("out/t%d.jsonl", i)))
		if len(keysOut) != count {
			t.Errorf("pipeline %s: %d distinct records, want %d", name, len(keysOut), count)
		}
		duplicates += lines - len(keysOut)
	}
	// At least once: what was written after the last stored checkpoint of
	// a run that did not finish is written again, up to checkpoint_every
	// records per such run, plus the batch in flight of a paused host.
	if limit := (crashed + n) * 2 * 100; duplicates > limit {
		t.Errorf("%d duplicate records, above the at-least-once bound of %d", duplicates, limit)
	}
	paused := hosts[1].stderr.String()
	t.Logf("%d pipelines, %d runs, %d crashed, %d duplicate records; the paused host lost %d claims and had %d writes refused",
		n, runsTotal, crashed, duplicates, strings.Count(paused, "its claim was lost"), strings.Count(paused, "write refused"))
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

// syncWriter serialises the writes of a process's output copier with the
// test's reads.
type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}
