package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/internal/promtool"
)

// metricsConfig has pipelines that run only when asked, so that their
// gauges stay as the state store had them, and "hourly", which runs at
// once. Pipeline "crm" reads a Zoho source that has no credentials; it is
// never reached.
const metricsConfig = `
host {
  listen        = "127.0.0.1:0"
  console_token = env("REPLICATOR_CONSOLE_TOKEN")
}
source "generator" "g" {
  count = 10
}
source "zoho" "acme" {
  domain              = "eu"
  client_id           = "1000.METRICS"
  client_secret       = env("ZOHO_CLIENT_SECRET")
  max_credits_per_run = 500
  accounts_url        = "http://127.0.0.1:9/accounts/{dc}"
  api_url             = "http://127.0.0.1:9"
}
%s`

func metricsPipeline(name, source, interval string) string {
	s := fmt.Sprintf(`
destination "jsonl" %[1]q {
  path = "out-%[1]s.jsonl"
}
pipeline %[1]q {
  source      = %[2]s
  destination = destination.jsonl.%[1]s
  streams     = ["items"]
`, name, source)
	if interval != "" {
		s += fmt.Sprintf("  interval    = %q\n", interval)
	}
	return s + "}\n"
}

// seedRuns stores runs of a pipeline that ended with outcomes, oldest
// first, one a minute from start, as another process ran them.
func seedRuns(t *testing.T, s state.Store, pipeline string, start time.Time, outcomes ...string) {
	t.Helper()
	ctx := context.Background()
	c, err := s.Claim(ctx, pipeline, "earlier:1")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Release(ctx) }()
	for i, o := range outcomes {
		at := start.Add(time.Duration(i) * time.Minute)
		r := state.Run{Pipeline: pipeline, Started: at, Ended: at.Add(time.Second), Outcome: o,
			Counters: map[string]int64{"source.api_credits": 470}}
		if err := s.SaveRun(ctx, c.Fence, &r); err != nil {
			t.Fatal(err)
		}
	}
}

// scrapeMetrics returns what /metrics of `replicator run` serves.
func scrapeMetrics(t *testing.T, base, token string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %v\n%s", resp.StatusCode, err, b)
	}
	return string(b)
}

func scrapeHas(t *testing.T, scrape string, lines ...string) {
	t.Helper()
	for _, want := range lines {
		if !strings.Contains(scrape, "\n"+want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestRunMetricsFromTheStart starts `replicator run` on a state store that
// holds runs of an earlier process: its first scrape shows every pipeline's
// gauges as the store has them (failures since the last success, that
// success, 0 for none, the last outcome, a source that needs
// authorization, its credit budget and the interval), and promtool finds
// nothing in it. A run then moves them.
func TestRunMetricsFromTheStart(t *testing.T) {
	const token = "e2e-metrics-token-5c2e81"
	t.Setenv("REPLICATOR_CONSOLE_TOKEN", token)
	t.Setenv("ZOHO_CLIENT_SECRET", "metrics-secret")
	w := newWorkspace(t, fmt.Sprintf(metricsConfig,
		metricsPipeline("failing", "source.generator.g", "")+
			metricsPipeline("never", "source.generator.g", "")+
			metricsPipeline("fresh", "source.generator.g", "")+
			metricsPipeline("crm", "source.zoho.acme", "")+
			metricsPipeline("hourly", "source.generator.g", "1h")),
		"replicator-source-zoho")
	w.mustRun("init")

	s, err := state.OpenFile(w.path("replicator.db"), state.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1_800_000_000, 0)
	seedRuns(t, s, "failing", start, state.OutcomeSucceeded, state.OutcomeFailed, state.OutcomeFailed, state.OutcomeFailed)
	seedRuns(t, s, "never", start, state.OutcomeFailed, state.OutcomeFailed)
	seedRuns(t, s, "crm", start, state.OutcomeFailed)
	seedRuns(t, s, "hourly", start, state.OutcomeFailed, state.OutcomeFailed)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	cmd, log := w.startRun()
	base := consoleURL(t, log)
	first := scrapeMetrics(t, base, token)
	scrapeHas(t, first,
		`replicator_pipeline_consecutive_failures{pipeline="failing"} 3`,
		`replicator_last_success_timestamp_seconds{pipeline="failing"} 1.800000001e+09`,
		`replicator_last_run_outcome{outcome="failed",pipeline="failing"} 1`,
		`replicator_last_run_outcome{outcome="succeeded",pipeline="failing"} 0`,
		`replicator_pipeline_consecutive_failures{pipeline="never"} 2`,
		`replicator_last_success_timestamp_seconds{pipeline="never"} 0`,
		`replicator_pipeline_consecutive_failures{pipeline="fresh"} 0`,
		`replicator_last_success_timestamp_seconds{pipeline="fresh"} 0`,
		`replicator_last_run_outcome{outcome="failed",pipeline="fresh"} 0`,
		`replicator_pipeline_needs_authorization{pipeline="crm"} 1`,
		`replicator_pipeline_needs_authorization{pipeline="failing"} 0`,
		`replicator_source_max_api_credits_per_run{pipeline="crm"} 500`,
		`replicator_source_last_run_api_credits{pipeline="crm"} 470`,
		`replicator_pipeline_interval_seconds{pipeline="hourly"} 3600`,
		`replicator_pipeline_interval_seconds{pipeline="failing"} 0`,
		`replicator_runs_total{outcome="failed",pipeline="failing"} 0`,
		`replicator_ready 1`,
	)
	promtool.CheckMetrics(t, first)

	// "hourly" runs at once, and succeeds.
	waitLog(t, log, "run finished", 1)
	var after string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		after = scrapeMetrics(t, base, token)
		if strings.Contains(after, `replicator_runs_total{outcome="succeeded",pipeline="hourly"} 1`+"\n") {
			break
		}
	}
	scrapeHas(t, after,
		`replicator_runs_total{outcome="succeeded",pipeline="hourly"} 1`,
		`replicator_pipeline_consecutive_failures{pipeline="hourly"} 0`,
		`replicator_last_run_outcome{outcome="succeeded",pipeline="hourly"} 1`,
		`replicator_last_run_outcome{outcome="failed",pipeline="hourly"} 0`,
		`replicator_run_duration_seconds_count{pipeline="hourly"} 1`,
		`replicator_records_total{kind="written",pipeline="hourly",stream="items"} 10`,
	)
	if strings.Contains(after, `replicator_last_success_timestamp_seconds{pipeline="hourly"} 0`+"\n") {
		t.Error("a success did not set the last success time")
	}
	promtool.CheckMetrics(t, after)
	stop(t, cmd, log)
}
