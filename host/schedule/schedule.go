// Package schedule runs jobs on their intervals with a bounded number of
// runs in flight.
//
// A job whose run is due waits in one queue, oldest due first, until a run
// slot is free. A job is in at most one place at a time (waiting for its
// due time, queued, or running), so its runs never overlap and a run that
// outlasts its interval is not queued a second time. First runs are spread
// by a stable per-name offset (FirstRunOffset); later runs are due one
// interval after the previous due time, or when the run itself says: a run
// that found its job held elsewhere asks to be tried again soon, one that
// found it done elsewhere asks for one interval after that.
//
// A run tried again because its job was held elsewhere is a takeover: the
// host holding the job may be gone, and its jobs must move on within a
// bound whatever this host's queue holds. Takeovers therefore wait in a
// lane of their own, oldest due first, which goes before the queue for
// every free slot and has slots of its own besides (TakeoverSlots), so
// that neither a backlog of due runs nor runs that hold every slot for
// hours keep them waiting, and a host that loses a peer takes on at most
// that many runs beyond its bound.
//
// A run that failed may ask for a later next run than one interval on: a
// failure backoff (Backoff). A job that backs off goes back to its
// interval when its Version changes (its configuration was edited) or
// RunNow runs it. A takeover retry is never a backoff: it is the host's
// own trouble, not the job's.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// First runs are spread so that a host started with many pipelines does
// not start them all at once. The window grows with the number of jobs,
// FirstRunSpreadPerJob each, up to MaxFirstRunSpread, and never exceeds a
// job's interval: a host restarted with 1,000 pipelines on a one-hour
// interval starts them over a minute (the queue then bounds how many run
// at once), and one with a single pipeline starts it within 100 ms.
const (
	FirstRunSpreadPerJob = 100 * time.Millisecond
	MaxFirstRunSpread    = time.Minute
)

// Job is something to run every Interval.
type Job struct {
	Name     string
	Interval time.Duration
	// Version says what the job runs, such as a digest of its
	// configuration: a job that backs off and is Set with another Version
	// is due as if its runs had not failed.
	Version string
	// Run does one run and reports its own outcome. It is called from a
	// goroutine of its own; a cancelled ctx asks it to stop gracefully.
	// It returns when the job is next due.
	Run func(ctx context.Context) Next
}

// Next is when a job is next due, as its run says.
type Next struct {
	// At is the time: the zero time means one Interval after this run was
	// due, a time already past means now.
	At time.Time
	// Takeover says the run found the job held elsewhere, or could not
	// take or keep it: its next run goes in the takeover lane.
	Takeover bool
	// Backoff says At is later than one interval on because the job's
	// runs failed (see Backoff): a new Version of the job, or RunNow,
	// cuts the wait short.
	Backoff bool
}

// The failure backoff: after BackoffAfter failures in a row, a job waits
// twice as long after each further one, from its interval up to a ceiling,
// each wait shortened by up to BackoffJitter of itself so that jobs that
// started failing together (a service down for every tenant) come back
// apart.
const (
	BackoffAfter  = 2
	BackoffJitter = 0.1
)

// Backoff is how long after the start of a job's run that ended its
// failures failures in a row its next run is due: its interval until
// BackoffAfter failures, then doubling with each failure up to ceiling
// (never below the interval), less a jitter. The jitter is a hash of the
// name and the count, not a random draw, so that every host sharing the
// job's history computes the same wait. A job without an interval runs
// only when asked, and does not back off.
func Backoff(name string, interval time.Duration, failures int, ceiling time.Duration) time.Duration {
	if interval <= 0 || failures < BackoffAfter || ceiling <= interval {
		return interval
	}
	// Doublings beyond 62 overflow, and are past any ceiling anyway.
	doublings := min(failures-BackoffAfter+1, 62)
	wait := ceiling
	if f := float64(interval) * math.Pow(2, float64(doublings)); f < float64(ceiling) {
		wait = time.Duration(f)
	}
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%s\x00%d", name, failures)
	jitter := time.Duration(float64(wait) * BackoffJitter * float64(h.Sum64()%1000) / 1000)
	return max(wait-jitter, interval)
}

// Options configure a Scheduler.
type Options struct {
	// MaxConcurrent bounds the runs in flight; less than 1 means 1.
	MaxConcurrent int
	Log           hclog.Logger
}

