// Package metrics holds the host's Prometheus metrics: what each pipeline
// read and wrote, how its runs ended, what its connectors counted, how
// busy the scheduler is, and the per-pipeline gauges alerts rely on (last
// success, last outcome, consecutive failures, needs authorization,
// interval), set from the state store when the host starts. Every name
// starts with replicator_ and carries a pipeline label; none carries a
// configuration value, so no secret can reach a label.
//
// A host may hold thousands of pipelines, so their series are not kept in
// client_golang's metric vectors, which hash every label set, nor passed
// through a registry, which checks and sorts every series at each scrape:
// Metrics keeps each pipeline's series in label order, with label pairs
// built once per series, and hands a scrape its families ready-made from
// one snapshot (see Gather).
package metrics

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// Counter names connectors report that get a metric of their own.
const (
	CounterAPICredits   = "api_credits"
	CounterTokensMinted = "tokens_minted"
)

// maxCounterSeries bounds the counter series of one pipeline, to what one
// run keeps of its two connectors' counters. Names beyond it, such as those
// of a connector that renamed its counters since the host started, get no
// series of their own.
const maxCounterSeries = 2 * contract.MaxCounters

// Load reports how busy the scheduler is, read at every scrape.
type Load func() (queued, inFlight int)

// Options says what a host's metrics know besides what it tells them.
type Options struct {
	// Host names this process as the state store names the host of a run
	// ("hostname:pid"). Runs of other hosts, which a host of a fleet finds
	// in the store, move the gauges but not the counters, so that a
	// fleet's counters summed over its hosts count each run once. Empty:
	// every run is this process's.
	Host string
	// Load, when set, reports the scheduler's queue and runs in flight.
	Load Load
	// Ready, when set, says whether the host is ready as /readyz does,
	// for replicator_ready (see readiness).
	Ready func(context.Context) error
	// CallbackOutcomes are the outcomes replicator_callbacks_total counts,
	// each shown from the start (see package notify).
	CallbackOutcomes []string
	// ConfigFilesRejected, when set, reports how many configuration files
	// are left out, or run in their last good version, for their errors.
	ConfigFilesRejected func() int
}

// Metrics is one host process's metrics.
type Metrics struct {
	reg  *prometheus.Registry // the process's, the scheduler's and readiness
	fam  [famCount]family
	host string
	now  func() time.Time
	// callbacks counts services' callbacks by outcome: host-wide, as a
	// forged one names no pipeline.
	callbacks *prometheus.CounterVec

	mu        sync.Mutex
	pipelines map[string]*pipeline
	names     []string // the pipelines' names in order; nil after one came or went
}

// pipeline is one pipeline's series, by family, each list in the order
// of its label values, and what its gauges were set from.
type pipeline struct {
	label  *dto.LabelPair
	series [famCount][]*series
	// configured is set by Configure: only then does the pipeline have
	// the gauges alerts rely on.
	configured bool
	source     string // the source's reference, for Authorized
	// lastRun is the ID of the newest run the gauges show; 0 when none.
	// A run with a later ID but the next one means runs were missed (they
	// ran on another host): the gauges are then read from the store.
	lastRun uint64
	loaded  bool // the gauges were read from the store
}

// series is one labelled value. Its label pairs are shared with every
// scrape, which only reads them.
type series struct {
	values []string // label values after the pipeline's
	labels []*dto.LabelPair
	value  float64   // a counter or gauge
	at     time.Time // the checkpoint lag's reference
	hist   *histogram
}

// New returns the metrics of a host.
func New(opts Options) *Metrics {
	m := &Metrics{
		reg:       prometheus.NewRegistry(),
		fam:       newFamilies(),
		host:      opts.Host,
		now:       time.Now,
		pipelines: map[string]*pipeline{},
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if load := opts.Load; load != nil {
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
	m.callbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "replicator_callbacks_total",
		Help: "Callbacks of services' change signals this host answered, by outcome: woke (verified, its pipeline woken), unknown_channel, wrong_method, too_large, forged.",
	}, []string{"outcome"})
	for _, o := range opts.CallbackOutcomes {
		m.callbacks.WithLabelValues(o)
	}
	m.reg.MustRegister(m.callbacks)
	if opts.Ready != nil {
		r := &readiness{check: opts.Ready, now: func() time.Time { return m.now() }}
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "replicator_ready",
			Help: "1 when the host is ready (its configuration is loaded and its state store answers), as /readyz says; 0 otherwise.",
		}, r.value))
	}
	if rejected := opts.ConfigFilesRejected; rejected != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "replicator_config_files_rejected",
			Help: "Configuration files with errors: their pipelines are left out, or run in the file's last good version.",
		}, func() float64 { return float64(rejected()) }))
	}
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	// Uncompressed: with a thousand pipelines, gzip costs the host about a
	// third more CPU per scrape, to save a megabyte on a local network.
	return promhttp.HandlerFor(m, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, DisableCompression: true})
}

