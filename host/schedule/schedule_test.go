package schedule

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand. Timers fire, in due order,
// from Advance, on the test's goroutine.
type fakeClock struct {
	mu     sync.Mutex
	cond   *sync.Cond
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	when time.Time
	f    func()
	done bool // fired or stopped
}

func newFakeClock() *fakeClock {
	c := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{when: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	c.cond.Broadcast()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.done
		t.done = true
		c.cond.Broadcast()
		return was
	}
}

// Advance moves the clock by d and fires the timers then due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	for _, t := range c.timers {
		if !t.done && !t.when.After(c.now) {
			t.done = true
			due = append(due, t)
		}
	}
	c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool { return t.done })
	c.mu.Unlock()
	slices.SortStableFunc(due, func(a, b *fakeTimer) int { return a.when.Compare(b.when) })
	for _, t := range due {
		t.f()
	}
}

// waitArmed waits until n timers are pending.
func (c *fakeClock) waitArmed(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.pending() != n {
		c.cond.Wait()
	}
}

func (c *fakeClock) pending() int {
	n := 0
	for _, t := range c.timers {
		if !t.done {
			n++
		}
	}
	return n
}

// harness runs a scheduler on a fake clock and records which job starts.
type harness struct {
	t       *testing.T
	clock   *fakeClock
	s       *Scheduler
	started chan string
	cancel  context.CancelFunc
	done    chan struct{}
}

func newHarness(t *testing.T, maxConcurrent int) *harness {
	h := &harness{t: t, clock: newFakeClock(), started: make(chan string, 1000), done: make(chan struct{})}
	h.s = New(Options{MaxConcurrent: maxConcurrent})
	h.s.clock = h.clock
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.s.Run(ctx); close(h.done) }()
	t.Cleanup(func() { h.stop() })
	// Runs start only once Run has begun: wait for it, or a busy machine
	// makes the first Advance queue runs that nothing starts yet.
	for !h.s.runStarted() {
		time.Sleep(time.Millisecond)
	}
	return h
}

func (h *harness) stop() {
	h.cancel()
	<-h.done
}

// job returns a job that reports its start and, when block is not nil,
// runs until block is closed or the scheduler stops.
func (h *harness) job(name string, interval time.Duration, block chan struct{}) Job {
	return Job{Name: name, Interval: interval, Run: func(ctx context.Context) Next {
		h.started <- name
		if block != nil {
			select {
			case <-block:
			case <-ctx.Done():
			}
		}
		return Next{}
	}}
}

// next returns the next job to start. Runs start as the clock advances,
// so a run that has not started half a minute later never will.
func (h *harness) next() string {
	h.t.Helper()
	select {
	case name := <-h.started:
		return name
	case <-time.After(30 * time.Second):
		h.t.Fatal("no run started")
		return ""
	}
}

// noneStarted checks that no run started. Runs start synchronously with
// the clock's Advance, so a count of zero in flight and nothing reported
// means none did.
func (h *harness) noneStarted() {
	h.t.Helper()
	if n := h.s.InFlight(); n != 0 {
		h.t.Fatalf("%d runs in flight, want none", n)
	}
	select {
	case name := <-h.started:
		h.t.Fatalf("%s started, want no run", name)
	default:
	}
}

