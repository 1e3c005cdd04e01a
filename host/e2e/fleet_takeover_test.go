package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/state"
)

// onePipelineConfig is pipeline p on an hourly interval in the database
// named by $FLEET_DATABASE_URL, with a takeover bound of 2 s: count
// generator records, a pause after each checkpoint of 20, into the jsonl
// file at path.
func onePipelineConfig(count int, pause time.Duration, path string, fsync bool) string {
	return fmt.Sprintf(`state {
  postgres       = env("FLEET_DATABASE_URL")
  encryption_key = %q
  takeover_after = "2s"
}

source "generator" "gen" {
  count            = %d
  record_size      = 100
  checkpoint_every = 20
  delay_ms         = %d
}

destination "jsonl" "out" {
  path  = %q
  fsync = %t
}

pipeline "p" {
  source      = source.generator.gen
  destination = destination.jsonl.out
  streams     = ["items"]
  interval    = "1h"
}
`, fleetKey, count, pause.Milliseconds(), path, fsync)
}

// TestFleetPostgresTakeoverWithinTheBound pauses the host running a
// pipeline on an hourly interval: a second host, whose first try found
// the pipeline held, takes it over once the paused host's claim is gone
// (2 s here) rather than an hour later, and finishes it from the last
// checkpoint. A third host joining then finds in the history that the
// pipeline ran less than an interval ago and does not run it again.
func TestFleetPostgresTakeoverWithinTheBound(t *testing.T) {
	const count = 400
	_, db := fleetDatabase(t)
	ctx := context.Background()
	// The first host's source pauses for an hour after its first
	// checkpoint: it holds the pipeline mid-run for as long as the test
	// needs. The other hosts run the same pipeline without the pause.
	w := newWorkspace(t, onePipelineConfig(count, time.Hour, "out.jsonl", true))
	w.write("others.hcl", onePipelineConfig(count, 0, "out.jsonl", true))
	w.mustRun("init")

	a, aLog := w.startRun("-log-level", "debug")
	defer func() { _ = a.Process.Kill() }()
	// Once its first checkpoint is stored, the first host holds the
	// claim and pauses: that checkpoint is what b must resume from.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		st, err := db.Stream(ctx, "p", "items")
		if err != nil {
			t.Fatal(err)
		}
		if st.State != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first host stored no checkpoint within two minutes:\n%s", aLog.String())
		}
	}
	// The second host's first try finds the pipeline held by the first.
	b, bLog := w.startRun("-log-level", "debug", "-config", "others.hcl")
	waitLog(t, bLog, "pipeline runs on another host now", 1)
	if err := a.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// Without a retry within the bound, b would try again in an hour.
	waitLog(t, bLog, "run finished: pipeline=p", 1)
	keys, _ := outputKeys(t, w.path("out.jsonl"))
	if len(keys) != count {
		t.Fatalf("%d distinct records after the takeover, want %d\n%s", len(keys), count, bLog.String())
	}
	_ = a.Process.Kill()
	_ = a.Wait()

	c, cLog := w.startRun("-log-level", "debug", "-config", "others.hcl")
	waitLog(t, cLog, "pipeline ran on another host less than an interval ago", 1)
	stop(t, c, cLog)
	stop(t, b, bLog)
	if strings.Contains(cLog.String(), "run finished") {
		t.Fatalf("the joining host ran the pipeline again:\n%s", cLog.String())
	}

	runs, err := db.Runs(ctx, "p", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Newest first: b's run from a's checkpoint, then a's, marked crashed.
	if len(runs) != 2 || runs[0].Outcome != state.OutcomeSucceeded || runs[1].Outcome != state.OutcomeCrashed {
		t.Fatalf("runs %+v; want a's crashed run and b's succeeded one", runs)
	}
	if len(runs[0].Resumed) == 0 {
		t.Errorf("b's run started over instead of resuming from a's checkpoint: %+v", runs[0])
	}
}
