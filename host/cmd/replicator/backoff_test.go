package main

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/host/schedule"
	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/host/state/postgres"
	"github.com/replicatorhq/replicator/internal/logbuf"
)

// flakySetup adds pipeline "flaky" to the console fixture: every second,
// into a folder that does not exist yet, so that its destination's check
// fails until the test makes the folder; failures back off up to 30 s.
var flakySetup = consoleSetup{
	host: tokenHost + `  failure_backoff_max = "30s"` + "\n",
	extra: `
destination "jsonl" "broken" {
  path = "missing/flaky.jsonl"
}
pipeline "flaky" {
  source      = source.generator.g
  destination = destination.jsonl.broken
  streams     = ["items"]
  interval    = "1s"
}
`,
}

// flakyFailures counts the failed runs of "flaky" in the log.
func flakyFailures(log string) int {
	return len(regexp.MustCompile(`run failed[^\n]*pipeline=flaky`).FindAllString(log, -1))
}

// TestFailingPipelineBacksOff runs `replicator run` with a pipeline whose
// runs fail: they space out, doubling from its interval to
// failure_backoff_max, which the console, /metrics and the history show;
// Sync now runs it at once and starts the count again; a change to its
// configuration ends the wait, and the success that follows the backoff.
func TestFailingPipelineBacksOff(t *testing.T) {
	f := newConsoleFixtureWith(t, flakySetup)
	// Each wait below ends with a failure whose backoff is 8 s or more, time
	// enough for what the test does next to come before its end.
	waitFor(t, f.log, "four failures in a row", func(s string) bool {
		return strings.Contains(s, "failures_in_a_row=4")
	})
	f.login()
	_, _, page := f.get("/?q=flaky")
	if !regexp.MustCompile(`backing off until [^<]+, after [45] failures`).MatchString(page) {
		t.Errorf("the pipelines page does not show the backoff:\n%s", page)
	}
	_, _, metrics := f.get("/metrics", "Authorization", "Bearer "+consoleToken)
	if until := gauge(t, metrics, "replicator_pipeline_backoff_until_timestamp_seconds", "flaky"); until <= float64(time.Now().Add(-time.Second).Unix()) {
		t.Errorf("backoff gauge %v, want a time ahead", until)
	}

	// Sync now runs it at once, and its failure counts as the first.
	failures := flakyFailures(f.log.String())
	code, _, body := f.post("/pipelines/flaky/sync", url.Values{"csrf": {f.csrf()}})
	if code >= 400 {
		t.Fatalf("Sync now: %d\n%s", code, body)
	}
	waitFor(t, f.log, "the run asked for to fail", func(s string) bool { return flakyFailures(s) > failures })
	waitFor(t, f.log, "the backoff again", func(s string) bool {
		return strings.Count(s, "failures_in_a_row=4") == 2
	})

	// Fixed in the configuration: the reload ends the wait, and the run
	// succeeds.
	cfg := filepath.Join(f.dir, "replicator.hcl")
	hcl, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(hcl), "missing/flaky.jsonl", "flaky.jsonl", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, f.log, "a run of flaky to succeed", func(s string) bool {
		return regexp.MustCompile(`run finished[^\n]*pipeline=flaky`).MatchString(s)
	})
	_, _, metrics = f.get("/metrics", "Authorization", "Bearer "+consoleToken)
	if until := gauge(t, metrics, "replicator_pipeline_backoff_until_timestamp_seconds", "flaky"); until != 0 {
		t.Errorf("backoff gauge after a success: %v, want 0", until)
	}
	f.stop()

	s, err := state.OpenFile(filepath.Join(f.dir, config.DefaultStateFile), state.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runs, err := s.Runs(context.Background(), "flaky", 0)
	if err != nil {
		t.Fatal(err)
	}
	checkBackoffHistory(t, runs)
}

