// Package incremental reads a stream from an API of the shape most HTTP
// APIs have: a list of records filtered by update time and sorted by it,
// handed out in pages, and a list of deletions.
//
//	GET /contacts?updated_since=T&cursor=C    changed at or after T, in (updated_at, id) order
//	GET /contacts/deleted?deleted_since=T     deleted at or after T
//
// A source implements Lists, the two list calls, and hands it to Run. Run
// keeps the stream's checkpoint (State: a cursor for records, one for
// deletions, and whether a full refresh is under way) in a Read, which
// decides what to emit and ends a full refresh. The rules it keeps:
//
//   - An incremental read covers a window that ends Lag before now, end
//     included. A service stamps a record's updated_at when the change
//     starts and lists it once the change is committed, a little later; a
//     read up to now would move its cursor past a record that is stamped
//     earlier but not yet listed, and never see it. Records past the end
//     are left to the next read.
//   - Deletions come first, then changed records. A record deleted and
//     created again in one window comes out present, and a run that dies
//     between the two leaves nothing wrong behind.
//   - A full refresh (a read without state) reads every record up to now,
//     without the lag, for everything the service holds must be sent; and
//     no deletions, for its full-refresh-complete, sent before its last
//     checkpoint, removes from the destination what it did not send.
//     Incremental reads then start at the refresh's start less the lag,
//     records and deletions alike (or at the last record, if that is
//     earlier), so what changed or was deleted while it ran is read again.
//   - updated_since is inclusive, so a resumed read is listed again the
//     records that share the cursor's time; the cursor (package keyset)
//     skips those it covers. The cursor must compare ids as the service
//     sorts them (Options.IDs); a service that lists a record before one
//     the read has sent fails the read instead of losing records.
package incremental

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/keyset"
)

// DefaultLag is how far behind now an incremental read stops when
// Options.Lag is zero: longer than most services take to commit a change.
const DefaultLag = time.Minute

// Options say how a service lists records.
type Options struct {
	// Lag is how far behind now an incremental read's window ends:
	// longer than the service may take between stamping a change and
	// listing it. DefaultLag when zero.
	Lag time.Duration
	// IDs is how the service sorts the ids of records that share an
	// updated_at. Most HTTP APIs sort ids as text (keyset.TextIDs), also
	// when they look like numbers.
	IDs keyset.IDOrder
	// Now is the clock; time.Now when nil. Tests move it.
	Now func() time.Time
}

// State is a stream's checkpoint.
type State struct {
	// Refresh is when the full refresh under way began; zero when none is.
	Refresh time.Time `json:"full_refresh_started,omitzero"`
	// Records is the key of the last record sent.
	Records keyset.Cursor `json:"records"`
	// Deletions is the end of the last window whose deletions were sent.
	Deletions time.Time `json:"deletions,omitzero"`
}

// Read is one read of one stream. Its methods are called from one
// goroutine, as contract.Output's are.
type Read struct {
	out    contract.Output
	rs     contract.ReadStream
	o      Options
	state  State
	until  time.Time // an incremental read's window end; zero in a full refresh
	sent   bool      // a record was emitted by this read
	counts map[string]int64
}

// Start begins a read of rs from its state: a full refresh when it has
// none. It fails on a state that is not a State.
func Start(rs contract.ReadStream, out contract.Output, o Options) (*Read, error) {
	if o.Lag == 0 {
		o.Lag = DefaultLag
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Read{out: out, rs: rs, o: o, counts: map[string]int64{}}
	now := o.Now()
	if rs.State == nil {
		r.state.Refresh = now
		return r, nil
	}
	dec := json.NewDecoder(bytes.NewReader(rs.State))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r.state); err != nil {
		return nil, fmt.Errorf("the checkpoint %s is not one this source writes (%w): "+
			"run replicator sync -full-refresh to read the stream in full again", rs.State, err)
	}
	if r.state.Refresh.IsZero() {
		r.until = keyset.End(now, o.Lag)
	}
	return r, nil
}

// Lists are how a source lists one stream's changes in its service.
type Lists interface {
	// Deletions calls r.Delete for each record deleted at or after since.
	Deletions(ctx context.Context, r *Read, since time.Time) error
	// Records calls r.Upsert for each record changed at or after
	// r.Since(), in (updated_at, id) order, until Upsert returns false,
	// and r.Checkpoint after each page.
	Records(ctx context.Context, r *Read) error
}

// Run reads rs from its state: the deletions the last read did not send
// (none in a full refresh), then the changed records, then Finish. A
// source that needs another order uses Start and Read's methods.
func Run(ctx context.Context, rs contract.ReadStream, out contract.Output, o Options, lists Lists) error {
	r, err := Start(rs, out, o)
	if err != nil {
		return err
	}
	deletions := func(ctx context.Context, since time.Time) error { return lists.Deletions(ctx, r, since) }
	if err := r.Deletions(ctx, deletions); err != nil {
		return err
	}
	if err := lists.Records(ctx, r); err != nil {
		return err
	}
	return r.Finish(ctx)
}

