// Package runner runs one pipeline once: it reads a source's streams into a
// destination and persists each checkpoint after the destination has
// acknowledged it, so a run stopped at any moment resumes from there with
// nothing lost.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// Batch limits for what the host hands the destination.
const (
	maxBatchRecords = 2048
	maxBatchBytes   = 1 << 20
	// queueBatches bounds the batches between source and destination, and
	// with it the host's memory.
	queueBatches = 4
)

// SaveEvery is how often a run underway stores its counts (read, written,
// counters) in its record, so that a run whose host dies keeps the counts
// it had reached when it is marked crashed. One small write each time.
const SaveEvery = 2 * time.Second

// A run's counters are stored under the side that reported them, so that
// a source's and a destination's counter of the same name stay apart:
// "source.api_credits", "destination.unparseable_numbers". Runs stored
// before counters had these prefixes keep their plain names.
const (
	SourceCounters      = "source."
	DestinationCounters = "destination."
)

// Pipeline is a resolved pipeline: connectors started, configs decoded,
// streams discovered.
type Pipeline struct {
	Name              string
	SourceRef         string // where the source's credentials are stored
	DestinationRef    string // names the destination in errors
	Source            contract.Source
	SourceConfig      json.RawMessage
	Destination       contract.Destination
	DestinationConfig json.RawMessage
	Streams           []contract.Stream
	// SourceClient is the provider's OAuth client for the source's type,
	// or nil; every read carries it.
	SourceClient *contract.OAuthClient
	// FullRefreshEvery, when set, reads a stream from scratch once its last
	// full refresh completed this long ago or longer, so that a source
	// without a deletions API drops what was deleted: the sweep at the end
	// removes what the new generation did not write. A full refresh
	// interrupted midway resumes at the next run, as any full refresh does.
	FullRefreshEvery time.Duration
	// Logs, when set, returns the last lines the pipeline's plugins
	// logged, for the run's record when the run ends.
	Logs func() []state.PluginLog
}

// Progress is a snapshot of a run underway.
type Progress struct {
	Read, Written int64
	Elapsed       time.Duration
}

// Options tune a run.
type Options struct {
	// Log is what the run logs through; Run adds the fields of Logger.
	Log hclog.Logger
	// OnProgress, when set, is called about every ProgressEvery from its
	// own goroutine, and once more at the end.
	OnProgress    func(Progress)
	ProgressEvery time.Duration
	// FullRefresh forgets the streams' state, so they are read from scratch.
	FullRefresh bool
	// StallTimeout ends the run as failed once it has made no progress for
	// this long: no message from the source, no message taken or
	// acknowledged by the destination. Zero means no limit.
	StallTimeout time.Duration
	// Observer, when set, is told per stream what the run moves, as it
	// moves it: for metrics.
	Observer Observer
	// Begun is the run as Begin recorded it. Without it (ID 0) Run
	// records the start itself.
	Begun state.Run
}

// Record kinds an Observer is told of.
const (
	KindRead    = "read"    // records the source sent
	KindDeleted = "deleted" // of those, deletes
	KindWritten = "written" // records the destination acknowledged as stored
)

// Observer is told what a run moves. Its methods are called from the
// run's goroutines, one at a time per method.
type Observer interface {
	// Records adds n records of a kind to a stream.
	Records(stream, kind string, n int64)
	// Checkpointed says a checkpoint of the stream was stored at t.
	Checkpointed(stream string, t time.Time)
}

// Begin records in store's history that a run of the fenced pipeline
// starts now, and returns the run with its ID. The host begins a run
// before it launches the run's plugins, so that every line the run logs,
// the plugins' included, carries that ID (see Logger); Run goes on with
// it (Options.Begun). Like every write of the run, it carries the fence.
func Begin(ctx context.Context, store state.Store, fence state.Fence) (state.Run, error) {
	rec := state.Run{Pipeline: fence.Pipeline, Started: time.Now(), Outcome: state.OutcomeRunning}
	if err := store.SaveRun(ctx, fence, &rec); err != nil {
		return state.Run{}, fmt.Errorf("record the start of run: %w", err)
	}
	return rec, nil
}

