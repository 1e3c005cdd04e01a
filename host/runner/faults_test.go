package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/connector/jsonl"
	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/plugintest"
)

// faultySource is a connector whose Read does what a test says, served
// over a real gRPC connection as a plugin would be.
type faultySource struct {
	contract.UnimplementedSource
	read func(ctx context.Context, req contract.ReadRequest, out contract.Output) error
}

func (s *faultySource) Spec(context.Context) (contract.Spec, error) {
	return contract.Spec{Name: "faulty", Version: "0.0.1"}, nil
}
func (s *faultySource) Check(context.Context, contract.CheckRequest) (contract.CheckResponse, error) {
	return contract.CheckResponse{}, nil
}
func (s *faultySource) Discover(context.Context, contract.DiscoverRequest) (contract.DiscoverResponse, error) {
	return contract.DiscoverResponse{}, nil
}
func (s *faultySource) Read(ctx context.Context, req contract.ReadRequest, out contract.Output) error {
	return s.read(ctx, req, out)
}

// faultyDestination is a destination whose Write does what a test says.
type faultyDestination struct {
	write func(ctx context.Context, req contract.WriteRequest, in contract.Input) error
}

func (d *faultyDestination) Spec(context.Context) (contract.Spec, error) {
	return contract.Spec{Name: "faulty", Version: "0.0.1"}, nil
}
func (d *faultyDestination) Check(context.Context, contract.CheckRequest) (contract.CheckResponse, error) {
	return contract.CheckResponse{}, nil
}
func (d *faultyDestination) Write(ctx context.Context, req contract.WriteRequest, in contract.Input) error {
	return d.write(ctx, req, in)
}

var itemsStream = contract.Stream{Name: "items", Schema: json.RawMessage(`{"type":"object"}`), PrimaryKey: []string{"id"}, Modes: []contract.SyncMode{contract.FullRefresh}}

// faultPipeline reads src into dst, both over gRPC; a nil dst is a jsonl
// file in dir.
func faultPipeline(t *testing.T, dir string, src contract.Source, dst contract.Destination) Pipeline {
	if dst == nil {
		dst = jsonl.New(hclog.NewNullLogger())
	}
	return Pipeline{
		Name:              "p",
		SourceRef:         "source.faulty.s",
		Source:            plugintest.ConnectSource(t, src),
		SourceConfig:      json.RawMessage(`{}`),
		DestinationRef:    "destination.jsonl.out",
		Destination:       plugintest.ConnectDestination(t, dst),
		DestinationConfig: json.RawMessage(fmt.Sprintf(`{"path":%q}`, filepath.Join(dir, "out.jsonl"))),
		Streams:           []contract.Stream{itemsStream},
	}
}

