package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/state"
)

// interruptRecords is how many records the interrupted pipeline has:
// about 700 KB of output, ten times what a pipe holds.
const interruptRecords = 4000

// TestFleetPostgresInterruptedRunsAgainAtOnce stops `replicator run` with
// SIGTERM at each stage of a run: while its plugins start, while its
// source reads, and while its destination writes. Each time the run is
// recorded as interrupted, not failed, and a host started next runs the
// pipeline at once, from the last checkpoint, rather than an interval
// later as after a run that ended.
func TestFleetPostgresInterruptedRunsAgainAtOnce(t *testing.T) {
	for _, stage := range []struct {
		name string
		// prepare sets up the first host's workspace, and returns when it
		// is amid the stage and what to do once it was told to stop.
		prepare func(t *testing.T, w *workspace) (amid func() bool, stopped func())
	}{
		{"plugin start", startStage},
		{"reading", readStage},
		{"writing", writeStage},
	} {
		t.Run(stage.name, func(t *testing.T) {
			_, db := fleetDatabase(t)
			ctx := context.Background()
			first := newWorkspace(t, "")
			amid, stopped := stage.prepare(t, first)
			a, aLog := first.startRun()
			for deadline := time.Now().Add(2 * time.Minute); !amid(); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the first host never got amid the stage:\n%s", aLog.String())
				}
			}
			if err := a.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			stopped()
			if err := a.Wait(); err != nil {
				t.Fatalf("run did not exit cleanly after SIGTERM: %v\n%s", err, aLog.String())
			}
			runs, err := db.Runs(ctx, "p", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != 1 || runs[0].Outcome != state.OutcomeInterrupted || runs[0].Error != "" {
				t.Fatalf("runs after the stop: %+v; want one interrupted\n%s", runs, aLog.String())
			}

			// The next host runs the pipeline at once, an hour before its
			// next interval.
			next := newWorkspace(t, onePipelineConfig(interruptRecords, 0, "out.jsonl", true))
			next.mustRun("init")
			b, bLog := next.startRun("-log-level", "debug")
			for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
				log := bLog.String()
				if strings.Contains(log, "less than an interval ago") {
					t.Fatalf("the next host put the interrupted pipeline off by an interval:\n%s", log)
				}
				if strings.Contains(log, "run finished: pipeline=p") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the next host did not run the pipeline:\n%s", log)
				}
			}
			stop(t, b, bLog)
			runs, err = db.Runs(ctx, "p", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != 2 || runs[0].Outcome != state.OutcomeSucceeded || runs[1].Outcome != state.OutcomeInterrupted {
				t.Fatalf("runs %+v; want the interrupted run and the next host's succeeded one", runs)
			}
		})
	}
}

// startStage makes the first host's source a plugin that never finishes
// starting: it is amid the start once the plugin was launched.
func startStage(t *testing.T, w *workspace) (func() bool, func()) {
	w.write("replicator.hcl", onePipelineConfig(interruptRecords, 0, "out.jsonl", true))
	w.mustRun("init")
	// A stand-in that says it was launched and never answers, pinned in
	// the lock file in the generator's place.
	launched := w.path("launched")
	w.write("standin.go", fmt.Sprintf(`package main

import (
	"os"
	"time"
)

func main() {
	_ = os.WriteFile(%q, nil, 0o644)
	time.Sleep(time.Hour)
}
`, launched))
	plugin := w.path("plugins/replicator-source-generator")
	real, err := os.ReadFile(plugin)
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", plugin, "standin.go")
	build.Dir = w.dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the stand-in: %v\n%s", err, out)
	}
	standin, err := os.ReadFile(plugin)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := os.ReadFile(w.path(".replicator.lock.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	was, is := sha256.Sum256(real), sha256.Sum256(standin)
	if !strings.Contains(string(lock), hex.EncodeToString(was[:])) {
		t.Fatalf("the lock file does not pin the generator:\n%s", lock)
	}
	w.write(".replicator.lock.hcl", strings.ReplaceAll(string(lock), hex.EncodeToString(was[:]), hex.EncodeToString(is[:])))
	return func() bool {
		_, err := os.Stat(launched)
		return err == nil
	}, func() {}
}

// readStage has the first host's source pause after each checkpoint: it
// is amid its reading once the first checkpoint is stored.
func readStage(t *testing.T, w *workspace) (func() bool, func()) {
	w.write("replicator.hcl", onePipelineConfig(interruptRecords, 500*time.Millisecond, "out.jsonl", true))
	w.mustRun("init")
	return func() bool {
		keys, _ := outputKeys(t, w.path("out.jsonl"))
		return len(keys) >= 20
	}, func() {}
}

// writeStage has the first host's destination write into a pipe that the
// test reads only a little of: the destination is amid its writing, held
// there, once that much came through. Once the host is told to stop, the
// test reads the rest, so that the destination can finish.
func writeStage(t *testing.T, w *workspace) (func() bool, func()) {
	w.write("replicator.hcl", onePipelineConfig(interruptRecords, 0, "out.pipe", false))
	w.mustRun("init")
	if err := syscall.Mkfifo(w.path("out.pipe"), 0o600); err != nil {
		t.Fatal(err)
	}
	opened := make(chan *os.File, 1)
	go func() {
		// Opening blocks until the destination opens the pipe.
		f, err := os.Open(w.path("out.pipe"))
		if err != nil {
			t.Error(err)
		}
		opened <- f
	}()
	var pipe *os.File
	t.Cleanup(func() {
		if pipe != nil {
			pipe.Close()
		}
	})
	const through = 4096 // bytes: a few dozen records
	return func() bool {
			if pipe == nil {
				select {
				case pipe = <-opened:
				default:
					return false
				}
			}
			buf := make([]byte, through)
			_, err := io.ReadFull(pipe, buf)
			return err == nil
		}, func() {
			go func() { _, _ = io.Copy(io.Discard, pipe) }()
		}
}

// TestFleetPostgresRunWaitsForTheDatabase starts `replicator run` while
// its database is down: the host does not exit, says it waits, and
// answers /readyz with 503; once PostgreSQL is started, it is ready and
// runs its pipeline.
func TestFleetPostgresRunWaitsForTheDatabase(t *testing.T) {
	server, _ := fleetDatabase(t)
	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	w := newWorkspace(t, onePipelineConfig(100, 0, "out.jsonl", true))
	w.mustRun("init")
	cmd, log := w.startRun("-listen", "127.0.0.1:0")
	waitLog(t, log, "the state database cannot be reached; waiting for it", 1)
	waitLog(t, log, "health checks are served", 1)
	url := servedAt.FindStringSubmatch(log.String())[1]
	readyz := func() (int, string) {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	// A caller without the token is not told why; the log says.
	if code, body := readyz(); code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "not ready") {
		t.Fatalf("/readyz while the database is down: %d %s", code, body)
	}
	waitLog(t, log, "not ready: error=\"waiting for the state database", 1)
	if cmd.ProcessState != nil {
		t.Fatalf("the host exited:\n%s", log.String())
	}
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	waitLog(t, log, "run finished: pipeline=p", 1)
	if code, body := readyz(); code != http.StatusOK {
		t.Fatalf("/readyz once the database is up: %d %s", code, body)
	}
	stop(t, cmd, log)
}