// Logger returns log with the fields that name a run on each of its
// lines: the pipeline, and the run's ID in the pipeline's history, which
// `replicator status` and the console show. An id of 0, a run not
// recorded, leaves the ID out.
func Logger(log hclog.Logger, pipeline string, id uint64) hclog.Logger {
	if id == 0 {
		return log.With("pipeline", pipeline)
	}
	return log.With("pipeline", pipeline, "run", id)
}

// Run reads the pipeline's streams into its destination once.
//
// Cancelling ctx stops the run gracefully: the source stops reading, the
// destination writes and acknowledges what it already has, the
// acknowledged checkpoints are persisted, and Run returns the run with
// outcome "interrupted". The returned run is also saved in store, and
// while it runs its counts are saved every SaveEvery. A run that fails
// before it reads, such as on a stream's state that cannot be loaded, is
// saved as failed too.
//
// The caller holds the pipeline's claim (store.Claim); every write of the
// run carries its fence, so a run whose claim was lost stores nothing more.
func Run(ctx context.Context, p Pipeline, store state.Store, fence state.Fence, opts Options) (state.Run, error) {
	if opts.Log == nil {
		opts.Log = hclog.NewNullLogger()
	}
	rec := opts.Begun
	if rec.ID == 0 {
		var err error
		if rec, err = Begin(ctx, store, fence); err != nil {
			return rec, err
		}
	}
	r := &run{p: p, store: store, fence: fence, log: Logger(opts.Log, p.Name, rec.ID), started: rec.Started,
		stallTimeout: opts.StallTimeout, observer: opts.Observer, ackedPerStream: map[string]int64{}, rec: rec}
	err := r.prepare(ctx, opts.FullRefresh)
	if err == nil {
		stopProgress := r.reportProgress(opts)
		stopSaving := r.saveProgress(ctx)
		err = r.pump(ctx)
		stopSaving()
		stopProgress()
	}

	r.rec.Ended = time.Now()
	r.rec.Read, r.rec.Written, r.rec.Counters = r.counts()
	r.warnDroppedCounters()
	switch {
	case err != nil:
		r.rec.Outcome, r.rec.Error = state.OutcomeFailed, err.Error()
	case ctx.Err() != nil:
		r.rec.Outcome = state.OutcomeInterrupted
	default:
		r.rec.Outcome = state.OutcomeSucceeded
	}
	if p.Logs != nil {
		r.rec.Logs = p.Logs()
	}
	// A refused end is reported even after a failure: it is how a host
	// that lost its claim mid-run learns, and says, that its successor's
	// record stands.
	if serr := store.SaveRun(context.WithoutCancel(ctx), fence, &r.rec); serr != nil {
		if err == nil {
			err = fmt.Errorf("record the end of run: %w", serr)
		} else {
			err = fmt.Errorf("%w; and recording the end of run: %w", err, serr)
		}
	}
	return r.rec, err
}

type run struct {
	p            Pipeline
	store        state.Store
	fence        state.Fence
	log          hclog.Logger
	started      time.Time
	rec          state.Run
	stallTimeout time.Duration
	observer     Observer
	// ackedPerStream is, per stream, the records sent before the last
	// acknowledged barrier; for the observer.
	ackedPerStream map[string]int64

	creds    json.RawMessage
	readReq  []contract.ReadStream
	writeReq []contract.WriteStream
	gens     map[string]uint64 // each stream's generation in this run
	// streams is each stream's state as this run last stored it: read once
	// by prepare, then kept by persist. Under the run's claim nobody else
	// writes a stream of the pipeline, and a write under a claim that was
	// lost is refused whatever it was based on, so the store need not be
	// read again. Acknowledgements, which persist, come one at a time.
	streams map[string]state.StreamState

	read, written atomic.Int64

	// What the stall watchdog looks at: events counts progress other than
	// records read (those are counted in read); whether the source waits
	// for the destination to take a message; whether it has finished.
	events        atomic.Int64
	sourceWaiting atomic.Bool
	sourceDone    atomic.Bool

	mu       sync.Mutex
	barriers []barrier // sent to the destination, not yet acknowledged
	nextID   uint64
	count    map[string]int64
	// names and dropped are, per side, the counter names kept and the
	// reports dropped (see contract.MaxCounters).
	names   map[string]int
	dropped map[string]*droppedCounters
}

// droppedCounters is what one side reported of counters the run did not
// keep: how many reports, and the first one's name.
type droppedCounters struct {
	reports int64
	first   string
}

