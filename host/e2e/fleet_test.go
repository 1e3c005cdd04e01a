package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/host/state/postgres"
	"github.com/replicatorhq/replicator/host/state/postgres/pgtest"
	"github.com/replicatorhq/replicator/internal/logbuf"
)

const fleetKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// The fleet test's sizes: 300 pipelines of 100 records, a checkpoint
// every 10 records and a pause of 20 ms after each, so that a run lasts
// about a quarter of a second and the hosts are mid-run when they are
// killed or paused. The interval is an hour, so each pipeline runs once
// unless a run is cut short, and the takeover bound is 5 s.
const (
	fleetRecords         = 100
	fleetCheckpointEvery = 10
	fleetTakeover        = 5 * time.Second
)

// fleetConfig is n pipelines, generator into one jsonl file each, sharing
// the database named by $FLEET_DATABASE_URL.
func fleetConfig(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `state {
  postgres       = env("FLEET_DATABASE_URL")
  encryption_key = %q
  takeover_after = "%s"
}

source "generator" "gen" {
  count            = %d
  record_size      = 100
  checkpoint_every = %d
  delay_ms         = 20
}
`, fleetKey, fleetTakeover, fleetRecords, fleetCheckpointEvery)
	for i := range n {
		fmt.Fprintf(&b, `
destination "jsonl" "t%[1]d" {
  path = "out/t%[1]d.jsonl"
}

pipeline "t%[1]d" {
  source      = source.generator.gen
  destination = destination.jsonl.t%[1]d
  streams     = ["items"]
  interval    = "1h"
}
`, i)
	}
	return b.String()
}

