// Package metrics holds the host's Prometheus metrics: what each pipeline
// read and wrote, how its runs ended, what its connectors counted, and how
// busy the scheduler is. Every name starts with replicator_ and carries a
// pipeline label; none carries a configuration value, so no secret can
// reach a label.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Counter names connectors report that get a metric of their own.
const (
	CounterAPICredits   = "api_credits"
	CounterTokensMinted = "tokens_minted"
)

// Load reports how busy the scheduler is, read at every scrape.
type Load func() (queued, inFlight int)

// Metrics is one host process's metrics, in a registry of its own.
type Metrics struct {
	reg *prometheus.Registry

	records      *prometheus.CounterVec // pipeline, stream, kind
	runs         *prometheus.CounterVec // pipeline, outcome
	duration     *prometheus.HistogramVec
	lastSuccess  *prometheus.GaugeVec
	counters     *prometheus.CounterVec // pipeline, counter
	credits      *prometheus.CounterVec
	tokens       *prometheus.CounterVec
	pluginStarts *prometheus.CounterVec // pipeline, kind
	pluginCrash  *prometheus.CounterVec

	lag *lagCollector
}

// New returns the metrics of a host whose scheduler reports its load
// through load (nil when there is no scheduler, as for one sync).
func New(load Load) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replicator_records_total",
			Help: "Records per pipeline and stream, by kind: read from the source, deleted (the deletes among them), written (acknowledged by the destination as stored).",
		}, []string{"pipeline", "stream", "kind"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replicator_runs_total",
			Help: "Runs that ended, by outcome: succeeded, failed, interrupted.",
		}, []string{"pipeline", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "replicator_run_duration_seconds",
			Help: "Wall time of runs that ended.",
			// Few buckets: a host of 1,000 pipelines has a histogram each.
			Buckets: []float64{10, 60, 600, 3600},
		}, []string{"pipeline"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "replicator_last_success_timestamp_seconds",
			Help: "Unix time at which the pipeline's last successful run ended.",
		}, []string{"pipeline"}),
		counters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replicator_connector_counter_total",
			Help: "Every counter a pipeline's connectors report, by the connector's own counter name.",
		}, []string{"pipeline", "counter"}),
		credits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replicator_source_api_credits_total",
			Help: "API credits the pipeline's source spent (Zoho CRM: credits of the org's daily allowance).",
		}, []string{"pipeline"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replicator_source_tokens_minted_total",
			Help: "OAuth access tokens the pipeline's source minted.",
		}, []string{"pipeline"}),
		pluginStarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replicator_plugin_starts_total",
			Help: "Plugin processes started, by kind (source, destination): each run starts one of each.",
		}, []string{"pipeline", "kind"}),
		pluginCrash: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replicator_plugin_crashes_total",
			Help: "Runs that failed because a plugin process exited while the host still needed it.",
		}, []string{"pipeline"}),
		lag: &lagCollector{
			desc: prometheus.NewDesc("replicator_checkpoint_lag_seconds",
				"Seconds since the stream's last checkpoint was acknowledged and stored.",
				[]string{"pipeline", "stream"}, nil),
			last: map[[2]string]time.Time{},
			now:  time.Now,
		},
	}
	m.reg.MustRegister(m.records, m.runs, m.duration, m.lastSuccess, m.counters,
		m.credits, m.tokens, m.pluginStarts, m.pluginCrash, m.lag,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if load != nil {
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "replicator_queue_length",
				Help: "Runs that are due and wait for a free slot.",
			}, func() float64 { q, _ := load(); return float64(q) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "replicator_runs_in_flight",
				Help: "Runs underway.",
			}, func() float64 { _, f := load(); return float64(f) }),
		)
	}
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	// Uncompressed: with a thousand pipelines, gzip costs the host about a
	// third more CPU per scrape, to save a megabyte on a local network.
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, DisableCompression: true})
}