func openStore(t *testing.T, dir string) state.Store {
	t.Helper()
	store, err := state.OpenFile(filepath.Join(dir, "state.db"), state.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

func record(i int) contract.Record {
	return contract.Record{Stream: "items", Key: fmt.Sprint(i), Data: json.RawMessage(fmt.Sprintf(`{"id":%d}`, i))}
}

// sendThenSilent sends a record and a checkpoint, then nothing until the
// host gives up.
func sendThenSilent(ctx context.Context, _ contract.ReadRequest, out contract.Output) error {
	if err := out.Emit(ctx, record(1)); err != nil {
		return err
	}
	if err := out.Checkpoint(ctx, "items", json.RawMessage(`{"at":1}`)); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

// lastRun is the run history's newest run of pipeline p.
func lastRun(t *testing.T, store state.Store) state.Run {
	t.Helper()
	runs, err := store.Runs(context.Background(), "p", 1)
	if err != nil || len(runs) != 1 {
		t.Fatalf("run history: %v, %v", runs, err)
	}
	return runs[0]
}

func TestStallEndsTheRunAndNamesWhoStalled(t *testing.T) {
	const stall = 300 * time.Millisecond
	// takeNothing never reads its input.
	takeNothing := &faultyDestination{write: func(ctx context.Context, _ contract.WriteRequest, _ contract.Input) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	// neverAck takes everything and acknowledges nothing.
	neverAck := &faultyDestination{write: func(ctx context.Context, _ contract.WriteRequest, in contract.Input) error {
		for {
			if _, err := in.Next(ctx); err != nil {
				<-ctx.Done()
				return ctx.Err()
			}
		}
	}}
	flood := func(ctx context.Context, _ contract.ReadRequest, out contract.Output) error {
		for i := 0; ; i++ {
			if err := out.Emit(ctx, record(i)); err != nil {
				return err
			}
		}
	}
	oneCheckpoint := func(ctx context.Context, _ contract.ReadRequest, out contract.Output) error {
		if err := out.Emit(ctx, record(1)); err != nil {
			return err
		}
		return out.Checkpoint(ctx, "items", json.RawMessage(`{"at":1}`))
	}
	for _, tt := range []struct {
		name      string
		read      func(context.Context, contract.ReadRequest, contract.Output) error
		dst       contract.Destination
		want      string
		persisted bool // the checkpoint before the stall is kept
	}{
		{"silent source", sendThenSilent, nil, "source.faulty.s sent nothing for 300ms (stall_timeout)", true},
		{"destination takes nothing", flood, takeNothing, "destination.jsonl.out took no records for 300ms (stall_timeout)", false},
		{"destination never acknowledges", oneCheckpoint, neverAck, "destination.jsonl.out acknowledged nothing after the source finished for 300ms", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			store := openStore(t, dir)
			p := faultPipeline(t, dir, &faultySource{read: tt.read}, tt.dst)
			run, err := Run(context.Background(), p, store, fence(t, store), Options{StallTimeout: stall})
			var se *StallError
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &se) {
				t.Fatalf("Run = %v, want a stall error %q", err, tt.want)
			}
			if run.Outcome != "failed" || lastRun(t, store).Error != err.Error() {
				t.Fatalf("run %+v, history %+v", run, lastRun(t, store))
			}
			st, _ := store.Stream(context.Background(), "p", "items")
			if tt.persisted != (string(st.State) == `{"at":1}`) {
				t.Fatalf("stream state after the stall: %s", st.State)
			}
		})
	}
}

// A steady run with a stall timeout shorter than the whole run succeeds:
// only silence counts.
func TestStallTimeoutAllowsALongRunThatMakesProgress(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	// Eight checkpoints 150ms apart: the run takes longer than the stall
	// timeout, but no gap between messages comes near it.
	steady := func(ctx context.Context, req contract.ReadRequest, out contract.Output) error {
		for i := range 8 {
			if err := out.Emit(ctx, record(i)); err != nil {
				return err
			}
			if err := out.Checkpoint(ctx, "items", json.RawMessage(fmt.Sprintf(`{"at":%d}`, i))); err != nil {
				return err
			}
			time.Sleep(150 * time.Millisecond)
		}
		return out.FullRefreshComplete(ctx, "items", req.Streams[0].Generation)
	}
	p := faultPipeline(t, dir, &faultySource{read: steady}, nil)
	if run, err := Run(context.Background(), p, store, fence(t, store), Options{StallTimeout: 750 * time.Millisecond}); err != nil || run.Outcome != "succeeded" {
		t.Fatalf("Run = %+v, %v", run, err)
	}
}

// What a source sends wrong is the source's fault: the error names it,
// and nothing of it is stored.
func TestSourceFaultsAreTheSources(t *testing.T) {
	for _, tt := range []struct {
		name string
		read func(context.Context, contract.ReadRequest, contract.Output) error
		want string
	}{
		{"checkpoint that is not JSON", func(ctx context.Context, _ contract.ReadRequest, out contract.Output) error {
			if err := out.Emit(ctx, record(1)); err != nil {
				return err
			}
			return out.Checkpoint(ctx, "items", json.RawMessage(`{"at":`))
		}, `source.faulty.s: sent a checkpoint of stream "items" whose state is not JSON`},
		{"record of another stream", func(ctx context.Context, _ contract.ReadRequest, out contract.Output) error {
			r := record(1)
			r.Stream = "secrets"
			return out.Emit(ctx, r)
		}, `source.faulty.s: sent a record of stream "secrets", which this run does not read`},
		{"checkpoint of another stream", func(ctx context.Context, _ contract.ReadRequest, out contract.Output) error {
			return out.Checkpoint(ctx, "secrets", json.RawMessage(`{}`))
		}, `source.faulty.s: sent a checkpoint of stream "secrets", which this run does not read`},
		{"full refresh complete of another generation", func(ctx context.Context, req contract.ReadRequest, out contract.Output) error {
			if err := out.Emit(ctx, record(1)); err != nil {
				return err
			}
			return out.FullRefreshComplete(ctx, "items", req.Streams[0].Generation+1)
		}, `source.faulty.s: sent a full refresh complete of stream "items" for generation`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			store := openStore(t, dir)
			run, err := Run(context.Background(), faultPipeline(t, dir, &faultySource{read: tt.read}, nil), store, fence(t, store), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v, want %q", err, tt.want)
			}
			if run.Outcome != "failed" {
				t.Fatalf("outcome %s", run.Outcome)
			}
			if st, _ := store.Stream(context.Background(), "p", "items"); st.State != nil || st.FullRefresh == 0 {
				t.Fatalf("the faulty source's state was stored: %+v", st)
			}
		})
	}
}

// A failed run keeps the counters its source reported before failing.
func TestFailedRunKeepsTheSourcesCounters(t *testing.T) {
	boom := errors.New("the service went away")
	for _, tt := range []struct {
		name string
		read func(context.Context, contract.ReadRequest, contract.Output) error
		dst  contract.Destination
	}{
		{"source fails", func(ctx context.Context, _ contract.ReadRequest, out contract.Output) error {
			if err := out.Count(ctx, "api_credits", 7); err != nil {
				return err
			}
			return boom
		}, nil},
		{"destination fails", func(ctx context.Context, _ contract.ReadRequest, out contract.Output) error {
			if err := out.Count(ctx, "api_credits", 7); err != nil {
				return err
			}
			if err := out.Emit(ctx, record(1)); err != nil {
				return err
			}
			if err := out.Checkpoint(ctx, "items", json.RawMessage(`{}`)); err != nil {
				return err
			}
			<-ctx.Done()
			return ctx.Err()
		}, &faultyDestination{write: func(ctx context.Context, _ contract.WriteRequest, in contract.Input) error {
			for {
				m, err := in.Next(ctx)
				if err != nil {
					return err
				}
				if m.Checkpoint != nil {
					return boom
				}
			}
		}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			store := openStore(t, dir)
			_, err := Run(context.Background(), faultPipeline(t, dir, &faultySource{read: tt.read}, tt.dst), store, fence(t, store), Options{})
			if err == nil || !strings.Contains(err.Error(), boom.Error()) {
				t.Fatalf("Run = %v", err)
			}
			if got := lastRun(t, store); got.Outcome != "failed" || got.Counters[SourceCounters+"api_credits"] != 7 {
				t.Fatalf("run history: %+v", got)
			}
		})
	}
}

// A destination that acknowledges what it was never sent, or twice, fails
// the run, and the checkpoint it vouched for is not stored.
func TestBadAcknowledgementsAreTheDestinations(t *testing.T) {
	for _, tt := range []struct {
		name string
		ack  func(first uint64) []uint64
		want string
	}{
		{"ahead of what was sent", func(first uint64) []uint64 { return []uint64{first + 99} }, "destination.jsonl.out: acknowledged 100, which was never sent"},
		{"twice", func(first uint64) []uint64 { return []uint64{first, first} }, "destination.jsonl.out: acknowledged 1, which is acknowledged already"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			store := openStore(t, dir)
			liar := &faultyDestination{write: func(ctx context.Context, _ contract.WriteRequest, in contract.Input) error {
				for {
					m, err := in.Next(ctx)
					if err != nil {
						return err
					}
					if m.Checkpoint != nil {
						for _, id := range tt.ack(m.Checkpoint.ID) {
							if err := in.Ack(ctx, id); err != nil {
								return err
							}
						}
					}
				}
			}}
			// The source goes silent after its checkpoint: if the bad
			// acknowledgement went unnoticed, the stall would end the run.
			run, err := Run(context.Background(), faultPipeline(t, dir, &faultySource{read: sendThenSilent}, liar), store, fence(t, store), Options{StallTimeout: 10 * time.Second})
			if err == nil || !strings.Contains(err.Error(), tt.want) || run.Outcome != "failed" {
				t.Fatalf("Run = %v (%s), want %q", err, run.Outcome, tt.want)
			}
			st, _ := store.Stream(context.Background(), "p", "items")
			if tt.name == "ahead of what was sent" && st.State != nil {
				t.Fatalf("a checkpoint vouched for by a lying acknowledgement was stored: %s", st.State)
			}
		})
	}
}

