package keyset

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCompareIDs(t *testing.T) {
	for _, c := range []struct {
		a, b          string
		numeric, text int
	}{
		{"9", "10", -1, 1}, {"10", "9", 1, -1}, {"010", "10", 0, -1},
		{"5725767000200000028", "5725767000200000100", -1, -1},
		{"a", "b", -1, -1}, {"b10", "b9", -1, -1}, {"", "1", -1, -1}, {"7", "7", 0, 0},
	} {
		if got := CompareIDs(c.a, c.b); got != c.numeric {
			t.Errorf("CompareIDs(%q, %q) = %d, want %d", c.a, c.b, got, c.numeric)
		}
		if got := NumericIDs.CompareIDs(c.a, c.b); got != c.numeric {
			t.Errorf("NumericIDs.CompareIDs(%q, %q) = %d, want %d", c.a, c.b, got, c.numeric)
		}
		if got := TextIDs.CompareIDs(c.a, c.b); got != c.text {
			t.Errorf("TextIDs.CompareIDs(%q, %q) = %d, want %d", c.a, c.b, got, c.text)
		}
	}
}

// A paged read through records that share timestamps, resumed from a
// checkpoint after every page, emits every record exactly once.
func TestPagedReadWithTies(t *testing.T) {
	pagedRead(t, NumericIDs, func(a, b string) int { return cmp.Compare(atoi(t, a), atoi(t, b)) })
}

// A service that sorts all-digit IDs as text sends "10" before "9". A
// read that compares them as numbers skips "9" when it resumes after "10";
// one that says the service's order does not.
func TestPagedReadWithTextIDs(t *testing.T) {
	pagedRead(t, TextIDs, strings.Compare)
}

// pagedRead walks records in the order a service sorts them, by update
// time and then by id as serviceIDs does, four per page, through a
// checkpoint after each, comparing keys in order.
func pagedRead(t *testing.T, order IDOrder, serviceIDs func(a, b string) int) {
	t.Helper()
	base := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	var all []Cursor
	for i := range 23 {
		all = append(all, Cursor{UpdatedAt: base.Add(time.Duration(i/5) * time.Second), ID: itoa(100 - i)})
	}
	// Ties across a digit boundary, where the two orders differ.
	for _, id := range []string{"9", "10", "99", "100", "1000"} {
		all = append(all, Cursor{UpdatedAt: base.Add(9 * time.Second), ID: id})
	}
	slices.SortFunc(all, func(a, b Cursor) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), serviceIDs(a.ID, b.ID))
	})
	var (
		cur  Cursor
		seen []Cursor
	)
	for page := 0; page < 100; page++ {
		var batch []Cursor
		for _, k := range all {
			if order.Admits(cur, k) && len(batch) < 4 {
				batch = append(batch, k)
			}
		}
		if len(batch) == 0 {
			break
		}
		for _, k := range batch {
			if !order.Advance(&cur, k) {
				t.Fatalf("page %d: %v did not advance the cursor %v", page, k, cur)
			}
			seen = append(seen, k)
		}
		// The checkpoint survives a restart as JSON.
		b, err := json.Marshal(cur)
		if err != nil {
			t.Fatal(err)
		}
		cur = Cursor{}
		if err := json.Unmarshal(b, &cur); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(seen, all) {
		t.Errorf("%s IDs: read %d records, want each of %d once:\n%v", order, len(seen), len(all), seen)
	}
}

// The order is not in the checkpoint: one written before IDOrder existed
// resumes under either order, and Cursor's methods keep comparing as
// numbers.
func TestCheckpointsKeepTheirShape(t *testing.T) {
	old := []byte(`{"updated_at":"2026-05-01T10:00:00Z","id":"10"}`)
	var cur Cursor
	if err := json.Unmarshal(old, &cur); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(cur); string(b) != string(old) {
		t.Errorf("a cursor writes %s, it used to write %s", b, old)
	}
	nine := Cursor{UpdatedAt: cur.UpdatedAt, ID: "9"}
	if !TextIDs.Admits(cur, nine) || cur.Admits(nine) || NumericIDs.Admits(cur, nine) {
		t.Errorf("after id 10: TextIDs admits 9 %v (want true), Cursor.Admits %v and NumericIDs %v (want false)",
			TextIDs.Admits(cur, nine), cur.Admits(nine), NumericIDs.Admits(cur, nine))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func atoi(t *testing.T, s string) int {
	t.Helper()
	i, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func TestPredicate(t *testing.T) {
	lit := func(t time.Time) string { return "'" + t.Format(time.RFC3339) + "'" }
	id := func(s string) string { return s }
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	if got, want := (Cursor{UpdatedAt: at, ID: "42"}).Predicate("Modified_Time", "id", lit, id),
		"((Modified_Time > '2026-05-01T10:00:00Z') or "+
			"((Modified_Time = '2026-05-01T10:00:00Z') and (id > 42)))"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got, want := (Cursor{UpdatedAt: at}).Predicate("updated_at", "id", lit, id),
		"(updated_at >= '2026-05-01T10:00:00Z')"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestEnd(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 30, 700_000_000, time.UTC)
	if got, want := End(now, time.Minute), time.Date(2026, 5, 1, 9, 59, 30, 0, time.UTC); !got.Equal(want) {
		t.Errorf("End = %v, want %v", got, want)
	}
}
