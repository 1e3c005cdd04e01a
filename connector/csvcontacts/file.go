package csvcontacts

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/keyset"
	"github.com/replicatorhq/replicator/schemas"
	"github.com/replicatorhq/replicator/schemas/phone"
)

// The columns the source reads; the header row names them in any order
// and case. Other columns are ignored.
const (
	colID        = "id"         // required: the contact's key
	colUpdatedAt = "updated_at" // required: RFC 3339, the cursor
	colName      = "name"       // the whole name, for files that keep it in one column
	colFirstName = "first_name"
	colLastName  = "last_name"
	colCompany   = "company"
	colPhone     = "phone"
	colCountry   = "country" // ISO 3166 code of the row's phone
	colEmail     = "email"   // one or more addresses, separated by spaces
)

// Counters a read reports, so that the run history shows what the file
// holds. Phones add one per phone.Reason: phones_ok, phones_too_short, ...
const (
	countRowsLeftOut  = "rows_left_out"
	countDuplicateIDs = "duplicate_ids"
	countPhonesPrefix = "phones_"
)

// file is what a read of the CSV file found.
type file struct {
	contacts []schemas.Contact // in (updated_at, id) order, an id's last row winning
	counts   map[string]int64
}

// load reads the file cfg names. A row that cannot be read is counted and
// logged, never fatal: a hand-kept file always has some, and they must not
// keep the others from the phonebook.
func load(cfg Config, log hclog.Logger) (*file, error) {
	fh, err := os.Open(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("opening the contacts file: %w", err)
	}
	defer fh.Close()

	r := csv.NewReader(fh)
	// Hand-kept files have short rows and stray quotes: a missing cell
	// reads as empty, and a quote inside a field is text.
	r.FieldsPerRecord = -1
	r.LazyQuotes = true

	cols, err := readHeader(r, cfg.Path)
	if err != nil {
		return nil, err
	}
	rows := rowReader{
		log:    log,
		region: cfg.DefaultRegion,
		byID:   map[string]schemas.Contact{},
		counts: map[string]int64{},
	}
	for {
		cells, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", cfg.Path, err)
		}
		line, _ := r.FieldPos(0)
		rows.add(row{line: line, cells: cells, cols: cols})
	}
	return &file{contacts: sortByCursor(rows.byID), counts: rows.counts}, nil
}

// columns maps a column's name to its place in a row.
type columns map[string]int

// readHeader reads the first row, which names the columns.
func readHeader(r *csv.Reader, path string) (columns, error) {
	names, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s is empty: its first row must name the columns, id and updated_at among them", path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the header row of %s: %w", path, err)
	}
	cols := columns{}
	for i, name := range names {
		// A file saved by a spreadsheet program may start with a byte
		// order mark.
		name = strings.TrimPrefix(name, "\uFEFF")
		cols[strings.ToLower(strings.TrimSpace(name))] = i
	}
	for _, required := range []string{colID, colUpdatedAt} {
		if _, ok := cols[required]; !ok {
			return nil, fmt.Errorf("the header row of %s has no %s column: its first row must name the columns, "+
				"id and updated_at among them, such as id,updated_at,first_name,last_name,phone", path, required)
		}
	}
	return cols, nil
}

// row is one row of the file.
type row struct {
	line  int // in the file, for the log
	cells []string
	cols  columns
}

// get returns the trimmed cell of a column; empty when the file has no
// such column or the row is short.
func (r row) get(column string) string {
	i, ok := r.cols[column]
	if !ok || i >= len(r.cells) {
		return ""
	}
	return strings.TrimSpace(r.cells[i])
}

// rowReader turns rows into contacts and counts what it meets.
type rowReader struct {
	log    hclog.Logger
	region string // the configured default region
	byID   map[string]schemas.Contact
	counts map[string]int64
}

// add reads a row into a contact, replacing an earlier row of the same id.
func (rr *rowReader) add(r row) {
	c, err := contactOf(r)
	if err != nil {
		rr.counts[countRowsLeftOut]++
		rr.log.Warn("row left out: it needs an id, and an updated_at in RFC 3339 such as 2026-05-01T10:00:00Z",
			"line", r.line, "error", err)
		return
	}
	if _, seen := rr.byID[c.SourceID]; seen {
		rr.counts[countDuplicateIDs]++
		rr.log.Warn("id seen again: this later row replaces the earlier one", "line", r.line, "id", c.SourceID)
	}
	p, why := phone.Read(schemas.PhoneOther, r.get(colPhone), r.get(colCountry), rr.region)
	if why != phone.Empty {
		// A phone that cannot be read keeps its raw text without a
		// number; the reason counts why.
		c.Phones = schemas.PhoneList{p}
		rr.counts[countPhonesPrefix+why.String()]++
	}
	rr.byID[c.SourceID] = c
}

// contactOf reads a row's id, time, names and emails into a contact.
func contactOf(r row) (schemas.Contact, error) {
	id := r.get(colID)
	if id == "" {
		return schemas.Contact{}, errors.New("no id")
	}
	updated, err := time.Parse(time.RFC3339, r.get(colUpdatedAt))
	if err != nil {
		return schemas.Contact{}, fmt.Errorf("updated_at of %s: %w", id, err)
	}
	c := schemas.Contact{
		SourceID:  id,
		Kind:      schemas.KindContact,
		FirstName: r.get(colFirstName),
		LastName:  r.get(colLastName),
		Company:   r.get(colCompany),
		Emails:    strings.Fields(r.get(colEmail)),
		// In UTC, so that contacts sort and compare by the instant.
		UpdatedAt: updated.UTC(),
	}
	c.DisplayName = displayName(r.get(colName), c)
	return c, nil
}

// displayName is what a phone shows for the contact, by the canonical
// contact's rule (schemas.Contact): the name as written whole, else first
// and last name, else the company, else the first email. A whole name is
// not split into first_name and last_name: names do not split reliably at
// a space.
func displayName(whole string, c schemas.Contact) string {
	var email string
	if len(c.Emails) > 0 {
		email = c.Emails[0]
	}
	return cmp.Or(whole, strings.TrimSpace(c.FirstName+" "+c.LastName), c.Company, email)
}

// sortByCursor returns the contacts in (updated_at, id) order, the order
// of the stream's cursor, so that a read can resume after any of them.
func sortByCursor(byID map[string]schemas.Contact) []schemas.Contact {
	return slices.SortedFunc(maps.Values(byID), func(a, b schemas.Contact) int {
		return keyset.Compare(cursorOf(a), cursorOf(b))
	})
}
