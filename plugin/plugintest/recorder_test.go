package plugintest_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/plugintest"
)

// A Recorder may be shared by goroutines (run with -race), and keeps
// copies of what it is given.
func TestRecorderConcurrentUse(t *testing.T) {
	var out plugintest.Recorder
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			buf := []byte(`{"g":0}`)
			for i := range 100 {
				buf[5] = byte('0' + g)
				if err := out.Emit(ctx, contract.Record{Stream: "s", Key: strconv.Itoa(g*100 + i), Data: buf}); err != nil {
					t.Error(err)
				}
				_ = out.Count(ctx, "n", 1)
				_ = out.Checkpoint(ctx, "s", json.RawMessage(`{}`))
				_ = out.Records()
				_ = out.Counters()
			}
			buf[5] = 'x' // a source reusing its buffer changes nothing recorded
		})
	}
	wg.Wait()
	recs := out.Records()
	if len(recs) != 800 || out.Counters()["n"] != 800 || len(out.Checkpoints()) != 800 {
		t.Fatalf("%d records, counters %v, %d checkpoints; want 800 each", len(recs), out.Counters(), len(out.Checkpoints()))
	}
	for _, r := range recs {
		g, _ := strconv.Atoi(r.Key)
		if want := `{"g":` + strconv.Itoa(g/100) + `}`; string(r.Data) != want {
			t.Fatalf("record %s holds %s, want %s", r.Key, r.Data, want)
		}
	}
}
