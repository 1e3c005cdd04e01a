package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/internal/logbuf"
)

func generatorConfig(count, checkpointEvery int, extra string) string {
	return fmt.Sprintf(`
source "generator" "gen" {
  count            = %d
  record_size      = 300
  checkpoint_every = %d
  %s
}

destination "jsonl" "out" {
  path = "out.jsonl"
}

pipeline "items" {
  source      = source.generator.gen
  destination = destination.jsonl.out
  streams     = ["items"]
  interval    = "1h"
}
`, count, checkpointEvery, extra)
}

// outputKeys reads a jsonl destination's output and counts how often each
// key was written, and the record lines. It takes the key from the start
// of each line, {"stream":…,"key":"…", as the destination writes it,
// without parsing the records' data: under the race detector a JSON parse
// of 100,000 records takes a core 20 s. A last line without its line end
// was cut short by a kill and is skipped; any other line that is not a
// record or a full_refresh_complete fails the test.
func outputKeys(t *testing.T, path string) (map[string]int, int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]int{}, 0
	}
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]int{}
	lines := 0
	for n := 1; ; n++ {
		end := bytes.IndexByte(b, '\n')
		if end < 0 {
			break
		}
		line := b[:end]
		b = b[end+1:]
		if key, ok := lineKey(line); ok {
			keys[key]++
			lines++
		} else if !bytes.Contains(line, []byte(`,"full_refresh_complete":`)) {
			t.Fatalf("%s line %d is neither a record nor a full_refresh_complete: %.200s", filepath.Base(path), n, line)
		}
	}
	return keys, lines
}

// keyField is what precedes a record line's key.
var keyField = []byte(`,"key":"`)

// lineKey returns the key of a record line of the jsonl destination.
func lineKey(line []byte) (string, bool) {
	at := bytes.Index(line, keyField)
	if at < 0 {
		return "", false
	}
	quoted := line[at+len(keyField)-1:]
	for i := 1; i < len(quoted); i++ {
		switch quoted[i] {
		case '\\':
			i++
		case '"':
			var key string
			if err := json.Unmarshal(quoted[:i+1], &key); err != nil {
				return "", false
			}
			return key, true
		}
	}
	return "", false
}

// waitLines waits until the file at path holds n lines, written by the
// command whose output is log. It counts line ends up to the nth rather
// than parsing records: a parse of a file the command still appends to
// follows it to its end, and under load that took as long as the run.
func waitLines(t *testing.T, path string, n int, log *logbuf.Buffer) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ok, err := holdsLines(path, n)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not reach %d lines within two minutes:\n%s", filepath.Base(path), n, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// holdsLines reports whether the file at path holds n lines, reading no
// further than the nth.
func holdsLines(path string, n int) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for count := 0; ; {
		k, err := f.Read(buf)
		if count += bytes.Count(buf[:k], []byte{'\n'}); count >= n {
			return true, nil
		}
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}

func TestSyncGeneratorToJSONL(t *testing.T) {
	w := newWorkspace(t, generatorConfig(5000, 1000, ""))
	w.mustRun("validate")
	init := w.mustRun("init")
	if !strings.Contains(init.stdout, "generator") || !strings.Contains(init.stdout, "jsonl") {
		t.Fatalf("init output lacks the plugins:\n%s", init.stdout)
	}
	if _, err := os.Stat(w.path(".replicator.lock.hcl")); err != nil {
		t.Fatalf("init wrote no lock file: %v", err)
	}
	r := w.mustRun("sync", "items")
	if !strings.Contains(r.stdout, "Pipeline items synced.") {
		t.Fatalf("sync output: %s", r.stdout)
	}
	keys, lines := outputKeys(t, w.path("out.jsonl"))
	if len(keys) != 5000 || lines != 5000 {
		t.Fatalf("output has %d keys in %d lines, want 5000 each", len(keys), lines)
	}
	// The plugins' log lines come through the host's log, named after the pipeline.
	if !strings.Contains(r.stderr, "items") || !strings.Contains(r.stderr, "starting full refresh") {
		t.Errorf("plugin log lines are missing from the host's log:\n%s", r.stderr)
	}

	// A second sync resumes at the end: nothing new is written.
	w.mustRun("sync", "items")
	if _, lines := outputKeys(t, w.path("out.jsonl")); lines != 5000 {
		t.Fatalf("second sync wrote %d more lines, want none", lines-5000)
	}
	st := w.mustRun("status")
	if !strings.Contains(st.stdout, "succeeded") || !strings.Contains(st.stdout, "5000") || !strings.Contains(st.stdout, "resumed items") {
		t.Fatalf("status output:\n%s", st.stdout)
	}
	if info, err := os.Stat(w.path("replicator.db")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, mode %v", err, info.Mode().Perm())
	}
}

