package plugintest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// DestinationSuite checks a destination connector.
type DestinationSuite struct {
	// New builds the connector, as its main passes to plugin.ServeDestination.
	New func(hclog.Logger) contract.Destination
	// Config is a working configuration; BadConfig one Check must reject.
	Config, BadConfig json.RawMessage
	// Stream is the stream written, with the schema the destination accepts.
	Stream contract.Stream
	// Record returns the i-th sample record of the stream (an upsert).
	Record func(i int) contract.Record
	// Count is how many records to write; zero means 1,000.
	Count int
	// Stored returns the keys of Stream the service holds now. The suite
	// calls it when the destination acknowledges a checkpoint.
	Stored func(t *testing.T) (map[string]bool, error)
}

// Run runs every check as a subtest of t.
func (s DestinationSuite) Run(t *testing.T) {
	ctx := context.Background()
	dst := ConnectDestination(t, s.New(logger(t)))
	count := s.Count
	if count == 0 {
		count = 1000
	}

	t.Run("spec", func(t *testing.T) {
		spec, err := dst.Spec(ctx)
		if err != nil {
			t.Fatalf("Spec: %v", err)
		}
		checkSpec(t, spec)
	})

	t.Run("check rejects a bad config", func(t *testing.T) {
		if _, err := dst.Check(ctx, contract.CheckRequest{Config: s.BadConfig, Streams: []contract.Stream{s.Stream}}); err == nil {
			t.Fatal("Check accepted the bad config")
		}
	})

	t.Run("check accepts the config", func(t *testing.T) {
		if _, err := dst.Check(ctx, contract.CheckRequest{Config: s.Config, Streams: []contract.Stream{s.Stream}}); err != nil {
			t.Fatalf("Check: %v", err)
		}
	})

	t.Run("acknowledges only what is durable", func(t *testing.T) {
		sch := compileSchema(t, s.Stream)
		// Batches of varied sizes with a checkpoint after every third one.
		var msgs []contract.Message
		keysBefore := map[uint64][]string{}
		var keys []string
		var id uint64
		for i, batch := 0, 1; i < count; batch++ {
			n := min(batch*37, count-i)
			recs := make([]contract.Record, 0, n)
			for j := 0; j < n; j++ {
				r := s.Record(i + j)
				if err := validate(sch, r.Data); err != nil {
					t.Fatalf("sample record %d does not match the stream's schema: %v", i+j, err)
				}
				recs = append(recs, r)
				keys = append(keys, r.Key)
			}
			i += n
			msgs = append(msgs, contract.Message{Records: recs})
			if batch%3 == 0 || i == count {
				id++
				keysBefore[id] = append([]string(nil), keys...)
				msgs = append(msgs, contract.Message{Checkpoint: &contract.Checkpoint{ID: id, Stream: s.Stream.Name, State: json.RawMessage(fmt.Sprintf(`{"at":%d}`, i))}})
			}
		}
		in := &feeder{msgs: msgs}
		in.onAck = func(ack uint64) error {
			stored, err := s.Stored(t)
			if err != nil {
				return err
			}
			for _, k := range keysBefore[ack] {
				if !stored[k] {
					return fmt.Errorf("checkpoint %d acknowledged while record %s before it is not stored", ack, k)
				}
			}
			return nil
		}
		req := contract.WriteRequest{Config: s.Config, Streams: []contract.WriteStream{{Stream: s.Stream, Generation: 1}}}
		if err := dst.Write(ctx, req, in); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if len(in.acked) == 0 || in.acked[len(in.acked)-1] != id {
			t.Fatalf("acknowledged %v, want every checkpoint up to %d", in.acked, id)
		}
		stored, err := s.Stored(t)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if !stored[k] {
				t.Fatalf("record %s is not stored after Write returned", k)
			}
		}
	})
}
