package zoho

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
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
	ids, err := r.changedAccounts(ctx, since, end)
	if isCode(err, "OAUTH_SCOPE_MISMATCH") {
		r.log.Warn("cannot read changed accounts, so contacts keep a renamed or deleted account's old name until they change: grant ZohoCRM.modules.accounts.READ", "error", err)
		st.AccountsSince = end
		return r.checkpoint(ctx, st)
	}
	if err != nil {
		return err
	}
	if ids == nil {
		// More deleted accounts than the deleted-records API lists.
		r.log.Warn("more deleted accounts than Zoho's deleted-records API lists; the next run reads every contact again", "since", since)
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

// changedAccounts lists the ids of accounts changed or deleted in
// (since, end]; nil without an error when the deletions are too many to
// list.
func (r *reader) changedAccounts(ctx context.Context, since, end time.Time) ([]string, error) {
	const limit = 200 // the cheapest COQL page; most windows hold fewer changes
	seen := map[string]bool{}
	ids := []string{}
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	endCrit := fmt.Sprintf("(Modified_Time <= '%s')", zohoTime(end))
	from := keyset.Cursor{UpdatedAt: since}
	for {
		if !r.afford(coqlCredits(limit), "COQL page of changed accounts") {
			return nil, errStopped
		}
		rows, more, err := r.coqlModuleRows(ctx, "Accounts", []string{"id", "Modified_Time"}, fmt.Sprintf("(%s and %s)", after(from), endCrit), limit)
		if err != nil {
			return nil, err
		}
		for _, row := range rows {
			add(str(row["id"]))
		}
		if !more || len(rows) == 0 {
			break
		}
		from = rowKey(rows[len(rows)-1])
		if from.ID == "" || from.UpdatedAt.IsZero() {
			return nil, fmt.Errorf("querying changed Accounts: a row lacks id or Modified_Time")
		}
	}
	for page := 1; ; page++ {
		if page > deletedPages {
			return nil, nil
		}
		if !r.afford(1, "page of deleted accounts") {
			return nil, errStopped
		}
		var body struct {
			Data []struct {
				ID          any    `json:"id"`
				DeletedTime string `json:"deleted_time"`
			} `json:"data"`
			Info struct {
				MoreRecords bool `json:"more_records"`
			} `json:"info"`
		}
		req := request{
			method: "GET", path: "/crm/v8/Accounts/deleted",
			query:  url.Values{"type": {"all"}, "per_page": {"200"}, "page": {strconv.Itoa(page)}},
			header: http.Header{"If-Modified-Since": {zohoTime(since)}},
			cost:   1, idempotent: true,
		}
		status, err := r.c.getJSON(ctx, req, &body)
		if isCode(err, "DISCRETE_PAGINATION_LIMIT_EXCEEDED") {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading deleted Accounts: %w", err)
		}
		if status == http.StatusNoContent || status == http.StatusNotModified {
			break
		}
		for _, d := range body.Data {
			if at := parseTime(d.DeletedTime); at.After(since) && !at.After(end) {
				add(str(d.ID))
			}
		}
		if !body.Info.MoreRecords {
			break
		}
	}
	return ids, nil
}

// contactsOfAccounts emits the contacts whose Account_Name is one of ids,
// as they are now: with the account's current name, or none when it is
// deleted.
func (r *reader) contactsOfAccounts(ctx context.Context, ids []string) error {
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = "'" + strings.ReplaceAll(id, "'", "''") + "'"
	}
	in := fmt.Sprintf("(Account_Name in (%s))", strings.Join(quoted, ", "))
	extra := r.mod.lookupNames()
	groups := r.mod.fieldGroups(r.tune.maxColumns-len(extra), []string{"id", "Modified_Time"})
	groups[0] = append(groups[0], extra...)
	limit := r.tune.coqlLimit
	pageCost := coqlCredits(limit) * int64(len(groups))
	var from *keyset.Cursor
	for {
		if !r.afford(pageCost, "COQL page of contacts of changed accounts") {
			return errStopped
		}
		where := in
		if from != nil {
			where = fmt.Sprintf("(%s and %s)", in, after(*from))
		}
		rows, more, err := r.coqlRows(ctx, groups[0], where, limit)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		lastKey := rowKey(rows[len(rows)-1])
		if lastKey.ID == "" || lastKey.UpdatedAt.IsZero() {
			return fmt.Errorf("querying contacts of changed accounts: a row lacks id or Modified_Time")
		}
		if len(groups) > 1 {
			upTo := fmt.Sprintf("(Modified_Time <= '%s')", zohoTime(lastKey.UpdatedAt))
			if rows, err = r.coqlMerge(ctx, rows, groups[1:], fmt.Sprintf("(%s and %s)", where, upTo), limit); err != nil {
				return err
			}
		}
		for _, row := range rows {
			if _, err := r.emit(ctx, row); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
		from = &lastKey
	}
}
