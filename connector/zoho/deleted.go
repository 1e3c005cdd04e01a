package zoho

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// deletedPages is how far the deleted-records API pages (page, not token,
// pagination reaches 2,000 records).
const deletedPages = 10

// deletedSync emits a Delete for each record deleted after st.DeletedSince
// and up to end (or to the newest, when it reads ahead), then moves
// DeletedSince to end.
func (r *reader) deletedSync(ctx context.Context, st *streamState, end time.Time) error {
	since := st.DeletedSince
	if since.IsZero() && st.Cursor != nil {
		since = st.Cursor.Modified
	}
	if r.fillsAccounts() {
		r.accounts.deletedAfter = since
	}
	upTo := end
	if r.readsAhead() {
		upTo = time.Time{}
	} else if !since.Before(end) {
		return nil
	}
	listed, err := r.deleted(ctx, r.mod.module, since, upTo, "deleted records page", func(id string, at time.Time) error {
		if r.fillsAccounts() {
			// Its contacts lose the company, even if it comes back.
			r.accounts.add(id)
		}
		if t, ok := r.upserted[id]; ok && t.After(at) {
			return nil // restored and changed after the deletion
		}
		if err := r.report(ctx); err != nil {
			return err
		}
		gone := contract.Record{Stream: r.rs.Name, Key: id, Op: contract.Delete, SourceTime: at}
		if err := r.out.Emit(ctx, gone); err != nil {
			return err
		}
		r.deletes++
		return nil
	})
	if err != nil {
		return err
	}
	if !listed {
		// More deletions than the API can list: a full sync finds them
		// (the destination drops what it no longer gets).
		r.log.Warn("more deletions than Zoho's deleted-records API lists; the next run does a full sync", "since", since)
		*st = streamState{V: stateVersion, Full: &fullState{}}
		return r.checkpoint(ctx, st)
	}
	st.DeletedSince = end
	return r.checkpoint(ctx, st)
}

// deleted calls fn, page by page, for each record of module deleted in
// (since, end], or after since when end is zero; step names a page for the
// credit budget. It returns false when there are more deletions than the
// API lists, having called fn for some of them.
func (r *reader) deleted(ctx context.Context, module string, since, end time.Time, step string,
	fn func(id string, at time.Time) error) (bool, error) {
	for page := 1; page <= deletedPages; page++ {
		if !r.afford(1, step) {
			return false, errStopped
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
			method: "GET", path: "/crm/v8/" + module + "/deleted",
			query:  url.Values{"type": {"all"}, "per_page": {"200"}, "page": {strconv.Itoa(page)}},
			header: http.Header{"If-Modified-Since": {zohoTime(since)}},
			cost:   1, idempotent: true,
		}
		status, err := r.c.getJSON(ctx, req, &body)
		if isCode(err, "DISCRETE_PAGINATION_LIMIT_EXCEEDED") {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("reading deleted %s: %w", module, err)
		}
		if status == http.StatusNoContent || status == http.StatusNotModified {
			return true, nil
		}
		for _, d := range body.Data {
			id, at := str(d.ID), parseTime(d.DeletedTime)
			if id == "" || !at.After(since) || !end.IsZero() && at.After(end) {
				continue
			}
			if err := fn(id, at); err != nil {
				return false, err
			}
		}
		if !body.Info.MoreRecords {
			return true, nil
		}
	}
	return false, nil
}