// TakeoverSlots is how many runs of the takeover lane may be in flight
// beyond maxConcurrent: one for every four slots, and at least one. The
// lane also goes first for the ordinary slots, so with short runs it
// rarely needs its own.
func TakeoverSlots(maxConcurrent int) int { return max(1, maxConcurrent/4) }

// FirstRunSpread is the window over which the first runs of jobs jobs
// spread.
func FirstRunSpread(jobs int) time.Duration {
	return min(time.Duration(jobs)*FirstRunSpreadPerJob, MaxFirstRunSpread)
}

// FirstRunOffset is how long after a job is added its first run is due: a
// hash of its name spread over min(interval, spread). The same name always
// gets the same offset, so restarts keep the spread.
func FirstRunOffset(name string, interval, spread time.Duration) time.Duration {
	spread = min(interval, spread)
	if spread <= 0 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return time.Duration(h.Sum64() % uint64(spread))
}

type phase int

const (
	waiting phase = iota // for its due time
	queued               // due, for a free run slot
	running
)

type entry struct {
	job    Job
	phase  phase
	added  time.Time
	spread time.Duration // of its first run
	// takeover is whether the entry's next run, or the one queued, is a
	// takeover; onLane whether the one running holds a slot of the lane's
	// own.
	takeover, onLane bool
	// backoff is whether the entry waits for a failure backoff to end.
	backoff bool
	// due is when the entry's next run is due, or the current run was.
	due time.Time
	// last is the due time of the last run started; zero before the first.
	last    time.Time
	stop    func() bool // stops the timer while waiting
	gen     int         // tells a stale timer's callback from the current one
	removed bool        // stop scheduling once the run in flight ends
	// woken is a Wake that came while the job ran: it is due again
	// WakeDelay after the run ends.
	woken bool
}

// Scheduler runs jobs on their intervals. Set the jobs with Set, before or
// while Run runs.
type Scheduler struct {
	log   hclog.Logger
	clock clock

	mu       sync.Mutex
	max      int
	entries  map[string]*entry
	queue    []*entry        // oldest due first
	lane     []*entry        // takeovers, oldest due first
	inFlight int             // in the ordinary slots
	onLane   int             // in the lane's own slots
	ctx      context.Context // set by Run; runs start only once it is
	stopped  bool
	runs     sync.WaitGroup
}

// New returns a scheduler without jobs.
func New(opts Options) *Scheduler {
	if opts.Log == nil {
		opts.Log = hclog.NewNullLogger()
	}
	return &Scheduler{log: opts.Log, clock: realClock{}, max: max(opts.MaxConcurrent, 1), entries: map[string]*entry{}}
}

// SetMaxConcurrent changes the bound on runs in flight. Lowering it lets
// the runs in flight finish; no new run starts until fewer are in flight.
func (s *Scheduler) SetMaxConcurrent(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.max = max(n, 1)
	s.dispatch()
}

// InFlight returns the number of runs underway.
func (s *Scheduler) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight + s.onLane
}

// Queued returns the number of due runs waiting for a free slot, takeovers
// included.
func (s *Scheduler) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue) + len(s.lane)
}

// Jobs returns the number of jobs scheduled.
func (s *Scheduler) Jobs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.entries {
		if !e.removed {
			n++
		}
	}
	return n
}

// Set makes jobs the scheduled set, matched by name: a new job gets its
// first run FirstRunOffset after now, spread over FirstRunSpread(len(jobs)); a job no longer in jobs is dropped,
// after its run in flight if it has one; a job already scheduled keeps its
// place and uses the new Run from its next run on, and a changed interval
// moves its next due time, unless that is a takeover's.
func (s *Scheduler) Set(jobs []Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := make(map[string]bool, len(jobs))
	spread := FirstRunSpread(len(jobs))
	for _, j := range jobs {
		keep[j.Name] = true
		e, ok := s.entries[j.Name]
		if !ok {
			e = &entry{job: j, added: s.clock.Now(), spread: spread}
			s.entries[j.Name] = e
			s.arm(e, Next{})
			continue
		}
		old := e.job
		e.job, e.removed = j, false
		changed := j.Interval != old.Interval || (e.backoff && j.Version != old.Version)
		if e.phase == waiting && changed && !e.takeover {
			e.stop()
			s.arm(e, Next{})
		}
	}
	for name, e := range s.entries {
		if keep[name] || e.removed {
			continue
		}
		switch e.phase {
		case waiting:
			e.stop()
			delete(s.entries, name)
		case queued:
			s.unqueue(e)
			delete(s.entries, name)
		case running:
			e.removed = true
		}
	}
	s.dispatch()
}