// Records adds n records of a kind (runner.KindRead, KindDeleted or
// KindWritten) to a pipeline's stream.
func (m *Metrics) Records(pipeline, stream, kind string, n int64) {
	if n > 0 {
		m.records.WithLabelValues(pipeline, stream, kind).Add(float64(n))
	}
}

// Counted adds what a connector counted during a run. Counters a
// connector reports with a "source." or "destination." prefix keep it.
func (m *Metrics) Counted(pipeline string, counters map[string]int64) {
	for name, n := range counters {
		if n <= 0 {
			continue
		}
		m.counters.WithLabelValues(pipeline, name).Add(float64(n))
		switch trimSide(name) {
		case CounterAPICredits:
			m.credits.WithLabelValues(pipeline).Add(float64(n))
		case CounterTokensMinted:
			m.tokens.WithLabelValues(pipeline).Add(float64(n))
		}
	}
}

func trimSide(name string) string {
	for _, p := range []string{"source.", "destination."} {
		if len(name) > len(p) && name[:len(p)] == p {
			return name[len(p):]
		}
	}
	return name
}

// RunEnded records a run's outcome and duration; a success also sets the
// pipeline's last success time to ended.
func (m *Metrics) RunEnded(pipeline, outcome string, started, ended time.Time) {
	m.runs.WithLabelValues(pipeline, outcome).Inc()
	m.duration.WithLabelValues(pipeline).Observe(ended.Sub(started).Seconds())
	if outcome == "succeeded" {
		m.lastSuccess.WithLabelValues(pipeline).Set(float64(ended.UnixNano()) / 1e9)
	}
}

// Checkpointed notes that a checkpoint of a pipeline's stream was stored at t.
func (m *Metrics) Checkpointed(pipeline, stream string, t time.Time) {
	m.lag.set(pipeline, stream, t)
}

// PluginStarted counts a plugin process started for a pipeline.
func (m *Metrics) PluginStarted(pipeline, kind string) {
	m.pluginStarts.WithLabelValues(pipeline, kind).Inc()
}

// PluginCrashed counts a run that failed because a plugin process exited.
func (m *Metrics) PluginCrashed(pipeline string) {
	m.pluginCrash.WithLabelValues(pipeline).Inc()
}

// Forget drops every series of a pipeline that was removed from the
// configuration, so that a scrape no longer shows it.
func (m *Metrics) Forget(pipeline string) {
	labels := prometheus.Labels{"pipeline": pipeline}
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{m.records, m.runs, m.duration, m.lastSuccess, m.counters, m.credits, m.tokens, m.pluginStarts, m.pluginCrash} {
		v.DeletePartialMatch(labels)
	}
	m.lag.forget(pipeline)
}

// lagCollector computes each stream's checkpoint lag at scrape time.
type lagCollector struct {
	desc *prometheus.Desc
	now  func() time.Time

	mu   sync.Mutex
	last map[[2]string]time.Time
}

func (c *lagCollector) set(pipeline, stream string, t time.Time) {
	c.mu.Lock()
	c.last[[2]string{pipeline, stream}] = t
	c.mu.Unlock()
}

func (c *lagCollector) forget(pipeline string) {
	c.mu.Lock()
	for k := range c.last {
		if k[0] == pipeline {
			delete(c.last, k)
		}
	}
	c.mu.Unlock()
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for k, t := range c.last {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, now.Sub(t).Seconds(), k[0], k[1])
	}
}

// Pipeline returns what a run of the named pipeline reports the records it
// moves and the checkpoints it stores to (a runner.Observer).
func (m *Metrics) Pipeline(name string) PipelineObserver {
	return PipelineObserver{m: m, name: name}
}

// PipelineObserver counts one pipeline's records and checkpoints.
type PipelineObserver struct {
	m    *Metrics
	name string
}

// Records adds n records of a kind to a stream.
func (p PipelineObserver) Records(stream, kind string, n int64) { p.m.Records(p.name, stream, kind, n) }

// Checkpointed notes a stored checkpoint of a stream.
func (p PipelineObserver) Checkpointed(stream string, t time.Time) {
	p.m.Checkpointed(p.name, stream, t)
}