// checkBackoffHistory checks the history of flaky, newest first: failures
// counted 1, 2, 3 and on, each run starting no earlier than the backoff
// of the one before; then one asked for, counted 1 again though it
// started before the backoff ended; then failures counted 2, 3, 4; then,
// the configuration changed, a success before that backoff ended.
func checkBackoffHistory(t *testing.T, runs []state.Run) {
	t.Helper()
	if len(runs) < 2 || runs[0].Outcome != state.OutcomeSucceeded || runs[1].Outcome != state.OutcomeFailed ||
		runs[1].Backoff.Failures < 4 || !runs[0].Started.Before(runs[1].Backoff.Until) {
		t.Errorf("the configuration changed, its first run did not come before the backoff ended: %s", describeRuns(runs))
	}
	asked := -1
	for i := len(runs) - 1; i >= 0; i-- {
		if runs[i].Backoff.Asked {
			asked = i
			break
		}
	}
	if asked < 1 || runs[asked].Outcome != state.OutcomeFailed || runs[asked].Backoff.Failures != 1 || !runs[asked].Backoff.Until.IsZero() {
		t.Fatalf("no failed run asked for, counted as the first failure and followed by others: %s", describeRuns(runs))
	}
	before := runs[asked+1:] // the failures before it, newest first
	if len(before) < 4 || !runs[asked].Started.Before(before[0].Backoff.Until) {
		t.Errorf("the run asked for did not run before the backoff ended: %s", describeRuns(runs))
	}
	for i, r := range before {
		n := len(before) - i
		if r.Outcome != state.OutcomeFailed || r.Backoff.Failures != n || r.Backoff.Config == "" {
			t.Fatalf("run %d: %s with %+v, want failed and counted %d: %s", r.ID, r.Outcome, r.Backoff, n, describeRuns(runs))
		}
		wait := schedule.Backoff("flaky", time.Second, n, 30*time.Second)
		if n >= schedule.BackoffAfter && !r.Backoff.Until.Equal(r.Started.Add(wait)) {
			t.Errorf("run %d, failure %d: backs off until %s, want %s later than its start %s", r.ID, n, r.Backoff.Until, wait, r.Started)
		}
		if i > 0 && r.Backoff.Until.After(before[i-1].Started) {
			t.Errorf("run %d started at %s, before the backoff of run %d ended at %s", before[i-1].ID, before[i-1].Started, r.ID, r.Backoff.Until)
		}
	}
}

func describeRuns(runs []state.Run) string {
	var b strings.Builder
	for _, r := range runs {
		b.WriteString("\n  " + strconv.FormatUint(r.ID, 10) + " " + r.Host + " " + r.Started.Format("15:04:05.000") + " " + r.Outcome)
		if r.Backoff.Failures > 0 {
			b.WriteString(" failures=" + strconv.Itoa(r.Backoff.Failures) + " asked=" + strconv.FormatBool(r.Backoff.Asked))
			if !r.Backoff.Until.IsZero() {
				b.WriteString(" until=" + r.Backoff.Until.Format("15:04:05.000"))
			}
		}
	}
	return b.String()
}