// fleetDatabase starts PostgreSQL with a new database, names it in
// $FLEET_DATABASE_URL for the replicator commands the test runs, and opens
// it as a store for the test to look into.
func fleetDatabase(t *testing.T) (*pgtest.Server, *postgres.Store) {
	t.Helper()
	server, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(server.Remove)
	url, err := server.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("FLEET_DATABASE_URL", url)
	keys, err := state.NewKeyring(fleetKey, "")
	if err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(context.Background(), postgres.Options{URL: url, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return server, db
}

// TestFleetPostgres runs three hosts on one database and the same
// configuration of 300 pipelines, SIGKILLs one mid-run, SIGSTOPs another
// while it holds claims for longer than the takeover bound (5 s) and then
// SIGCONTs it, and restarts PostgreSQL once. Then every pipeline's output
// is complete, with duplicates only within the at-least-once bound; the
// history shows one run at a time per pipeline, each under a fencing token
// of its own; and the paused host's writes after it lost its claims were
// refused. REPLICATOR_FLEET_PIPELINES sets the number of pipelines.
func TestFleetPostgres(t *testing.T) {
	n := 300
	if v, err := strconv.Atoi(os.Getenv("REPLICATOR_FLEET_PIPELINES")); err == nil && v > 0 {
		n = v
	}
	server, db := fleetDatabase(t)
	ctx := context.Background()
	w := newWorkspace(t, fleetConfig(n))
	if err := os.Mkdir(w.path("out"), 0o755); err != nil {
		t.Fatal(err)
	}
	w.mustRun("init")

	type host struct {
		cmd    *exec.Cmd
		stderr *logbuf.Buffer
	}
	start := func() host {
		cmd, log := w.startRun()
		return host{cmd, log}
	}
	hosts := []host{start(), start(), start()}
	defer func() {
		for _, h := range hosts {
			_ = h.cmd.Process.Kill()
			_ = h.cmd.Wait()
		}
	}()
	failf := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\nhost 2:\n%s\nhost 3:\n%s", append(args, tail(hosts[1].stderr.String()), tail(hosts[2].stderr.String()))...)
	}
	complete := func() int {
		done := 0
		for i := range n {
			if keys, _ := outputKeys(t, w.path(fmt.Sprintf("out/t%d.jsonl", i))); len(keys) == fleetRecords {
				done++
			}
		}
		return done
	}
	waitFor := func(what string, limit time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for !ok() {
			if time.Now().After(deadline) {
				for i := range n {
					name := fmt.Sprintf("t%d", i)
					if keys, _ := outputKeys(t, w.path("out/"+name+".jsonl")); len(keys) != fleetRecords {
						runs, _ := db.Runs(ctx, name, 3)
						t.Logf("pipeline %s: %d records; last runs %+v", name, len(keys), runs)
					}
				}
				failf("%s within %s", what, limit)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// holds returns the claims host h holds now.
	holds := func(h host) []state.Fence {
		held, err := db.Holders(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var fences []state.Fence
		for name, holder := range held {
			if strings.HasSuffix(holder.Host, fmt.Sprintf(":%d", h.cmd.Process.Pid)) {
				fences = append(fences, state.Fence{Pipeline: name, Token: holder.Token})
			}
		}
		return fences
	}

	// Mid-wave: a tenth of the pipelines done, and host 1 running some.
	waitFor("a tenth of the pipelines did not complete", 2*time.Minute, func() bool { return complete() >= n/10 })
	waitFor("host 1 never held a claim", time.Minute, func() bool { return len(holds(hosts[0])) > 0 })
	if err := hosts[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = hosts[0].cmd.Wait()

	// Host 2 is paused, past the takeover bound, while it holds claims
	// and one of its runs is underway with records left: recorded as
	// running under its claim, and its last stored checkpoint short of the
	// end. A run's end is written only once its last checkpoint is stored,
	// so such a run cannot have sent its end before the host stopped, and
	// goes on writing when the host comes back. (Its run record alone
	// would not do: the end may be on its way to the database.)
	var frozen []state.Fence
	waitFor("host 2 was never paused amid a run", time.Minute, func() bool {
		if err := hosts[1].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		waitStopped(t, hosts[1].cmd.Process.Pid)
		frozen = frozen[:0]
		for _, f := range holds(hosts[1]) {
			runs, err := db.Runs(ctx, f.Pipeline, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != 1 || runs[0].Fence != f.Token || runs[0].Outcome != state.OutcomeRunning {
				continue
			}
			if st, err := db.Stream(ctx, f.Pipeline, "items"); err != nil {
				t.Fatal(err)
			} else if checkpointed(t, st) < fleetRecords {
				frozen = append(frozen, f)
			}
		}
		if len(frozen) > 0 {
			return true
		}
		_ = hosts[1].cmd.Process.Signal(syscall.SIGCONT)
		return false
	})
	// Its claims end with their sessions once it has been silent for the
	// takeover bound; from then on the store refuses its writes, and
	// host 3 takes the pipelines over.
	stoppedAt := time.Now()
	waitFor("host 2, paused, did not lose its claims", fleetTakeover+time.Minute, func() bool { return len(holds(hosts[1])) == 0 })
	if d := time.Since(stoppedAt); d > fleetTakeover+3*time.Second {
		t.Logf("host 2's claims ended %s after it was paused, for a takeover bound of %s", d.Round(time.Millisecond), fleetTakeover)
	}
	if err := hosts[1].cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	// Its run underway goes on writing, and is refused, before the
	// database restarts (which would end the write another way).
	waitFor("the paused host did not notice it lost its claims", time.Minute, func() bool {
		log := hosts[1].stderr.String()
		return strings.Contains(log, "its claim was lost") && strings.Contains(log, "write refused")
	})

	// PostgreSQL restarts once: every session ends.
	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}

	waitFor("not every pipeline's output is complete", 2*time.Minute, func() bool { return complete() == n })
	for _, h := range hosts[1:] {
		_ = h.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, h := range hosts[1:] {
		_ = h.cmd.Wait()
	}

	duplicates, unfinished, runsTotal := 0, 0, 0
	// Runs that succeeded after the paused host came back, by host.
	shares := map[int]int{}
	for i := range n {
		name := fmt.Sprintf("t%d", i)
		runs, err := db.Runs(ctx, name, 0)
		if err != nil {
			t.Fatal(err)
		}
		slices.Reverse(runs) // oldest first
		runsTotal += len(runs)
		for j, r := range runs {
			if r.Outcome != state.OutcomeSucceeded {
				unfinished++
			} else if r.Started.After(resumed) {
				for k, h := range hosts[1:] {
					if strings.HasSuffix(r.Host, fmt.Sprintf(":%d", h.cmd.Process.Pid)) {
						shares[k+2]++
					}
				}
			}
			if j == 0 {
				continue
			}
			prev := runs[j-1]
			// Each run had a claim of its own, taken after the last.
			if r.Fence <= prev.Fence {
				t.Errorf("pipeline %s: run %d has fence %d, not above run %d's %d", name, r.ID, r.Fence, prev.ID, prev.Fence)
			}
			// No two runs overlapped: a stale host's record of its run's
			// end, written after the next run started, was refused.
			if !prev.Ended.IsZero() && prev.Ended.After(r.Started) {
				t.Errorf("pipeline %s: run %d (%s, %s) ended at %s, after run %d (%s) started at %s",
					name, prev.ID, prev.Host, prev.Outcome, prev.Ended, r.ID, r.Host, r.Started)
			}
		}
		if len(runs) == 0 || runs[len(runs)-1].Outcome != state.OutcomeSucceeded {
			t.Errorf("pipeline %s: the last run is not a succeeded one: %+v", name, runs)
		}
		keysOut, lines := outputKeys(t, w.path(fmt.Sprintf("out/t%d.jsonl", i)))
		if len(keysOut) != fleetRecords {
			t.Errorf("pipeline %s: %d distinct records, want %d", name, len(keysOut), fleetRecords)
		}
		duplicates += lines - len(keysOut)
	}
	// Every pipeline frozen with host 2 went on elsewhere: its last run is
	// another host's.
	// Fair share: the two hosts left, with the same max_concurrent_runs,
	// shared the pipelines run after the pause; the one that was paused
	// took part again rather than leaving nearly all to the other.
	if after := shares[2] + shares[3]; after > 20 && (shares[2] < after/4 || shares[3] < after/4) {
		t.Errorf("after the pause host 2 ran %d pipelines and host 3 %d; each should run at least a quarter", shares[2], shares[3])
	}
	// A write under the paused host's lost claims is refused still.
	for _, f := range frozen {
		runs, err := db.Runs(ctx, f.Pipeline, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 1 || runs[0].Fence <= f.Token {
			t.Errorf("pipeline %s: no run after the paused host's (fence %d): %+v", f.Pipeline, f.Token, runs)
		}
		if err := db.SaveStream(ctx, f, "items", state.StreamState{}); !errors.Is(err, state.ErrFenced) {
			t.Errorf("pipeline %s: a write under the paused host's lost claim (fence %d) got %v, want it refused", f.Pipeline, f.Token, err)
		}
	}
	// At least once: a run that did not finish may have written records
	// past its last stored checkpoint, and the run after it writes them
	// again; a paused host that comes back may write the records of the
	// batch in flight before its writes are refused. Each such run
	// repeats at most its pipeline's records.
	if limit := unfinished * fleetRecords; duplicates > limit {
		t.Errorf("%d duplicate records, above the at-least-once bound of %d (%d runs did not finish)", duplicates, limit, unfinished)
	}
	// The paused host's runs came back to find their claims taken over:
	// the store refused what they went on to write, and its log says so.
	paused := hosts[1].stderr.String()
	if !strings.Contains(paused, "write refused") {
		var warned []string
		for _, l := range strings.Split(paused, "\n") {
			if strings.Contains(l, "[WARN]") || strings.Contains(l, "[ERROR]") {
				warned = append(warned, l)
			}
		}
		t.Errorf("the paused host's log shows no refused write:\n%s", strings.Join(warned, "\n"))
	}
	t.Logf("%d pipelines, %d runs, %d did not finish, %d duplicate records; after the pause host 2 ran %d and host 3 %d; the paused host was stopped amid %d runs, lost %d claims and had %d writes refused",
		n, runsTotal, unfinished, duplicates, shares[2], shares[3], len(frozen), strings.Count(paused, "its claim was lost"), strings.Count(paused, "write refused"))
}

// checkpointed returns how many records of the generator's stream the
// stored checkpoint st has read.
func checkpointed(t *testing.T, st state.StreamState) int {
	t.Helper()
	if st.State == nil {
		return 0
	}
	var cp struct {
		Next int `json:"next"`
	}
	if err := json.Unmarshal(st.State, &cp); err != nil {
		t.Fatalf("the generator's checkpoint %s: %v", st.State, err)
	}
	return cp.Next
}

// waitStopped waits until every thread of process pid is stopped.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		stopped := len(tasks) > 0
		for _, task := range tasks {
			b, err := os.ReadFile(task)
			// The state follows the command name in parentheses.
			if i := bytes.LastIndexByte(b, ')'); err == nil && (i < 0 || i+2 >= len(b) || b[i+2] != 'T') {
				stopped = false
			}
		}
		if stopped {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not stop", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}
