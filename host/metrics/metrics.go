// Package metrics holds the host's Prometheus metrics: what each pipeline
// read and wrote, how its runs ended, what its connectors counted, and how
// busy the scheduler is. Every name starts with replicator_ and carries a
// pipeline label; none carries a configuration value, so no secret can
// reach a label.
//
// A host may hold thousands of pipelines, so their series are not kept in
// client_golang's metric vectors, which hash every label set and hand a
// scrape its series in no order. Metrics is itself a collector: it keeps
// each pipeline's series in label order and writes them from one snapshot,
// with label pairs built once per series.
package metrics

import (
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

// The families of per-pipeline series, in the order a scrape lists them.
const (
	famRecords = iota
	famRuns
	famDuration
	famLastSuccess
	famCounters
	famCredits
	famTokens
	famPluginStarts
	famPluginCrashes
	famLag
	famCount
)

// durationBuckets are the run duration histogram's upper bounds. Few: a
// host of 1,000 pipelines has a histogram each.
var durationBuckets = [...]float64{10, 60, 600, 3600}

// family is one metric name: its description, its type, and the labels
// its series carry after "pipeline".
type family struct {
	desc   *prometheus.Desc
	typ    dto.MetricType
	labels []string
}

func newFamily(name, help string, typ dto.MetricType, labels ...string) family {
	return family{
		desc:   prometheus.NewDesc(name, help, append([]string{"pipeline"}, labels...), nil),
		typ:    typ,
		labels: labels,
	}
}

func families() [famCount]family {
	var f [famCount]family
	f[famRecords] = newFamily("replicator_records_total",
		"Records per pipeline and stream, by kind: read from the source, deleted (the deletes among them), written (acknowledged by the destination as stored).",
		dto.MetricType_COUNTER, "stream", "kind")
	f[famRuns] = newFamily("replicator_runs_total",
		"Runs that ended, by outcome: succeeded, failed, interrupted.",
		dto.MetricType_COUNTER, "outcome")
	f[famDuration] = newFamily("replicator_run_duration_seconds",
		"Wall time of runs that ended.",
		dto.MetricType_HISTOGRAM)
	f[famLastSuccess] = newFamily("replicator_last_success_timestamp_seconds",
		"Unix time at which the pipeline's last successful run ended.",
		dto.MetricType_GAUGE)
	f[famCounters] = newFamily("replicator_connector_counter_total",
		"Every counter a pipeline's connectors report, by the connector's own counter name.",
		dto.MetricType_COUNTER, "counter")
	f[famCredits] = newFamily("replicator_source_api_credits_total",
		"API credits the pipeline's source spent (Zoho CRM: credits of the org's daily allowance).",
		dto.MetricType_COUNTER)
	f[famTokens] = newFamily("replicator_source_tokens_minted_total",
		"OAuth access tokens the pipeline's source minted.",
		dto.MetricType_COUNTER)
	f[famPluginStarts] = newFamily("replicator_plugin_starts_total",
		"Plugin processes started, by kind (source, destination): each run starts one of each.",
		dto.MetricType_COUNTER, "kind")
	f[famPluginCrashes] = newFamily("replicator_plugin_crashes_total",
		"Runs that failed because a plugin process exited while the host still needed it.",
		dto.MetricType_COUNTER)
	f[famLag] = newFamily("replicator_checkpoint_lag_seconds",
		"Seconds since the stream's last checkpoint was acknowledged and stored.",
		dto.MetricType_GAUGE, "stream")
	return f
}

// Metrics is one host process's metrics, in a registry of its own.
type Metrics struct {
	reg *prometheus.Registry
	fam [famCount]family
	now func() time.Time

	mu        sync.Mutex
	pipelines map[string]*pipeline
	names     []string // the pipelines' names in order; nil after one came or went
}

// pipeline is one pipeline's series, by family, each list in the order
// of its label values.
type pipeline struct {
	label  *dto.LabelPair
	series [famCount][]*series
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

type histogram struct {
	count   uint64
	sum     float64
	buckets [len(durationBuckets)]uint64 // not cumulative
}

// New returns the metrics of a host whose scheduler reports its load
// through load (nil when there is no scheduler, as for one sync).
func New(load Load) *Metrics {
	m := &Metrics{
		reg:       prometheus.NewRegistry(),
		fam:       families(),
		now:       time.Now,
		pipelines: map[string]*pipeline{},
	}
	m.reg.MustRegister(m, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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

// RunEnded records a run's outcome and duration; a success also sets the
// pipeline's last success time to ended.
func (m *Metrics) RunEnded(pipeline, outcome string, started, ended time.Time) {
	took := ended.Sub(started).Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.series(pipeline, famRuns, outcome).value++
	h := m.series(pipeline, famDuration).hist
	h.count++
	h.sum += took
	for i, le := range durationBuckets {
		if took <= le {
			h.buckets[i]++
			break
		}
	}
	if outcome == "succeeded" {
		m.series(pipeline, famLastSuccess).value = float64(ended.UnixNano()) / 1e9
	}
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

// series returns the series of a family of the named pipeline with the
// given label values, making it when it is new. m.mu is held.
func (m *Metrics) series(name string, f int, values ...string) *series {
	p := m.pipelines[name]
	if p == nil {
		p = &pipeline{label: labelPair("pipeline", name)}
		m.pipelines[name] = p
		m.names = nil
	}
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

// Describe sends the per-pipeline families' descriptions.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range m.fam {
		ch <- f.desc
	}
}

// Collect sends every pipeline's series, from a snapshot taken under the
// lock, in order of family, pipeline and label values.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, p := range m.snapshot() {
		ch <- p
	}
}

func (m *Metrics) snapshot() []prometheus.Metric {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.names == nil {
		for name := range m.pipelines {
			m.names = append(m.names, name)
		}
		slices.Sort(m.names)
	}
	// One allocation for all the points of a kind rather than one each.
	var nPoints, nHists int
	for _, p := range m.pipelines {
		for f := range famCount {
			if f == famDuration {
				nHists += len(p.series[f])
			} else {
				nPoints += len(p.series[f])
			}
		}
	}
	points, hists := make([]point, 0, nPoints), make([]histogramPoint, 0, nHists)
	out := make([]prometheus.Metric, 0, nPoints+nHists)
	now := m.now()
	for f := range famCount {
		fam := &m.fam[f]
		for _, name := range m.names {
			for _, s := range m.pipelines[name].series[f] {
				switch {
				case s.hist != nil:
					hists = append(hists, newHistogramPoint(fam.desc, s))
					out = append(out, &hists[len(hists)-1])
				case f == famLag:
					points = append(points, point{desc: fam.desc, typ: fam.typ, labels: s.labels, value: now.Sub(s.at).Seconds()})
					out = append(out, &points[len(points)-1])
				default:
					points = append(points, point{desc: fam.desc, typ: fam.typ, labels: s.labels, value: s.value})
					out = append(out, &points[len(points)-1])
				}
			}
		}
	}
	return out
}

// point is a counter's or gauge's value at a scrape.
type point struct {
	desc   *prometheus.Desc
	typ    dto.MetricType
	labels []*dto.LabelPair
	value  float64
}

func (p *point) Desc() *prometheus.Desc { return p.desc }

func (p *point) Write(out *dto.Metric) error {
	out.Label = p.labels
	if p.typ == dto.MetricType_COUNTER {
		out.Counter = &dto.Counter{Value: &p.value}
	} else {
		out.Gauge = &dto.Gauge{Value: &p.value}
	}
	return nil
}

// histogramPoint is a run duration histogram at a scrape.
type histogramPoint struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	count  uint64
	sum    float64
	cum    [len(durationBuckets)]uint64
	bounds [len(durationBuckets)]float64
}

func newHistogramPoint(desc *prometheus.Desc, s *series) histogramPoint {
	p := histogramPoint{desc: desc, labels: s.labels, count: s.hist.count, sum: s.hist.sum, bounds: durationBuckets}
	var n uint64
	for i, c := range s.hist.buckets {
		n += c
		p.cum[i] = n
	}
	return p
}

func (p *histogramPoint) Desc() *prometheus.Desc { return p.desc }

func (p *histogramPoint) Write(out *dto.Metric) error {
	out.Label = p.labels
	h := &dto.Histogram{SampleCount: &p.count, SampleSum: &p.sum}
	for i := range p.cum {
		h.Bucket = append(h.Bucket, &dto.Bucket{CumulativeCount: &p.cum[i], UpperBound: &p.bounds[i]})
	}
	out.Histogram = h
	return nil
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
