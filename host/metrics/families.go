package metrics

import dto "github.com/prometheus/client_model/go"

// The families of per-pipeline series.
const (
	famRecords = iota
	famRuns
	famDuration
	famLastSuccess
	famLastOutcome
	famFailures
	famNeedsAuth
	famBackoff
	famInterval
	famCounters
	famCredits
	famLastRunCredits
	famCreditsPerRun
	famTokens
	famPluginStarts
	famPluginCrashes
	famLag
	famCount
)

// durationBuckets are the run duration histogram's upper bounds, in
// seconds: from a run of plugins kept warm (tens of milliseconds) through
// a cold start (about a tenth of a second) and an incremental read (under
// a few seconds) to a full sync (minutes). Few, since a host of thousands
// of pipelines has a histogram each.
var durationBuckets = [...]float64{0.1, 0.5, 2, 10, 60, 300, 1800}

// family is one metric name: its description, its type, and the labels
// its series carry after "pipeline".
type family struct {
	name, help string
	typ        dto.MetricType
	labels     []string
}

func newFamilies() [famCount]family {
	const (
		counter   = dto.MetricType_COUNTER
		gauge     = dto.MetricType_GAUGE
		histogram = dto.MetricType_HISTOGRAM
	)
	var f [famCount]family
	f[famRecords] = family{"replicator_records_total",
		"Records per pipeline and stream, by kind: read from the source, deleted (the deletes among them), written (acknowledged by the destination as stored).",
		counter, []string{"stream", "kind"}}
	f[famRuns] = family{"replicator_runs_total",
		"Runs this host ran that ended, by outcome: succeeded, failed, interrupted.",
		counter, []string{"outcome"}}
	f[famDuration] = family{"replicator_run_duration_seconds",
		"Wall time of the runs this host ran.",
		histogram, nil}
	f[famLastSuccess] = family{"replicator_last_success_timestamp_seconds",
		"Unix time at which the pipeline's last successful run ended, as the state store has it; 0 when it has none.",
		gauge, nil}
	f[famLastOutcome] = family{"replicator_last_run_outcome",
		"1 for the outcome of the pipeline's last ended run (succeeded, failed, interrupted, crashed), 0 for the others; all 0 before its first run.",
		gauge, []string{"outcome"}}
	f[famFailures] = family{"replicator_pipeline_consecutive_failures",
		"Runs that failed (or crashed with their host) since the pipeline's last success, or since its first run when none succeeded.",
		gauge, nil}
	f[famNeedsAuth] = family{"replicator_pipeline_needs_authorization",
		"1 when the pipeline's source takes a grant (such as Zoho's) and has no credentials stored: it cannot run until it is authorized.",
		gauge, nil}
	f[famBackoff] = family{"replicator_pipeline_backoff_until_timestamp_seconds",
		"Unix time before which the pipeline's next run does not start, because its runs keep failing (see failure_backoff_max); it backs off while this is above time(), and is 0 when it never did since its last success.",
		gauge, nil}
	f[famInterval] = family{"replicator_pipeline_interval_seconds",
		"The pipeline's interval; 0 when it runs only when asked.",
		gauge, nil}
	f[famCounters] = family{"replicator_connector_counted_total",
		"Every counter a pipeline's connectors report, by the connector's own counter name.",
		counter, []string{"counter"}}
	f[famCredits] = family{"replicator_source_api_credits_total",
		"API credits the pipeline's source spent (Zoho CRM: credits of the org's daily allowance).",
		counter, nil}
	f[famLastRunCredits] = family{"replicator_source_last_run_api_credits",
		"API credits the pipeline's last ended run spent.",
		gauge, nil}
	f[famCreditsPerRun] = family{"replicator_source_max_api_credits_per_run",
		"The source's budget of API credits per run (max_credits_per_run), when it has one.",
		gauge, nil}
	f[famTokens] = family{"replicator_source_tokens_minted_total",
		"OAuth access tokens the pipeline's source minted.",
		counter, nil}
	f[famPluginStarts] = family{"replicator_plugin_starts_total",
		"Plugin processes started, by kind (source, destination): each run starts one of each.",
		counter, []string{"kind"}}
	f[famPluginCrashes] = family{"replicator_plugin_crashes_total",
		"Runs that failed because a plugin process exited while the host still needed it.",
		counter, nil}
	f[famLag] = family{"replicator_checkpoint_lag_seconds",
		"Seconds since the stream's last checkpoint was acknowledged and stored on this host.",
		gauge, []string{"stream"}}
	return f
}