// idle waits until no run is in flight: a finished run reschedules its job
// after its Run returns.
func (h *harness) idle() {
	h.t.Helper()
	for i := 0; h.s.InFlight() != 0; i++ {
		if i > 10000 {
			h.t.Fatal("runs never finished")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFirstRunAtItsOffsetThenEveryIntervalAfterItsDueTime(t *testing.T) {
	h := newHarness(t, 4)
	const interval = 10 * time.Minute
	block := make(chan struct{})
	h.s.Set([]Job{h.job("tenant-a", interval, block)})
	off := FirstRunOffset("tenant-a", interval, FirstRunSpread(1))

	h.clock.Advance(off - time.Nanosecond)
	h.noneStarted()
	h.clock.Advance(time.Nanosecond)
	if got := h.next(); got != "tenant-a" {
		t.Fatalf("started %s", got)
	}
	// The run takes three minutes; the next is still due one interval
	// after the first was due, not after it ended.
	h.clock.Advance(3 * time.Minute)
	close(block)
	h.idle()
	h.clock.waitArmed(1)
	h.clock.Advance(interval - 3*time.Minute - time.Nanosecond)
	h.noneStarted()
	h.clock.Advance(time.Nanosecond)
	if got := h.next(); got != "tenant-a" {
		t.Fatalf("started %s", got)
	}
}

func TestFirstRunOffsetIsStableBoundedAndSpread(t *testing.T) {
	if s := FirstRunSpread(1000); s != MaxFirstRunSpread {
		t.Fatalf("1000 jobs spread over %s, want %s", s, MaxFirstRunSpread)
	}
	if s := FirstRunSpread(1); s != FirstRunSpreadPerJob {
		t.Fatalf("one job spreads over %s, want %s", s, FirstRunSpreadPerJob)
	}
	for _, interval := range []time.Duration{10 * time.Second, time.Hour} {
		spread := min(interval, FirstRunSpread(1000))
		buckets := map[time.Duration]int{}
		for i := range 1000 {
			name := fmt.Sprintf("customer-%04d", i)
			off := FirstRunOffset(name, interval, FirstRunSpread(1000))
			if off < 0 || off >= spread {
				t.Fatalf("interval %s: %s has offset %s, outside [0, %s)", interval, name, off, spread)
			}
			if again := FirstRunOffset(name, interval, FirstRunSpread(1000)); again != off {
				t.Fatalf("%s has offset %s, then %s", name, off, again)
			}
			buckets[off*10/spread]++
		}
		// A tenth of the spread should hold about a tenth of the jobs.
		for b, n := range buckets {
			if n < 50 || n > 150 {
				t.Errorf("interval %s: tenth %d of the spread holds %d of 1000 first runs", interval, b, n)
			}
		}
	}
	if off := FirstRunOffset("x", 0, time.Minute); off != 0 {
		t.Fatalf("no interval, offset %s", off)
	}
}

func TestRunsWaitInQueueOldestDueFirst(t *testing.T) {
	h := newHarness(t, 1)
	block := make(chan struct{})
	h.s.Set([]Job{h.job("blocker", time.Hour, block)})
	h.clock.Advance(MaxFirstRunSpread)
	h.next()

	jobs := []Job{h.job("blocker", time.Hour, block)}
	var names []string
	for i := range 6 {
		name := fmt.Sprintf("tenant-%d", i)
		names = append(names, name)
		jobs = append(jobs, h.job(name, time.Hour, nil))
	}
	h.s.Set(jobs)
	h.clock.Advance(MaxFirstRunSpread)
	if q, f := h.s.Queued(), h.s.InFlight(); q != 6 || f != 1 {
		t.Fatalf("queued %d, in flight %d; want 6 and 1 (max_concurrent_runs = 1)", q, f)
	}
	close(block)
	var got []string
	for range names {
		got = append(got, h.next())
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Compare(FirstRunOffset(a, time.Hour, FirstRunSpread(len(jobs))), FirstRunOffset(b, time.Hour, FirstRunSpread(len(jobs))))
	})
	if !slices.Equal(got, names) {
		t.Fatalf("runs started in order %v, want oldest due first: %v", got, names)
	}
}

func TestLongRunIsNeitherDoubledNorStarvesTheRest(t *testing.T) {
	h := newHarness(t, 2)
	long := make(chan struct{})
	h.s.Set([]Job{
		h.job("long", time.Minute, long),
		h.job("b", time.Minute, nil),
		h.job("c", time.Minute, nil),
	})
	h.clock.Advance(MaxFirstRunSpread)
	runs := map[string]int{}
	for range 3 {
		runs[h.next()]++
	}
	// "long" keeps its slot for ten of its intervals; b and c share the
	// other one and run every minute.
	for range 10 {
		h.idleExcept(1)
		h.clock.waitArmed(2)
		h.clock.Advance(time.Minute)
		if q := h.s.Queued(); q > 1 {
			t.Fatalf("%d runs queued; only b or c can wait while the other runs", q)
		}
		runs[h.next()]++
		runs[h.next()]++
	}
	if runs["long"] != 1 || runs["b"] != 11 || runs["c"] != 11 {
		t.Fatalf("runs %v; want long once, b and c 11 times each", runs)
	}
}

// idleExcept waits until n runs are in flight.
func (h *harness) idleExcept(n int) {
	h.t.Helper()
	for i := 0; h.s.InFlight() != n; i++ {
		if i > 10000 {
			h.t.Fatalf("%d runs in flight, want %d", h.s.InFlight(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRunOutlastingItsIntervalQueuesBehindThoseWaiting(t *testing.T) {
	h := newHarness(t, 1)
	block, bc := make(chan struct{}), make(chan struct{})
	a := h.job("a", time.Hour, block)
	h.s.Set([]Job{a})
	h.clock.Advance(MaxFirstRunSpread)
	h.next()
	// a runs for three of its intervals; b and c come due meanwhile.
	h.clock.Advance(3 * time.Hour)
	h.s.Set([]Job{a, h.job("b", time.Hour, bc), h.job("c", time.Hour, bc)})
	h.clock.Advance(MaxFirstRunSpread)
	if q := h.s.Queued(); q != 2 {
		t.Fatalf("%d queued, want b and c (a is running, not queued again)", q)
	}
	close(block)
	first := h.next()
	h.clock.waitArmed(1) // a, due at once
	h.clock.Advance(0)
	if q := h.s.Queued(); q != 2 {
		t.Fatalf("%d queued, want a and one of b, c", q)
	}
	close(bc)
	got := []string{first, h.next(), h.next()}
	slices.Sort(got[:2])
	if !slices.Equal(got, []string{"b", "c", "a"}) {
		t.Fatalf("order %v; a outlasted its interval and must wait behind b and c", got)
	}
}

func TestSetAddsRemovesAndChangesJobs(t *testing.T) {
	h := newHarness(t, 1)
	block := make(chan struct{})
	goes := h.job("goes", time.Hour, block)
	h.s.Set([]Job{goes})
	h.clock.Advance(MaxFirstRunSpread)
	h.next()
	// "goes" holds the only slot; the others queue behind it.
	h.s.Set([]Job{goes, h.job("stays", time.Hour, nil), h.job("queued-out", time.Hour, nil)})
	h.clock.Advance(MaxFirstRunSpread)
	if q := h.s.Queued(); q != 2 {
		t.Fatalf("%d queued, want 2", q)
	}

	changed := make(chan struct{}, 1)
	h.s.Set([]Job{
		{Name: "stays", Interval: time.Hour, Run: func(context.Context) Next { changed <- struct{}{}; return Next{} }},
		h.job("added", time.Hour, nil),
	})
	if n, q := h.s.Jobs(), h.s.Queued(); n != 2 || q != 1 {
		t.Fatalf("%d jobs, %d queued; want stays and added, with stays queued", n, q)
	}
	close(block) // "goes" ends its run in flight and is not scheduled again
	<-changed    // "stays" runs its new Run
	h.idle()
	h.clock.Advance(MaxFirstRunSpread)
	if got := h.next(); got != "added" {
		t.Fatalf("started %s, want added", got)
	}
	h.idle()
	h.clock.waitArmed(2)
	h.clock.Advance(2 * time.Hour)
	<-changed
	if got := h.next(); got != "added" {
		t.Fatalf("started %s, want added", got)
	}
	h.idle()
	select {
	case name := <-h.started:
		t.Fatalf("%s ran after it was removed", name)
	default:
	}
}

func TestIntervalChangeMovesTheNextRun(t *testing.T) {
	h := newHarness(t, 1)
	h.s.Set([]Job{h.job("a", time.Hour, nil)})
	h.clock.Advance(MaxFirstRunSpread)
	h.next()
	h.idle()
	h.clock.waitArmed(1)
	h.s.Set([]Job{h.job("a", 5*time.Minute, nil)})
	h.clock.Advance(5 * time.Minute)
	if got := h.next(); got != "a" {
		t.Fatalf("started %s", got)
	}
}

func TestStopWaitsForRunsInFlightAndDropsQueued(t *testing.T) {
	h := newHarness(t, 1)
	finished := make(chan struct{})
	a := Job{Name: "a", Interval: time.Hour, Run: func(ctx context.Context) Next {
		h.started <- "a"
		<-ctx.Done()
		close(finished) // the run's last checkpoint, after the stop
		return Next{}
	}}
	h.s.Set([]Job{a})
	h.clock.Advance(MaxFirstRunSpread)
	h.next()
	h.s.Set([]Job{a, h.job("b", time.Hour, nil)})
	h.clock.Advance(MaxFirstRunSpread)
	if q := h.s.Queued(); q != 1 {
		t.Fatalf("%d queued, want b", q)
	}
	h.stop()
	select {
	case <-finished:
	default:
		t.Fatal("Run returned before the run in flight finished")
	}
	select {
	case name := <-h.started:
		t.Fatalf("%s started after the stop", name)
	default:
	}
}

func TestFirstRunsSpreadRatherThanStartAtOnce(t *testing.T) {
	h := newHarness(t, 1000)
	block := make(chan struct{})
	defer close(block)
	var jobs []Job
	for i := range 200 {
		jobs = append(jobs, h.job(fmt.Sprintf("customer-%03d", i), time.Hour, block))
	}
	h.s.Set(jobs)
	window := FirstRunSpread(len(jobs))
	h.clock.Advance(0)
	if n := h.s.InFlight(); n > 5 {
		t.Fatalf("%d of 200 first runs started at once", n)
	}
	h.clock.Advance(window / 2)
	if n := h.s.InFlight(); n < 70 || n > 130 {
		t.Fatalf("%d of 200 first runs started in the first half of the %s window, want about half", n, window)
	}
	h.clock.Advance(window / 2)
	if n := h.s.InFlight(); n != 200 {
		t.Fatalf("%d of 200 first runs started within the %s window", n, window)
	}
}

func TestRunNowQueuesAheadOfTheSchedule(t *testing.T) {
	h := newHarness(t, 1)
	const interval = time.Hour
	block := make(chan struct{})
	h.s.Set([]Job{h.job("busy", interval, block), h.job("tenant", interval, nil), h.job("manual", 0, nil)})
	if st, ok := h.s.Status("tenant"); !ok || st.Phase != PhaseWaiting || st.Due.IsZero() {
		t.Fatalf("status before its first run: %+v, %v", st, ok)
	}
	if st, _ := h.s.Status("manual"); st.Phase != PhaseWaiting || !st.Due.IsZero() {
		t.Fatalf("a job without an interval: %+v, want waiting without a due time", st)
	}
	if _, ok := h.s.Status("nobody"); ok {
		t.Fatal("status of an unknown job")
	}

	if err := h.s.RunNow("busy"); err != nil {
		t.Fatal(err)
	}
	if got := h.next(); got != "busy" {
		t.Fatalf("started %s", got)
	}
	if err := h.s.RunNow("busy"); !errors.Is(err, ErrRunning) {
		t.Errorf("RunNow of a running job = %v, want ErrRunning", err)
	}
	// With the one slot taken, the others wait in the queue, in the order asked.
	if err := h.s.RunNow("manual"); err != nil {
		t.Fatal(err)
	}
	if err := h.s.RunNow("tenant"); err != nil {
		t.Fatal(err)
	}
	if st, _ := h.s.Status("manual"); st.Phase != PhaseQueued {
		t.Fatalf("manual: %+v, want queued", st)
	}
	if err := h.s.RunNow("manual"); err != nil {
		t.Errorf("RunNow of a queued job = %v, want nil", err)
	}
	if h.s.Queued() != 2 {
		t.Fatalf("%d queued, want 2", h.s.Queued())
	}
	close(block)
	if a, b := h.next(), h.next(); a != "manual" || b != "tenant" {
		t.Fatalf("started %s then %s, want manual then tenant", a, b)
	}
	h.idle()
	// A job without an interval waits for the next RunNow; the other is
	// due one interval after it was asked for.
	if st, _ := h.s.Status("manual"); st.Phase != PhaseWaiting || !st.Due.IsZero() {
		t.Errorf("manual after its run: %+v", st)
	}
	if st, _ := h.s.Status("tenant"); !st.Due.Equal(h.clock.Now().Add(interval)) {
		t.Errorf("tenant due %v, want %v", st.Due, h.clock.Now().Add(interval))
	}
	if err := h.s.RunNow("nobody"); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("RunNow of an unknown job = %v", err)
	}
}

// TestRunSaysWhenItIsNextDue is a run that finds its job held elsewhere
// and asks to be tried again soon, then one that finds it done elsewhere
// and asks for one interval after that run, then one that asks for a time
// already past.
func TestRunSaysWhenItIsNextDue(t *testing.T) {
	h := newHarness(t, 1)
	const interval = time.Hour
	next := make(chan time.Time, 1)
	h.s.Set([]Job{{Name: "a", Interval: interval, Run: func(context.Context) Next {
		h.started <- "a"
		return Next{At: <-next}
	}}})
	h.clock.Advance(MaxFirstRunSpread)
	h.next()

	// Held by another host: again in 15 s, not in an hour.
	next <- h.clock.Now().Add(15 * time.Second)
	h.idle()
	h.clock.waitArmed(1)
	h.clock.Advance(15*time.Second - time.Nanosecond)
	h.noneStarted()
	h.clock.Advance(time.Nanosecond)
	h.next()

	// Run elsewhere 10 minutes ago: next due 50 minutes from now.
	next <- h.clock.Now().Add(-10 * time.Minute).Add(interval)
	h.idle()
	h.clock.waitArmed(1)
	h.clock.Advance(50*time.Minute - time.Nanosecond)
	h.noneStarted()
	h.clock.Advance(time.Nanosecond)
	h.next()

	// A time already past is now.
	next <- h.clock.Now().Add(-time.Minute)
	h.idle()
	h.clock.waitArmed(1)
	h.clock.Advance(0)
	h.next()

	// The zero time goes back to one interval after the due time.
	next <- time.Time{}
	h.idle()
	h.clock.waitArmed(1)
	h.clock.Advance(interval - time.Nanosecond)
	h.noneStarted()
	h.clock.Advance(time.Nanosecond)
	h.next()
	next <- time.Time{}
}

// takeoverJob is a job whose first run finds it held elsewhere and asks to
// be tried again after retry as a takeover; its later runs hold their slot
// until block is closed.
func (h *harness) takeoverJob(name string, retry time.Duration, block chan struct{}) Job {
	tried := false
	return Job{Name: name, Interval: time.Hour, Run: func(ctx context.Context) Next {
		h.started <- name
		if !tried {
			tried = true
			return Next{At: h.clock.Now().Add(retry), Takeover: true}
		}
		select {
		case <-block:
		case <-ctx.Done():
		}
		return Next{}
	}}
}

// A takeover that comes due while every slot is taken and older runs wait
// in the queue starts at once, in a slot of the lane's own: a host whose
// peer is gone does not make its pipelines wait behind its backlog.
func TestTakeoverGoesBeforeTheBacklog(t *testing.T) {
	h := newHarness(t, 2)
	busy := make(chan struct{})
	defer close(busy)
	held := h.takeoverJob("held", 5*time.Minute, busy)
	h.s.Set([]Job{held})
	h.clock.Advance(MaxFirstRunSpread)
	h.next() // found held elsewhere: again in five minutes, as a takeover
	h.idle()

	jobs := []Job{held}
	for i := range 20 {
		jobs = append(jobs, h.job(fmt.Sprintf("tenant-%02d", i), time.Hour, busy))
	}
	h.s.Set(jobs)
	h.clock.Advance(MaxFirstRunSpread)
	// Both slots hold long runs, and a backlog waits.
	h.next()
	h.next()
	if q := h.s.Queued(); q != 18 {
		t.Fatalf("%d queued, want the other 18", q)
	}
	h.clock.Advance(4 * time.Minute)
	if got := h.next(); got != "held" {
		t.Fatalf("started %s, want the takeover of held first", got)
	}
	if n := h.s.InFlight(); n != 3 {
		t.Fatalf("%d runs in flight, want the two slots' and the takeover's", n)
	}
}

// Takeovers go before the queue for every slot that frees, but at most
// TakeoverSlots of them run beyond max_concurrent_runs: a host that loses
// a peer holding many pipelines is not flooded with them.
func TestTakeoversAreBounded(t *testing.T) {
	const maxRuns = 4
	lane := TakeoverSlots(maxRuns)
	h := newHarness(t, maxRuns)
	long := make(chan struct{})
	defer close(long)
	release := make(chan struct{})
	var jobs []Job
	for i := range 10 {
		jobs = append(jobs, h.takeoverJob(fmt.Sprintf("held-%d", i), 5*time.Minute, release))
	}
	h.s.Set(jobs)
	h.clock.Advance(MaxFirstRunSpread)
	for range jobs {
		h.next() // each found held elsewhere
	}
	h.idle()
	// The ordinary slots hold long runs, and others wait behind them.
	for i := range maxRuns {
		jobs = append(jobs, h.job(fmt.Sprintf("long-%d", i), time.Hour, long))
	}
	h.s.Set(jobs)
	h.clock.Advance(MaxFirstRunSpread)
	for range maxRuns {
		h.next()
	}
	for i := range 5 {
		jobs = append(jobs, h.job(fmt.Sprintf("tenant-%d", i), time.Hour, nil))
	}
	h.s.Set(jobs)
	h.clock.Advance(MaxFirstRunSpread)
	h.clock.Advance(3 * time.Minute)
	for range lane {
		if got := h.next(); got[:5] != "held-" {
			t.Fatalf("started %s, want a takeover", got)
		}
	}
	h.idleExcept(maxRuns + lane)
	h.noneStartedBeyond()
	if q := h.s.Queued(); q != 10-lane+5 {
		t.Fatalf("%d queued, want %d takeovers and 5 others", q, 10-lane)
	}
	// An ordinary slot that frees goes to a takeover before the older
	// runs of the queue, and so do the lane's slots as takeovers end.
	long <- struct{}{}
	if got := h.next(); got[:5] != "held-" {
		t.Fatalf("started %s while takeovers wait", got)
	}
	for range 10 - lane - 1 {
		release <- struct{}{}
		if got := h.next(); got[:5] != "held-" {
			t.Fatalf("started %s while takeovers wait", got)
		}
	}
}

// noneStartedBeyond checks that no run started other than those read.
func (h *harness) noneStartedBeyond() {
	h.t.Helper()
	select {
	case name := <-h.started:
		h.t.Fatalf("%s started beyond the bound", name)
	default:
	}
}

// TestWakeRunsSoonAndFoldsWhatComesMeanwhile: a woken job is due
// WakeDelay later however many wakes came, and wakes that come while it
// runs make one follow-up run, not one each.
func TestWakeRunsSoonAndFoldsWhatComesMeanwhile(t *testing.T) {
	h := newHarness(t, 2)
	const interval = time.Hour
	block := make(chan struct{})
	h.s.Set([]Job{h.job("tenant", interval, block)})
	// Its first run, then it waits an interval.
	h.clock.Advance(MaxFirstRunSpread)
	if got := h.next(); got != "tenant" {
		t.Fatalf("started %s", got)
	}
	block <- struct{}{}
	h.idle()
	for range 3 {
		if err := h.s.Wake("tenant"); err != nil {
			t.Fatal(err)
		}
	}
	h.clock.Advance(WakeDelay / 2)
	h.noneStarted()
	h.clock.Advance(WakeDelay / 2)
	if got := h.next(); got != "tenant" {
		t.Fatalf("started %s", got)
	}
	// Woken three times while it runs: one follow-up.
	for range 3 {
		if err := h.s.Wake("tenant"); err != nil {
			t.Fatal(err)
		}
	}
	block <- struct{}{}
	h.idle()
	if st, _ := h.s.Status("tenant"); !st.Due.Equal(h.clock.Now().Add(WakeDelay)) {
		t.Fatalf("after a run woken meanwhile: due %v, want %v", st.Due, h.clock.Now().Add(WakeDelay))
	}
	h.clock.Advance(WakeDelay)
	if got := h.next(); got != "tenant" {
		t.Fatalf("started %s", got)
	}
	block <- struct{}{}
	h.idle()
	// Nothing woke it during the follow-up: it is due one interval after it.
	if st, _ := h.s.Status("tenant"); !st.Due.Equal(h.clock.Now().Add(interval)) {
		t.Errorf("after the follow-up: due %v, want one interval on, %v", st.Due, h.clock.Now().Add(interval))
	}
	h.clock.Advance(interval - time.Second)
	h.noneStarted()
	if err := h.s.Wake("nobody"); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("Wake of an unknown job = %v", err)
	}
}

// TestWakeKeepsTheBoundAndTheTakeoverLane: a woken job waits for a slot
// like any due run, and one whose next run is a takeover runs in the
// lane's own slot.
func TestWakeKeepsTheBoundAndTheTakeoverLane(t *testing.T) {
	h := newHarness(t, 1)
	const interval = time.Hour
	block := make(chan struct{})
	held := true
	h.s.Set([]Job{
		h.job("busy", interval, block),
		h.job("tenant", interval, nil),
		{Name: "held", Interval: interval, Run: func(context.Context) Next {
			h.started <- "held"
			if held {
				return Next{At: h.clock.Now().Add(10 * time.Minute), Takeover: true}
			}
			return Next{}
		}},
	})
	if err := h.s.RunNow("held"); err != nil {
		t.Fatal(err)
	}
	if got := h.next(); got != "held" {
		t.Fatalf("started %s", got)
	}
	h.idle()
	held = false
	if err := h.s.RunNow("busy"); err != nil {
		t.Fatal(err)
	}
	if got := h.next(); got != "busy" {
		t.Fatalf("started %s", got)
	}
	for _, name := range []string{"tenant", "held"} {
		if err := h.s.Wake(name); err != nil {
			t.Fatal(err)
		}
	}
	h.clock.Advance(WakeDelay)
	// The ordinary slot is busy: only the takeover starts, in its lane.
	if got := h.next(); got != "held" {
		t.Fatalf("started %s, want the takeover", got)
	}
	if st, _ := h.s.Status("tenant"); st.Phase != PhaseQueued {
		t.Fatalf("tenant: %+v, want queued behind the bound", st)
	}
	if err := h.s.Wake("tenant"); err != nil {
		t.Fatal(err)
	}
	close(block)
	if got := h.next(); got != "tenant" {
		t.Fatalf("started %s", got)
	}
	h.idle()
	select {
	case name := <-h.started:
		t.Fatalf("%s started again", name)
	default:
	}
}

func TestBackoffDoublesUpToItsCeilingWithAJitter(t *testing.T) {
	const interval, ceiling = 2 * time.Minute, 6 * time.Hour
	for _, c := range []struct {
		failures int
		want     time.Duration // before the jitter
	}{
		{0, interval},
		{1, interval},
		{2, 2 * interval},
		{3, 4 * interval},
		{4, 8 * interval},
		{8, 128 * interval},
		{9, ceiling}, // 256 intervals are over 8 hours
		{50, ceiling},
		{1000, ceiling},
	} {
		got := Backoff("tenant-a", interval, c.failures, ceiling)
		least := time.Duration(float64(c.want) * (1 - BackoffJitter))
		if c.want == interval {
			least = interval
		}
		if got > c.want || got < least {
			t.Errorf("after %d failures: %s, want within [%s, %s]", c.failures, got, least, c.want)
		}
		if again := Backoff("tenant-a", interval, c.failures, ceiling); again != got {
			t.Errorf("after %d failures: %s, then %s; every host must compute the same", c.failures, got, again)
		}
	}
	// Jobs that fail together come back apart.
	waits := map[time.Duration]bool{}
	for i := range 20 {
		waits[Backoff(fmt.Sprintf("tenant-%d", i), interval, 5, ceiling)] = true
	}
	if len(waits) < 15 {
		t.Errorf("20 jobs after 5 failures wait %d different times; the jitter does not spread them", len(waits))
	}
	// No backoff without an interval, or with a ceiling not above it.
	if got := Backoff("a", 0, 10, ceiling); got != 0 {
		t.Errorf("without an interval: %s", got)
	}
	if got := Backoff("a", time.Hour, 10, time.Hour); got != time.Hour {
		t.Errorf("ceiling at the interval: %s", got)
	}
}

// backoffJob is a job whose runs report their start and ask for the next
// run at the time sent on next, as a failure backoff.
func (h *harness) backoffJob(name, version string, next chan time.Time) Job {
	return Job{Name: name, Interval: time.Hour, Version: version, Run: func(context.Context) Next {
		h.started <- name
		return Next{At: <-next, Backoff: true}
	}}
}

// A job that backs off goes back to its interval when its configuration
// changes, or at once when RunNow runs it; an unchanged Set keeps the wait.
func TestBackoffEndsWithANewVersionOrRunNow(t *testing.T) {
	h := newHarness(t, 1)
	next := make(chan time.Time, 1)
	h.s.Set([]Job{h.backoffJob("a", "v1", next)})
	h.clock.Advance(MaxFirstRunSpread)
	h.next()
	due := h.clock.Now()
	next <- due.Add(6 * time.Hour)
	h.idle()
	h.clock.waitArmed(1)
	if st, _ := h.s.Status("a"); !st.Backoff || !st.Due.Equal(due.Add(6*time.Hour)) {
		t.Fatalf("status %+v, want a backoff until %s", st, due.Add(6*time.Hour))
	}
	// The same configuration again: still waiting.
	h.s.Set([]Job{h.backoffJob("a", "v1", next)})
	h.clock.Advance(time.Hour)
	h.noneStarted()
	// A new one: due one interval after the failed run, which is now.
	h.s.Set([]Job{h.backoffJob("a", "v2", next)})
	h.clock.Advance(0)
	h.next()
	next <- h.clock.Now().Add(6 * time.Hour)
	h.idle()
	h.clock.waitArmed(1)
	h.clock.Advance(time.Hour)
	h.noneStarted()
	if err := h.s.RunNow("a"); err != nil {
		t.Fatal(err)
	}
	h.next()
	if st, _ := h.s.Status("a"); st.Backoff {
		t.Errorf("status %+v while running after RunNow", st)
	}
	next <- time.Time{}
}

// A configuration changed while a failing run ran does not back off: the
// new configuration has not failed.
func TestBackoffOfARunOfAnOldVersionIsDropped(t *testing.T) {
	h := newHarness(t, 1)
	next := make(chan time.Time, 1)
	h.s.Set([]Job{h.backoffJob("a", "v1", next)})
	h.clock.Advance(MaxFirstRunSpread)
	h.next()
	h.s.Set([]Job{h.backoffJob("a", "v2", next)})
	next <- h.clock.Now().Add(6 * time.Hour)
	h.idle()
	h.clock.waitArmed(1)
	if st, _ := h.s.Status("a"); st.Backoff || st.Due.After(h.clock.Now().Add(time.Hour)) {
		t.Fatalf("status %+v, want due within an hour without a backoff", st)
	}
}