// gauge returns the value of a pipeline's gauge in a scrape.
func gauge(t *testing.T, scrape, name, pipeline string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + `\{pipeline="` + regexp.QuoteMeta(pipeline) + `"\} (\S+)$`).FindStringSubmatch(scrape)
	if m == nil {
		t.Fatalf("no %s of %s in the scrape", name, pipeline)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestStatusShowsPausedAndBackoff: `replicator status` says which
// pipelines are paused and which back off, until when and after how many
// failures, from the history alone.
func TestStatusShowsPausedAndBackoff(t *testing.T) {
	path := filepath.Join(t.TempDir(), config.DefaultStateFile)
	s, err := state.OpenFile(path, state.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	until := time.Now().Add(3 * time.Hour)
	for _, r := range []state.Run{
		{Pipeline: "failing", Outcome: state.OutcomeFailed, Error: "boom", Backoff: state.Backoff{Config: "c1", Failures: 4, Until: until}},
		{Pipeline: "recovered", Outcome: state.OutcomeFailed, Error: "boom", Backoff: state.Backoff{Config: "c1", Failures: 4, Until: until}},
		{Pipeline: "recovered", Outcome: state.OutcomeSucceeded},
		{Pipeline: "held", Outcome: state.OutcomeSucceeded},
	} {
		c, err := s.Claim(ctx, r.Pipeline, "test")
		if err != nil {
			t.Fatal(err)
		}
		r.Started, r.Ended = time.Now(), time.Now()
		if err := s.SaveRun(ctx, c.Fence, &r); err != nil {
			t.Fatal(err)
		}
		if err := c.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetPaused(ctx, "held", true); err != nil {
		t.Fatal(err)
	}
	s.Close()

	code, stdout, stderr := replicator(t, "status", "-state", path)
	if code != 0 {
		t.Fatalf("status: %d %s", code, stderr)
	}
	want := "Pipeline failing is backing off until " + until.Local().Format("2006-01-02 15:04:05") + ", after 4 failures in a row"
	if !strings.Contains(stdout, want) {
		t.Errorf("status does not say %q:\n%s", want, stdout)
	}
	if !strings.Contains(stdout, "Pipeline held is paused since ") {
		t.Errorf("status does not say held is paused:\n%s", stdout)
	}
	if strings.Contains(stdout, "Pipeline recovered is backing off") {
		t.Errorf("status says a pipeline that succeeded since backs off:\n%s", stdout)
	}
}

// TestBackoffAcrossAFleet runs two `replicator run` hosts sharing a real
// PostgreSQL over a pipeline whose runs fail: whichever host runs it, the
// failures are counted one after the other, and no host runs it before
// the backoff the last failure set has ended.
func TestBackoffAcrossAFleet(t *testing.T) {
	testDatabase(t)
	files := map[string]string{
		"host.hcl":  "host {\n  failure_backoff_max = \"30s\"\n}\n" + testStateBlock,
		"flaky.hcl": strings.NewReplacer(`"1h"`, `"1s"`, `path = "flaky.jsonl"`, `path = "missing/flaky.jsonl"`).Replace(tenantHCL("flaky")),
	}
	var logs []*logbuf.Buffer
	for range 2 {
		w := newWorkspace(t, files)
		if code, _, stderr := w.run("init"); code != 0 {
			t.Fatalf("init: %s", stderr)
		}
		cmd, log := w.start("run", "-log-level", "debug")
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("a host's log:\n%s", log.String())
			}
		})
		defer w.stop(cmd, log)
		logs = append(logs, log)
	}
	store, err := postgres.Open(context.Background(), postgres.Options{URL: os.Getenv("TEST_DATABASE_URL")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var runs []state.Run
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if runs, err = store.Runs(context.Background(), "flaky", 0); err != nil {
			t.Fatal(err)
		}
		if lastCounted(runs).Failures >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no fourth failure in a row in two minutes: %s", describeRuns(runs))
		}
	}
	t.Logf("the history: %s", describeRuns(runs))
	var prev *state.Run
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if r.Outcome != state.OutcomeFailed {
			continue // the one running now
		}
		if prev != nil {
			if r.Backoff.Failures != prev.Backoff.Failures+1 {
				t.Errorf("run %d on %s counted %d after %d: %s", r.ID, r.Host, r.Backoff.Failures, prev.Backoff.Failures, describeRuns(runs))
			}
			if r.Started.Before(prev.Backoff.Until) {
				t.Errorf("run %d on %s started at %s, before the backoff of run %d on %s ended at %s",
					r.ID, r.Host, r.Started, prev.ID, prev.Host, prev.Backoff.Until)
			}
		}
		prev = &runs[i]
	}
	// The host that did not run it last holds it back too: it skipped
	// its own due runs, as its log says, or it ran some of the failures.
	for i, log := range logs {
		if !strings.Contains(log.String(), "pipeline backs off after failing; its run is skipped") &&
			!strings.Contains(log.String(), "run failed; the pipeline backs off") {
			t.Errorf("host %d neither skipped a run for the backoff nor counted a failure", i)
		}
	}
}
