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
// and up to end, then moves DeletedSince to end.
func (r *reader) deletedSync(ctx context.Context, st *streamState, end time.Time) error {
	since := st.DeletedSince
	if since.IsZero() && st.Cursor != nil {
		since = st.Cursor.Modified
	}
	if !since.Before(end) {
		return nil
	}
	for page := 1; ; page++ {
		if page > deletedPages {
			// More deletions than the API can list: a full sync finds them
			// (the destination drops what it no longer gets).
			r.log.Warn("more deletions than Zoho's deleted-records API lists; the next run does a full sync", "since", since)
			*st = streamState{V: stateVersion, Full: &fullState{}}
			return r.checkpoint(ctx, st)
		}
		if !r.afford(1, "deleted records page") {
			return errStopped
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
			method: "GET", path: "/crm/v8/" + r.mod.module + "/deleted",
			query:  url.Values{"type": {"all"}, "per_page": {"200"}, "page": {strconv.Itoa(page)}},
			header: http.Header{"If-Modified-Since": {zohoTime(since)}},
			cost:   1, idempotent: true,
		}
		status, err := r.c.getJSON(ctx, req, &body)
		if isCode(err, "DISCRETE_PAGINATION_LIMIT_EXCEEDED") {
			page = deletedPages
			continue
		}
		if err != nil {
			return fmt.Errorf("reading deleted %s: %w", r.mod.module, err)
		}
		if status == http.StatusNoContent || status == http.StatusNotModified {
			break
		}
		for _, d := range body.Data {
			id := str(d.ID)
			at := parseTime(d.DeletedTime)
			if id == "" || !at.After(since) || at.After(end) {
				continue
			}
			if t, ok := r.upserted[id]; ok && t.After(at) {
				continue // restored and changed after the deletion
			}
			if err := r.report(ctx); err != nil {
				return err
			}
			if err := r.out.Emit(ctx, contract.Record{Stream: r.rs.Name, Key: id, Op: contract.Delete, SourceTime: at}); err != nil {
				return err
			}
			r.deletes++
		}
		if !body.Info.MoreRecords {
			break
		}
	}
	st.DeletedSince = end
	return r.checkpoint(ctx, st)
}
