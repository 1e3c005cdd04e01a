package metrics

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/replicatorhq/replicator/host/state"
)

// The gauges alerts rely on exist for every pipeline of the configuration
// from the host's start: Configure makes them, from what the configuration
// says, and LoadRuns sets them from the state store, so that a pipeline that
// failed before the host started is seen failing at its first scrape. A
// gauge the host comes to know later (say, that a pipeline is paused) is
// one more family, made by Configure and moved by a setter.

// Config is what the configuration says of a pipeline that its gauges
// show.
type Config struct {
	// Source is the reference of the pipeline's source, such as
	// "source.zoho.acme": the pipelines of a source are authorized
	// together (Authorized).
	Source string
	// Interval is 0 for a pipeline that runs only when asked.
	Interval time.Duration
	// CreditsPerRun is the source's budget of API credits per run
	// (AttrCreditsPerRun); 0 for none.
	CreditsPerRun int64
}

// AttrCreditsPerRun is the source attribute that bounds the API credits a
// run spends (the Zoho source's); Config.CreditsPerRun is its value.
const AttrCreditsPerRun = "max_credits_per_run"

// endedOutcomes are the outcomes of runs that ended, which
// replicator_last_run_outcome has a series for; countedOutcomes those
// this host's runs end with, which replicator_runs_total has one for
// from the start, so that the first run of each is an increase.
var (
	endedOutcomes   = []string{state.OutcomeCrashed, state.OutcomeFailed, state.OutcomeInterrupted, state.OutcomeSucceeded}
	countedOutcomes = []string{state.OutcomeFailed, state.OutcomeInterrupted, state.OutcomeSucceeded}
)

// History is where LoadRuns reads a pipeline's runs: a state.Store.
type History interface {
	// Runs returns up to limit of a pipeline's runs, newest first; limit
	// <= 0 returns every kept run.
	Runs(ctx context.Context, pipeline string, limit int) ([]state.Run, error)
}

// Configure shows a pipeline of the configuration, making its gauges when
// it is new. It reports whether the pipeline is new to the metrics or has
// another source than before: the caller then says whether that source
// needs authorization (SetNeedsAuthorization) and sets the gauges from the
// state store (LoadRuns).
func (m *Metrics) Configure(name string, c Config) (fresh bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pipeline(name)
	if !p.configured {
		p.configured = true
		m.series(name, famLastSuccess)
		m.series(name, famFailures)
		m.series(name, famNeedsAuth)
		m.series(name, famBackoff)
		m.series(name, famDuration)
		for _, o := range endedOutcomes {
			m.series(name, famLastOutcome, o)
		}
		for _, o := range countedOutcomes {
			m.series(name, famRuns, o)
		}
	}
	fresh = !p.loaded || p.source != c.Source
	p.source = c.Source
	m.series(name, famInterval).value = c.Interval.Seconds()
	if c.CreditsPerRun > 0 {
		m.series(name, famCreditsPerRun).value = float64(c.CreditsPerRun)
		m.series(name, famLastRunCredits)
	} else {
		p.series[famCreditsPerRun] = nil
	}
	return fresh
}

// SetNeedsAuthorization says whether a configured pipeline's source takes
// a grant and has no credentials stored.
func (m *Metrics) SetNeedsAuthorization(name string, needs bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.setGauge(name, famNeedsAuth, needs)
}

// Authorized notes that credentials of a source were stored: none of its
// pipelines needs authorization any more.
func (m *Metrics) Authorized(source string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.authorized(source)
}

// authorized is Authorized with m.mu held.
func (m *Metrics) authorized(source string) {
	for name, p := range m.pipelines {
		if p.configured && p.source == source {
			m.setGauge(name, famNeedsAuth, false)
		}
	}
}

// setGauge sets a configured pipeline's gauge without labels to 1 or 0.
// m.mu is held.
func (m *Metrics) setGauge(name string, f int, on bool) {
	if p := m.pipelines[name]; p == nil || !p.configured {
		return
	}
	m.series(name, f).value = 0
	if on {
		m.series(name, f).value = 1
	}
}

// SetBackoff shows until when a configured pipeline backs off after
// failing; the zero time when it does not.
func (m *Metrics) SetBackoff(name string, until time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.pipelines[name]; p != nil && p.configured {
		m.series(name, famBackoff).value = seconds(until)
	}
}

