package roger365

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/replicatorhq/replicator/connector/roger365/ingest"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// Counter names reported through Input.Count.
const (
	countSkipped     = "skipped_without_phone" // contacts without a usable number, left out
	countUnparseable = "unparseable_numbers"   // phone entries holding no valid number
	countUnread      = "unread_numbers"        // phone entries the source could not read, not guessed here
	countRejected    = "rejected"              // contacts refused by ROGER365 or unreadable here
	countCreated     = "created"
	countUpdated     = "updated"
	countUnchanged   = "unchanged"
	countDeleted     = "deleted"
	countSwept       = "swept" // removed by a full refresh's sweep
)

// inContact is the canonical record as it arrives; attributes are not read.
// It mirrors ingest.Contact by design but is the input side, kept apart so
// that the canonical record and the vendor's contract can change alone.
type inContact struct {
	SourceID    string    `json:"source_id"`
	Kind        string    `json:"kind"`
	DisplayName string    `json:"display_name"`
	FirstName   string    `json:"first_name"`
	LastName    string    `json:"last_name"`
	Company     string    `json:"company"`
	Title       string    `json:"title"`
	Emails      []string  `json:"emails"`
	Phones      []inPhone `json:"phones"`
	URL         string    `json:"url"`
	UpdatedAt   string    `json:"updated_at"`
}

type opKind uint8

const (
	opUpsert opKind = iota
	opDelete
	opSweep
)

// batch is one request: an upsert or delete of up to batch_size contacts,
// or a sweep. Batches get increasing sequence numbers when created; a
// checkpoint waits for every sequence number assigned before it.
type batch struct {
	seq      uint64
	op       opKind
	stream   *streamState
	gen      uint64
	ids      []string         // deletes: source ids
	contacts []ingest.Contact // upserts
	pos      map[string]int   // source id -> index in ids or contacts
	held     time.Time        // when a checkpoint began waiting for it while filling

	deps   []*batch      // earlier batches touching the same contacts
	done   chan struct{} // closed when finished, either way
	failed bool          // set before done is closed
}

// streamState is what the writer keeps per stream.
type streamState struct {
	name    string
	gen     uint64
	upserts *batch // filling; nil when empty
	deletes *batch
	// last maps a source id to the newest dispatched batch touching it,
	// until that batch finishes. Guarded by writer.mu.
	last map[string]*batch
}

// pendingAck is a checkpoint or full-refresh-complete waiting for every
// batch up to need.
type pendingAck struct {
	id   uint64
	need uint64
}

// writer is one Write call. The dispatcher (run's goroutine) reads the
// input, fills batches and starts them; each batch runs on its own
// goroutine, bounded by sem.
type writer struct {
	d       *Destination
	cfg     config
	c       *client
	in      contract.Input
	streams map[string]*streamState
	norm    *normalizer
	sem     chan struct{}
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelCauseFunc
	bodies  sync.Pool // *bytes.Buffer for request bodies

	seq uint64 // last sequence number assigned; dispatcher only

	mu        sync.Mutex // guards the fields below and streamState.last
	open      map[uint64]*batch
	finished  map[uint64]bool // succeeded, above the watermark
	watermark uint64          // every batch up to here succeeded
	acks      []pendingAck
	counts    map[string]int64 // not yet reported
	totals    map[string]int64 // for the closing log line

	ackMu sync.Mutex // keeps Ack and Count calls in order
}