// Run starts due runs until ctx is cancelled, then waits for the runs in
// flight to stop; queued runs do not start. It returns only then. Run
// is called once.
func (s *Scheduler) Run(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	s.dispatch()
	s.mu.Unlock()

	<-ctx.Done()

	s.mu.Lock()
	s.stopped = true
	for _, e := range s.entries {
		if e.phase == waiting {
			e.stop()
		}
	}
	s.queue, s.lane = nil, nil
	s.mu.Unlock()
	s.runs.Wait()
}

// runStarted says whether Run has begun starting runs.
func (s *Scheduler) runStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ctx != nil
}

// arm sets e's next due time and its timer: next.At when it is not zero,
// else from the last run's due time. s.mu is held. A job without an
// interval waits without a timer until RunNow queues it.
func (s *Scheduler) arm(e *entry, n Next) {
	now := s.clock.Now()
	next := n.At
	e.takeover = n.Takeover
	e.backoff = n.Backoff && !n.Takeover && !n.At.IsZero()
	if e.job.Interval <= 0 {
		e.phase, e.due = waiting, time.Time{}
		e.gen++
		e.stop = func() bool { return false }
		return
	}
	switch {
	case !next.IsZero():
		e.due = next
		if next.Before(now) {
			e.due = now
		}
	case e.last.IsZero():
		e.due = e.added.Add(FirstRunOffset(e.job.Name, e.job.Interval, e.spread))
	case e.last.Add(e.job.Interval).Before(now):
		// The run outlasted its interval: the next one is due now, behind
		// the runs already waiting, so that a long run cannot keep its
		// slot by always being the oldest due.
		e.due = now
	default:
		e.due = e.last.Add(e.job.Interval)
	}
	e.phase = waiting
	e.gen++
	gen := e.gen
	e.stop = s.clock.AfterFunc(e.due.Sub(now), func() { s.fire(e, gen) })
	s.log.Debug("next run scheduled", "pipeline", e.job.Name, "at", e.due.Format(time.RFC3339))
}

// fire queues e when its timer goes off.
func (s *Scheduler) fire(e *entry, gen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || e.gen != gen || e.phase != waiting || s.entries[e.job.Name] != e {
		return
	}
	e.phase = queued
	q := &s.queue
	if e.takeover {
		q = &s.lane
	}
	// Insert in due order: timers can fire late and out of order.
	i, _ := slices.BinarySearchFunc(*q, e, func(a, b *entry) int {
		if a.due.After(b.due) {
			return 1
		}
		return -1
	})
	*q = slices.Insert(*q, i, e)
	s.dispatch()
}

// unqueue takes queued e out of its queue. s.mu is held.
func (s *Scheduler) unqueue(e *entry) {
	is := func(q *entry) bool { return q == e }
	s.queue = slices.DeleteFunc(s.queue, is)
	s.lane = slices.DeleteFunc(s.lane, is)
}

// dispatch starts queued runs while slots are free: takeovers first, in
// a slot of the lane's own while one is free and else in an ordinary one,
// then the queue in the ordinary slots. s.mu is held.
func (s *Scheduler) dispatch() {
	// A run that ends on cancellation may get here before Run has marked
	// the stop: the context says it first.
	for s.ctx != nil && s.ctx.Err() == nil && !s.stopped {
		var e *entry
		switch {
		case len(s.lane) > 0 && s.onLane < TakeoverSlots(s.max):
			e, s.lane = s.lane[0], s.lane[1:]
			e.onLane = true
			s.onLane++
		case s.inFlight >= s.max:
			return
		case len(s.lane) > 0:
			e, s.lane = s.lane[0], s.lane[1:]
			s.inFlight++
		case len(s.queue) > 0:
			e, s.queue = s.queue[0], s.queue[1:]
			s.inFlight++
		default:
			return
		}
		e.phase, e.last = running, e.due
		s.runs.Add(1)
		go s.run(s.ctx, e, e.job)
	}
}