// LoadRuns sets a configured pipeline's gauges from its newest runs in h:
// its last success, the outcome of its last ended run and the credits it
// spent, and its failures since its last success.
func (m *Metrics) LoadRuns(ctx context.Context, h History, name string) error {
	sum, err := summarize(ctx, h, name)
	if err != nil {
		return fmt.Errorf("reading the runs of pipeline %q for its metrics: %w", name, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pipelines[name]
	if p == nil || !p.configured {
		return nil // removed meanwhile
	}
	p.loaded, p.lastRun = true, sum.newest
	m.series(name, famFailures).value = float64(sum.failures)
	m.series(name, famLastSuccess).value = seconds(sum.lastSuccess)
	m.series(name, famBackoff).value = seconds(sum.backoff)
	if sum.last != nil {
		m.showOutcome(p, name, *sum.last)
	}
	return nil
}

// RunEnded records a run's end. A run this host ran (r.Host is this host,
// or unknown) counts in replicator_runs_total, the duration histogram and
// the connectors' counters. Any run, this host's or another's found in the
// store, moves the gauges, once: when runs came in between that the gauges
// did not see (they ran elsewhere), the gauges are read from h instead.
func (m *Metrics) RunEnded(ctx context.Context, h History, r state.Run) error {
	ended := cmp.Or(r.Ended, m.now())
	here := r.Host == "" || m.host == "" || r.Host == m.host
	m.mu.Lock()
	if here {
		m.series(r.Pipeline, famRuns, r.Outcome).value++
		m.series(r.Pipeline, famDuration).hist.observe(ended.Sub(r.Started).Seconds())
	}
	missed := h != nil && m.missed(r)
	if !missed {
		m.showRun(r, ended)
	}
	m.mu.Unlock()
	if here {
		m.Counted(r.Pipeline, r.Counters)
	}
	if !missed {
		return nil
	}
	if err := m.LoadRuns(ctx, h, r.Pipeline); err != nil {
		// As far as this run tells, then.
		m.mu.Lock()
		m.showRun(r, ended)
		m.mu.Unlock()
		return err
	}
	return nil
}

// missed reports whether the gauges of r's pipeline missed runs before r:
// they were never read from the store, or runs ended on other hosts since.
// m.mu is held.
func (m *Metrics) missed(r state.Run) bool {
	p := m.pipelines[r.Pipeline]
	return p != nil && p.configured && r.ID != 0 && (!p.loaded || r.ID > p.lastRun+1)
}

// showRun moves a configured pipeline's gauges by one ended run it has
// not shown yet. m.mu is held.
func (m *Metrics) showRun(r state.Run, ended time.Time) {
	name := r.Pipeline
	p := m.pipelines[name]
	if p == nil || !p.configured || (r.ID != 0 && r.ID <= p.lastRun) {
		return
	}
	p.lastRun = max(p.lastRun, r.ID)
	switch r.Outcome {
	case state.OutcomeSucceeded:
		m.series(name, famFailures).value = 0
		m.series(name, famBackoff).value = 0
		m.series(name, famLastSuccess).value = seconds(ended)
		// It could not have run without credentials.
		if s := p.series[famNeedsAuth]; len(s) == 1 && s[0].value != 0 {
			m.authorized(p.source)
		}
	case state.OutcomeFailed:
		m.series(name, famFailures).value++
		m.series(name, famBackoff).value = seconds(r.Backoff.Until)
	case state.OutcomeCrashed:
		m.series(name, famFailures).value++
	}
	m.showOutcome(p, name, r)
}

// showOutcome shows r as the pipeline's last ended run. m.mu is held.
func (m *Metrics) showOutcome(p *pipeline, name string, r state.Run) {
	for _, s := range p.series[famLastOutcome] {
		s.value = 0
		if s.values[0] == r.Outcome {
			s.value = 1
		}
	}
	var credits int64
	for k, n := range r.Counters {
		if trimSide(k) == CounterAPICredits {
			credits += n
		}
	}
	if credits > 0 || p.series[famLastRunCredits] != nil {
		m.series(name, famLastRunCredits).value = float64(credits)
	}
}

// seconds is t as Unix seconds; 0 for the zero time.
func seconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// summary is what a pipeline's newest runs say.
type summary struct {
	newest      uint64     // the newest ended run's ID
	last        *state.Run // the newest ended run; nil when none ended
	lastSuccess time.Time  // when the newest successful run ended
	failures    int        // failed and crashed runs since then
	backoff     time.Time  // the newest counted failure's backoff end
}

// historyFirstRead is how many runs LoadRuns reads first: enough to reach
// the last success of almost every pipeline. Only a pipeline that failed
// more often since has all its kept runs read.
const historyFirstRead = 16

func summarize(ctx context.Context, h History, name string) (summary, error) {
	runs, err := h.Runs(ctx, name, historyFirstRead)
	if err != nil {
		return summary{}, err
	}
	s, complete := summarizeRuns(runs)
	if !complete && len(runs) == historyFirstRead {
		if runs, err = h.Runs(ctx, name, 0); err != nil {
			return summary{}, err
		}
		s, _ = summarizeRuns(runs)
	}
	return s, nil
}

// summarizeRuns reads runs, newest first, back to the last success, which
// completes the summary. Runs still running are not ended, and runs
// interrupted by a shutdown neither failed nor succeeded.
func summarizeRuns(runs []state.Run) (s summary, complete bool) {
	for i, r := range runs {
		if r.Outcome == state.OutcomeRunning {
			continue
		}
		if s.last == nil {
			s.last, s.newest = &runs[i], r.ID
		}
		switch r.Outcome {
		case state.OutcomeSucceeded:
			s.lastSuccess = cmp.Or(r.Ended, r.Started)
			return s, true
		case state.OutcomeFailed, state.OutcomeCrashed:
			s.failures++
			if s.backoff.IsZero() && r.Outcome == state.OutcomeFailed {
				s.backoff = r.Backoff.Until
			}
		}
	}
	return s, false
}
