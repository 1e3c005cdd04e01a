package zoho

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/replicatorhq/replicator/plugin/keyset"
)

// coqlBands are the LIMITs at which a COQL call's price steps up: 1
// credit up to 200 rows, 2 up to 1,000, 3 up to 2,000.
var coqlBands = [...]int{200, 1000, 2000}

// coqlCredits is what a COQL call with this LIMIT costs.
func coqlCredits(limit int) int64 {
	for i, band := range coqlBands {
		if limit <= band {
			return int64(i + 1)
		}
	}
	return int64(len(coqlBands))
}

// nextBand is the LIMIT of the page after a full one of limit rows: the
// next price band, at most most. Pages start at the smallest band, so a
// read of a few changes, the usual run woken by a callback, costs 1
// credit; a read of many pays the larger bands, whose rows are cheaper.
func nextBand(limit, most int) int {
	for _, band := range coqlBands {
		if band > limit {
			return min(band, most)
		}
	}
	return min(limit, most)
}

// fieldGroups splits the module's readable fields into groups of at most
// size, each beginning with always. The fields a canonical contact is made
// of come first, so that the first group alone yields the contact.
func (m *module) fieldGroups(size int, always []string) [][]string {
	var lead, rest []string
	priority := map[string]bool{}
	first := []string{"Modified_Time", "Created_Time", "First_Name", "Last_Name", "Full_Name", "Account_Name", "Title"}
	for _, s := range first {
		priority[s] = true
	}
	for _, s := range m.countries {
		priority[s] = true
	}
	for _, name := range m.queryFields() {
		if slices.Contains(always, name) {
			continue
		}
		f, _ := m.field(name)
		if priority[name] || m.canonical(f) {
			lead = append(lead, name)
		} else {
			rest = append(rest, name)
		}
	}
	all := append(lead, rest...)
	per := max(size-len(always), 1)
	var groups [][]string
	for len(all) > 0 || len(groups) == 0 {
		n := min(per, len(all))
		g := append(slices.Clone(always), all[:n]...)
		groups = append(groups, g)
		all = all[n:]
	}
	return groups
}

// coqlRows runs one COQL query on module and returns its rows and whether
// more match.
func (r *reader) coqlRows(ctx context.Context, module string, columns []string, where string,
	limit int) ([]map[string]any, bool, error) {
	q := fmt.Sprintf("select %s from %s where %s order by Modified_Time asc, id asc limit %d",
		strings.Join(columns, ", "), module, where, limit)
	var body struct {
		Data []map[string]any `json:"data"`
		Info struct {
			Count       int  `json:"count"`
			MoreRecords bool `json:"more_records"`
		} `json:"info"`
	}
	req := request{
		method:     "POST",
		path:       "/crm/v8/coql",
		body:       map[string]string{"select_query": q},
		cost:       coqlCredits(limit),
		idempotent: true,
	}
	if _, err := r.c.getJSON(ctx, req, &body); err != nil {
		return nil, false, fmt.Errorf("querying %s: %w", module, err)
	}
	return body.Data, body.Info.MoreRecords, nil
}

// after is the criterion for rows after cursor c in (Modified_Time, id)
// order; Zoho's ids are numbers, written bare.
func after(c keyset.Cursor) string {
	return c.Predicate("Modified_Time",
		"id", func(t time.Time) string { return "'" + zohoTime(t) + "'" }, func(id string) string { return id })
}

// rowKey is a COQL row's (Modified_Time, id).
func rowKey(row map[string]any) keyset.Cursor {
	return keyset.Cursor{UpdatedAt: parseTime(str(row["Modified_Time"])), ID: str(row["id"])}
}

// coqlSync reads the records changed after the cursor and up to end (on
// to the newest when it reads ahead), with a checkpoint after each page.
// The cursor moves to the last row at or before end only.
func (r *reader) coqlSync(ctx context.Context, st *streamState, end time.Time) error {
	ahead := r.readsAhead()
	if !ahead && !st.Cursor.Modified.Before(end) {
		return nil
	}
	scan := r.recordScan("changed "+r.mod.module, "COQL page")
	if !ahead {
		scan.bound = fmt.Sprintf("(Modified_Time <= '%s')", zohoTime(end))
	}
	from := st.Cursor.key()
	return r.coqlPages(ctx, scan, &from, func(rows []map[string]any, last keyset.Cursor) (bool, error) {
		if err := r.emitRows(ctx, rows); err != nil {
			return false, err
		}
		if r.fillsAccounts() {
			for _, row := range rows {
				r.accounts.add(str(row["id"]))
			}
		}
		if k, ok := lastUpTo(rows, last, end); ok {
			st.Cursor = saved(k)
		}
		if err := r.checkpoint(ctx, st); err != nil {
			return false, err
		}
		return ahead || st.Cursor.Modified.Before(end), nil
	})
}

