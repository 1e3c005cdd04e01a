package zoho

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/replicatorhq/replicator/plugin/keyset"
)

// accountBatch is how many account ids one COQL "in" criterion takes.
const accountBatch = 50

// accountChanges reads again the contacts of the accounts changed or
// deleted after st.AccountsSince and up to end. Renaming or deleting an
// account leaves its contacts' Modified_Time alone, so the changes read
// misses them and the phonebook would keep the old company. It costs a COQL
// page of changed account ids, a page of deleted accounts, and a COQL query
// per 50 changed accounts.
func (r *reader) accountChanges(ctx context.Context, st *streamState, end time.Time) error {
	if f, ok := r.mod.field("Account_Name"); !ok || f.kind() != kObject {
		return nil
	}
	since := st.AccountsSince
	if since.IsZero() || !since.Before(end) {
		return nil
	}
	var ids []string
	var err error
	if r.accounts.covers(since, end) {
		// The accounts stream of this run read them already.
		ids = r.accounts.ids
	} else {
		ids, err = r.changedAccounts(ctx, since, end)
	}
	if isCode(err, "OAUTH_SCOPE_MISMATCH") {
		r.log.Warn(
			"cannot read changed accounts, so contacts keep a renamed or deleted account's old name until they change: grant "+
				"ZohoCRM.modules.accounts.READ",
			"error", err)
		st.AccountsSince = end
		return r.checkpoint(ctx, st)
	}
	if err != nil {
		return err
	}
	if ids == nil {
		// More deleted accounts than the deleted-records API lists.
		r.log.Warn("more deleted accounts than Zoho's deleted-records API lists; the next run reads every contact again",
			"since", since)
		*st = streamState{V: stateVersion, Full: &fullState{}}
		return r.checkpoint(ctx, st)
	}
	before := r.records
	for batch := range slices.Chunk(ids, accountBatch) {
		if err := r.contactsOfAccounts(ctx, batch); err != nil {
			return err
		}
	}
	if len(ids) > 0 {
		r.log.Info("contacts of changed accounts read again", "accounts", len(ids), "contacts", r.records-before)
	}
	st.AccountsSince = end
	return r.checkpoint(ctx, st)
}

// accountsRead is what the accounts stream read in a run, so that the
// contacts stream of the same run need not ask Zoho again which accounts
// changed: the ids of the accounts changed after changedAfter and those
// deleted after deletedAfter, up to end (and past it when the stream reads
// ahead: the contacts of an account renamed seconds ago are then read again
// at once, and once more when the window passes it). Read reads accounts
// before contacts for this; together an idle run of both costs four
// credits instead of six.
type accountsRead struct {
	changedAfter, deletedAfter, end time.Time
	ids                             []string
	seen                            map[string]bool
	complete                        bool // both lists were read to end
}

// newAccountsRead returns an empty list; its ids are never nil, which
// changedAccounts keeps for deletions too many to list.
func newAccountsRead() *accountsRead {
	return &accountsRead{seen: map[string]bool{}, ids: []string{}}
}

func (a *accountsRead) add(id string) {
	if id != "" && !a.seen[id] {
		a.seen[id] = true
		a.ids = append(a.ids, id)
	}
}

// covers reports whether a holds every account changed or deleted in
// (since, end].
func (a *accountsRead) covers(since, end time.Time) bool {
	return a != nil && a.complete && a.end.Equal(end) && !a.changedAfter.After(since) && !a.deletedAfter.After(since)
}

// changedAccounts lists the ids of accounts changed or deleted in
// (since, end]; nil without an error when the deletions are too many to
// list.
func (r *reader) changedAccounts(ctx context.Context, since, end time.Time) ([]string, error) {
	found := newAccountsRead()
	changed := coqlScan{
		module: "Accounts",
		groups: [][]string{{"id", "Modified_Time"}},
		bound:  fmt.Sprintf("(Modified_Time <= '%s')", zohoTime(end)),
		limit:  r.tune.coqlLimit,
		what:   "changed Accounts",
		step:   "COQL page of changed accounts",
	}
	from := &keyset.Cursor{UpdatedAt: since}
	err := r.coqlPages(ctx, changed, from, func(rows []map[string]any, _ keyset.Cursor) (bool, error) {
		for _, row := range rows {
			found.add(str(row["id"]))
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	listed, err := r.deleted(ctx, "Accounts", since, end, "page of deleted accounts", func(id string, _ time.Time) error {
		found.add(id)
		return nil
	})
	if err != nil || !listed {
		return nil, err
	}
	return found.ids, nil
}

// contactsOfAccounts emits the contacts whose Account_Name is one of ids,
// as they are now: with the account's current name, or none when it is
// deleted.
func (r *reader) contactsOfAccounts(ctx context.Context, ids []string) error {
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = "'" + strings.ReplaceAll(id, "'", "''") + "'"
	}
	scan := r.recordScan("contacts of changed accounts", "COQL page of contacts of changed accounts")
	scan.where = fmt.Sprintf("(Account_Name in (%s))", strings.Join(quoted, ", "))
	return r.coqlPages(ctx, scan, nil, func(rows []map[string]any, _ keyset.Cursor) (bool, error) {
		return true, r.emitRows(ctx, rows)
	})
}
