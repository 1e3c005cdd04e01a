package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/internal/logbuf"
)

// storedProgress is the debug line of a run storing its counts.
var storedProgress = regexp.MustCompile(`stored the run's progress: pipeline=\S+ run=\d+ read=(\d+) written=(\d+)`)

// TestKilledHostsRunKeepsItsCounts kills `replicator sync` with SIGKILL
// once its run has stored counts with records written: `status` then shows
// the run crashed with those counts or more, never above what the
// destination really holds.
func TestKilledHostsRunKeepsItsCounts(t *testing.T) {
	// 200 checkpoints, each followed by a 50 ms pause: the run takes 10 s
	// or more, five times the interval at which it stores its counts.
	const total = 200000
	w := newWorkspace(t, generatorConfig(total, total/200, "delay_ms = 50"))
	w.mustRun("init")

	cmd := w.command(t.Context(), "sync", "-log-level", "debug", "items")
	log := &logbuf.Buffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	var stored int64
	for stored == 0 {
		select {
		case <-exited:
			t.Fatalf("the sync ended without storing its run's counts with records written:\n%s", tail(log.String()))
		case <-time.After(20 * time.Millisecond):
		}
		for _, m := range storedProgress.FindAllStringSubmatch(log.String(), -1) {
			stored, _ = strconv.ParseInt(m[2], 10, 64)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	_, lines := outputKeys(t, w.path("out.jsonl"))
	if lines >= total {
		t.Fatalf("the sync finished (%d lines) before it was killed", lines)
	}

	st := w.mustRun("status")
	var row []string
	for _, line := range strings.Split(st.stdout, "\n") {
		if f := strings.Fields(line); len(f) > 8 && f[0] == "items" {
			row = f
		}
	}
	// PIPELINE RUN HOST STARTED (date, time) TOOK READ WRITTEN OUTCOME
	if row == nil || row[8] != "crashed" {
		t.Fatalf("status shows no crashed run:\n%s", st.stdout)
	}
	read, _ := strconv.ParseInt(row[6], 10, 64)
	written, _ := strconv.ParseInt(row[7], 10, 64)
	if written < stored || read < written || read > total {
		t.Errorf("crashed run: read %d, written %d; it had stored written=%d, of %d records", read, written, stored, total)
	}
	if written > int64(lines) {
		t.Errorf("crashed run: written %d, but the output holds %d records", written, lines)
	}
}
