package plugintest_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/plugintest"
)

// readGreetings stands for a source's Read: two records, a counter, the
// end of a full refresh and a checkpoint.
func readGreetings(ctx context.Context, req contract.ReadRequest, out contract.Output) error {
	for _, rs := range req.Streams {
		for _, name := range []string{"ada", "grace"} {
			data, _ := json.Marshal(map[string]string{"name": name})
			if err := out.Emit(ctx, contract.Record{Stream: rs.Name, Key: name, Data: data}); err != nil {
				return err
			}
		}
		if err := out.Count(ctx, "greeted", 2); err != nil {
			return err
		}
		if err := out.FullRefreshComplete(ctx, rs.Name, rs.Generation); err != nil {
			return err
		}
		if err := out.Checkpoint(ctx, rs.Name, json.RawMessage(`{"done":true}`)); err != nil {
			return err
		}
	}
	return nil
}

// A Recorder keeps what a source sends, for the connector's own unit
// tests.
func ExampleRecorder() {
	var out plugintest.Recorder
	req := contract.ReadRequest{Streams: []contract.ReadStream{{Name: "people", Generation: 3}}}
	if err := readGreetings(context.Background(), req, &out); err != nil {
		fmt.Println(err)
	}
	for _, r := range out.Records() {
		fmt.Println(r.Stream, r.Key, r.Op, string(r.Data))
	}
	for _, c := range out.Checkpoints() {
		fmt.Printf("checkpoint of %s after %d records: %s\n", c.Stream, c.After, c.State)
	}
	fmt.Printf("%+v\n", out.FullRefreshCompletes())
	fmt.Println(out.Counters())
	// Output:
	// people ada upsert {"name":"ada"}
	// people grace upsert {"name":"grace"}
	// checkpoint of people after 2 records: {"done":true}
	// [{ID:0 Stream:people Generation:3}]
	// map[greeted:2]
}
