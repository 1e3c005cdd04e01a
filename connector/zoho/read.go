package zoho

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/keyset"
	"github.com/replicatorhq/replicator/schemas"
	"github.com/replicatorhq/replicator/schemas/phone"
)

// lag keeps incremental windows this far behind now, so that a write whose
// Modified_Time is stamped before it becomes visible is not skipped. With
// notifications, reads go on past the window's end (readsAhead), but the
// checkpoint still stops at it.
const lag = time.Minute

// errStopped ends a run early at a checkpoint, e.g. when the credit budget
// is used up.
var errStopped = errors.New("run stopped at a checkpoint")

// reader reads one stream.
type reader struct {
	cfg  *config
	c    *client
	tk   *tokens
	out  contract.Output
	mod  *module
	conv *converter
	rs   contract.ReadStream
	tune tuning
	now  func() time.Time
	log  hclog.Logger

	// upserted holds the Modified_Time of records upserted by this
	// incremental run, so that a delete older than a restore is not sent.
	upserted map[string]time.Time
	records  int64
	deletes  int64
	// unread counts, by reason, the phones sent without a number since
	// they were last counted.
	unread map[phone.Reason]int64
	// ownersAsIDs leaves the owners' name columns out of Bulk Read jobs,
	// once Zoho refused them.
	ownersAsIDs bool
	// saved is the state of the stream's last checkpoint of this read.
	saved json.RawMessage
	// end is the end of the run's incremental windows, the same for every
	// stream of the run.
	end time.Time
	// accounts is what the run's accounts stream read: the accounts
	// reader fills it, the contacts reader follows changed accounts with
	// it. nil when the run reads one of the two only.
	accounts *accountsRead
}

// flush hands the host new credentials and the credits spent so far. It is
// called from the reading goroutine only, as Output requires.
func flush(ctx context.Context, out contract.Output, tk *tokens, cr *credits) error {
	if b, ok := tk.takeUpdate(); ok {
		if err := out.UpdateCredentials(ctx, b); err != nil {
			return fmt.Errorf("storing refreshed Zoho credentials: %w", err)
		}
	}
	if n := cr.unreported.Swap(0); n != 0 {
		if err := out.Count(ctx, "api_credits", n); err != nil {
			cr.unreported.Add(n)
			return fmt.Errorf("counting API credits: %w", err)
		}
	}
	return nil
}

// report hands the host the credits spent so far before more records go
// out: should the host end the read meanwhile (its destination failed, say)
// what was spent is counted already.
func (r *reader) report(ctx context.Context) error {
	if r.c.credits.unreported.Load() == 0 {
		return nil
	}
	return flush(ctx, r.out, r.tk, r.c.credits)
}

func (r *reader) checkpoint(ctx context.Context, st *streamState) error {
	if err := flush(ctx, r.out, r.tk, r.c.credits); err != nil {
		return err
	}
	if err := r.countUnread(ctx); err != nil {
		return err
	}
	state := st.encode()
	if err := r.out.Checkpoint(ctx, r.rs.Name, state); err != nil {
		return err
	}
	r.saved = state
	return nil
}

// countUnread hands the host the phones sent without a number, as
// phones_<reason> counters such as phones_too_short.
func (r *reader) countUnread(ctx context.Context) error {
	for why, n := range r.unread {
		if err := r.out.Count(ctx, "phones_"+why.String(), n); err != nil {
			return fmt.Errorf("counting phones without a number: %w", err)
		}
		delete(r.unread, why)
	}
	return nil
}

// afford reports whether a step costing about need credits fits the budget,
// logging why the run stops when it does not.
func (r *reader) afford(need int64, step string) bool {
	be := r.c.credits.shortfall(need)
	if be == nil {
		return true
	}
	be.warn(r.log, "next_step", step)
	return false
}

// stopOnBudget turns a budget error into a clean stop.
func (r *reader) stopOnBudget(err error) error {
	var be *budgetError
	if errors.As(err, &be) {
		be.warn(r.log)
		return errStopped
	}
	return err
}

// emit sends one record's canonical contact and returns its key.
func (r *reader) emit(ctx context.Context, raw map[string]any) (keyset.Cursor, error) {
	p, err := r.prepare(raw)
	if err != nil {
		return keyset.Cursor{}, err
	}
	return r.deliver(ctx, p)
}

// prepare converts and encodes one record. It only reads the reader's
// fields, so workers may call it at once.
func (r *reader) prepare(raw map[string]any) (prepared, error) {
	rec := r.mod.normalize(raw)
	c, unread, ok := r.conv.contact(rec)
	if !ok {
		return prepared{skip: true}, nil
	}
	data, err := marshalContact(c)
	if err != nil {
		return prepared{}, err
	}
	return prepared{
		rec:    contract.Record{Stream: r.rs.Name, Key: c.SourceID, Op: contract.Upsert, Data: data, SourceTime: c.UpdatedAt},
		key:    keyset.Cursor{UpdatedAt: parseTime(str(rec["Modified_Time"])), ID: c.SourceID},
		unread: unread,
	}, nil
}

// deliver emits a prepared record and returns its key; it counts and
// keeps what it sends, so it runs on the reading goroutine only.
func (r *reader) deliver(ctx context.Context, p prepared) (keyset.Cursor, error) {
	if p.skip {
		r.log.Warn("skipping a Zoho record without an id")
		return keyset.Cursor{}, nil
	}
	if err := r.report(ctx); err != nil {
		return keyset.Cursor{}, err
	}
	if err := r.out.Emit(ctx, p.rec); err != nil {
		return keyset.Cursor{}, err
	}
	r.records++
	for _, why := range p.unread {
		if r.unread == nil {
			r.unread = map[phone.Reason]int64{}
		}
		r.unread[why]++
	}
	if r.upserted != nil {
		r.upserted[p.key.ID] = p.key.UpdatedAt
	}
	return p.key, nil
}

