package keyset

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

func TestCompareIDs(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"9", "10", -1}, {"10", "9", 1}, {"010", "10", 0}, {"5725767000200000028", "5725767000200000100", -1},
		{"a", "b", -1}, {"b10", "b9", -1}, {"", "1", -1}, {"7", "7", 0},
	} {
		if got := CompareIDs(c.a, c.b); got != c.want {
			t.Errorf("CompareIDs(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// A paged read through records that share timestamps, resumed from a
// checkpoint after every page, emits every record exactly once.
func TestPagedReadWithTies(t *testing.T) {
	base := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	var all []Cursor
	for i := range 23 {
		all = append(all, Cursor{UpdatedAt: base.Add(time.Duration(i/5) * time.Second), ID: itoa(100 - i)})
	}
	slices.SortFunc(all, Compare)
	var (
		cur  Cursor
		seen []Cursor
	)
	for page := 0; page < 100; page++ {
		var batch []Cursor
		for _, k := range all {
			if cur.Admits(k) && len(batch) < 4 {
				batch = append(batch, k)
			}
		}
		if len(batch) == 0 {
			break
		}
		for _, k := range batch {
			if !cur.Advance(k) {
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
		t.Errorf("read %d records, want each of %d once:\n%v", len(seen), len(all), seen)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestPredicate(t *testing.T) {
	lit := func(t time.Time) string { return "'" + t.Format(time.RFC3339) + "'" }
	id := func(s string) string { return s }
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	if got, want := (Cursor{UpdatedAt: at, ID: "42"}).Predicate("Modified_Time", "id", lit, id),
		"((Modified_Time > '2026-05-01T10:00:00Z') or ((Modified_Time = '2026-05-01T10:00:00Z') and (id > 42)))"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got, want := (Cursor{UpdatedAt: at}).Predicate("updated_at", "id", lit, id), "(updated_at >= '2026-05-01T10:00:00Z')"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestEnd(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 30, 700_000_000, time.UTC)
	if got, want := End(now, time.Minute), time.Date(2026, 5, 1, 9, 59, 30, 0, time.UTC); !got.Equal(want) {
		t.Errorf("End = %v, want %v", got, want)
	}
}