// barrier is a checkpoint or full-refresh-complete awaiting acknowledgement.
type barrier struct {
	id      uint64
	stream  string
	state   json.RawMessage // a checkpoint's state
	full    bool            // a full-refresh-complete
	records int64           // records sent before it
	// perStream is how many records of each stream were sent before it;
	// kept only for an Observer.
	perStream map[string]int64
}

// prepare loads credentials and the streams' state, and hands out this
// run's generation per stream. A stream without state starts a full
// refresh whose generation is remembered until its completion is
// acknowledged, so a full refresh resumed from a checkpoint after a crash
// keeps the generation its first records were written with.
func (r *run) prepare(ctx context.Context, fullRefresh bool) error {
	creds, err := r.store.Credentials(ctx, r.p.SourceRef)
	if err != nil {
		return fmt.Errorf("load credentials of %s: %w", r.p.SourceRef, err)
	}
	r.creds = creds
	r.streams = make(map[string]state.StreamState, len(r.p.Streams))
	for _, s := range r.p.Streams {
		st, err := r.store.Stream(ctx, r.p.Name, s.Name)
		if err != nil {
			return fmt.Errorf("load state of stream %s: %w", s.Name, err)
		}
		due := r.fullRefreshDue(st)
		if due {
			r.log.Info("starting a periodic full refresh", "stream", s.Name, "last_full_refresh", st.FullRefreshed, "full_refresh_every", r.p.FullRefreshEvery)
		}
		if fullRefresh || due {
			if err := r.store.ResetStream(ctx, r.fence, s.Name); err != nil {
				return fmt.Errorf("reset stream %s: %w", s.Name, err)
			}
			// What Store.ResetStream leaves: no checkpoint and no full
			// refresh in progress; the generation and the last full
			// refresh kept.
			st = state.StreamState{Generation: st.Generation, FullRefreshed: st.FullRefreshed}
		}
		// A full refresh that got as far as a checkpoint resumes with its
		// generation; one that did not starts over, and starts a new one,
		// or entries it wrote before the crash and the CRM has deleted
		// since would survive the sweep.
		gen := st.FullRefresh
		if gen == 0 || st.State == nil {
			gen = nextGeneration(st.Generation, r.started)
			st.Generation = gen
			st.FullRefresh = 0
			if st.State == nil {
				st.FullRefresh = gen
			}
		}
		if err := r.store.SaveStream(ctx, r.fence, s.Name, st); err != nil {
			return fmt.Errorf("save generation of stream %s: %w", s.Name, err)
		}
		r.streams[s.Name] = st
		if st.State != nil {
			r.rec.Resumed = append(r.rec.Resumed, s.Name)
			r.log.Info("resuming stream from its checkpoint", "stream", s.Name, "generation", gen)
		} else {
			r.log.Info("starting a full refresh", "stream", s.Name, "generation", gen)
		}
		r.readReq = append(r.readReq, contract.ReadStream{Name: s.Name, State: st.State, Generation: gen})
		if r.gens == nil {
			r.gens = map[string]uint64{}
		}
		r.gens[s.Name] = gen
		r.writeReq = append(r.writeReq, contract.WriteStream{Stream: s, Generation: gen})
	}
	return nil
}

// fullRefreshDue reports whether a stream read incrementally is due for its
// periodic full refresh. One in progress is not: it resumes from its
// checkpoint with its generation. A stream with no completed full refresh
// on record is due at once.
func (r *run) fullRefreshDue(st state.StreamState) bool {
	return r.p.FullRefreshEvery > 0 && st.State != nil && st.FullRefresh == 0 &&
		r.started.Sub(st.FullRefreshed) >= r.p.FullRefreshEvery
}

// nextGeneration hands out a generation above the last one and no lower
// than the clock's Unix seconds: a state file restored from a backup then
// still numbers its next generation above what the destination holds, so
// a sweep cannot keep entries written after the backup.
func nextGeneration(last uint64, now time.Time) uint64 {
	return max(last+1, uint64(max(now.Unix(), 0)))
}