// run reads the stream from its state.
func (r *reader) run(ctx context.Context) error {
	st, err := parseState(r.rs.State)
	if err != nil {
		return err
	}
	if st.Full == nil && st.Cursor == nil {
		st.Full = &fullState{}
	}
	if st.Full != nil {
		err = r.full(ctx, st)
	} else {
		err = r.incremental(ctx, st)
	}
	err = r.stopOnBudget(err)
	if err == nil || errors.Is(err, errStopped) {
		// What a stopped run sent is counted too.
		if cerr := r.countUnread(ctx); cerr != nil {
			return cerr
		}
	}
	return err
}

// full reads every record, page by page, then tells the destination to drop
// what it did not get.
func (r *reader) full(ctx context.Context, st *streamState) error {
	f := st.Full
	if f.Generation == 0 {
		f.Generation = r.rs.Generation
	}
	if f.StartedAt.IsZero() {
		f.StartedAt = r.now()
	}
	if f.Fields == nil {
		f.Fields = r.mod.seen()
	}
	if f.Method == "" {
		m, err := r.chooseMethod(ctx)
		if err != nil {
			return err
		}
		f.Method = m
	}
	r.log.Info("full sync", "method", f.Method, "resume_page", f.Pages)
	var err error
	if f.Method == methodBulk {
		err = r.bulkSync(ctx, st)
		if isCode(err, "OAUTH_SCOPE_MISMATCH") && f.Pages == 0 {
			r.log.Info(
				"Zoho refused Bulk Read (ZohoCRM.bulk.READ missing): reading every record through the records API, which spends " +
					"more credits")
			f.Method = methodRecords
			err = r.recordsSync(ctx, st)
		}
	} else {
		err = r.recordsSync(ctx, st)
	}
	if err != nil {
		return err
	}
	if err := flush(ctx, r.out, r.tk, r.c.credits); err != nil {
		return err
	}
	if err := r.out.FullRefreshComplete(ctx, r.rs.Name, f.Generation); err != nil {
		return err
	}
	// Incremental reads go on after the greatest key read, unless that is
	// later than the sync's start: then changes made while the sync ran
	// are read again (duplicates are harmless, gaps are not).
	from := keyset.Cursor{UpdatedAt: keyset.End(f.StartedAt, lag)}
	if f.MaxSeen != nil && f.MaxSeen.Modified.Before(from.UpdatedAt) {
		from = f.MaxSeen.key()
	}
	done := &streamState{V: stateVersion, Cursor: saved(from), DeletedSince: f.StartedAt.Add(-lag), Fields: f.Fields}
	if r.mod.kind == schemas.KindContact {
		done.AccountsSince = done.DeletedSince
	}
	r.log.Info("full sync done", "records", r.records, "pages", f.Pages)
	return r.checkpoint(ctx, done)
}

// incremental reads what changed since the cursor and what was deleted.
func (r *reader) incremental(ctx context.Context, st *streamState) error {
	end := r.end
	r.upserted = map[string]time.Time{}
	if st.Cursor == nil {
		st.Cursor = &savedKey{}
	}
	r.followFields(st)
	if !r.cfg.startTime.IsZero() && st.Cursor.Modified.Before(r.cfg.startTime) {
		st.Cursor = saved(keyset.Cursor{UpdatedAt: r.cfg.startTime})
	}
	if r.fillsAccounts() {
		r.accounts.changedAfter, r.accounts.end = st.Cursor.Modified, end
	}
	if err := r.coqlSync(ctx, st, end); err != nil {
		return err
	}
	if r.mod.kind == schemas.KindContact && st.AccountsSince.IsZero() {
		// A checkpoint written before accounts were followed: follow them
		// from where its deletions were read, before that moves on.
		st.AccountsSince = st.DeletedSince
	}
	if err := r.deletedSync(ctx, st, end); err != nil {
		return err
	}
	if st.Full != nil {
		return nil // too many deletions to list: the next run syncs in full
	}
	if r.fillsAccounts() {
		r.accounts.complete = true
	}
	if r.mod.kind == schemas.KindContact {
		if err := r.accountChanges(ctx, st, end); err != nil {
			return err
		}
	}
	r.log.Info("incremental read done", "upserts", r.records, "deletes", r.deletes, "until", end,
		"read_ahead", r.readsAhead())
	return nil
}

// followFields notes in st the fields the stream is read with. When they
// differ from those of its checkpoint, a field was added or changed after
// those were known, and records changed since may hold values the stream
// has not read: the cursor goes back to then, and they are read again.
func (r *reader) followFields(st *streamState) {
	if f := st.Fields; f != nil && f.Version != r.mod.version {
		back := keyset.Cursor{UpdatedAt: f.Known.Add(-lag)}
		if keyset.Compare(back, st.Cursor.key()) < 0 {
			r.log.Info(
				"the module's fields changed since the stream was last read; reading the records changed since then again",
				"since", back.UpdatedAt)
			st.Cursor = saved(back)
		}
	}
	st.Fields = r.mod.seen()
}

// readsAhead reports whether incremental reads go on past the window's
// end: with notifications a run woken by a callback must see the change it
// was woken for, seconds old. What it reads past the end is sent like any
// other change, but the checkpoint stays at the end, so the next run reads
// it again (the same versions, sent with the same SourceTime) together
// with any write stamped before the end that became visible late.
func (r *reader) readsAhead() bool { return r.cfg.Notifications }

// fillsAccounts reports whether r is the accounts reader of a run that
// reads contacts too.
func (r *reader) fillsAccounts() bool {
	return r.accounts != nil && r.mod.kind == schemas.KindAccount
}