// TestKilledHostResumesFromCheckpoint kills the host with SIGKILL in the
// middle of a large sync; the next sync starts from the last persisted
// checkpoint and the output ends up with every record at least once.
func TestKilledHostResumesFromCheckpoint(t *testing.T) {
	const total, every = 200000, 5000
	w := newWorkspace(t, generatorConfig(total, every, ""))
	w.mustRun("init")

	cmd := w.command(t.Context(), "sync", "items")
	log := &logbuf.Buffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once a good part, but not all, of the records are out.
	waitLines(t, w.path("out.jsonl"), total/4, log)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	_, before := outputKeys(t, w.path("out.jsonl"))
	if before >= total {
		t.Skipf("the sync finished (%d lines) before it could be killed", before)
	}

	r := w.mustRun("sync", "items")
	keys, lines := outputKeys(t, w.path("out.jsonl"))
	for i := 0; i < total; i++ {
		if keys[strconv.Itoa(i)] == 0 {
			t.Fatalf("record %d is missing after the second sync", i)
		}
	}
	// The second run started at a checkpoint: it rewrote at most the
	// records since the last persisted one, not everything.
	rewritten := lines - total
	if rewritten >= before {
		t.Fatalf("second sync rewrote %d records of the %d written before the kill: it started from zero", rewritten, before)
	}
	if !strings.Contains(r.stderr, "resuming") {
		t.Errorf("second sync did not log a resume:\n%s", r.stderr)
	}
	st := w.mustRun("status")
	if !strings.Contains(st.stdout, "resumed items") {
		t.Errorf("status does not show the resumed run:\n%s", st.stdout)
	}
}

func TestPluginCrashFailsTheRun(t *testing.T) {
	w := newWorkspace(t, generatorConfig(100000, 1000, "fail_after = 25000"))
	w.mustRun("init")
	start := time.Now()
	r := w.run("sync", "items")
	if r.code == 0 {
		t.Fatalf("sync succeeded although the plugin crashed:\n%s", r.stderr)
	}
	for _, want := range []string{"replicator-source-generator exited", "exit status 3", "last log lines"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error lacks %q:\n%s", want, r.stderr)
		}
	}
	if time.Since(start) > time.Minute {
		t.Errorf("a crashed plugin took %s to fail the run", time.Since(start))
	}
	st := w.mustRun("status")
	if !strings.Contains(st.stdout, "failed") {
		t.Errorf("status does not show the failed run:\n%s", st.stdout)
	}
	// What was acknowledged before the crash is kept: the next run resumes.
	w.write("replicator.hcl", generatorConfig(100000, 1000, ""))
	r = w.mustRun("sync", "items")
	if !strings.Contains(r.stderr, "resuming") {
		t.Errorf("the run after a crash did not resume:\n%s", r.stderr)
	}
}

func TestChangedPluginIsRefused(t *testing.T) {
	w := newWorkspace(t, generatorConfig(10, 5, ""))
	w.mustRun("init")
	// Replace the generator with another binary, as a tampered or
	// updated plugin would be.
	copyFile(t, w.path("plugins/replicator-destination-jsonl"), w.path("plugins/replicator-source-generator"))
	r := w.run("sync", "items")
	if r.code == 0 {
		t.Fatal("sync ran a plugin whose checksum changed")
	}
	for _, want := range []string{"replicator-source-generator", "replicator init -upgrade"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error lacks %q:\n%s", want, r.stderr)
		}
	}
	r = w.run("sync", "items")
	if r.code == 0 {
		t.Fatal("a second sync ran the changed plugin")
	}
	w.mustRun("plugins")
}

func TestMissingLockEntryIsExplained(t *testing.T) {
	w := newWorkspace(t, generatorConfig(10, 5, ""))
	r := w.run("sync", "items")
	if r.code == 0 || !strings.Contains(r.stderr, "replicator init") {
		t.Fatalf("sync without a lock file: exit %d\n%s", r.code, r.stderr)
	}
}