// Records adds n records of a kind (runner.KindRead, KindDeleted or
// KindWritten) to a pipeline's stream.
func (m *Metrics) Records(pipeline, stream, kind string, n int64) {
	if n <= 0 {
		return
	}
	m.mu.Lock()
	m.series(pipeline, famRecords, stream, kind).value += float64(n)
	m.mu.Unlock()
}

// Counted adds what a connector counted during a run. Counters a
// connector reports with a "source." or "destination." prefix keep it. A
// pipeline has at most maxCounterSeries counter series.
func (m *Metrics) Counted(pipeline string, counters map[string]int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, name := range slices.Sorted(maps.Keys(counters)) {
		n := counters[name]
		if n <= 0 {
			continue
		}
		if m.counterFits(pipeline, name) {
			m.series(pipeline, famCounters, name).value += float64(n)
		}
		switch trimSide(name) {
		case CounterAPICredits:
			m.series(pipeline, famCredits).value += float64(n)
		case CounterTokensMinted:
			m.series(pipeline, famTokens).value += float64(n)
		}
	}
}

// counterFits reports whether the pipeline has a series for the counter,
// or room for one more. m.mu is held.
func (m *Metrics) counterFits(pipeline, name string) bool {
	p := m.pipelines[pipeline]
	if p == nil || len(p.series[famCounters]) < maxCounterSeries {
		return true
	}
	_, found := slices.BinarySearchFunc(p.series[famCounters], []string{name}, compareValues)
	return found
}

func trimSide(name string) string {
	for _, p := range []string{"source.", "destination."} {
		if len(name) > len(p) && name[:len(p)] == p {
			return name[len(p):]
		}
	}
	return name
}

// Checkpointed notes that a checkpoint of a pipeline's stream was stored at t.
func (m *Metrics) Checkpointed(pipeline, stream string, t time.Time) {
	m.mu.Lock()
	m.series(pipeline, famLag, stream).at = t
	m.mu.Unlock()
}

// PluginStarted counts a plugin process started for a pipeline.
func (m *Metrics) PluginStarted(pipeline, kind string) {
	m.mu.Lock()
	m.series(pipeline, famPluginStarts, kind).value++
	m.mu.Unlock()
}

// Callback counts a callback answered with outcome.
func (m *Metrics) Callback(outcome string) { m.callbacks.WithLabelValues(outcome).Inc() }

// PluginCrashed counts a run that failed because a plugin process exited.
func (m *Metrics) PluginCrashed(pipeline string) {
	m.mu.Lock()
	m.series(pipeline, famPluginCrashes).value++
	m.mu.Unlock()
}

// Forget drops every series of a pipeline that was removed from the
// configuration, so that a scrape no longer shows it.
func (m *Metrics) Forget(pipeline string) {
	m.mu.Lock()
	if _, ok := m.pipelines[pipeline]; ok {
		delete(m.pipelines, pipeline)
		m.names = nil
	}
	m.mu.Unlock()
}

// pipeline returns the named pipeline, making it when it is new. m.mu is
// held.
func (m *Metrics) pipeline(name string) *pipeline {
	p := m.pipelines[name]
	if p == nil {
		p = &pipeline{label: labelPair("pipeline", name)}
		m.pipelines[name] = p
		m.names = nil
	}
	return p
}

// series returns the series of a family of the named pipeline with the
// given label values, making it when it is new. m.mu is held.
func (m *Metrics) series(name string, f int, values ...string) *series {
	p := m.pipeline(name)
	list := p.series[f]
	i, found := slices.BinarySearchFunc(list, values, compareValues)
	if found {
		return list[i]
	}
	s := &series{values: values, labels: []*dto.LabelPair{p.label}}
	for j, l := range m.fam[f].labels {
		s.labels = append(s.labels, labelPair(l, values[j]))
	}
	slices.SortFunc(s.labels, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
	if m.fam[f].typ == dto.MetricType_HISTOGRAM {
		s.hist = &histogram{}
	}
	p.series[f] = slices.Insert(list, i, s)
	return s
}

// compareValues orders a family's series by their label values.
func compareValues(s *series, values []string) int { return slices.Compare(s.values, values) }

// labelPair makes a label, its value made valid UTF-8: names of streams
// and counters come from plugins, and a scrape drops a series whose label
// is not.
func labelPair(name, value string) *dto.LabelPair {
	value = strings.ToValidUTF8(value, "\uFFFD")
	return &dto.LabelPair{Name: &name, Value: &value}
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
