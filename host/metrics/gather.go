package metrics

import (
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// histogram is a run duration histogram.
type histogram struct {
	count   uint64
	sum     float64
	buckets [len(durationBuckets)]uint64 // not cumulative
}

func (h *histogram) observe(seconds float64) {
	h.count++
	h.sum += seconds
	for i, le := range durationBuckets {
		if seconds <= le {
			h.buckets[i]++
			return
		}
	}
}

// Gather returns what a scrape shows: the registry's families (the
// process's, the scheduler's, readiness) and the pipelines', sorted by
// name. It is the handler's prometheus.Gatherer.
func (m *Metrics) Gather() ([]*dto.MetricFamily, error) {
	out, err := m.reg.Gather()
	out = append(out, m.gather()...)
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out, err
}

// gather builds the pipelines' families from a snapshot taken under the
// lock, each family's series in order of pipeline and label values. What
// a scrape needs is allocated once per kind rather than once per series;
// the label pairs and names are shared, as the encoder only reads them.
func (m *Metrics) gather() []*dto.MetricFamily {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.names == nil {
		for name := range m.pipelines {
			m.names = append(m.names, name)
		}
		slices.Sort(m.names)
	}
	var perFamily [famCount]int
	var nCounters, nGauges, nHists int
	for _, p := range m.pipelines {
		for f := range famCount {
			perFamily[f] += len(p.series[f])
		}
	}
	for f, n := range perFamily {
		switch m.fam[f].typ {
		case dto.MetricType_COUNTER:
			nCounters += n
		case dto.MetricType_HISTOGRAM:
			nHists += n
		default:
			nGauges += n
		}
	}
	nSeries := nCounters + nGauges + nHists
	const nb = len(durationBuckets)
	var (
		metrics  = make([]dto.Metric, nSeries)
		ptrs     = make([]*dto.Metric, nSeries)
		values   = make([]float64, nSeries)
		counters = make([]dto.Counter, nCounters)
		gauges   = make([]dto.Gauge, nGauges)
		hists    = make([]dto.Histogram, nHists)
		buckets  = make([]dto.Bucket, nHists*nb)
		bptrs    = make([]*dto.Bucket, nHists*nb)
		cum      = make([]uint64, nHists*(nb+1)) // each histogram's cumulative counts, then its count
		out      = make([]*dto.MetricFamily, 0, famCount)
		famStore = make([]dto.MetricFamily, famCount)
	)
	now := m.now()
	var i, c, g, h int
	for f := range famCount {
		if perFamily[f] == 0 {
			continue
		}
		fam := &m.fam[f]
		mf := &famStore[f]
		mf.Name, mf.Help, mf.Type = &fam.name, &fam.help, fam.typ.Enum()
		mf.Metric = ptrs[i : i+perFamily[f] : i+perFamily[f]]
		out = append(out, mf)
		for _, name := range m.names {
			for _, s := range m.pipelines[name].series[f] {
				mt := &metrics[i]
				ptrs[i] = mt
				mt.Label = s.labels
				switch {
				case s.hist != nil:
					hp := &hists[h]
					counts := cum[h*(nb+1) : (h+1)*(nb+1)]
					var n uint64
					for k, b := range s.hist.buckets {
						n += b
						counts[k] = n
						bk := &buckets[h*nb+k]
						bk.CumulativeCount, bk.UpperBound = &counts[k], &durationBuckets[k]
						bptrs[h*nb+k] = bk
					}
					counts[nb] = s.hist.count
					values[i] = s.hist.sum
					hp.SampleCount, hp.SampleSum, hp.Bucket = &counts[nb], &values[i], bptrs[h*nb:(h+1)*nb:(h+1)*nb]
					mt.Histogram = hp
					h++
				case fam.typ == dto.MetricType_COUNTER:
					values[i] = s.value
					counters[c].Value = &values[i]
					mt.Counter = &counters[c]
					c++
				default:
					values[i] = s.value
					if f == famLag {
						values[i] = now.Sub(s.at).Seconds()
					}
					gauges[g].Value = &values[i]
					mt.Gauge = &gauges[g]
					g++
				}
				i++
			}
		}
	}
	return out
}
