package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildRace builds the host and the generator and jsonl plugins with the
// race detector into a fresh folder, and returns it.
func buildRace(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, pkg := range map[string]string{
		"replicator":                   "./host/cmd/replicator",
		"replicator-source-generator":  "./connector/generator/cmd/replicator-source-generator",
		"replicator-destination-jsonl": "./connector/jsonl/cmd/replicator-destination-jsonl",
	} {
		cmd := exec.Command("go", "build", "-race", "-o", filepath.Join(dir, name), pkg)
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s with -race: %v\n%s", name, err, out)
		}
	}
	return dir
}

// manyPipelinesConfig declares n generator-to-jsonl pipelines, p1 to pn,
// each with its own source, destination and output file.
func manyPipelinesConfig(n, count int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `
source "generator" "g%[1]d" {
  count            = %[2]d
  record_size      = 200
  checkpoint_every = 100
}

destination "jsonl" "o%[1]d" {
  path = "out%[1]d.jsonl"
}

pipeline "p%[1]d" {
  source      = source.generator.g%[1]d
  destination = destination.jsonl.o%[1]d
  streams     = ["items"]
  interval    = "1h"
}
`, i, count)
	}
	return b.String()
}

// TestRunPipelinesUnderRaceDetector runs several pipelines at once under
// `replicator run`, host and plugins built with the race detector: every
// pipeline completes and the detector reports nothing.
func TestRunPipelinesUnderRaceDetector(t *testing.T) {
	const pipelines, count = 3, 1000
	raceBin := buildRace(t)
	w := newWorkspaceFrom(t, raceBin, manyPipelinesConfig(pipelines, count))
	w.mustRun("init")

	cmd, log := w.startRun()

	// The host logs each run's end; `replicator status` polled meanwhile
	// would start a race-built process every time and take the state file
	// the runs need.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		out := log.String()
		if strings.Contains(out, "DATA RACE") {
			t.Fatalf("the race detector reported a race:\n%s", out)
		}
		done := 0
		for i := 1; i <= pipelines; i++ {
			if strings.Contains(out, fmt.Sprintf("run finished: pipeline=p%d run=1 outcome=succeeded", i)) {
				done++
			}
		}
		if done == pipelines {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pipelines finished within three minutes\nrun's output:\n%s", done, pipelines, out)
		}
		time.Sleep(200 * time.Millisecond)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	out := log.String()
	if strings.Contains(out, "DATA RACE") {
		t.Fatalf("the race detector reported a race:\n%s", out)
	}
	if err != nil {
		t.Fatalf("run did not exit cleanly after SIGTERM: %v\n%s", err, out)
	}
	st := w.mustRun("status")
	for i := 1; i <= pipelines; i++ {
		if !succeeded(st.stdout, fmt.Sprintf("p%d", i)) {
			t.Errorf("status does not show a succeeded run of p%d:\n%s", i, st.stdout)
		}
		keys, lines := outputKeys(t, w.path(fmt.Sprintf("out%d.jsonl", i)))
		if len(keys) != count || lines != count {
			t.Errorf("pipeline p%d wrote %d keys in %d lines, want %d each", i, len(keys), lines, count)
		}
	}
}

// succeeded reports whether `replicator status` output shows a succeeded
// run of pipeline.
func succeeded(status, pipeline string) bool {
	for _, line := range strings.Split(status, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == pipeline && strings.Contains(line, "succeeded") {
			return true
		}
	}
	return false
}
