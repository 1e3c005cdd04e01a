package roger365

import (
	"cmp"
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
	"github.com/replicatorhq/replicator/plugin/ordered"
	"github.com/replicatorhq/replicator/schemas"
	"github.com/replicatorhq/replicator/schemas/phone"
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
	countStale       = "stale" // older than the version ROGER365 holds, not applied
	countDeleted     = "deleted"
	countSwept       = "swept" // removed by a full refresh's sweep
)

// inContact is the canonical record as it arrives; attributes are not read.
// It mirrors ingest.Contact by design but is the input side, kept apart so
// that the canonical record and the vendor's contract can change alone.
type inContact struct {
	SourceID    string          `json:"source_id"`
	Kind        string          `json:"kind"`
	DisplayName string          `json:"display_name"`
	FirstName   string          `json:"first_name"`
	LastName    string          `json:"last_name"`
	Company     string          `json:"company"`
	Title       string          `json:"title"`
	Emails      []string        `json:"emails"`
	Phones      []schemas.Phone `json:"phones"`
	URL         string          `json:"url"`
	UpdatedAt   string          `json:"updated_at"`
}

type opKind uint8

const (
	opUpsert opKind = iota
	opDelete
)

// batch is one request being filled: an upsert or delete of up to
// batch_size contacts. It holds its place in the order (an ordered.Slot)
// from its first contact, so a checkpoint that arrives while it fills
// waits for it.
type batch struct {
	op       opKind
	stream   *streamState
	gen      uint64
	slot     *ordered.Slot
	ids      []string         // deletes: source ids
	contacts []ingest.Contact // upserts
	pos      map[string]int   // source id -> index in ids or contacts
	held     time.Time        // when a checkpoint began waiting for it while filling
}

// streamState is what the writer keeps per stream.
type streamState struct {
	name    string
	gen     uint64
	upserts *batch // filling; nil when empty
	deletes *batch
}

// writer is one Write call. The dispatcher (run's goroutine) reads the
// input and fills batches; plugin/ordered sends them concurrently, keeps
// requests on the same contact in order and acknowledges each checkpoint
// once every request before it has succeeded.
type writer struct {
	d       *Destination
	cfg     config
	c       *client
	in      contract.Input
	streams map[string]*streamState
	numbers *phone.Reader // reads phones; dispatcher only
	ow      *ordered.Writer
	batches int // requests made; dispatcher only

	mu     sync.Mutex       // guards counts and totals
	counts map[string]int64 // not yet reported
	totals map[string]int64 // for the closing log line
}

func newWriter(d *Destination, cfg config, c *client, streams []contract.WriteStream,
	in contract.Input) (*writer, error) {
	r, err := phone.NewReader()
	if err != nil {
		return nil, fmt.Errorf("preparing to read phone numbers: %w", err)
	}
	w := &writer{
		d: d, cfg: cfg, c: c, in: in,
		streams: map[string]*streamState{},
		numbers: r,
		counts:  map[string]int64{},
		totals:  map[string]int64{},
	}
	for _, s := range streams {
		w.streams[s.Name] = &streamState{name: s.Name, gen: s.Generation}
	}
	return w, nil
}

// Ack reports the counters gathered so far, so the run history holds them
// once the checkpoint is stored, and then acknowledges id. plugin/ordered
// calls it one acknowledgement at a time, in order.
func (w *writer) Ack(ctx context.Context, id uint64) error {
	if err := w.reportCounts(ctx); err != nil {
		return err
	}
	return w.in.Ack(ctx, id)
}

type next struct {
	msg contract.Message
	err error
}