// lastUpTo is the key of the last of a page's rows at or before end: last,
// the key of the page's last row, when that is; false when none is.
func lastUpTo(rows []map[string]any, last keyset.Cursor, end time.Time) (keyset.Cursor, bool) {
	if !last.UpdatedAt.After(end) {
		return last, true
	}
	for i := len(rows) - 1; i >= 0; i-- {
		if k := rowKey(rows[i]); !k.UpdatedAt.After(end) {
			return k, true
		}
	}
	return keyset.Cursor{}, false
}

// coqlScan is a COQL read of a module in (Modified_Time, id) order, page
// by page.
type coqlScan struct {
	module string
	// groups are the columns of each query for a page: the first one's
	// rows are the page, the others' columns are merged into them.
	groups [][]string
	where  string // every query's criterion; "" for none
	bound  string // the first group's criterion besides where; "" for none
	limit  int    // the most rows a page asks for; pages start at the smallest band
	what   string // the rows, for errors: "changed Contacts"
	step   string // a page, for the credit budget: "COQL page"
}

// recordScan reads the module's records whole: every readable field, in
// as many groups as the column limit needs.
func (r *reader) recordScan(what, step string) coqlScan {
	extra := r.mod.lookupNames()
	groups := r.mod.fieldGroups(r.tune.maxColumns-len(extra), []string{"id", "Modified_Time"})
	groups[0] = append(groups[0], extra...)
	return coqlScan{module: r.mod.module, groups: groups, limit: r.tune.coqlLimit, what: what, step: step}
}

// coqlPages reads the rows of s after from (from the first row when nil),
// in (Modified_Time, id) order so that pages never skip or repeat rows
// that share a timestamp. It hands page each page's rows and the last
// one's key, and reads on while more rows match and page says so.
func (r *reader) coqlPages(ctx context.Context, s coqlScan, from *keyset.Cursor,
	page func(rows []map[string]any, last keyset.Cursor) (bool, error)) error {
	limit := min(coqlBands[0], s.limit)
	for {
		if !r.afford(coqlCredits(limit)*int64(len(s.groups)), s.step) {
			return errStopped
		}
		where := s.where
		if from != nil {
			where = both(where, after(*from))
		}
		rows, more, err := r.coqlRows(ctx, s.module, s.groups[0], both(where, s.bound), limit)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		full := len(rows) >= limit
		last := rowKey(rows[len(rows)-1])
		if last.ID == "" || last.UpdatedAt.IsZero() {
			return fmt.Errorf("querying %s: a row lacks id or Modified_Time", s.what)
		}
		if len(s.groups) > 1 {
			// The same rows, and perhaps a few more sharing the last
			// Modified_Time, which the merge ignores.
			upTo := fmt.Sprintf("(Modified_Time <= '%s')", zohoTime(last.UpdatedAt))
			if rows, err = r.coqlMerge(ctx, s.module, rows, s.groups[1:], both(where, upTo), limit); err != nil {
				return err
			}
		}
		goOn, err := page(rows, last)
		if err != nil {
			return err
		}
		if !more || !goOn {
			return nil
		}
		if full {
			limit = nextBand(limit, s.limit)
		}
		from = &last
	}
}

// both is the COQL criterion a and b, either of which may be empty; Zoho
// wants each pair in brackets.
func both(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return fmt.Sprintf("(%s and %s)", a, b)
}

// emitRows sends each row's canonical contact.
func (r *reader) emitRows(ctx context.Context, rows []map[string]any) error {
	for _, row := range rows {
		if _, err := r.emit(ctx, row); err != nil {
			return err
		}
	}
	return nil
}

// coqlMerge adds the other field groups' columns to rows, read with the same
// bounds. A row missing from a group changed meanwhile; it is left out, and
// its new version is read by a later run.
func (r *reader) coqlMerge(ctx context.Context, module string, rows []map[string]any, groups [][]string, where string,
	limit int) ([]map[string]any, error) {
	byID := make(map[string]map[string]any, len(rows))
	for _, row := range rows {
		byID[str(row["id"])] = row
	}
	complete := make(map[string]int, len(rows))
	for _, g := range groups {
		more, _, err := r.coqlRows(ctx, module, g, where, limit)
		if err != nil {
			return nil, err
		}
		for _, m := range more {
			id := str(m["id"])
			row, ok := byID[id]
			if !ok || str(m["Modified_Time"]) != str(row["Modified_Time"]) {
				continue
			}
			for k, v := range m {
				row[k] = v
			}
			complete[id]++
		}
	}
	out := rows[:0]
	for _, row := range rows {
		if complete[str(row["id"])] == len(groups) {
			out = append(out, row)
		} else {
			r.log.Debug("record changed while it was read; a later run reads it", "id", str(row["id"]))
		}
	}
	return out, nil
}
