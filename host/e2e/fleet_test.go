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

// The fleet tests' pipelines: 100 records each, a checkpoint every 10
// records and a pause after each, so that the hosts are mid-run when they
// are killed or paused. The interval is an hour, so each pipeline runs
// once unless a run is cut short.
const (
	fleetRecords         = 100
	fleetCheckpointEvery = 10
)

// fleetSettings shape a fleet test's configuration.
type fleetSettings struct {
	pipelines  int
	takeover   time.Duration
	delay      time.Duration // after each checkpoint
	recordSize int           // of each record's data
	maxRuns    int           // max_concurrent_runs; 0 leaves the default
}

// fleetConfig is s.pipelines pipelines, generator into one jsonl file
// each, sharing the database named by $FLEET_DATABASE_URL.
func fleetConfig(s fleetSettings) string {
	var b strings.Builder
	fmt.Fprintf(&b, `state {
  postgres       = env("FLEET_DATABASE_URL")
  encryption_key = %q
  takeover_after = "%s"
}

source "generator" "gen" {
  count            = %d
  record_size      = %d
  checkpoint_every = %d
  delay_ms         = %d
}
`, fleetKey, s.takeover, fleetRecords, s.recordSize, fleetCheckpointEvery, s.delay.Milliseconds())
	if s.maxRuns > 0 {
		fmt.Fprintf(&b, "\nhost {\n  max_concurrent_runs = %d\n}\n", s.maxRuns)
	}
	for i := range s.pipelines {
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

// fleet is several `replicator run` hosts in one workspace, sharing one
// database, and what the test knows of them.
type fleet struct {
	t      *testing.T
	n      int // pipelines, t0 and on
	server *pgtest.Server
	db     *postgres.Store
	w      *workspace
	hosts  []*fleetHost
}

type fleetHost struct {
	cmd     *exec.Cmd
	log     *logbuf.Buffer
	started time.Time
}

// newFleet makes a workspace of s's configuration, locks its plugins, and
// starts the database.
func newFleet(t *testing.T, s fleetSettings) *fleet {
	server, db := fleetDatabase(t)
	f := &fleet{t: t, n: s.pipelines, server: server, db: db, w: newWorkspace(t, fleetConfig(s))}
	if err := os.Mkdir(f.w.path("out"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.w.mustRun("init")
	t.Cleanup(func() {
		for _, h := range f.hosts {
			_ = h.cmd.Process.Signal(syscall.SIGCONT)
			_ = h.cmd.Process.Kill()
		}
	})
	return f
}

// start starts a host with args.
func (f *fleet) start(args ...string) *fleetHost {
	h := &fleetHost{started: time.Now()}
	h.cmd, h.log = f.w.startRun(args...)
	f.hosts = append(f.hosts, h)
	return h
}

// is says whether a holder or a run's host names h.
func (h *fleetHost) is(host string) bool {
	return strings.HasSuffix(host, fmt.Sprintf(":%d", h.cmd.Process.Pid))
}

func (f *fleet) failf(format string, args ...any) {
	f.t.Helper()
	var logs strings.Builder
	for i, h := range f.hosts {
		fmt.Fprintf(&logs, "\nhost %d:\n%s", i+1, tail(h.log.String()))
	}
	f.t.Fatalf(format+"%s", append(args, logs.String())...)
}

func (f *fleet) name(i int) string { return fmt.Sprintf("t%d", i) }

func (f *fleet) output(name string) string { return f.w.path("out/" + name + ".jsonl") }

// complete counts the pipelines whose output holds every record.
func (f *fleet) complete() int {
	done := 0
	for i := range f.n {
		if keys, _ := outputKeys(f.t, f.output(f.name(i))); len(keys) == fleetRecords {
			done++
		}
	}
	return done
}

// finished says whether every pipeline's last run succeeded: once
// outputs are complete, the runs that wrote them may still be storing
// their ends.
func (f *fleet) finished() bool {
	for i := range f.n {
		runs, err := f.db.Runs(context.Background(), f.name(i), 1)
		if err != nil || len(runs) == 0 || runs[0].Outcome != state.OutcomeSucceeded {
			return false
		}
	}
	return true
}

// waitFor waits until ok, for at most limit.
func (f *fleet) waitFor(what string, limit time.Duration, ok func() bool) {
	f.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			for i := range f.n {
				name := f.name(i)
				if keys, _ := outputKeys(f.t, f.output(name)); len(keys) != fleetRecords {
					runs, _ := f.db.Runs(ctx, name, 3)
					f.t.Logf("pipeline %s: %d records; last runs %+v", name, len(keys), runs)
				}
			}
			f.failf("%s within %s", what, limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// holds returns the claims host h holds now.
func (f *fleet) holds(h *fleetHost) []state.Fence {
	held, err := f.db.Holders(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	var fences []state.Fence
	for name, holder := range held {
		if h.is(holder.Host) {
			fences = append(fences, state.Fence{Pipeline: name, Token: holder.Token})
		}
	}
	return fences
}

// midRun returns the claims of host h whose run is underway with records
// written and records left: recorded as running under the claim, and its
// last stored checkpoint past the start and short of the end (a run
// caught before its first checkpoint may not have written anything, and
// the tests look for its records before its successor's). A run's end is written only once its last
// checkpoint is stored, so such a run cannot have sent its end, and goes
// on writing if the host goes on. (Its run record alone would not do: the
// end may be on its way to the database.)
func (f *fleet) midRun(h *fleetHost) []state.Fence {
	ctx := context.Background()
	var mid []state.Fence
	for _, fence := range f.holds(h) {
		runs, err := f.db.Runs(ctx, fence.Pipeline, 1)
		if err != nil {
			f.t.Fatal(err)
		}
		if len(runs) != 1 || runs[0].Fence != fence.Token || runs[0].Outcome != state.OutcomeRunning {
			continue
		}
		if st, err := f.db.Stream(ctx, fence.Pipeline, "items"); err != nil {
			f.t.Fatal(err)
		} else if n := checkpointed(f.t, st); n > 0 && n < fleetRecords {
			mid = append(mid, fence)
		}
	}
	return mid
}

// pause stops host h with SIGSTOP at a moment when it has runs underway
// with records left, and returns their claims, once ready says the moment
// is right.
func (f *fleet) pause(h *fleetHost, ready func() bool) []state.Fence {
	var frozen []state.Fence
	f.waitFor("the host was never paused amid a run", 2*time.Minute, func() bool {
		if !ready() {
			return false
		}
		if err := h.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			f.t.Fatal(err)
		}
		waitStopped(f.t, h.cmd.Process.Pid)
		if frozen = f.midRun(h); len(frozen) > 0 {
			return true
		}
		_ = h.cmd.Process.Signal(syscall.SIGCONT)
		return false
	})
	return frozen
}

// takenOver waits until each of fences has a run under a later claim,
// and returns those runs by pipeline.
func (f *fleet) takenOver(what string, fences []state.Fence, limit time.Duration) map[string]state.Run {
	ctx := context.Background()
	next := map[string]state.Run{}
	f.waitFor(what, limit, func() bool {
		for _, fence := range fences {
			if _, ok := next[fence.Pipeline]; ok {
				continue
			}
			runs, err := f.db.Runs(ctx, fence.Pipeline, 0)
			if err != nil {
				f.t.Fatal(err)
			}
			for _, r := range slices.Backward(runs) { // oldest first
				if r.Fence > fence.Token {
					next[fence.Pipeline] = r
					break
				}
			}
		}
		return len(next) == len(fences)
	})
	return next
}

// history is every pipeline's runs, oldest first, by pipeline.
func (f *fleet) history() map[string][]state.Run {
	all := map[string][]state.Run{}
	for i := range f.n {
		runs, err := f.db.Runs(context.Background(), f.name(i), 0)
		if err != nil {
			f.t.Fatal(err)
		}
		slices.Reverse(runs)
		all[f.name(i)] = runs
	}
	return all
}

// checkHistory checks, once every host has stopped, that each pipeline's
// output is complete with duplicates only within the at-least-once bound,
// and that its runs took turns: each under a claim of its own, taken
// after the last, none overlapping the next. It returns the runs that did
// not finish and the duplicate records.
func (f *fleet) checkHistory(all map[string][]state.Run) (unfinished, duplicates int) {
	t := f.t
	for i := range f.n {
		name := f.name(i)
		runs := all[name]
		for j, r := range runs {
			if r.Outcome != state.OutcomeSucceeded {
				unfinished++
			}
			if j == 0 {
				continue
			}
			prev := runs[j-1]
			if r.Fence <= prev.Fence {
				t.Errorf("pipeline %s: run %d has fence %d, not above run %d's %d", name, r.ID, r.Fence, prev.ID, prev.Fence)
			}
			// A stale host's record of its run's end, written after the
			// next run started, was refused.
			if !prev.Ended.IsZero() && prev.Ended.After(r.Started) {
				t.Errorf("pipeline %s: run %d (%s, %s) ended at %s, after run %d (%s) started at %s",
					name, prev.ID, prev.Host, prev.Outcome, prev.Ended, r.ID, r.Host, r.Started)
			}
		}
		if len(runs) == 0 || runs[len(runs)-1].Outcome != state.OutcomeSucceeded {
			t.Errorf("pipeline %s: the last run is not a succeeded one: %+v", name, runs)
		}
		keys, lines := outputKeys(t, f.output(name))
		if len(keys) != fleetRecords {
			t.Errorf("pipeline %s: %d distinct records, want %d", name, len(keys), fleetRecords)
		}
		duplicates += lines - len(keys)
	}
	// At least once: a run that did not finish may have written records
	// past its last stored checkpoint, and the run after it writes them
	// again. Each such run repeats at most its pipeline's records.
	if limit := unfinished * fleetRecords; duplicates > limit {
		t.Errorf("%d duplicate records, above the at-least-once bound of %d (%d runs did not finish)", duplicates, limit, unfinished)
	}
	return unfinished, duplicates
}

// stopAll stops the hosts still running with SIGTERM and waits for them.
func (f *fleet) stopAll() {
	for _, h := range f.hosts {
		if h.cmd.ProcessState == nil {
			_ = h.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, h := range f.hosts {
		if h.cmd.ProcessState == nil {
			_ = h.cmd.Wait()
		}
	}
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
	const takeover = 5 * time.Second
	f := newFleet(t, fleetSettings{pipelines: n, takeover: takeover, delay: 20 * time.Millisecond, recordSize: 100})
	ctx := context.Background()
	hosts := []*fleetHost{f.start(), f.start(), f.start()}

	// Mid-wave: a tenth of the pipelines done, and host 1 running some.
	f.waitFor("a tenth of the pipelines did not complete", 2*time.Minute, func() bool { return f.complete() >= n/10 })
	f.waitFor("host 1 never held a claim", time.Minute, func() bool { return len(f.holds(hosts[0])) > 0 })
	if err := hosts[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = hosts[0].cmd.Wait()

	// Host 2 is paused, past the takeover bound, while one of its runs is
	// underway with records left.
	frozen := f.pause(hosts[1], func() bool { return true })
	// Its claims end with their sessions once it has been silent for the
	// takeover bound; from then on the store refuses its writes, and
	// host 3 takes the pipelines over.
	stoppedAt := time.Now()
	f.waitFor("host 2, paused, did not lose its claims", takeover+time.Minute, func() bool { return len(f.holds(hosts[1])) == 0 })
	if d := time.Since(stoppedAt); d > takeover+3*time.Second {
		t.Logf("host 2's claims ended %s after it was paused, for a takeover bound of %s", d.Round(time.Millisecond), takeover)
	}
	if err := hosts[1].cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	// Its run underway stops as it comes back, its lease run out while it
	// was paused, and what it still tries to store is refused, before the
	// database restarts (which would end the write another way).
	f.waitFor("the paused host did not notice it lost its claims", time.Minute, func() bool {
		log := hosts[1].log.String()
		return strings.Contains(log, "its claim was lost") && strings.Contains(log, "write refused")
	})

	// PostgreSQL restarts once: every session ends.
	if err := f.server.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := f.server.Start(); err != nil {
		t.Fatal(err)
	}

	f.waitFor("not every pipeline's output is complete", 2*time.Minute, func() bool { return f.complete() == n && f.finished() })
	f.stopAll()

	all := f.history()
	unfinished, duplicates := f.checkHistory(all)
	// Fair share: the two hosts left, with the same max_concurrent_runs,
	// shared the pipelines run after the pause; the one that was paused
	// took part again rather than leaving nearly all to the other.
	shares := map[int]int{}
	runsTotal := 0
	for _, runs := range all {
		runsTotal += len(runs)
		for _, r := range runs {
			if r.Outcome != state.OutcomeSucceeded || !r.Started.After(resumed) {
				continue
			}
			for k, h := range hosts[1:] {
				if h.is(r.Host) {
					shares[k+2]++
				}
			}
		}
	}
	if after := shares[2] + shares[3]; after > 20 && (shares[2] < after/4 || shares[3] < after/4) {
		t.Errorf("after the pause host 2 ran %d pipelines and host 3 %d; each should run at least a quarter", shares[2], shares[3])
	}
	// Every pipeline frozen with host 2 went on elsewhere, and a write
	// under the paused host's lost claims is refused still.
	for _, fence := range frozen {
		runs, err := f.db.Runs(ctx, fence.Pipeline, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 1 || runs[0].Fence <= fence.Token {
			t.Errorf("pipeline %s: no run after the paused host's (fence %d): %+v", fence.Pipeline, fence.Token, runs)
		}
		if err := f.db.SaveStream(ctx, fence, "items", state.StreamState{}); !errors.Is(err, state.ErrFenced) {
			t.Errorf("pipeline %s: a write under the paused host's lost claim (fence %d) got %v, want it refused", fence.Pipeline, fence.Token, err)
		}
	}
	paused := hosts[1].log.String()
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
