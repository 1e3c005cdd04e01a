package e2e

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// logBuffer collects a running process's log for reading while it runs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startRun starts `replicator run` with args and stops it with SIGTERM at
// the end of the test, unless the test stopped it.
func (w *workspace) startRun(args ...string) (*exec.Cmd, *logBuffer) {
	w.t.Helper()
	cmd := w.command(w.t.Context(), append([]string{"run"}, args...)...)
	log := &logBuffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
	})
	return cmd, log
}

// waitLog waits until the log of a run holds want n times.
func waitLog(t *testing.T, log *logBuffer, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for strings.Count(log.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the log never held %q %d times:\n%s", want, n, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends `replicator run` with SIGTERM and expects a clean exit.
func stop(t *testing.T, cmd *exec.Cmd, log *logBuffer) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run did not exit cleanly after SIGTERM: %v\n%s", err, log.String())
	}
}

func tenantConfig(name string, count int, interval string) string {
	return fmt.Sprintf(`
source "generator" %[1]q {
  count       = %[2]d
  record_size = 100
}
destination "jsonl" %[1]q {
  path = "out-%[1]s.jsonl"
}
pipeline %[1]q {
  source      = source.generator.%[1]s
  destination = destination.jsonl.%[1]s
  streams     = ["items"]
  interval    = %[3]q
}
`, name, count, interval)
}

func TestRunLogsOneLinePerRunAtInfo(t *testing.T) {
	w := newWorkspace(t, tenantConfig("alpha", 2000, "2s")+tenantConfig("beta", 2000, "2s"))
	w.mustRun("init")
	cmd, log := w.startRun()
	waitLog(t, log, "run finished", 4)
	stop(t, cmd, log)
	var info []string
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, "[INFO]") {
			info = append(info, line)
		}
	}
	runs, firsts := 0, 0
	for _, line := range info {
		switch {
		case strings.Contains(line, "run finished"):
			runs++
			if strings.Contains(line, "read=2000 written=2000") {
				firsts++ // later runs have nothing new to read
			}
			for _, want := range []string{"outcome=succeeded", "read=", "written=", "took="} {
				if !strings.Contains(line, want) {
					t.Errorf("run line lacks %s: %s", want, line)
				}
			}
		case strings.Contains(line, "running pipelines"), strings.Contains(line, "stopped;"),
			strings.Contains(line, "run interrupted"):
		default:
			t.Errorf("an info line that is not about a whole run: %s", line)
		}
	}
	if runs < 4 || firsts != 2 {
		t.Fatalf("%d run lines, %d of them first runs, want 4 and 2:\n%s", runs, firsts, log.String())
	}
}

func TestRunReportsShutdownAsInterrupted(t *testing.T) {
	w := newWorkspace(t, generatorConfig(100000, 1000, "delay_ms = 100"))
	w.mustRun("init")
	cmd, log := w.startRun()
	deadline := time.Now().Add(time.Minute)
	for {
		if _, lines := outputKeys(t, w.path("out.jsonl")); lines >= 2000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run wrote too little within a minute:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop(t, cmd, log)
	out := log.String()
	if !strings.Contains(out, "run interrupted") || !strings.Contains(out, "pipeline=items") {
		t.Errorf("the log does not report the run as interrupted:\n%s", out)
	}
	if strings.Contains(out, "[ERROR]") {
		t.Errorf("the shutdown is logged as an error:\n%s", out)
	}
}