func TestValidateShowsPositionedDiagnostics(t *testing.T) {
	cases := []struct {
		name, hcl string
		want      []string
	}{
		{"unknown attribute in a connector block", generatorConfig(10, 5, "colour = \"red\""), []string{"replicator.hcl line 6", "colour"}},
		{"wrong type", strings.Replace(generatorConfig(10, 5, ""), "count            = 10", "count = \"many\"", 1), []string{"replicator.hcl line 3", "count"}},
		{"undefined source", strings.Replace(generatorConfig(10, 5, ""), "source.generator.gen\n", "source.generator.nope\n", 1), []string{"replicator.hcl line 14", "nope"}},
		{"bad interval", strings.Replace(generatorConfig(10, 5, ""), `"1h"`, `"soon"`, 1), []string{"replicator.hcl line 17", "interval"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorkspace(t, c.hcl)
			r := w.run("validate")
			if r.code == 0 {
				t.Fatalf("validate accepted the file:\n%s", c.hcl)
			}
			for _, want := range c.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("diagnostic lacks %q:\n%s", want, r.stderr)
				}
			}
		})
	}
}

// A plugin binary copied under another type's name is refused by validate,
// and by init, with its file, its Spec name and the block type named.
func TestValidateRefusesAPluginNamedForAnotherType(t *testing.T) {
	w := newWorkspace(t, strings.ReplaceAll(generatorConfig(10, 5, ""), "generator", "contacts"))
	copyFile(t, filepath.Join(binDir, "replicator-source-generator"), w.path("plugins/replicator-source-contacts"))
	for _, cmd := range []string{"validate", "init"} {
		r := w.run(cmd)
		if r.code == 0 {
			t.Fatalf("%s accepted a generator plugin named replicator-source-contacts:\n%s", cmd, r.stdout)
		}
		for _, want := range []string{"replicator-source-contacts", `Spec name "generator"`, `source "contacts"`} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%s: the error lacks %q:\n%s", cmd, want, r.stderr)
			}
		}
	}
}

// TestRunStopsGracefullyOnSIGTERM starts the scheduler, stops it with
// SIGTERM mid-run, and expects a clean exit with the progress kept, and
// the run logged and recorded as interrupted, not as failed.
func TestRunStopsGracefullyOnSIGTERM(t *testing.T) {
	w := newWorkspace(t, generatorConfig(100000, 1000, "delay_ms = 100"))
	w.mustRun("init")
	cmd, log := w.startRun()
	waitLines(t, w.path("out.jsonl"), 3000, log)
	stop(t, cmd, log)
	if finished, err := holdsLines(w.path("out.jsonl"), 100000); err != nil || finished {
		t.Fatalf("the run finished before it was stopped (%v):\n%s", err, log.String())
	}
	out := log.String()
	if !strings.Contains(out, "run interrupted") || !strings.Contains(out, "pipeline=items") {
		t.Errorf("the log does not report the run as interrupted:\n%s", out)
	}
	if strings.Contains(out, "[ERROR]") {
		t.Errorf("the shutdown is logged as an error:\n%s", out)
	}
	st := w.mustRun("status")
	if !strings.Contains(st.stdout, "interrupted") {
		t.Fatalf("status does not show the interrupted run:\n%s", st.stdout)
	}
	// Everything written before the stop was acknowledged and persisted:
	// the next sync rewrites nothing that came before the last checkpoint.
	w.write("replicator.hcl", generatorConfig(100000, 1000, ""))
	w.mustRun("sync", "items")
	keys, lines := outputKeys(t, w.path("out.jsonl"))
	if len(keys) != 100000 {
		t.Fatalf("after resuming, %d distinct records, want 100000", len(keys))
	}
	if dup := lines - 100000; dup >= 1000 {
		t.Fatalf("the resumed sync rewrote %d records; a graceful stop keeps all but the last partial checkpoint interval", dup)
	}
}

// TestStatusWhileRunIsIdle reads the run history while `replicator run`
// waits for the next interval: the state file is free between runs.
func TestStatusWhileRunIsIdle(t *testing.T) {
	w := newWorkspace(t, generatorConfig(100, 50, ""))
	w.mustRun("init")
	_, log := w.startRun()
	// The run has closed the state file when it logs its end; the next
	// is an hour away.
	waitLog(t, log, "run finished: pipeline=items", 1)
	r := w.run("status")
	if r.code != 0 || !strings.Contains(r.stdout, "succeeded") {
		t.Fatalf("status did not show the finished run while run waited:\n%s\n%s\nrun's log:\n%s", r.stdout, r.stderr, log.String())
	}
}