func newWriter(d *Destination, cfg config, c *client, streams []contract.WriteStream, in contract.Input) (*writer, error) {
	norm, err := newNormalizer()
	if err != nil {
		return nil, err
	}
	w := &writer{
		d: d, cfg: cfg, c: c, in: in,
		streams:  map[string]*streamState{},
		norm:     norm,
		sem:      make(chan struct{}, cfg.Concurrency),
		open:     map[uint64]*batch{},
		finished: map[uint64]bool{},
		counts:   map[string]int64{},
		totals:   map[string]int64{},
		bodies:   sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
	for _, s := range streams {
		w.streams[s.Name] = &streamState{name: s.Name, gen: s.Generation, last: map[string]*batch{}}
	}
	return w, nil
}

type next struct {
	msg contract.Message
	err error
}

func (w *writer) run(parent context.Context) error {
	w.ctx, w.cancel = context.WithCancelCause(parent)
	defer w.cancel(nil)

	msgs := make(chan next)
	go func() {
		for {
			m, err := w.in.Next(w.ctx)
			select {
			case msgs <- next{m, err}:
			case <-w.ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	linger := time.NewTimer(time.Hour)
	linger.Stop()
	lingering := false
	// A checkpoint behind a partly filled batch is acknowledged soon, not
	// only when the batch fills up: a batch held up by a checkpoint for
	// d.linger is sent as it is.
	rearm := func() {
		if at, ok := w.heldSince(); ok && !lingering {
			linger.Reset(w.d.linger - time.Since(at))
			lingering = true
		}
	}
	err := func() error {
		for {
			select {
			case <-w.ctx.Done():
				return context.Cause(w.ctx)
			case <-linger.C:
				lingering = false
				if err := w.flushHeld(); err != nil {
					return err
				}
				rearm()
			case n := <-msgs:
				if errors.Is(n.err, io.EOF) {
					return w.flushAll()
				}
				if n.err != nil {
					return fmt.Errorf("reading the next message: %w", n.err)
				}
				if err := w.handle(n.msg); err != nil {
					return err
				}
				rearm()
			}
		}
	}()
	linger.Stop()
	if err != nil {
		w.cancel(err)
	}
	w.wg.Wait()
	if err == nil {
		err = context.Cause(w.ctx) // a batch failed after the input ended
	}
	if err == nil {
		err = w.ackReady()
	}
	if err == nil && w.pendingAcks() > 0 {
		err = errors.New("internal error: checkpoints left unacknowledged after every batch finished")
	}
	// Counters are worth reporting even when the run failed.
	if cerr := w.reportCounts(parent); err == nil {
		err = cerr
	}
	w.logSummary(err)
	return err
}

func (w *writer) pendingAcks() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acks)
}

// heldSince returns when the longest-held filling batch began holding up a
// checkpoint, if one does.
func (w *writer) heldSince() (time.Time, bool) {
	var first time.Time
	for _, s := range w.streams {
		for _, b := range [...]*batch{s.upserts, s.deletes} {
			if b != nil && !b.held.IsZero() && (first.IsZero() || b.held.Before(first)) {
				first = b.held
			}
		}
	}
	return first, !first.IsZero()
}

// flushHeld sends the batches that have held up a checkpoint for d.linger.
func (w *writer) flushHeld() error {
	for _, name := range slices.Sorted(maps.Keys(w.streams)) {
		s := w.streams[name]
		for _, slot := range [...]**batch{&s.upserts, &s.deletes} {
			if b := *slot; b != nil && !b.held.IsZero() && time.Since(b.held) >= w.d.linger {
				if err := w.flush(slot); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (w *writer) stream(name string) (*streamState, error) {
	s, ok := w.streams[name]
	if !ok {
		opened := "no streams"
		if len(w.streams) > 0 {
			opened = strings.Join(slices.Sorted(maps.Keys(w.streams)), ", ")
		}
		return nil, fmt.Errorf("a message for stream %q arrived, but the write was opened for %s", name, opened)
	}
	return s, nil
}

func (w *writer) handle(m contract.Message) error {
	switch {
	case m.Checkpoint != nil:
		w.addAck(m.Checkpoint.ID, w.seq)
		w.holdBuffers()
		return w.ackReady()
	case m.FullRefreshComplete != nil:
		f := m.FullRefreshComplete
		s, err := w.stream(f.Stream)
		if err != nil {
			return err
		}
		if err := w.flushStream(s); err != nil {
			return err
		}
		w.seq++
		sweep := &batch{seq: w.seq, op: opSweep, stream: s, gen: f.Generation}
		if err := w.dispatch(sweep); err != nil {
			return err
		}
		w.addAck(f.ID, sweep.seq)
		w.holdBuffers() // other streams' records before it count too
		return nil
	}
	for i := range m.Records {
		if err := w.addRecord(&m.Records[i]); err != nil {
			return err
		}
	}
	return nil
}

// holdBuffers notes that a checkpoint now waits for every filling batch.
func (w *writer) holdBuffers() {
	now := time.Now()
	for _, s := range w.streams {
		for _, b := range [...]*batch{s.upserts, s.deletes} {
			if b != nil && b.held.IsZero() {
				b.held = now
			}
		}
	}
}

func (w *writer) addAck(id, need uint64) {
	w.mu.Lock()
	w.acks = append(w.acks, pendingAck{id: id, need: need})
	w.mu.Unlock()
}

func (w *writer) count(name string, delta int64) {
	w.mu.Lock()
	w.counts[name] += delta
	w.totals[name] += delta
	w.mu.Unlock()
}

func (w *writer) addCounts(counts map[string]int64) {
	w.mu.Lock()
	for k, v := range counts {
		w.counts[k] += v
		w.totals[k] += v
	}
	w.mu.Unlock()
}

func (w *writer) addRecord(r *contract.Record) error {
	s, err := w.stream(r.Stream)
	if err != nil {
		return err
	}
	if r.Op == contract.Delete {
		if r.Key == "" {
			return w.rejectLocally(s, r.Key, "a delete record has no key")
		}
		return w.addDelete(s, r.Key)
	}
	var in inContact
	if err := json.Unmarshal(r.Data, &in); err != nil {
		return w.rejectLocally(s, r.Key, fmt.Sprintf("the record is not a canonical contact: %v", err))
	}
	switch {
	case in.SourceID == "":
		in.SourceID = r.Key
	case r.Key != "" && r.Key != in.SourceID:
		return w.rejectLocally(s, r.Key, fmt.Sprintf("the record's key and source_id %q differ", in.SourceID))
	}
	if in.SourceID == "" {
		return w.rejectLocally(s, r.Key, "the record has neither a key nor a source_id")
	}
	phones, left := w.norm.phones(in.Phones)
	if left.unparseable > 0 {
		w.count(countUnparseable, int64(left.unparseable))
		w.d.log.Debug("phone numbers could not be normalised", "stream", s.name, "source_id", in.SourceID, "count", left.unparseable)
	}
	if left.unread > 0 {
		w.count(countUnread, int64(left.unread))
		w.d.log.Debug("phone numbers the source could not read are left out, not read with a guessed country", "stream", s.name, "source_id", in.SourceID, "count", left.unread)
	}
	if len(phones) == 0 && w.cfg.SkipWithoutPhone {
		w.count(countSkipped, 1)
		w.d.log.Debug("skipping a contact without a usable phone number", "stream", s.name, "source_id", in.SourceID)
		// An earlier run may have stored it with a number it no longer has.
		return w.addDelete(s, in.SourceID)
	}
	return w.addUpsert(s, ingest.Contact{
		SourceID: in.SourceID, Kind: in.Kind, DisplayName: in.DisplayName,
		FirstName: in.FirstName, LastName: in.LastName, Company: in.Company, Title: in.Title,
		Emails: in.Emails, Phones: phones, URL: in.URL, UpdatedAt: in.UpdatedAt,
	})
}

// rejectLocally handles a record that cannot be sent at all like one
// ROGER365 rejected: logged and counted, fatal only when strict.
func (w *writer) rejectLocally(s *streamState, key, why string) error {
	w.count(countRejected, 1)
	if w.cfg.Strict {
		return fmt.Errorf("record %q of stream %q cannot be written: %s (strict = true fails the run on such records)", key, s.name, why)
	}
	w.d.log.Warn("skipping a record that cannot be written", "stream", s.name, "source_id", key, "reason", why)
	return nil
}

func (w *writer) newBatch(s *streamState, op opKind) *batch {
	w.seq++
	return &batch{seq: w.seq, op: op, stream: s, gen: s.gen, pos: make(map[string]int, w.cfg.BatchSize)}
}

func (w *writer) addUpsert(s *streamState, c ingest.Contact) error {
	if s.deletes != nil {
		if _, ok := s.deletes.pos[c.SourceID]; ok {
			// The delete goes first; the upsert's batch will wait for it.
			if err := w.flush(&s.deletes); err != nil {
				return err
			}
		}
	}
	if s.upserts == nil {
		s.upserts = w.newBatch(s, opUpsert)
	}
	b := s.upserts
	if i, ok := b.pos[c.SourceID]; ok {
		b.contacts[i] = c // the later version of the same contact wins
		return nil
	}
	b.pos[c.SourceID] = len(b.contacts)
	b.contacts = append(b.contacts, c)
	if len(b.contacts) >= w.cfg.BatchSize {
		return w.flush(&s.upserts)
	}
	return nil
}

func (w *writer) addDelete(s *streamState, id string) error {
	if s.upserts != nil {
		if _, ok := s.upserts.pos[id]; ok {
			if err := w.flush(&s.upserts); err != nil {
				return err
			}
		}
	}
	if s.deletes == nil {
		s.deletes = w.newBatch(s, opDelete)
	}
	b := s.deletes
	if _, ok := b.pos[id]; ok {
		return nil
	}
	b.pos[id] = len(b.ids)
	b.ids = append(b.ids, id)
	if len(b.ids) >= w.cfg.BatchSize {
		return w.flush(&s.deletes)
	}
	return nil
}

func (w *writer) flush(slot **batch) error {
	b := *slot
	*slot = nil
	if b == nil {
		return nil
	}
	return w.dispatch(b)
}

func (w *writer) flushStream(s *streamState) error {
	if err := w.flush(&s.upserts); err != nil {
		return err
	}
	return w.flush(&s.deletes)
}

func (w *writer) flushAll() error {
	for _, name := range slices.Sorted(maps.Keys(w.streams)) {
		if err := w.flushStream(w.streams[name]); err != nil {
			return err
		}
	}
	return nil
}

// dispatch starts b once a request slot is free. It records which earlier
// batches b must wait for: those touching the same contacts, or for a
// sweep, every unfinished batch of its stream.
func (w *writer) dispatch(b *batch) error {
	b.done = make(chan struct{})
	s := b.stream
	w.mu.Lock()
	seen := map[*batch]bool{}
	addDep := func(d *batch) {
		if !seen[d] {
			seen[d] = true
			b.deps = append(b.deps, d)
		}
	}
	switch b.op {
	case opSweep:
		for _, o := range w.open {
			if o.stream == s {
				addDep(o)
			}
		}
	default:
		keys := b.ids
		if b.op == opUpsert {
			keys = make([]string, len(b.contacts))
			for i := range b.contacts {
				keys[i] = b.contacts[i].SourceID
			}
			b.ids = keys
		}
		for _, k := range keys {
			if d := s.last[k]; d != nil {
				addDep(d)
			}
			s.last[k] = b
		}
	}
	w.open[b.seq] = b
	w.mu.Unlock()
	b.pos = nil // only needed while filling

	select {
	case w.sem <- struct{}{}:
	case <-w.ctx.Done():
		w.finish(b, context.Cause(w.ctx))
		return context.Cause(w.ctx)
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() { <-w.sem }()
		w.finish(b, w.send(b))
	}()
	return nil
}

// send waits for b's dependencies and performs its request.
func (w *writer) send(b *batch) error {
	for _, d := range b.deps {
		select {
		case <-d.done:
			if d.failed {
				return errors.New("an earlier batch failed")
			}
		case <-w.ctx.Done():
			return context.Cause(w.ctx)
		}
	}
	buf := w.bodies.Get().(*bytes.Buffer)
	buf.Reset()
	defer w.bodies.Put(buf)
	enc := json.NewEncoder(buf)
	s := b.stream
	switch b.op {
	case opUpsert:
		if err := enc.Encode(ingest.UpsertRequest{Stream: s.name, Generation: b.gen, Contacts: b.contacts}); err != nil {
			return fmt.Errorf("encoding contacts of stream %q: %w", s.name, err)
		}
		var resp ingest.UpsertResponse
		if err := w.c.call(w.ctx, ingest.PutContacts, buf.Bytes(), &resp); err != nil {
			return w.failure("writing contacts of stream "+s.name, err)
		}
		counts := map[string]int64{}
		var rejected error
		for _, r := range resp.Results {
			switch r.Status {
			case ingest.StatusCreated:
				counts[countCreated]++
			case ingest.StatusUpdated:
				counts[countUpdated]++
			case ingest.StatusUnchanged:
				counts[countUnchanged]++
			case ingest.StatusRejected:
				counts[countRejected]++
				w.d.log.Warn("ROGER365 rejected a contact", "stream", s.name, "source_id", r.SourceID, "reason", r.Error)
				if w.cfg.Strict && rejected == nil {
					rejected = fmt.Errorf("ROGER365 rejected contact %q of stream %q: %s (strict = true fails the run on a rejected contact)", r.SourceID, s.name, r.Error)
				}
			default:
				w.d.log.Warn("ROGER365 answered an unknown status for a contact", "stream", s.name, "source_id", r.SourceID, "status", r.Status)
			}
		}
		if len(resp.Results) != len(b.contacts) {
			w.d.log.Warn("ROGER365 answered a different number of results than contacts sent", "sent", len(b.contacts), "results", len(resp.Results))
		}
		w.addCounts(counts)
		return rejected
	case opDelete:
		if err := enc.Encode(ingest.DeleteRequest{Stream: s.name, SourceIDs: b.ids}); err != nil {
			return fmt.Errorf("encoding deletes of stream %q: %w", s.name, err)
		}
		var resp ingest.DeleteResponse
		if err := w.c.call(w.ctx, ingest.DeleteContacts, buf.Bytes(), &resp); err != nil {
			return w.failure("deleting contacts of stream "+s.name, err)
		}
		w.count(countDeleted, resp.Deleted)
	case opSweep:
		if err := enc.Encode(ingest.SweepRequest{Stream: s.name, Generation: &b.gen}); err != nil {
			return fmt.Errorf("encoding the sweep of stream %q: %w", s.name, err)
		}
		var resp ingest.SweepResponse
		if err := w.c.call(w.ctx, ingest.SweepContacts, buf.Bytes(), &resp); err != nil {
			return w.failure(fmt.Sprintf("sweeping stream %s after the full refresh of generation %d", s.name, b.gen), err)
		}
		w.count(countSwept, resp.Removed)
		w.d.log.Info("full refresh complete: removed contacts the source no longer has", "stream", s.name, "generation", b.gen, "removed", resp.Removed)
	}
	return nil
}

// failure words a failed request for the user.
func (w *writer) failure(doing string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if cause := context.Cause(w.ctx); cause != nil {
			return cause
		}
	}
	return fmt.Errorf("%s: %w", doing, explain(w.cfg, err))
}

// finish records b's outcome, fails the run on error, and acknowledges
// whatever checkpoints b completes.
func (w *writer) finish(b *batch, err error) {
	if err != nil {
		b.failed = true
		w.cancel(err)
	}
	close(b.done)
	w.mu.Lock()
	delete(w.open, b.seq)
	for _, k := range b.ids {
		if b.stream.last[k] == b {
			delete(b.stream.last, k)
		}
	}
	if err == nil {
		w.finished[b.seq] = true
		for w.finished[w.watermark+1] {
			delete(w.finished, w.watermark+1)
			w.watermark++
		}
	}
	w.mu.Unlock()
	if err == nil {
		if aerr := w.ackReady(); aerr != nil {
			w.cancel(aerr)
		}
	}
}

// ackReady acknowledges the newest checkpoint whose batches all succeeded;
// an Ack covers the ones before it. Counters go out first, so the run
// history holds them once the checkpoint is stored.
func (w *writer) ackReady() error {
	w.ackMu.Lock()
	defer w.ackMu.Unlock()
	ctx := w.ctx
	if ctx.Err() != nil {
		return nil // the run is failing or stopped: acknowledge nothing more
	}
	w.mu.Lock()
	n := 0
	for n < len(w.acks) && w.acks[n].need <= w.watermark {
		n++
	}
	if n == 0 {
		w.mu.Unlock()
		return nil
	}
	id := w.acks[n-1].id
	w.acks = w.acks[n:]
	w.mu.Unlock()
	if err := w.reportCountsLocked(ctx); err != nil {
		return err
	}
	if err := w.in.Ack(ctx, id); err != nil {
		return fmt.Errorf("acknowledging checkpoint %d: %w", id, err)
	}
	return nil
}

func (w *writer) reportCounts(ctx context.Context) error {
	w.ackMu.Lock()
	defer w.ackMu.Unlock()
	return w.reportCountsLocked(ctx)
}

func (w *writer) reportCountsLocked(ctx context.Context) error {
	w.mu.Lock()
	counts := w.counts
	w.counts = map[string]int64{}
	w.mu.Unlock()
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		if counts[name] == 0 {
			continue
		}
		if err := w.in.Count(ctx, name, counts[name]); err != nil {
			return fmt.Errorf("reporting counter %s: %w", name, err)
		}
	}
	return nil
}

func (w *writer) logSummary(err error) {
	w.mu.Lock()
	args := []any{"replicator", w.cfg.ReplicatorID, "batches", w.seq}
	for _, name := range slices.Sorted(maps.Keys(w.totals)) {
		args = append(args, name, w.totals[name])
	}
	w.mu.Unlock()
	if err != nil {
		w.d.log.Error("write to ROGER365 failed", append(args, "error", err)...)
		return
	}
	w.d.log.Info("write to ROGER365 finished", args...)
}