// pump runs the source and the destination side by side.
func (r *run) pump(ctx context.Context) error {
	// The destination keeps going after a graceful stop, to write and
	// acknowledge what was read; it is cancelled only when the run fails.
	writeCtx, cancelWrite := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelWrite(nil)
	readCtx, cancelRead := context.WithCancelCause(ctx)
	defer cancelRead(nil)

	stall := make(chan error, 1)
	stopWatch := r.watch(func(err error) {
		stall <- err
		cancelRead(err)
		cancelWrite(err)
	})
	defer stopWatch()

	queue := make(chan contract.Message, queueBatches)
	out := &output{r: r, queue: queue, writeCtx: writeCtx}
	readErr := make(chan error, 1)
	go func() {
		err := r.p.Source.Read(readCtx, contract.ReadRequest{Config: r.p.SourceConfig, Credentials: r.creds, Streams: r.readReq, Client: r.p.SourceClient}, out)
		if err == nil {
			err = out.flush(readCtx)
		}
		r.sourceDone.Store(true)
		close(queue)
		readErr <- err
	}()

	in := &input{r: r, queue: queue}
	werr := r.p.Destination.Write(writeCtx, contract.WriteRequest{Config: r.p.DestinationConfig, Streams: r.writeReq}, in)
	if werr != nil {
		cancelRead(nil)
	}
	rerr := <-readErr
	stopWatch()
	select {
	case err := <-stall:
		return err
	default:
	}
	if werr == nil && rerr == nil {
		// Write returned after consuming everything: all of it is durable.
		r.written.Store(r.read.Load())
	}
	stopped := ctx.Err() != nil && (rerr == nil || errors.Is(rerr, context.Canceled))
	switch {
	case werr != nil:
		return fmt.Errorf("%s: %w", orDefault(r.p.DestinationRef, "destination"), werr)
	case rerr != nil && !stopped:
		return fmt.Errorf("%s: %w", orDefault(r.p.SourceRef, "source"), rerr)
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// progress notes that the run moved forward other than by a record read,
// which the read counter notes.
func (r *run) progress() { r.events.Add(1) }

// activity changes whenever the run moves forward.
func (r *run) activity() int64 { return r.read.Load() + r.events.Load() }

// StallError ends a run that made no progress for the stall timeout.
type StallError struct {
	Connector string // the connector waited for, such as source.zoho.crm
	Waited    string // what it did not do
	For       time.Duration
}

func (e *StallError) Error() string {
	return fmt.Sprintf("%s %s for %s (stall_timeout); the run was stopped", e.Connector, e.Waited, e.For)
}

// watch calls stalled once, from its own goroutine, when the run has made
// no progress for the stall timeout. stop ends the watch and waits for it;
// it may be called more than once.
func (r *run) watch(stalled func(error)) (stop func()) {
	if r.stallTimeout <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Progress is counted rather than timed, which costs a record
		// nothing; looking eight times per timeout finds a stall within
		// an eighth of the timeout.
		t := time.NewTicker(max(r.stallTimeout/8, time.Millisecond))
		defer t.Stop()
		seen, since := r.activity(), time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				if a := r.activity(); a != seen {
					seen, since = a, now
				} else if now.Sub(since) >= r.stallTimeout {
					stalled(r.stallError())
					return
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}

// stallError says who the run was waiting for: the destination when the
// source has finished or waits for it to take a message, the source
// otherwise.
func (r *run) stallError() error {
	switch {
	case r.sourceDone.Load():
		return &StallError{Connector: orDefault(r.p.DestinationRef, "destination"), Waited: "acknowledged nothing after the source finished", For: r.stallTimeout}
	case r.sourceWaiting.Load():
		return &StallError{Connector: orDefault(r.p.DestinationRef, "destination"), Waited: "took no records", For: r.stallTimeout}
	default:
		return &StallError{Connector: orDefault(r.p.SourceRef, "source"), Waited: "sent nothing", For: r.stallTimeout}
	}
}

// acknowledge persists every barrier up to and including id. Acks arrive
// one after another from the destination, so the store is written outside
// the lock, leaving the source free to send meanwhile; several barriers of
// a stream acknowledged together are stored once.
func (r *run) acknowledge(ctx context.Context, id uint64) error {
	r.mu.Lock()
	if id > r.nextID {
		// An acknowledgement of what was never sent vouches for nothing,
		// not even for what was sent before it.
		r.mu.Unlock()
		return fmt.Errorf("acknowledged %d, which was never sent; nothing of this run after the last good acknowledgement is stored", id)
	}
	n := 0
	for n < len(r.barriers) && r.barriers[n].id <= id {
		n++
	}
	done := r.barriers[:n:n]
	r.barriers = r.barriers[n:]
	r.mu.Unlock()
	if n == 0 {
		return fmt.Errorf("acknowledged %d, which is acknowledged already", id)
	}
	updates := map[string]*acked{}
	var order []string
	for _, b := range done {
		u := updates[b.stream]
		if u == nil {
			u = &acked{}
			updates[b.stream] = u
			order = append(order, b.stream)
		}
		if b.full {
			u.fullRefreshDone = true
		} else {
			u.checkpoint, u.state = true, b.state
		}
	}
	for _, stream := range order {
		if err := r.persist(ctx, stream, *updates[stream]); err != nil {
			return err
		}
	}
	r.written.Store(done[n-1].records)
	r.observeWritten(done[n-1].perStream, order)
	return nil
}

// observeWritten tells the observer what the acknowledged barriers add to
// each stream's records written, and which streams' checkpoints were
// stored. Acknowledgements come one at a time.
func (r *run) observeWritten(sent map[string]int64, checkpointed []string) {
	obs := r.observer
	if obs == nil {
		return
	}
	for stream, n := range sent {
		if d := n - r.ackedPerStream[stream]; d > 0 {
			obs.Records(stream, KindWritten, d)
		}
		r.ackedPerStream[stream] = n
	}
	now := time.Now()
	for _, stream := range checkpointed {
		obs.Checkpointed(stream, now)
	}
}

// acked is what the barriers of one stream acknowledged together say.
type acked struct {
	// checkpoint is whether a checkpoint was among them; state is the
	// last one's. A checkpoint without a state, or with null, marks no
	// position: the stream's next run starts over, as a stream never
	// synced does (state.NoCheckpoint).
	checkpoint bool
	state      json.RawMessage
	// fullRefreshDone is whether the stream's full refresh was among them.
	fullRefreshDone bool
}

// persist stores a stream's acknowledged checkpoint, when there is one, and
// ends its full refresh when one was acknowledged complete.
//
// What was acknowledged is kept even when the write fails: the destination
// holds it either way, and each write stores the stream's whole state, so
// the next write that succeeds stores it too.
func (r *run) persist(ctx context.Context, stream string, a acked) error {
	st := r.streams[stream]
	if a.fullRefreshDone {
		st.FullRefresh = 0
		st.FullRefreshed = time.Now()
	}
	if a.checkpoint {
		st.State = a.state
	}
	r.streams[stream] = st
	if err := r.store.SaveStream(ctx, r.fence, stream, st); err != nil {
		return fmt.Errorf("persist checkpoint of stream %s: %w", stream, err)
	}
	return nil
}

func (r *run) addBarrier(b barrier) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID++
	b.id = r.nextID
	r.barriers = append(r.barriers, b)
	return b.id
}

// addCount adds delta to a counter that side (SourceCounters or
// DestinationCounters) reported. What a plugin can make the host keep is
// bounded: a name that is not valid, or that is new when the side has
// contract.MaxCounters names already, is dropped and counted for one
// warning at the end of the run.
func (r *run) addCount(side, name string, delta int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.count == nil {
		r.count, r.names, r.dropped = map[string]int64{}, map[string]int{}, map[string]*droppedCounters{}
	}
	if contract.ValidCounterName(name) {
		key := side + name
		if _, ok := r.count[key]; ok || r.names[side] < contract.MaxCounters {
			if !ok {
				r.names[side]++
			}
			r.count[key] += delta
			return
		}
	}
	d := r.dropped[side]
	if d == nil {
		d = &droppedCounters{first: strings.ToValidUTF8(name[:min(len(name), contract.MaxCounterName)], "?")}
		r.dropped[side] = d
	}
	d.reports++
}

// warnDroppedCounters says, once per run and side, how many counter
// reports were dropped, so that a connector's author can fix its names.
func (r *run) warnDroppedCounters() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, side := range []string{SourceCounters, DestinationCounters} {
		d := r.dropped[side]
		if d == nil {
			continue
		}
		ref := orDefault(r.p.SourceRef, "source")
		if side == DestinationCounters {
			ref = orDefault(r.p.DestinationRef, "destination")
		}
		r.log.Warn(fmt.Sprintf("%s reported counters this run did not keep: at most %d names a run, each 1 to %d characters of a-z, 0-9, _ and .",
			ref, contract.MaxCounters, contract.MaxCounterName), "dropped_reports", d.reports, "first_dropped", d.first)
	}
}

// counts is what the run has read, written and counted so far. Written is
// taken first: what it counts was read before, so it is never above read.
func (r *run) counts() (read, written int64, counters map[string]int64) {
	written = r.written.Load()
	read = r.read.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	return read, written, maps.Clone(r.count)
}

func (r *run) reportProgress(opts Options) (stop func()) {
	if opts.OnProgress == nil {
		return func() {}
	}
	every := opts.ProgressEvery
	if every <= 0 {
		every = time.Second
	}
	snapshot := func() Progress {
		return Progress{Read: r.read.Load(), Written: r.written.Load(), Elapsed: time.Since(r.started)}
	}
	stopTicking := tick(every, func() { opts.OnProgress(snapshot()) })
	return func() {
		stopTicking()
		opts.OnProgress(snapshot())
	}
}

// saveProgress stores the run's counts in its record every SaveEvery
// while it runs, when they changed, under the run's fence. A save that
// fails is logged and the run goes on: the counts are for the history,
// and a lost claim stops the run at its next checkpoint anyway.
func (r *run) saveProgress(ctx context.Context) (stop func()) {
	saved := r.activity()
	failing := false // warned of a failed save, and no save worked since
	return tick(SaveEvery, func() {
		a := r.activity()
		if a == saved {
			return
		}
		rec := r.rec
		rec.Read, rec.Written, rec.Counters = r.counts()
		// A stopped run goes on writing what it read: keep storing.
		if err := r.store.SaveRun(context.WithoutCancel(ctx), r.fence, &rec); err != nil {
			// Once, not at every tick of a store that stays down.
			if !failing {
				r.log.Warn("could not store the run's progress; trying again", "every", SaveEvery, "error", err)
			}
			failing = true
			return
		}
		if failing {
			r.log.Info("stored the run's progress again")
		}
		failing, saved = false, a
		r.log.Debug("stored the run's progress", "read", rec.Read, "written", rec.Written)
	})
}

// tick calls fn every d from a goroutine of its own until stop, which
// waits for a call underway to return.
func tick(d time.Duration, fn func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fn()
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// output is what the source writes to: records are re-batched by the
// host's limits, control messages go through in order. What the source
// sends is checked here, so that a fault of the source is reported as
// one, before it reaches the destination or the state store.
type output struct {
	r        *run
	queue    chan<- contract.Message
	writeCtx context.Context
	batch    []contract.Record
	bytes    int
	stream   string // the last record's stream, known to be read by this run
	// sent counts the records sent per stream, only for an observer.
	sent map[string]int64
}

// observe tells the run's observer of a batch of records on its way.
func (o *output) observe(rs []contract.Record) {
	obs := o.r.observer
	if obs == nil || len(rs) == 0 {
		return
	}
	if o.sent == nil {
		o.sent = map[string]int64{}
	}
	start, deletes := 0, int64(0)
	for i := range rs {
		if rs[i].Op == contract.Delete {
			deletes++
		}
		if i+1 == len(rs) || rs[i+1].Stream != rs[start].Stream {
			n := int64(i + 1 - start)
			o.sent[rs[start].Stream] += n
			obs.Records(rs[start].Stream, KindRead, n)
			if deletes > 0 {
				obs.Records(rs[start].Stream, KindDeleted, deletes)
			}
			start, deletes = i+1, 0
		}
	}
}

// snapshot copies the records sent per stream, for a barrier.
func (o *output) snapshot() map[string]int64 {
	if o.r.observer == nil {
		return nil
	}
	return maps.Clone(o.sent)
}

// checkStream makes sure the run reads stream.
func (o *output) checkStream(what, stream string) error {
	if _, ok := o.r.gens[stream]; !ok {
		return fmt.Errorf("sent %s of stream %q, which this run does not read", what, stream)
	}
	return nil
}

func (o *output) send(ctx context.Context, m contract.Message) error {
	select {
	case o.queue <- m:
		return nil
	default:
	}
	o.r.sourceWaiting.Store(true)
	defer o.r.sourceWaiting.Store(false)
	select {
	case o.queue <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-o.writeCtx.Done():
		return errors.New("destination stopped")
	}
}

func (o *output) flush(ctx context.Context) error {
	if len(o.batch) == 0 {
		return nil
	}
	m := contract.Message{Records: o.batch}
	o.observe(o.batch)
	o.batch, o.bytes = make([]contract.Record, 0, maxBatchRecords), 0
	return o.send(ctx, m)
}

func (o *output) Emit(ctx context.Context, rec contract.Record) error {
	if rec.Stream != o.stream {
		if err := o.checkStream("a record", rec.Stream); err != nil {
			return err
		}
		o.stream = rec.Stream
	}
	if o.batch == nil {
		o.batch = make([]contract.Record, 0, maxBatchRecords)
	}
	o.batch = append(o.batch, rec)
	o.bytes += len(rec.Key) + len(rec.Data)
	o.r.read.Add(1)
	if len(o.batch) >= maxBatchRecords || o.bytes >= maxBatchBytes {
		return o.flush(ctx)
	}
	return nil
}

// EmitBatch forwards a batch as it is when nothing is pending and it is
// large enough; smaller ones are gathered like single records.
func (o *output) EmitBatch(ctx context.Context, rs []contract.Record) error {
	if len(o.batch) == 0 && len(rs) >= maxBatchRecords/2 {
		for i := range rs {
			if rs[i].Stream != o.stream {
				if err := o.checkStream("a record", rs[i].Stream); err != nil {
					return err
				}
				o.stream = rs[i].Stream
			}
		}
		o.r.read.Add(int64(len(rs)))
		o.observe(rs)
		return o.send(ctx, contract.Message{Records: rs})
	}
	for _, rec := range rs {
		if err := o.Emit(ctx, rec); err != nil {
			return err
		}
	}
	return nil
}

func (o *output) Checkpoint(ctx context.Context, stream string, st json.RawMessage) error {
	o.r.progress()
	if err := o.checkStream("a checkpoint", stream); err != nil {
		return err
	}
	if st != nil && !json.Valid(st) {
		return fmt.Errorf("sent a checkpoint of stream %q whose state is not JSON; it cannot be stored", stream)
	}
	if err := o.flush(ctx); err != nil {
		return err
	}
	id := o.r.addBarrier(barrier{stream: stream, state: st, records: o.r.read.Load(), perStream: o.snapshot()})
	return o.send(ctx, contract.Message{Checkpoint: &contract.Checkpoint{ID: id, Stream: stream, State: st}})
}

func (o *output) FullRefreshComplete(ctx context.Context, stream string, generation uint64) error {
	o.r.progress()
	if err := o.checkStream("a full refresh complete", stream); err != nil {
		return err
	}
	// A wrong generation would make the destination remove the entries
	// this run wrote.
	if gen := o.r.gens[stream]; generation != gen {
		return fmt.Errorf("sent a full refresh complete of stream %q for generation %d; this run's generation is %d", stream, generation, gen)
	}
	if err := o.flush(ctx); err != nil {
		return err
	}
	id := o.r.addBarrier(barrier{stream: stream, full: true, records: o.r.read.Load(), perStream: o.snapshot()})
	return o.send(ctx, contract.Message{FullRefreshComplete: &contract.FullRefreshComplete{ID: id, Stream: stream, Generation: generation}})
}

func (o *output) UpdateCredentials(ctx context.Context, c contract.Credentials) error {
	o.r.progress()
	if err := o.r.store.SaveCredentials(ctx, o.r.fence, o.r.p.SourceRef, c); err != nil {
		return fmt.Errorf("store updated credentials of %s: %w", o.r.p.SourceRef, err)
	}
	return nil
}

func (o *output) Count(_ context.Context, name string, delta int64) error {
	o.r.progress()
	o.r.addCount(SourceCounters, name, delta)
	return nil
}

// input is what the destination reads.
type input struct {
	r     *run
	queue <-chan contract.Message
}

func (in *input) Next(ctx context.Context) (contract.Message, error) {
	select {
	case m, ok := <-in.queue:
		if !ok {
			return contract.Message{}, io.EOF
		}
		in.r.progress()
		return m, nil
	case <-ctx.Done():
		return contract.Message{}, ctx.Err()
	}
}

func (in *input) Ack(ctx context.Context, id uint64) error {
	in.r.progress()
	return in.r.acknowledge(ctx, id)
}

func (in *input) Count(_ context.Context, name string, delta int64) error {
	in.r.progress()
	in.r.addCount(DestinationCounters, name, delta)
	return nil
}
