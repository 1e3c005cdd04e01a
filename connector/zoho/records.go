package zoho

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// recordsPerPage is the records API's page size.
const recordsPerPage = 200

type recordsPage struct {
	Data []map[string]any `json:"data"`
	Info struct {
		MoreRecords   bool   `json:"more_records"`
		NextPageToken string `json:"next_page_token"`
	} `json:"info"`
}

// recordsSync reads every record through the records API when Bulk Read is
// not allowed: 200 records a call, the fields in groups of at most 50 read
// side by side and merged by id, with a checkpoint after each page.
func (r *reader) recordsSync(ctx context.Context, st *streamState) error {
	f := st.Full
	if len(f.Groups) == 0 || len(f.GroupTokens) != len(f.Groups) {
		f.Groups = r.mod.fieldGroups(r.tune.maxColumns, nil)
		f.GroupTokens = make([]string, len(f.Groups))
		f.Pages = 0
	}
	for {
		if !r.afford(int64(len(f.Groups)), "records API page") {
			return errStopped
		}
		pages := make([]recordsPage, len(f.Groups))
		errs := make([]error, len(f.Groups))
		var wg sync.WaitGroup
		for i := range f.Groups {
			if i > 0 && f.Pages > 0 && f.GroupTokens[i] == "" {
				continue // this group has run out of pages
			}
			wg.Go(func() { pages[i], errs[i] = r.recordsCall(ctx, f.Groups[i], f.GroupTokens[i]) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		rows := pages[0].Data
		if len(f.Groups) > 1 {
			rows = r.mergeGroups(pages)
		}
		for _, row := range rows {
			k, err := r.emit(ctx, row)
			if err != nil {
				return err
			}
			f.see(k)
		}
		f.Pages++
		for i := range pages {
			f.GroupTokens[i] = pages[i].Info.NextPageToken
		}
		if !pages[0].Info.MoreRecords || pages[0].Info.NextPageToken == "" {
			return nil
		}
		if err := r.checkpoint(ctx, st); err != nil {
			return err
		}
	}
}

// recordsCall reads one page of one field group.
func (r *reader) recordsCall(ctx context.Context, fields []string, token string) (recordsPage, error) {
	q := url.Values{
		"fields":     {strings.Join(fields, ",")},
		"per_page":   {strconv.Itoa(recordsPerPage)},
		"sort_by":    {"id"},
		"sort_order": {"asc"},
	}
	if token != "" {
		q.Set("page_token", token)
	}
	var page recordsPage
	req := request{method: "GET", path: "/crm/v8/" + r.mod.module, query: q, cost: 1, idempotent: true}
	if _, err := r.c.getJSON(ctx, req, &page); err != nil {
		if isCode(err, "DISCRETE_PAGINATION_LIMIT_EXCEEDED", "LIMIT_EXCEEDED") {
			return page, fmt.Errorf(
				"reading %s through the records API: %w (without ZohoCRM.bulk.READ at most 100,000 records can be read: add that "+
					"scope to the grant and run authorize again)",
				r.mod.module, err)
		}
		return page, fmt.Errorf("reading %s through the records API: %w", r.mod.module, err)
	}
	return page, nil
}

// mergeGroups joins the groups' rows by id, in the first group's order.
// A record missing from a group (created or deleted between the calls)
// keeps the fields it has.
func (r *reader) mergeGroups(pages []recordsPage) []map[string]any {
	rows := pages[0].Data
	byID := make(map[string]map[string]any, len(rows))
	for _, row := range rows {
		byID[str(row["id"])] = row
	}
	for _, p := range pages[1:] {
		for _, m := range p.Data {
			row, ok := byID[str(m["id"])]
			if !ok {
				continue
			}
			for k, v := range m {
				row[k] = v
			}
		}
	}
	return rows
}
