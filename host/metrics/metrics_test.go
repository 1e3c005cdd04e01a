package metrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/internal/promtool"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s\n%s", resp.Status, b)
	}
	return string(b)
}

// has fails the test for each line the scrape lacks.
func has(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, want := range lines {
		if !strings.Contains(out, "\n"+want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
}

var t0 = time.Unix(1_800_000_000, 0)

func TestScrape(t *testing.T) {
	m := New(Options{
		Host:  "here:1",
		Load:  func() (int, int) { return 3, 2 },
		Ready: func(context.Context) error { return nil },
	})
	m.Configure("acme", Config{Source: "source.zoho.acme", Interval: 15 * time.Minute, CreditsPerRun: 500})
	m.Configure("globex", Config{Source: "source.zoho.globex", Interval: time.Hour})
	m.Records("acme", "contacts", "read", 120)
	m.Records("acme", "contacts", "written", 118)
	m.Records("acme", "contacts", "deleted", 2)
	m.Records("acme", "contacts", "rejected", 0) // no series for nothing
	ok := state.Run{ID: 1, Pipeline: "acme", Host: "here:1", Started: t0, Ended: t0.Add(90 * time.Second), Outcome: state.OutcomeSucceeded,
		Counters: map[string]int64{"source.api_credits": 11, "source.tokens_minted": 1, "destination.rejected": 4}}
	failed := state.Run{ID: 1, Pipeline: "globex", Host: "here:1", Started: t0, Ended: t0.Add(time.Second), Outcome: state.OutcomeFailed}
	for _, r := range []state.Run{ok, failed} {
		if err := m.RunEnded(context.Background(), nil, r); err != nil {
			t.Fatal(err)
		}
	}
	m.PluginStarted("acme", "source")
	m.PluginCrashed("globex")
	m.now = func() time.Time { return t0.Add(time.Minute) }
	m.Checkpointed("acme", "contacts", t0)

	out := scrape(t, m)
	has(t, out,
		`replicator_records_total{kind="read",pipeline="acme",stream="contacts"} 120`,
		`replicator_records_total{kind="written",pipeline="acme",stream="contacts"} 118`,
		`replicator_records_total{kind="deleted",pipeline="acme",stream="contacts"} 2`,
		`replicator_runs_total{outcome="succeeded",pipeline="acme"} 1`,
		`replicator_runs_total{outcome="failed",pipeline="acme"} 0`,
		`replicator_runs_total{outcome="failed",pipeline="globex"} 1`,
		`replicator_run_duration_seconds_sum{pipeline="acme"} 90`,
		`replicator_last_success_timestamp_seconds{pipeline="acme"} 1.80000009e+09`,
		`replicator_last_success_timestamp_seconds{pipeline="globex"} 0`,
		`replicator_last_run_outcome{outcome="succeeded",pipeline="acme"} 1`,
		`replicator_last_run_outcome{outcome="failed",pipeline="acme"} 0`,
		`replicator_last_run_outcome{outcome="failed",pipeline="globex"} 1`,
		`replicator_pipeline_consecutive_failures{pipeline="acme"} 0`,
		`replicator_pipeline_consecutive_failures{pipeline="globex"} 1`,
		`replicator_pipeline_interval_seconds{pipeline="acme"} 900`,
		`replicator_pipeline_needs_authorization{pipeline="acme"} 0`,
		`replicator_source_api_credits_total{pipeline="acme"} 11`,
		`replicator_source_last_run_api_credits{pipeline="acme"} 11`,
		`replicator_source_max_api_credits_per_run{pipeline="acme"} 500`,
		`replicator_source_tokens_minted_total{pipeline="acme"} 1`,
		`replicator_connector_counted_total{counter="destination.rejected",pipeline="acme"} 4`,
		`replicator_plugin_starts_total{kind="source",pipeline="acme"} 1`,
		`replicator_plugin_crashes_total{pipeline="globex"} 1`,
		`replicator_checkpoint_lag_seconds{pipeline="acme",stream="contacts"} 60`,
		`replicator_queue_length 3`,
		`replicator_runs_in_flight 2`,
		`replicator_ready 1`,
	)
	for _, absent := range []string{`kind="rejected"`, `replicator_source_max_api_credits_per_run{pipeline="globex"}`, `replicator_source_last_run_api_credits{pipeline="globex"}`} {
		if strings.Contains(out, absent) {
			t.Errorf("the scrape has %s", absent)
		}
	}
	promtool.CheckMetrics(t, out)
}

// Readiness is checked apart from the scrapes, at most every readyEvery:
// a scrape shows the last check's result, and only the first waits.
func TestReadyFollowsTheCheck(t *testing.T) {
	var clock atomic.Int64
	var down atomic.Bool
	var checks atomic.Int32
	m := New(Options{Ready: func(context.Context) error {
		checks.Add(1)
		if down.Load() {
			return fmt.Errorf("the state store does not answer")
		}
		return nil
	}})
	m.now = func() time.Time { return time.Unix(0, clock.Load()) }
	has(t, scrape(t, m), `replicator_ready 1`)
	down.Store(true)
	has(t, scrape(t, m), `replicator_ready 1`)
	if n := checks.Load(); n != 1 {
		t.Errorf("%d checks within %v, want 1", n, readyEvery)
	}
	clock.Add(int64(readyEvery))
	for deadline := time.Now().Add(time.Minute); !strings.Contains(scrape(t, m), "\nreplicator_ready 0\n"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a failed check did not show within a minute")
		}
	}
	if n := checks.Load(); n != 2 {
		t.Errorf("%d checks, want 2", n)
	}
}

func TestForget(t *testing.T) {
	m := New(Options{})
	now := time.Now()
	for _, p := range []string{"acme", "globex"} {
		m.Configure(p, Config{Source: "source.zoho." + p})
		m.Records(p, "contacts", "read", 1)
		if err := m.RunEnded(context.Background(), nil, state.Run{Pipeline: p, Started: now, Ended: now, Outcome: state.OutcomeSucceeded}); err != nil {
			t.Fatal(err)
		}
		m.Checkpointed(p, "contacts", now)
		m.Counted(p, map[string]int64{"api_credits": 1})
	}
	m.Forget("acme")
	out := scrape(t, m)
	if strings.Contains(out, `pipeline="acme"`) {
		t.Errorf("a forgotten pipeline is still scraped:\n%s", out)
	}
	has(t, out, `replicator_records_total{kind="read",pipeline="globex",stream="contacts"} 1`)
	if strings.Contains(out, "replicator_queue_length") || strings.Contains(out, "replicator_ready") {
		t.Error("metrics without a scheduler or a readiness check report them")
	}
}

func TestLabelsFromPluginsAreValidUTF8(t *testing.T) {
	m := New(Options{})
	m.Counted("acme", map[string]int64{"source.bad\xffname": 2})
	m.Records("acme", "con\xfetacts", "read", 1)
	has(t, scrape(t, m),
		`replicator_connector_counted_total{counter="source.bad`+"\uFFFD"+`name",pipeline="acme"} 2`,
		`replicator_records_total{kind="read",pipeline="acme",stream="con`+"\uFFFD"+`tacts"} 1`,
	)
}

// The buckets tell a run of plugins kept warm from a cold start, an
// incremental read from a full sync.
func TestHistogramBuckets(t *testing.T) {
	m := New(Options{})
	m.Configure("acme", Config{})
	for _, took := range []time.Duration{50 * time.Millisecond, 300 * time.Millisecond, 5 * time.Minute, 2 * time.Hour} {
		r := state.Run{Pipeline: "acme", Started: t0, Ended: t0.Add(took), Outcome: state.OutcomeSucceeded}
		if err := m.RunEnded(context.Background(), nil, r); err != nil {
			t.Fatal(err)
		}
	}
	has(t, scrape(t, m),
		`replicator_run_duration_seconds_bucket{pipeline="acme",le="0.1"} 1`,
		`replicator_run_duration_seconds_bucket{pipeline="acme",le="0.5"} 2`,
		`replicator_run_duration_seconds_bucket{pipeline="acme",le="60"} 2`,
		`replicator_run_duration_seconds_bucket{pipeline="acme",le="300"} 3`,
		`replicator_run_duration_seconds_bucket{pipeline="acme",le="1800"} 3`,
		`replicator_run_duration_seconds_bucket{pipeline="acme",le="+Inf"} 4`,
		`replicator_run_duration_seconds_count{pipeline="acme"} 4`,
		`replicator_runs_total{outcome="succeeded",pipeline="acme"} 4`,
	)
}

// openStore opens a state file in a folder of the test's.
func openStore(t *testing.T) state.Store {
	t.Helper()
	s, err := state.OpenFile(filepath.Join(t.TempDir(), "state.db"), state.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// seed saves runs of a pipeline that ended with outcomes, oldest first,
// one a minute from t0, as host ran them; it returns the last.
func seed(t *testing.T, s state.Store, pipeline, host string, outcomes ...string) state.Run {
	t.Helper()
	ctx := context.Background()
	c, err := s.Claim(ctx, pipeline, host)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Release(ctx) }()
	runs, err := s.Runs(ctx, pipeline, 0)
	if err != nil {
		t.Fatal(err)
	}
	var r state.Run
	for i, o := range outcomes {
		start := t0.Add(time.Duration(len(runs)+i) * time.Minute)
		r = state.Run{Pipeline: pipeline, Started: start, Ended: start.Add(time.Second), Outcome: o}
		if o == state.OutcomeCrashed || o == state.OutcomeRunning {
			r.Ended = time.Time{}
		}
		if o == state.OutcomeFailed {
			r.Counters = map[string]int64{"source.api_credits": 7}
		}
		if err := s.SaveRun(ctx, c.Fence, &r); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

const (
	succeeded   = state.OutcomeSucceeded
	failed      = state.OutcomeFailed
	crashed     = state.OutcomeCrashed
	interrupted = state.OutcomeInterrupted
)

// The gauges alerts rely on are read from the state store: a pipeline that
// failed before the host started is seen failing at the first scrape,
// with the time of its last success, or 0 when it never had one.
func TestGaugesFromTheStateStore(t *testing.T) {
	s := openStore(t)
	seed(t, s, "failing", "old:1", succeeded, failed, interrupted, crashed, failed)
	seed(t, s, "never", "old:1", failed, failed)
	seed(t, s, "ok", "old:1", failed, succeeded)
	// Failed longer than the first read reaches.
	streak := []string{succeeded}
	for range historyFirstRead + 4 {
		streak = append(streak, failed)
	}
	seed(t, s, "streak", "old:1", streak...)

	m := New(Options{Host: "here:1"})
	for _, p := range []string{"failing", "never", "ok", "streak", "fresh"} {
		if !m.Configure(p, Config{Source: "source.zoho." + p, Interval: time.Hour, CreditsPerRun: 100}) {
			t.Errorf("a new pipeline %s is not fresh", p)
		}
		if err := m.LoadRuns(context.Background(), s, p); err != nil {
			t.Fatal(err)
		}
		if m.Configure(p, Config{Source: "source.zoho." + p, Interval: time.Hour}) {
			t.Errorf("pipeline %s is fresh again, with the same source", p)
		}
	}
	out := scrape(t, m)
	has(t, out,
		`replicator_pipeline_consecutive_failures{pipeline="failing"} 3`,
		`replicator_last_success_timestamp_seconds{pipeline="failing"} 1.800000001e+09`,
		`replicator_last_run_outcome{outcome="failed",pipeline="failing"} 1`,
		`replicator_last_run_outcome{outcome="crashed",pipeline="failing"} 0`,
		`replicator_source_last_run_api_credits{pipeline="failing"} 7`,
		`replicator_pipeline_consecutive_failures{pipeline="never"} 2`,
		`replicator_last_success_timestamp_seconds{pipeline="never"} 0`,
		`replicator_pipeline_consecutive_failures{pipeline="ok"} 0`,
		`replicator_last_run_outcome{outcome="succeeded",pipeline="ok"} 1`,
		`replicator_last_success_timestamp_seconds{pipeline="ok"} 1.800000061e+09`,
		`replicator_pipeline_consecutive_failures{pipeline="streak"} 20`,
		`replicator_last_success_timestamp_seconds{pipeline="streak"} 1.800000001e+09`,
		`replicator_pipeline_consecutive_failures{pipeline="fresh"} 0`,
		`replicator_last_success_timestamp_seconds{pipeline="fresh"} 0`,
		`replicator_last_run_outcome{outcome="failed",pipeline="fresh"} 0`,
		`replicator_last_run_outcome{outcome="succeeded",pipeline="fresh"} 0`,
		`replicator_pipeline_interval_seconds{pipeline="fresh"} 3600`,
		// Runs of other processes are not this host's to count.
		`replicator_runs_total{outcome="failed",pipeline="failing"} 0`,
	)
	// The second Configure dropped the budget.
	if strings.Contains(out, "replicator_source_max_api_credits_per_run") {
		t.Error("a budget taken out of the configuration is still shown")
	}
	if !m.Configure("ok", Config{Source: "source.zoho.other"}) {
		t.Error("a pipeline whose source changed is not fresh")
	}
}

// A run moves the gauges by itself when the gauges saw the run before it;
// after runs the gauges did not see (a fleet's other hosts ran them), they
// are read from the store. Another host's run never counts here, and one
// found twice moves the gauges once.
func TestRunEndedInAFleet(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	seed(t, s, "p", "other:1", succeeded)
	m := New(Options{Host: "here:1"})
	m.Configure("p", Config{Source: "source.zoho.p", Interval: time.Hour})
	if err := m.LoadRuns(ctx, s, "p"); err != nil {
		t.Fatal(err)
	}
	mine := seed(t, s, "p", "here:1", failed)
	if err := m.RunEnded(ctx, s, mine); err != nil {
		t.Fatal(err)
	}
	has(t, scrape(t, m),
		`replicator_pipeline_consecutive_failures{pipeline="p"} 1`,
		`replicator_runs_total{outcome="failed",pipeline="p"} 1`,
	)
	// Two runs elsewhere, then one found in the store, as a host of a
	// fleet finds the run of another when the pipeline is due.
	seed(t, s, "p", "other:1", failed, crashed)
	theirs := seed(t, s, "p", "other:1", failed)
	for range 2 { // found again when the pipeline is next due
		if err := m.RunEnded(ctx, s, theirs); err != nil {
			t.Fatal(err)
		}
	}
	has(t, scrape(t, m),
		`replicator_pipeline_consecutive_failures{pipeline="p"} 4`,
		`replicator_runs_total{outcome="failed",pipeline="p"} 1`,
		`replicator_source_api_credits_total{pipeline="p"} 7`,
	)
	// Without a store to read, a run moves the gauges by itself.
	later := seed(t, s, "p", "here:1", interrupted, failed)
	if err := m.RunEnded(ctx, nil, later); err != nil {
		t.Fatal(err)
	}
	has(t, scrape(t, m), `replicator_pipeline_consecutive_failures{pipeline="p"} 5`)
}

// A pipeline needs authorization until its source's credentials are
// stored, or one of its runs succeeds.
func TestAuthorized(t *testing.T) {
	m := New(Options{})
	for _, p := range []string{"a1", "a2", "b"} {
		m.Configure(p, Config{Source: "source.zoho." + p[:1]})
		m.SetNeedsAuthorization(p, true)
	}
	m.Authorized("source.zoho.a")
	has(t, scrape(t, m),
		`replicator_pipeline_needs_authorization{pipeline="a1"} 0`,
		`replicator_pipeline_needs_authorization{pipeline="a2"} 0`,
		`replicator_pipeline_needs_authorization{pipeline="b"} 1`,
	)
	if err := m.RunEnded(context.Background(), nil, state.Run{Pipeline: "b", Started: t0, Ended: t0, Outcome: succeeded}); err != nil {
		t.Fatal(err)
	}
	has(t, scrape(t, m), `replicator_pipeline_needs_authorization{pipeline="b"} 0`)
}

// A connector that reports new counter names run after run, each run
// within what the runner keeps, cannot grow a pipeline's series without
// bound: the first names keep counting, later ones get no series, and the
// credits still add up.
func TestCounterSeriesAreBounded(t *testing.T) {
	m := New(Options{})
	const runs = 5
	for run := range runs {
		counters := map[string]int64{"source.api_credits": 1}
		for i := range maxCounterSeries - 1 {
			counters[fmt.Sprintf("source.run%d_%03d", run, i)] = 1
		}
		m.Counted("acme", counters)
	}
	m.Counted("globex", map[string]int64{"source.api_credits": 2})
	out := scrape(t, m)
	if got := strings.Count(out, `replicator_connector_counted_total{counter=`); got != maxCounterSeries+1 {
		t.Errorf("%d counter series, want %d for acme and 1 for globex", got, maxCounterSeries)
	}
	for _, want := range []string{
		`replicator_connector_counted_total{counter="source.api_credits",pipeline="acme"} 5`,
		`replicator_connector_counted_total{counter="source.run0_000",pipeline="acme"} 1`,
		`replicator_source_api_credits_total{pipeline="acme"} 5`,
		`replicator_connector_counted_total{counter="source.api_credits",pipeline="globex"} 2`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
}