func (s *Scheduler) run(ctx context.Context, e *entry, j Job) {
	defer s.runs.Done()
	next := j.Run(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.onLane {
		e.onLane = false
		s.onLane--
	} else {
		s.inFlight--
	}
	switch {
	case e.removed:
		if s.entries[j.Name] == e {
			delete(s.entries, j.Name)
		}
	case !s.stopped && ctx.Err() == nil:
		if next.Backoff && e.job.Version != j.Version {
			// Its configuration changed while the failing run ran: the
			// new one has not failed yet.
			next = Next{}
		}
		s.arm(e, next)
		if e.woken {
			e.woken = false
			s.wake(e)
		}
	}
	s.dispatch()
}

// Phases of a job, as Status reports them.
const (
	PhaseWaiting = "waiting" // for its due time, or for RunNow without an interval
	PhaseQueued  = "queued"  // due, for a free run slot
	PhaseRunning = "running"
)

func (p phase) String() string {
	switch p {
	case queued:
		return PhaseQueued
	case running:
		return PhaseRunning
	}
	return PhaseWaiting
}

// Status is what the scheduler knows of one job.
type Status struct {
	Phase string
	// Due is when the next run is due while waiting or queued, or when
	// the current one was due while running; zero for a job without an
	// interval that waits for RunNow.
	Due time.Time
	// Backoff says Due is the end of a failure backoff.
	Backoff bool
}

// Status returns the status of the job called name, and false when the
// scheduler has no such job.
func (s *Scheduler) Status(name string) (Status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[name]
	if !ok || e.removed {
		return Status{}, false
	}
	return Status{Phase: e.phase.String(), Due: e.due, Backoff: e.backoff && e.phase != running}, true
}

// Errors of RunNow.
var (
	ErrUnknownJob = errors.New("no such pipeline is scheduled")
	ErrRunning    = errors.New("a run is underway")
)

// RunNow queues the job called name at once, behind the runs already due,
// as if its due time had come, a failure backoff or not; its later runs
// follow one interval after this one. A job already queued stays where it
// is; a running one gets ErrRunning.
func (s *Scheduler) RunNow(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[name]
	switch {
	case !ok || e.removed:
		return ErrUnknownJob
	case e.phase == running:
		return ErrRunning
	case e.phase == queued:
		return nil
	}
	e.stop()
	e.gen++
	e.due = s.clock.Now()
	e.phase = queued
	e.backoff = false
	// Due now: no queued run is due later. A takeover stays one.
	if e.takeover {
		s.lane = append(s.lane, e)
	} else {
		s.queue = append(s.queue, e)
	}
	s.dispatch()
	return nil
}

// WakeDelay is how long after a Wake the job is due: the wakes of a burst
// of changes, and those that come while the job runs, are folded into one
// run.
const WakeDelay = time.Second

// Wake makes the job called name due WakeDelay from now, unless it is due
// sooner: a change it should pick up has happened. A job that is queued
// stays so; one that is running is due again WakeDelay after its run
// ends, however many wakes came meanwhile. The run is an ordinary one,
// in the takeover lane when its job's next run is a takeover, so the
// slots bound it as any other; later runs follow one interval after it.
func (s *Scheduler) Wake(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[name]
	switch {
	case !ok || e.removed:
		return ErrUnknownJob
	case e.phase == running:
		e.woken = true
		return nil
	case e.phase == waiting && !s.stopped:
		s.wake(e)
	}
	return nil
}

// wake moves waiting e's due time to WakeDelay from now if that is
// sooner. s.mu is held.
func (s *Scheduler) wake(e *entry) {
	now := s.clock.Now()
	at := now.Add(WakeDelay)
	if !e.due.IsZero() && !e.due.After(at) {
		return
	}
	e.stop()
	e.due = at
	e.gen++
	gen := e.gen
	e.stop = s.clock.AfterFunc(WakeDelay, func() { s.fire(e, gen) })
	s.log.Debug("woken: next run scheduled", "pipeline", e.job.Name, "at", e.due.Format(time.RFC3339))
}

// clock is time as the scheduler sees it; tests drive their own.
type clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d and returns a
	// function that stops the timer.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