// Refreshing says whether the read is (part of) a full refresh.
func (r *Read) Refreshing() bool { return !r.state.Refresh.IsZero() }

// Since is the updated_since to ask the service for, at or after which
// the records this read emits were changed; zero asks for every record.
func (r *Read) Since() time.Time { return r.state.Records.UpdatedAt }

// Deletions reads the deletions the last read did not: it calls list with
// the deleted_since to ask the service for, list calls Delete for each
// deletion the service lists, and then Deletions checkpoints. It does
// nothing in a full refresh. Call it before reading records.
func (r *Read) Deletions(ctx context.Context, list func(ctx context.Context, since time.Time) error) error {
	if r.Refreshing() {
		return nil
	}
	if err := list(ctx, r.state.Deletions); err != nil {
		return err
	}
	r.state.Deletions = r.until
	return r.Checkpoint(ctx)
}

// Delete emits a delete of the record id, deleted at at, unless that is
// past the window's end: the next read's window holds it.
func (r *Read) Delete(ctx context.Context, id string, at time.Time) error {
	if at.After(r.until) {
		return nil
	}
	return r.out.Emit(ctx, contract.Record{Stream: r.rs.Name, Key: id, Op: contract.Delete, SourceTime: at})
}

// Upsert emits a record the service listed, key being its (updated_at,
// id), unless the cursor covers it; then it advances the cursor. data
// returns the record's data, which Upsert encodes as JSON; it is called
// only for a record Upsert emits, so one a checkpoint covers is neither
// converted nor counted again. Upsert returns false for a record past the
// window's end: the records after it are too, and the read of records is
// done.
func (r *Read) Upsert(ctx context.Context, key keyset.Cursor, data func() any) (bool, error) {
	if !r.until.IsZero() && key.UpdatedAt.After(r.until) {
		return false, nil
	}
	if !r.o.IDs.Advance(&r.state.Records, key) {
		return true, r.outOfOrder(key)
	}
	r.sent = true
	b, err := json.Marshal(data())
	if err != nil {
		return false, fmt.Errorf("encoding record %s: %w", key.ID, err)
	}
	rec := contract.Record{Stream: r.rs.Name, Key: key.ID, Data: b, SourceTime: key.UpdatedAt}
	return true, r.out.Emit(ctx, rec)
}

// outOfOrder checks a record the cursor covers. Before this read sent
// anything, it is one a checkpoint covers, listed again because
// updated_since is inclusive; after that, the service lists records in an
// order the cursor does not follow, and a resumed read would skip some.
func (r *Read) outOfOrder(key keyset.Cursor) error {
	last := r.state.Records
	if !r.sent || r.o.IDs.Compare(key, last) == 0 {
		return nil
	}
	return fmt.Errorf("the service listed record %s (updated at %s) after %s (updated at %s), "+
		"out of (updated_at, id) order with %s ids (incremental.Options.IDs): a read resumed there would skip records",
		key.ID, key.UpdatedAt.Format(time.RFC3339Nano), last.ID, last.UpdatedAt.Format(time.RFC3339Nano), r.o.IDs)
}

// Count adds delta to a counter of the run. Counters go to the host with
// the next checkpoint, rather than in a message per record.
func (r *Read) Count(name string, delta int64) { r.counts[name] += delta }

// Checkpoint sends the counters and a checkpoint of what the read has
// emitted so far. Call it after each page: a run that dies resumes after
// the last record it covers.
func (r *Read) Checkpoint(ctx context.Context) error {
	for _, name := range slices.Sorted(maps.Keys(r.counts)) {
		if err := r.out.Count(ctx, name, r.counts[name]); err != nil {
			return err
		}
	}
	clear(r.counts)
	state, err := json.Marshal(r.state)
	if err != nil {
		return fmt.Errorf("encoding the checkpoint: %w", err)
	}
	return r.out.Checkpoint(ctx, r.rs.Name, state)
}

// Finish ends the read with a checkpoint. A full refresh reports its
// completion first: a run that dies between the two resumes from an
// earlier checkpoint and reports it again, instead of never.
func (r *Read) Finish(ctx context.Context) error {
	if r.Refreshing() {
		if err := r.out.FullRefreshComplete(ctx, r.rs.Name, r.rs.Generation); err != nil {
			return err
		}
		r.state = r.afterRefresh()
	}
	return r.Checkpoint(ctx)
}

// afterRefresh is where incremental reads start once a full refresh is
// complete: at its start less the lag, or at its last record if that is
// earlier. A change stamped later may have been committed after the
// refresh passed its place, and is read again.
func (r *Read) afterRefresh() State {
	start := keyset.Cursor{UpdatedAt: keyset.End(r.state.Refresh, r.o.Lag)}
	records := r.state.Records
	if r.o.IDs.Compare(start, records) < 0 {
		records = start
	}
	return State{Records: records, Deletions: start.UpdatedAt}
}