func (w *writer) run(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	w.ow = ordered.New(ctx, w, w.cfg.Concurrency)

	msgs := make(chan next)
	go func() {
		for {
			m, err := w.in.Next(ctx)
			select {
			case msgs <- next{m, err}:
			case <-ctx.Done():
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
			case <-w.ow.Done():
				return cmp.Or(w.ow.Err(), context.Cause(ctx))
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
		cancel() // stop the requests in flight
	}
	if werr := w.ow.Wait(); err == nil {
		err = werr
	}
	if err == nil && w.ow.Pending() > 0 {
		err = errors.New("internal error: checkpoints left unacknowledged after every batch finished")
	}
	// Counters are worth reporting even when the run failed.
	if cerr := w.reportCounts(parent); err == nil {
		err = cerr
	}
	w.logSummary(err)
	return err
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
		// It waits for the batches filling now, which hold their places.
		err := w.ow.Barrier(m.Checkpoint.ID)
		w.holdBuffers()
		return err
	case m.FullRefreshComplete != nil:
		f := m.FullRefreshComplete
		s, err := w.stream(f.Stream)
		if err != nil {
			return err
		}
		if err := w.flushStream(s); err != nil {
			return err
		}
		// The sweep runs once everything sent before it is stored, alone.
		w.batches++
		if err := w.ow.Exclusive(func(ctx context.Context) error { return w.sweep(ctx, s, f.Generation) }); err != nil {
			return err
		}
		err = w.ow.Barrier(f.ID)
		w.holdBuffers() // other streams' records before it count too
		return err
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
	phones, left := storedPhones(w.numbers, in.Phones)
	if left.unparseable > 0 {
		w.count(countUnparseable, int64(left.unparseable))
		w.d.log.Debug("phone numbers could not be normalised",
			"stream", s.name, "source_id", in.SourceID, "count", left.unparseable)
	}
	if left.unread > 0 {
		w.count(countUnread, int64(left.unread))
		w.d.log.Debug("phone numbers the source could not read are left out, not read with a guessed country",
			"stream", s.name, "source_id", in.SourceID, "count", left.unread)
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
		Emails: in.Emails, Phones: phones, URL: in.URL, UpdatedAt: updatedAt(in.UpdatedAt, r.SourceTime),
	})
}

// updatedAt is the version ROGER365 compares, so that a late writer's
// older version is refused: the record's updated_at, else its SourceTime,
// else none. The zero time, which a source may send for "unknown", is none.
func updatedAt(data string, source time.Time) string {
	if at, err := ingest.ParseTime(data); err == nil && !at.IsZero() {
		return data
	}
	if !source.IsZero() {
		return ingest.FormatTime(source)
	}
	return ""
}

// rejectLocally handles a record that cannot be sent at all like one
// ROGER365 rejected: logged and counted, fatal only when strict.
func (w *writer) rejectLocally(s *streamState, key, why string) error {
	w.count(countRejected, 1)
	if w.cfg.Strict {
		return fmt.Errorf("record %q of stream %q cannot be written: %s (strict = true fails the run on such records)",
			key, s.name, why)
	}
	w.d.log.Warn("skipping a record that cannot be written", "stream", s.name, "source_id", key, "reason", why)
	return nil
}

func (w *writer) newBatch(s *streamState, op opKind) *batch {
	return &batch{op: op, stream: s, gen: s.gen, slot: w.ow.Reserve(), pos: make(map[string]int, w.cfg.BatchSize)}
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

// flush sends the batch in slot, after every earlier request on the same
// contacts.
func (w *writer) flush(slot **batch) error {
	b := *slot
	*slot = nil
	if b == nil {
		return nil
	}
	w.batches++
	// Keys name a contact within its stream: streams are apart in ROGER365.
	keys := make([]string, 0, max(len(b.ids), len(b.contacts)))
	for _, id := range b.ids {
		keys = append(keys, b.stream.name+"\x00"+id)
	}
	for i := range b.contacts {
		keys = append(keys, b.stream.name+"\x00"+b.contacts[i].SourceID)
	}
	b.pos = nil // only needed while filling
	return b.slot.Go(keys, func(ctx context.Context) error { return w.send(ctx, b) })
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

// send performs b's request.
func (w *writer) send(ctx context.Context, b *batch) error {
	s := b.stream
	switch b.op {
	case opUpsert:
		body := ingest.UpsertRequest{Stream: s.name, Generation: b.gen, Contacts: b.contacts}
		var resp ingest.UpsertResponse
		if err := w.c.call(ctx, ingest.PutContacts, body, &resp); err != nil {
			return w.failure(ctx, "writing contacts of stream "+s.name, err)
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
			case ingest.StatusStale:
				// A late writer's older version, such as a host's that lost
				// its claim: ROGER365 keeps the newer one, as it should.
				counts[countStale]++
				w.d.log.Debug("ROGER365 holds a newer version of a contact; this older one was not applied",
					"stream", s.name, "source_id", r.SourceID)
			case ingest.StatusRejected:
				counts[countRejected]++
				w.d.log.Warn("ROGER365 rejected a contact", "stream", s.name, "source_id", r.SourceID, "reason", r.Error)
				if w.cfg.Strict && rejected == nil {
					rejected = fmt.Errorf(
						"ROGER365 rejected contact %q of stream %q: %s (strict = true fails the run on a rejected contact)",
						r.SourceID, s.name, r.Error)
				}
			default:
				w.d.log.Warn("ROGER365 answered an unknown status for a contact",
					"stream", s.name, "source_id", r.SourceID, "status", r.Status)
			}
		}
		if len(resp.Results) != len(b.contacts) {
			w.d.log.Warn("ROGER365 answered a different number of results than contacts sent",
				"sent", len(b.contacts), "results", len(resp.Results))
		}
		w.addCounts(counts)
		return rejected
	case opDelete:
		body := ingest.DeleteRequest{Stream: s.name, SourceIDs: b.ids}
		var resp ingest.DeleteResponse
		if err := w.c.call(ctx, ingest.DeleteContacts, body, &resp); err != nil {
			return w.failure(ctx, "deleting contacts of stream "+s.name, err)
		}
		w.count(countDeleted, resp.Deleted)
	}
	return nil
}

// sweep removes the contacts of s that the full refresh of generation gen
// did not write.
func (w *writer) sweep(ctx context.Context, s *streamState, gen uint64) error {
	body := ingest.SweepRequest{Stream: s.name, Generation: &gen}
	var resp ingest.SweepResponse
	if err := w.c.call(ctx, ingest.SweepContacts, body, &resp); err != nil {
		return w.failure(ctx, fmt.Sprintf("sweeping stream %s after the full refresh of generation %d", s.name, gen), err)
	}
	w.count(countSwept, resp.Removed)
	w.d.log.Info("full refresh complete: removed contacts the source no longer has",
		"stream", s.name, "generation", gen, "removed", resp.Removed)
	return nil
}

// failure words a failed request for the user; a request stopped because
// another failed reports that one.
func (w *writer) failure(ctx context.Context, doing string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
	}
	return fmt.Errorf("%s: %w", doing, explain(w.cfg, err))
}

// reportCounts hands the host the counters gathered since the last call.
// It is called from one goroutine at a time: within Ack, and once after
// every request has finished.
func (w *writer) reportCounts(ctx context.Context) error {
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
	args := []any{"replicator", w.cfg.ReplicatorID, "batches", w.batches}
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
