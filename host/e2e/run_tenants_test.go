package e2e

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

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

// TestRunRefusesAPluginSwappedBetweenRuns changes a plugin binary while
// `replicator run` keeps going: rewritten in place (same size, mtime put
// back) and renamed over, each is refused at the next run; put back, it
// runs again. The host hashes a binary once per change, never trusting a
// hash it took before the change.
func TestRunRefusesAPluginSwappedBetweenRuns(t *testing.T) {
	// No plugin kept running between runs: Linux refuses to rewrite the
	// binary of a running process in place (ETXTBSY).
	w := newWorkspace(t, tenantConfig("items", 100, "1s")+"host {\n  warm_plugins = 0\n}\n")
	w.mustRun("init")
	plugin := w.path("plugins/replicator-source-generator")
	original, err := os.ReadFile(plugin)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(plugin)
	if err != nil {
		t.Fatal(err)
	}
	cmd, log := w.startRun()
	waitLog(t, log, "run finished", 2) // the second with the hash reused
	const refused = "but the lock file records"

	rewrite := func(content []byte) {
		f := openToWrite(t, plugin, os.O_WRONLY)
		if _, err := f.WriteAt(content, 0); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := os.Chtimes(plugin, fi.ModTime(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
	changed := append([]byte(nil), original...)
	changed[len(changed)-1] ^= 0xff
	rewrite(changed)
	waitLog(t, log, refused, 1)

	rewrite(original)
	finished := strings.Count(log.String(), "run finished")
	waitLog(t, log, "run finished", finished+1)

	other, err := os.ReadFile(w.path("plugins/replicator-destination-jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	// Refusals of the changed binary may have gone on until it was put
	// back: count from here.
	refusals := strings.Count(log.String(), refused)
	w.write("swap", string(other))
	if err := os.Chmod(w.path("swap"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(w.path("swap"), plugin); err != nil {
		t.Fatal(err)
	}
	waitLog(t, log, refused, refusals+1)
	stop(t, cmd, log)
}

// openToWrite opens a plugin binary for writing between two runs: while a
// run executes it, the system refuses (text file busy).
func openToWrite(t *testing.T, path string, flag int) *os.File {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		f, err := os.OpenFile(path, flag, 0)
		if err == nil {
			return f
		}
		if !errors.Is(err, syscall.ETXTBSY) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
