// Package keyset is the cursor of an incremental read that walks records
// in (updated_at, id) order.
//
// Ordering by the update time alone loses records: several records share a
// timestamp, and a page that ends inside such a tie either repeats or
// skips the rest of it. Ordering by (updated_at, id) and resuming strictly
// after the last key read does neither. A source keeps a Cursor in its
// checkpoint, asks the service for the records after it (Predicate builds
// the filter for services that take SQL-like queries, Admits filters in
// memory), and advances it with every record it emits. Cursor's methods
// compare IDs as numbers when both are decimal; a source whose service
// sorts IDs as text says so by calling the same methods on TextIDs (see
// IDOrder). The order is the source's, not the checkpoint's: a checkpoint
// holds only the key, so checkpoints written before IDOrder resume as they
// are.
//
// A record changed while a read runs may be stamped with a time the read
// has already passed; read up to a window that closes a little before now
// (End) so the service has finished writing what the read sees.
package keyset

import (
	"fmt"
	"strings"
	"time"
)

// Cursor is the key of the last record read: the next read starts after it.
// The zero Cursor starts at the beginning.
type Cursor struct {
	UpdatedAt time.Time `json:"updated_at"`
	ID        string    `json:"id,omitempty"`
}

// IDOrder is how a service sorts the IDs of records that share an update
// time. A cursor must compare IDs the way the service sorts them: one that
// puts "9" before "10" while the service sends "10" first skips "9" when a
// read resumes after "10", and nothing says so.
type IDOrder uint8

const (
	// NumericIDs compares IDs that are both decimal as numbers ("9" before
	// "10") and others bytewise: for services that sort numeric ID
	// columns, such as Zoho CRM. It is the zero IDOrder, and the order of
	// Compare, CompareIDs and Cursor's methods.
	NumericIDs IDOrder = iota
	// TextIDs compares IDs bytewise ("10" before "9"): for services that
	// keep IDs as strings and sort them as such, as most HTTP APIs do, also
	// when their IDs look like numbers.
	TextIDs
)

// String names the order, for messages.
func (o IDOrder) String() string {
	if o == TextIDs {
		return "text"
	}
	return "numeric"
}

// CompareIDs orders record IDs in order o.
func (o IDOrder) CompareIDs(a, b string) int {
	if o == NumericIDs && decimal(a) && decimal(b) {
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(a) != len(b) {
			if len(a) < len(b) {
				return -1
			}
			return 1
		}
	}
	return strings.Compare(a, b)
}

// Compare orders keys by time, then by ID in order o.
func (o IDOrder) Compare(a, b Cursor) int {
	if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
		return c
	}
	return o.CompareIDs(a.ID, b.ID)
}

// Admits says whether a record with key k comes after cursor c in order
// o, so a read resuming from c must emit it.
func (o IDOrder) Admits(c, k Cursor) bool {
	return c.IsZero() || o.Compare(c, k) < 0
}

// Advance moves cursor c to k when k comes after it in order o, and
// reports whether it moved.
func (o IDOrder) Advance(c *Cursor, k Cursor) bool {
	if !o.Admits(*c, k) {
		return false
	}
	*c = k
	return true
}

// Compare orders keys by time, then by ID. IDs that are both decimal
// numbers compare as numbers (a shorter one is smaller), others bytewise:
// NumericIDs.Compare.
func Compare(a, b Cursor) int { return NumericIDs.Compare(a, b) }

// CompareIDs orders record IDs: as numbers when both are decimal, so that
// "9" comes before "10", and bytewise otherwise: NumericIDs.CompareIDs.
func CompareIDs(a, b string) int { return NumericIDs.CompareIDs(a, b) }

func decimal(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsZero says whether the cursor is at the beginning.
func (c Cursor) IsZero() bool { return c.UpdatedAt.IsZero() && c.ID == "" }

// Admits says whether a record with this key comes after the cursor, so a
// read resuming from the cursor must emit it. IDs compare as NumericIDs;
// a service that sorts them as text needs TextIDs.Admits.
func (c Cursor) Admits(k Cursor) bool { return NumericIDs.Admits(c, k) }

// Advance moves the cursor to k when k comes after it, and reports whether
// it moved. Emit records in key order and advance with each; the cursor
// then names the last record a checkpoint covers. IDs compare as
// NumericIDs; a service that sorts them as text needs TextIDs.Advance.
func (c *Cursor) Advance(k Cursor) bool { return NumericIDs.Advance(c, k) }

// Predicate is the filter "after the cursor" in the SQL-like syntax of
// query APIs such as Zoho's COQL or a database's SQL:
//
//	((updated > T) or ((updated = T) and (id > I)))
//
// timeCol and idCol name the columns; literal writes a time as the query
// language expects it, quoted; quoteID writes an ID (identity for numeric
// IDs, a quoting function for text). A cursor without an ID gives
// (updated >= T), for a read that starts at a time.
func (c Cursor) Predicate(timeCol, idCol string, literal func(time.Time) string, quoteID func(string) string) string {
	t := literal(c.UpdatedAt)
	if c.ID == "" {
		return fmt.Sprintf("(%s >= %s)", timeCol, t)
	}
	return fmt.Sprintf("((%s > %s) or ((%s = %s) and (%s > %s)))", timeCol, t, timeCol, t, idCol, quoteID(c.ID))
}

// End is the end of the window an incremental read may cover at now: lag
// before it, so records still being written are left to the next read.
// Truncation keeps the window's end on whole seconds, as most services
// stamp times.
func End(now time.Time, lag time.Duration) time.Time {
	return now.Add(-lag).Truncate(time.Second)
}
