package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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

func TestScrape(t *testing.T) {
	m := New(func() (int, int) { return 3, 2 })
	start := time.Unix(1_800_000_000, 0)
	m.Records("acme", "contacts", "read", 120)
	m.Records("acme", "contacts", "written", 118)
	m.Records("acme", "contacts", "deleted", 2)
	m.Records("acme", "contacts", "rejected", 0) // no series for nothing
	m.Counted("acme", map[string]int64{"source.api_credits": 11, "source.tokens_minted": 1, "destination.rejected": 4})
	m.RunEnded("acme", "succeeded", start, start.Add(90*time.Second))
	m.RunEnded("globex", "failed", start, start.Add(time.Second))
	m.PluginStarted("acme", "source")
	m.PluginCrashed("globex")
	m.now = func() time.Time { return start.Add(time.Minute) }
	m.Checkpointed("acme", "contacts", start)

	out := scrape(t, m)
	for _, want := range []string{
		`replicator_records_total{kind="read",pipeline="acme",stream="contacts"} 120`,
		`replicator_records_total{kind="written",pipeline="acme",stream="contacts"} 118`,
		`replicator_records_total{kind="deleted",pipeline="acme",stream="contacts"} 2`,
		`replicator_runs_total{outcome="succeeded",pipeline="acme"} 1`,
		`replicator_runs_total{outcome="failed",pipeline="globex"} 1`,
		`replicator_run_duration_seconds_sum{pipeline="acme"} 90`,
		`replicator_last_success_timestamp_seconds{pipeline="acme"} 1.80000009e+09`,
		`replicator_source_api_credits_total{pipeline="acme"} 11`,
		`replicator_source_tokens_minted_total{pipeline="acme"} 1`,
		`replicator_connector_counter_total{counter="destination.rejected",pipeline="acme"} 4`,
		`replicator_plugin_starts_total{kind="source",pipeline="acme"} 1`,
		`replicator_plugin_crashes_total{pipeline="globex"} 1`,
		`replicator_checkpoint_lag_seconds{pipeline="acme",stream="contacts"} 60`,
		`replicator_queue_length 3`,
		`replicator_runs_in_flight 2`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(out, `kind="rejected"`) {
		t.Error("a kind with nothing counted has a series")
	}
	if strings.Contains(out, `replicator_last_success_timestamp_seconds{pipeline="globex"}`) {
		t.Error("a failed run set the last success time")
	}
}

func TestForget(t *testing.T) {
	m := New(nil)
	now := time.Now()
	for _, p := range []string{"acme", "globex"} {
		m.Records(p, "contacts", "read", 1)
		m.RunEnded(p, "succeeded", now, now)
		m.Checkpointed(p, "contacts", now)
		m.Counted(p, map[string]int64{"api_credits": 1})
	}
	m.Forget("acme")
	out := scrape(t, m)
	if strings.Contains(out, `pipeline="acme"`) {
		t.Errorf("a forgotten pipeline is still scraped:\n%s", out)
	}
	if !strings.Contains(out, `replicator_records_total{kind="read",pipeline="globex",stream="contacts"} 1`) {
		t.Error("forgetting one pipeline dropped another")
	}
	if strings.Contains(out, "replicator_queue_length") {
		t.Error("metrics without a scheduler report a queue")
	}
}

func TestLabelsFromPluginsAreValidUTF8(t *testing.T) {
	m := New(nil)
	m.Counted("acme", map[string]int64{"source.bad\xffname": 2})
	m.Records("acme", "con\xfetacts", "read", 1)
	out := scrape(t, m)
	for _, want := range []string{
		`replicator_connector_counter_total{counter="source.bad` + "\uFFFD" + `name",pipeline="acme"} 2`,
		`replicator_records_total{kind="read",pipeline="acme",stream="con` + "\uFFFD" + `tacts"} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %s:\n%s", want, out)
		}
	}
}

func TestHistogramBuckets(t *testing.T) {
	m := New(nil)
	start := time.Unix(1_800_000_000, 0)
	for _, took := range []time.Duration{5 * time.Second, 10 * time.Second, 11 * time.Second, 2 * time.Hour} {
		m.RunEnded("acme", "succeeded", start, start.Add(took))
	}
	out := scrape(t, m)
	for _, want := range []string{
		`replicator_run_duration_seconds_bucket{pipeline="acme",le="10"} 2`,
		`replicator_run_duration_seconds_bucket{pipeline="acme",le="60"} 3`,
		`replicator_run_duration_seconds_bucket{pipeline="acme",le="3600"} 3`,
		`replicator_run_duration_seconds_bucket{pipeline="acme",le="+Inf"} 4`,
		`replicator_run_duration_seconds_count{pipeline="acme"} 4`,
		`replicator_runs_total{outcome="succeeded",pipeline="acme"} 4`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %s:\n%s", want, out)
		}
	}
}

// A connector that reports new counter names run after run, each run
// within what the runner keeps, cannot grow a pipeline's series without
// bound: the first names keep counting, later ones get no series, and the
// credits still add up.
func TestCounterSeriesAreBounded(t *testing.T) {
	m := New(nil)
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
	if got := strings.Count(out, `replicator_connector_counter_total{counter=`); got != maxCounterSeries+1 {
		t.Errorf("%d counter series, want %d for acme and 1 for globex", got, maxCounterSeries)
	}
	for _, want := range []string{
		`replicator_connector_counter_total{counter="source.api_credits",pipeline="acme"} 5`,
		`replicator_connector_counter_total{counter="source.run0_000",pipeline="acme"} 1`,
		`replicator_source_api_credits_total{pipeline="acme"} 5`,
		`replicator_connector_counter_total{counter="source.api_credits",pipeline="globex"} 2`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
}
