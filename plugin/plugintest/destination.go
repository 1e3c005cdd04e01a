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
	// calls it when the destination acknowledges a checkpoint, and after
	// writes of deletes and of a full refresh, so it must show entries
	// removed by a delete or by a full refresh's sweep as gone.
	Stored func(t *testing.T) (map[string]bool, error)
}

// Run runs every check as a subtest of t, named for what it proves, in the
// order the package documentation lists them.
func (s DestinationSuite) Run(t *testing.T) {
	leaks := watchGoroutines()
	dst, disconnect := connectDestination(t, s.New(logger(t)))
	s.run(t, dst)
	disconnect()
	t.Run("no goroutine left behind", leaks.check)
}

func (s DestinationSuite) run(t *testing.T, dst contract.Destination) {
	ctx := context.Background()
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
		s.Config, s.BadConfig = withDefaults(spec, s.Config), withDefaults(spec, s.BadConfig)
	})

	streams := []contract.Stream{s.Stream}
	t.Run("check rejects a bad config", func(t *testing.T) {
		if _, err := dst.Check(ctx, contract.CheckRequest{Config: s.BadConfig, Streams: streams}); err == nil {
			t.Fatal("Check accepted the bad config")
		}
	})

	t.Run("check accepts the config", func(t *testing.T) {
		if _, err := dst.Check(ctx, contract.CheckRequest{Config: s.Config, Streams: streams}); err != nil {
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
				state := json.RawMessage(fmt.Sprintf(`{"at":%d}`, i))
				msgs = append(msgs, s.checkpoint(id, state))
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

	// Deletes of the first tenth of what was written, in the generation
	// written: those entries go, the others stay.
	deleted := max(count/10, 1)
	t.Run("deletes remove entries", func(t *testing.T) {
		recs := make([]contract.Record, deleted)
		for i := range recs {
			recs[i] = contract.Record{Stream: s.Stream.Name, Key: s.Record(i).Key, Op: contract.Delete}
		}
		in := &feeder{msgs: []contract.Message{{Records: recs}, s.checkpoint(1, json.RawMessage(`{"deleted":true}`))}}
		req := contract.WriteRequest{Config: s.Config, Streams: []contract.WriteStream{{Stream: s.Stream, Generation: 1}}}
		if err := dst.Write(ctx, req, in); err != nil {
			t.Fatalf("Write of deletes: %v", err)
		}
		if len(in.acked) != 1 {
			t.Fatalf("acknowledged %v, want the checkpoint after the deletes", in.acked)
		}
		when := fmt.Sprintf("after deletes of records 0 to %d", deleted-1)
		s.expectStored(t, when, count, func(i int) bool { return i >= deleted })
	})

	// A full refresh of generation 2 writes the second half and some new
	// records: the first half, written in generation 1, is swept.
	t.Run("full refresh complete sweeps older generations", func(t *testing.T) {
		from, to := count/2, count+count/10+1
		var recs []contract.Record
		for i := from; i < to; i++ {
			recs = append(recs, s.Record(i))
		}
		in := &feeder{msgs: []contract.Message{
			{Records: recs},
			s.checkpoint(1, json.RawMessage(`{"refresh":true}`)),
			{FullRefreshComplete: &contract.FullRefreshComplete{ID: 2, Stream: s.Stream.Name, Generation: 2}},
			s.checkpoint(3, json.RawMessage(`{"refreshed":true}`)),
		}}
		req := contract.WriteRequest{Config: s.Config, Streams: []contract.WriteStream{{Stream: s.Stream, Generation: 2}}}
		if err := dst.Write(ctx, req, in); err != nil {
			t.Fatalf("Write of a full refresh: %v", err)
		}
		if len(in.acked) == 0 || in.acked[len(in.acked)-1] != 3 {
			t.Fatalf("acknowledged %v, want every checkpoint and the full-refresh-complete up to 3", in.acked)
		}
		when := fmt.Sprintf("after a full refresh of generation 2 that wrote records %d to %d", from, to-1)
		s.expectStored(t, when, to, func(i int) bool { return i >= from })
	})

	t.Run("a cancelled write returns context.Canceled", func(t *testing.T) {
		s.cancelledWrite(t, count)
	})
}

// checkpoint is a checkpoint message of the suite's stream.
func (s DestinationSuite) checkpoint(id uint64, state json.RawMessage) contract.Message {
	return contract.Message{Checkpoint: &contract.Checkpoint{ID: id, Stream: s.Stream.Name, State: state}}
}

// expectStored checks that of the records 0 to n-1, the service holds
// exactly those for which want is true.
func (s DestinationSuite) expectStored(t *testing.T, when string, n int, want func(i int) bool) {
	t.Helper()
	stored, err := s.Stored(t)
	if err != nil {
		t.Fatalf("Stored: %v", err)
	}
	for i := 0; i < n; i++ {
		k := s.Record(i).Key
		switch {
		case want(i) && !stored[k]:
			t.Fatalf("%s, record %d (key %s) is not stored", when, i, k)
		case !want(i) && stored[k]:
			t.Fatalf("%s, record %d (key %s) is still stored", when, i, k)
		}
	}
}

// cancelledWrite hands the connector, called directly, a batch of records
// and then cancels the write while it waits for more.
func (s DestinationSuite) cancelledWrite(t *testing.T, count int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	recs := make([]contract.Record, min(count, 100))
	for i := range recs {
		recs[i] = s.Record(i)
	}
	in := &cancelWhenDrained{feeder: feeder{msgs: []contract.Message{{Records: recs}}}, cancel: cancel}
	dst := s.New(logger(t))
	done := make(chan error, 1)
	req := contract.WriteRequest{Config: s.Config, Streams: []contract.WriteStream{{Stream: s.Stream, Generation: 3}}}
	go func() { done <- dst.Write(ctx, req, in) }()
	returnsWhenCancelled(t, ctx, done, "Write", "destination", func(err error) string {
		return fmt.Sprintf("Write returned (%v) before it asked for the end of its input", err)
	})
}

// cancelWhenDrained is an Input that, once its messages are taken,
// cancels the write and waits as the host's Input does for a message that
// does not come.
type cancelWhenDrained struct {
	feeder
	cancel context.CancelFunc
}

func (in *cancelWhenDrained) Next(ctx context.Context) (contract.Message, error) {
	if in.next < len(in.msgs) {
		return in.feeder.Next(ctx)
	}
	in.cancel()
	<-ctx.Done()
	return contract.Message{}, ctx.Err()
}
