package incremental

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/keyset"
	"github.com/replicatorhq/replicator/plugin/plugintest"
)

var (
	now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	ctx = context.Background()
)

func at(d time.Duration) time.Time { return now.Add(d) }

func key(id string, d time.Duration) keyset.Cursor { return keyset.Cursor{UpdatedAt: at(d), ID: id} }

// start begins a read of stream "contacts" at now, with a lag of a minute
// and text ids.
func start(t *testing.T, state json.RawMessage) (*Read, *plugintest.Recorder) {
	t.Helper()
	return startAt(t, state, now)
}

func startAt(t *testing.T, state json.RawMessage, clock time.Time) (*Read, *plugintest.Recorder) {
	t.Helper()
	rec := &plugintest.Recorder{}
	rs := contract.ReadStream{Name: "contacts", State: state, Generation: 9}
	r, err := Start(rs, rec, Options{Lag: time.Minute, IDs: keyset.TextIDs, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	return r, rec
}

// upsert hands the read records as a service lists them, until it says
// the window is done, and returns how many it took.
func upsert(t *testing.T, r *Read, keys ...keyset.Cursor) int {
	t.Helper()
	for i, k := range keys {
		more, err := r.Upsert(ctx, k, empty)
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			return i
		}
	}
	return len(keys)
}

func emitted(rec *plugintest.Recorder) []string {
	var out []string
	for _, r := range rec.Records() {
		out = append(out, r.Op.String()+" "+r.Key)
	}
	return out
}

func lastState(t *testing.T, rec *plugintest.Recorder) State {
	t.Helper()
	cps := rec.Checkpoints()
	if len(cps) == 0 {
		t.Fatal("no checkpoint")
	}
	var st State
	if err := json.Unmarshal(cps[len(cps)-1].State, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// A full refresh sends every record, up to now, reads no deletions, and
// reports its completion before its last checkpoint.
func TestFullRefresh(t *testing.T) {
	r, rec := start(t, nil)
	if !r.Refreshing() || !r.Since().IsZero() {
		t.Fatalf("a read without state: refreshing %v since %v", r.Refreshing(), r.Since())
	}
	err := r.Deletions(ctx, func(context.Context, time.Time) error {
		t.Error("a full refresh listed deletions")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := upsert(t, r, key("1", -time.Hour), key("2", -time.Second)); n != 2 {
		t.Fatalf("took %d of 2 records: a full refresh has no window end", n)
	}
	if err := r.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	mid := lastState(t, rec)
	if !mid.Refresh.Equal(now) || mid.Records.ID != "2" {
		t.Errorf("a checkpoint inside a full refresh holds %+v", mid)
	}
	if err := r.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	fr := rec.FullRefreshCompletes()
	if len(fr) != 1 || fr[0].Generation != 9 || fr[0].Stream != "contacts" {
		t.Fatalf("full-refresh-completes %+v", fr)
	}
	if cps := rec.Checkpoints(); len(cps) != 2 || cps[1].After != 2 {
		t.Errorf("checkpoints %+v: want the completion between the middle one and the last", cps)
	}
	if got := emitted(rec); !slices.Equal(got, []string{"upsert 1", "upsert 2"}) {
		t.Errorf("emitted %v", got)
	}
}

// After a full refresh, incremental reads start at its start less the
// lag, or at its last record if that is earlier: a change stamped in the
// lag and committed after the refresh passed its place is read.
func TestAfterFullRefresh(t *testing.T) {
	for name, c := range map[string]struct {
		last keyset.Cursor
		want keyset.Cursor
	}{
		"last record in the lag":   {key("5", -10*time.Second), keyset.Cursor{UpdatedAt: at(-time.Minute)}},
		"last record before it":    {key("5", -time.Hour), key("5", -time.Hour)},
		"no records":               {keyset.Cursor{}, keyset.Cursor{}},
		"last record at its start": {key("5", -time.Minute), keyset.Cursor{UpdatedAt: at(-time.Minute)}},
	} {
		t.Run(name, func(t *testing.T) {
			r, rec := start(t, nil)
			if !c.last.IsZero() {
				upsert(t, r, c.last)
			}
			if err := r.Finish(ctx); err != nil {
				t.Fatal(err)
			}
			st := lastState(t, rec)
			if !st.Refresh.IsZero() || keyset.TextIDs.Compare(st.Records, c.want) != 0 || !st.Deletions.Equal(at(-time.Minute)) {
				t.Errorf("state %+v, want records at %+v and deletions from %v", st, c.want, at(-time.Minute))
			}
		})
	}

	// The record stamped 30s before the refresh began was committed after
	// the refresh passed its place; the next read lists it, and the one
	// stamped 5s before again.
	r, rec := start(t, nil)
	upsert(t, r, key("a", -time.Hour), key("c", -5*time.Second))
	if err := r.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(lastState(t, rec))
	next, rec := startAt(t, b, at(2*time.Minute))
	if !next.Since().Equal(at(-time.Minute)) {
		t.Fatalf("the next read asks for changes since %v", next.Since())
	}
	upsert(t, next, key("b", -30*time.Second), key("c", -5*time.Second))
	if got := emitted(rec); !slices.Equal(got, []string{"upsert b", "upsert c"}) {
		t.Errorf("emitted %v", got)
	}
}

// An incremental read ends at now less the lag, that end included, and
// skips the records its checkpoint covers, which updated_since lists again.
func TestIncrementalWindow(t *testing.T) {
	cp, _ := json.Marshal(State{Records: key("7", -time.Hour), Deletions: at(-2 * time.Hour)})
	r, rec := start(t, cp)
	if r.Refreshing() || !r.Since().Equal(at(-time.Hour)) {
		t.Fatalf("refreshing %v since %v", r.Refreshing(), r.Since())
	}
	took := upsert(t, r,
		key("6", -time.Hour), key("7", -time.Hour), // covered by the checkpoint
		key("8", -time.Hour), key("1", -time.Minute), // the window's end is included
		key("2", -time.Minute+time.Second), key("3", 0)) // past it
	if took != 4 {
		t.Errorf("took %d records, want 4 before the window's end", took)
	}
	if err := r.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if got := emitted(rec); !slices.Equal(got, []string{"upsert 8", "upsert 1"}) {
		t.Errorf("emitted %v", got)
	}
	if len(rec.FullRefreshCompletes()) != 0 {
		t.Error("an incremental read reported a full refresh")
	}
	if st := lastState(t, rec); st.Records.ID != "1" {
		t.Errorf("state %+v", st)
	}
}

// Deletions come before records, from where the last read's stopped to
// the window's end, and are checkpointed before any record is read.
func TestDeletions(t *testing.T) {
	cp, _ := json.Marshal(State{Records: key("7", -time.Hour), Deletions: at(-2 * time.Hour)})
	r, rec := start(t, cp)
	var asked time.Time
	err := r.Deletions(ctx, func(ctx context.Context, since time.Time) error {
		asked = since
		for _, d := range []struct {
			id string
			at time.Duration
		}{{"4", -90 * time.Minute}, {"5", -time.Minute}, {"6", -time.Second}} {
			if err := r.Delete(ctx, d.id, at(d.at)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !asked.Equal(at(-2 * time.Hour)) {
		t.Errorf("asked for deletions since %v", asked)
	}
	if got := emitted(rec); !slices.Equal(got, []string{"delete 4", "delete 5"}) {
		t.Errorf("emitted %v: 6 was deleted after the window's end", got)
	}
	st := lastState(t, rec)
	if !st.Deletions.Equal(at(-time.Minute)) || st.Records.ID != "7" {
		t.Errorf("checkpoint after deletions %+v", st)
	}
}

// A service that lists a record out of the order the cursor compares
// fails the read: a read resumed between the two would skip one.
func TestOutOfOrder(t *testing.T) {
	r, _ := start(t, nil)
	upsert(t, r, key("10", -time.Hour), key("10", -time.Hour)) // listed twice: harmless
	_, err := r.Upsert(ctx, key("9", -time.Hour), empty)
	if err != nil {
		t.Fatalf("9 after 10 in text order: %v", err)
	}
	_, err = r.Upsert(ctx, key("10", -time.Hour), empty)
	if err == nil || !strings.Contains(err.Error(), "listed record 10") || !strings.Contains(err.Error(), "text ids") {
		t.Errorf("10 after 9 in text order: %v", err)
	}
}

func TestCounters(t *testing.T) {
	r, rec := start(t, nil)
	r.Count("phones_ok", 2)
	r.Count("phones_too_short", 1)
	r.Count("phones_ok", 1)
	if len(rec.Counters()) != 0 {
		t.Errorf("counters sent before a checkpoint: %v", rec.Counters())
	}
	if err := r.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rec.Counters(); got["phones_ok"] != 3 || got["phones_too_short"] != 1 {
		t.Errorf("counters %v", got)
	}
}

func TestForeignState(t *testing.T) {
	for _, state := range []string{`{"next":5}`, `[1]`, `{"records":"x"}`} {
		rs := contract.ReadStream{Name: "contacts", State: json.RawMessage(state)}
		_, err := Start(rs, &plugintest.Recorder{}, Options{})
		if err == nil || !strings.Contains(err.Error(), "replicator sync -full-refresh") {
			t.Errorf("state %s: %v", state, err)
		}
	}
}

// lists is a service whose lists Run calls, noting the order.
type lists struct {
	calls   []string
	deleted map[string]time.Time
	records []keyset.Cursor
}

func (l *lists) Deletions(ctx context.Context, r *Read, since time.Time) error {
	l.calls = append(l.calls, "deletions since "+since.Format(time.TimeOnly))
	for id, at := range l.deleted {
		if err := r.Delete(ctx, id, at); err != nil {
			return err
		}
	}
	return nil
}

func (l *lists) Records(ctx context.Context, r *Read) error {
	l.calls = append(l.calls, "records since "+r.Since().Format(time.TimeOnly))
	for _, k := range l.records {
		if more, err := r.Upsert(ctx, k, empty); err != nil || !more {
			return err
		}
	}
	return r.Checkpoint(ctx)
}

// Run lists no deletions in a full refresh, and deletions before records
// in an incremental read; a contact deleted and created again comes out
// present.
func TestRun(t *testing.T) {
	l := &lists{deleted: map[string]time.Time{"3": at(-2 * time.Hour)}, records: []keyset.Cursor{key("1", -time.Hour)}}
	rec := &plugintest.Recorder{}
	clock := now
	opts := Options{IDs: keyset.TextIDs, Now: func() time.Time { return clock }}
	if err := Run(ctx, contract.ReadStream{Name: "contacts", Generation: 4}, rec, opts, l); err != nil {
		t.Fatal(err)
	}
	if len(rec.FullRefreshCompletes()) != 1 || !slices.Equal(l.calls, []string{"records since 00:00:00"}) {
		t.Errorf("a full refresh: calls %v, completes %v", l.calls, rec.FullRefreshCompletes())
	}

	// An hour later: 3 was deleted and created again.
	clock = at(time.Hour)
	l = &lists{deleted: map[string]time.Time{"3": at(10 * time.Minute)}}
	l.records = []keyset.Cursor{key("3", 20*time.Minute)}
	rec2 := &plugintest.Recorder{}
	if err := Run(ctx, contract.ReadStream{Name: "contacts", State: last(t, rec)}, rec2, opts, l); err != nil {
		t.Fatal(err)
	}
	if want := []string{"deletions since 11:59:00", "records since 11:00:00"}; !slices.Equal(l.calls, want) {
		t.Errorf("calls %v, want %v", l.calls, want)
	}
	if got := emitted(rec2); !slices.Equal(got, []string{"delete 3", "upsert 3"}) {
		t.Errorf("emitted %v: a contact deleted and created again must end present", got)
	}
}

func last(t *testing.T, rec *plugintest.Recorder) json.RawMessage {
	t.Helper()
	cps := rec.Checkpoints()
	return cps[len(cps)-1].State
}

// empty is the data of a record in these tests.
func empty() any { return struct{}{} }