// countingDestination acknowledges every checkpoint after counting n
// under "rejected".
func countingDestination(n int64) *faultyDestination {
	return &faultyDestination{write: func(ctx context.Context, _ contract.WriteRequest, in contract.Input) error {
		for {
			m, err := in.Next(ctx)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if m.Checkpoint == nil {
				continue
			}
			if err := in.Count(ctx, "rejected", n); err != nil {
				return err
			}
			if err := in.Ack(ctx, m.Checkpoint.ID); err != nil {
				return err
			}
		}
	}}
}

// Counters are kept per side, so a source's and a destination's counter of
// the same name stay apart.
func TestCountersAreNamespacedBySide(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	src := &faultySource{read: func(ctx context.Context, _ contract.ReadRequest, out contract.Output) error {
		if err := out.Count(ctx, "rejected", 3); err != nil {
			return err
		}
		if err := out.Emit(ctx, record(1)); err != nil {
			return err
		}
		return out.Checkpoint(ctx, "items", json.RawMessage(`{"at":1}`))
	}}
	if _, err := Run(context.Background(), faultPipeline(t, dir, src, countingDestination(5)), store, fence(t, store), Options{}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := map[string]int64{SourceCounters + "rejected": 3, DestinationCounters + "rejected": 5}
	if got := lastRun(t, store).Counters; !maps.Equal(got, want) {
		t.Fatalf("counters %v, want %v", got, want)
	}
	if SourceCounters != "source." || DestinationCounters != "destination." {
		t.Fatalf("prefixes %q %q: status output and docs show source.NAME and destination.NAME", SourceCounters, DestinationCounters)
	}
}

// A source that reports a counter name per record, or names that are not
// names, cannot make the host keep them: a run keeps contract.MaxCounters
// valid names per side, those go on counting, the other side's are kept
// apart, and one warning says how many reports were dropped.
func TestCounterFloodIsBounded(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	const flood = 20000
	bad := []string{"", "Upper", "a b", "x\ny", "dash-ed", strings.Repeat("a", contract.MaxCounterName+1)}
	src := &faultySource{read: func(ctx context.Context, _ contract.ReadRequest, out contract.Output) error {
		for i := range flood {
			if err := out.Count(ctx, fmt.Sprintf("n%05d", i), 1); err != nil {
				return err
			}
		}
		for _, name := range append(bad, "n00000") {
			if err := out.Count(ctx, name, 5); err != nil {
				return err
			}
		}
		if err := out.Emit(ctx, record(1)); err != nil {
			return err
		}
		return out.Checkpoint(ctx, "items", json.RawMessage(`{"at":1}`))
	}}
	var log strings.Builder
	opts := Options{Log: hclog.New(&hclog.LoggerOptions{Output: &log, Level: hclog.Info})}
	if _, err := Run(context.Background(), faultPipeline(t, dir, src, countingDestination(3)), store, fence(t, store), opts); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := map[string]int64{SourceCounters + "n00000": 6, DestinationCounters + "rejected": 3}
	for i := 1; i < contract.MaxCounters; i++ {
		want[fmt.Sprintf("%sn%05d", SourceCounters, i)] = 1
	}
	if got := lastRun(t, store).Counters; !maps.Equal(got, want) {
		t.Fatalf("stored %d counters, want the %d first valid ones:\n%v", len(got), len(want), got)
	}
	warning := fmt.Sprintf("[WARN]  source.faulty.s reported counters this run did not keep: at most %d names a run, each 1 to %d characters of a-z, 0-9, _ and .: pipeline=p run=1 dropped_reports=%d first_dropped=n%05d\n",
		contract.MaxCounters, contract.MaxCounterName, flood-contract.MaxCounters+len(bad), contract.MaxCounters)
	if got := strings.Count(log.String(), "did not keep"); got != 1 || !strings.Contains(log.String(), warning) {
		t.Fatalf("want one warning %q; the log:\n%s", warning, log.String())
	}
}

// A checkpoint without a state, or with JSON null, marks no position: the
// next run starts the stream over with a full refresh, as it does a stream
// never synced, rather than resuming from the checkpoint before it.
func TestCheckpointWithoutStateStartsOver(t *testing.T) {
	for name, none := range map[string]json.RawMessage{"nil": nil, "null": json.RawMessage(`null`)} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			store := openStore(t, dir)
			first := func(ctx context.Context, _ contract.ReadRequest, out contract.Output) error {
				if err := out.Emit(ctx, record(1)); err != nil {
					return err
				}
				if err := out.Checkpoint(ctx, "items", json.RawMessage(`{"at":1}`)); err != nil {
					return err
				}
				if err := out.Emit(ctx, record(2)); err != nil {
					return err
				}
				return out.Checkpoint(ctx, "items", none)
			}
			if _, err := Run(context.Background(), faultPipeline(t, dir, &faultySource{read: first}, nil), store, fence(t, store), Options{}); err != nil {
				t.Fatal(err)
			}
			var handed []contract.ReadStream
			second := func(_ context.Context, req contract.ReadRequest, _ contract.Output) error {
				handed = req.Streams
				return nil
			}
			run, err := Run(context.Background(), faultPipeline(t, dir, &faultySource{read: second}, nil), store, fence(t, store), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(handed) != 1 || handed[0].State != nil || len(run.Resumed) != 0 {
				t.Errorf("the run after a checkpoint with state %q was handed %+v and resumed %v; want no state and a full refresh", none, handed, run.Resumed)
			}
		})
	}
}

// A run underway stores its counts in its record as it goes: when its host
// dies, the run is marked crashed with the counts it had reached, not 0.
func TestRunStoresItsCountsAsItGoes(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	read := func(ctx context.Context, _ contract.ReadRequest, out contract.Output) error {
		for i := range 3 {
			if err := out.Emit(ctx, record(i)); err != nil {
				return err
			}
		}
		if err := out.Count(ctx, "api_credits", 5); err != nil {
			return err
		}
		if err := out.Checkpoint(ctx, "items", json.RawMessage(`{"at":3}`)); err != nil {
			return err
		}
		<-ctx.Done()
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() {
		_, err := Run(ctx, faultPipeline(t, dir, &faultySource{read: read}, nil), store, fence(t, store), Options{})
		ran <- err
	}()
	deadline := time.Now().Add(10 * SaveEvery)
	for {
		runs, err := store.Runs(ctx, "p", 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) == 1 {
			got := runs[0]
			if got.Outcome != state.OutcomeRunning {
				t.Fatalf("the run ended: %+v", got)
			}
			if got.Read == 3 && got.Written == 3 && got.Counters[SourceCounters+"api_credits"] == 5 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the running run's record holds no counts after %s: %+v", 10*SaveEvery, got)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
}
