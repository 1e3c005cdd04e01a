package incremental_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/incremental"
	"github.com/replicatorhq/replicator/plugin/keyset"
	"github.com/replicatorhq/replicator/plugin/plugintest"
)

// record is one record as a service lists it.
type record struct {
	ID        string
	UpdatedAt time.Time
}

// A full refresh, then an incremental read after one record changed and
// another was deleted.
func Example() {
	clock := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	opts := incremental.Options{Lag: time.Minute, IDs: keyset.TextIDs, Now: func() time.Time { return clock }}
	hourAgo := clock.Add(-time.Hour)

	state, err := read(opts, nil, []record{{"10", hourAgo}, {"9", hourAgo}, {"11", hourAgo.Add(time.Second)}}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(state))

	clock = clock.Add(10 * time.Minute)
	changed := clock.Add(-5 * time.Minute)
	if _, err := read(opts, state, []record{{"10", changed}}, map[string]time.Time{"11": changed}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// upsert 10
	// upsert 9
	// upsert 11
	// full refresh complete
	// {"records":{"updated_at":"2026-05-01T11:00:01Z","id":"11"},"deletions":"2026-05-01T11:59:00Z"}
	// delete 11
	// upsert 10
}

// read is a source's read of one stream, printing what it emits. A source
// reads the service's pages where this ranges over a slice and a map, and
// checkpoints after each page.
func read(opts incremental.Options, state json.RawMessage, records []record, deleted map[string]time.Time) (
	json.RawMessage, error) {
	ctx := context.Background()
	out := &plugintest.Recorder{}
	r, err := incremental.Start(contract.ReadStream{Name: "contacts", State: state, Generation: 1}, out, opts)
	if err != nil {
		return nil, err
	}
	err = r.Deletions(ctx, func(ctx context.Context, since time.Time) error {
		for id, at := range deleted { // GET /contacts/deleted?deleted_since=since
			if err := r.Delete(ctx, id, at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, rec := range records { // GET /contacts?updated_since=r.Since()
		more, err := r.Upsert(ctx, keyset.Cursor{UpdatedAt: rec.UpdatedAt, ID: rec.ID}, empty)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
	}
	if err := r.Finish(ctx); err != nil {
		return nil, err
	}
	for _, rec := range out.Records() {
		fmt.Println(rec.Op, rec.Key)
	}
	if len(out.FullRefreshCompletes()) > 0 {
		fmt.Println("full refresh complete")
	}
	cps := out.Checkpoints()
	return cps[len(cps)-1].State, nil
}

// empty is the data of a record in these tests.
func empty() any { return struct{}{} }
