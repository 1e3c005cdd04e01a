package keyset_test

import (
	"fmt"
	"slices"
	"time"

	"github.com/replicatorhq/replicator/plugin/keyset"
)

// An incremental read resumes strictly after the last key of its
// checkpoint, so records that share an update time are neither skipped nor
// read twice.
func Example() {
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	rows := []keyset.Cursor{{UpdatedAt: at, ID: "7"}, {UpdatedAt: at, ID: "12"}, {UpdatedAt: at.Add(time.Second), ID: "3"}}
	slices.SortFunc(rows, keyset.Compare)

	checkpoint := keyset.Cursor{UpdatedAt: at, ID: "7"} // the last run stopped here
	cur := checkpoint
	for _, r := range rows {
		if cur.Advance(r) {
			fmt.Println("emit", r.ID)
		}
	}
	fmt.Println(checkpoint.Predicate("Modified_Time", "id",
		func(t time.Time) string { return "'" + t.Format(time.RFC3339) + "'" },
		func(id string) string { return id }))
	// Output:
	// emit 12
	// emit 3
	// ((Modified_Time > '2026-05-01T10:00:00Z') or ((Modified_Time = '2026-05-01T10:00:00Z') and (id > 7)))
}

// A service that keeps IDs as strings sends "10" before "9" when both
// share an update time. A read that stopped after "10" must still emit
// "9": it compares keys in the service's order.
func ExampleIDOrder() {
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	checkpoint := keyset.Cursor{UpdatedAt: at, ID: "10"}
	nine := keyset.Cursor{UpdatedAt: at, ID: "9"}
	fmt.Println("text:", keyset.TextIDs.Admits(checkpoint, nine))
	fmt.Println("numeric:", keyset.NumericIDs.Admits(checkpoint, nine))
	// Output:
	// text: true
	// numeric: false
}
