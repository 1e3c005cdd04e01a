package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/connector/generator"
	"github.com/replicatorhq/replicator/connector/jsonl"
	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// generatorPipeline reads every stream of the generator, configured by
// cfg, into out.jsonl in dir.
func generatorPipeline(t *testing.T, dir, cfg string) Pipeline {
	t.Helper()
	src := generator.New(hclog.NewNullLogger())
	cat, err := src.Discover(context.Background(), contract.DiscoverRequest{Config: json.RawMessage(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	return Pipeline{
		Name:              "p",
		SourceRef:         "source.generator.g",
		Source:            src,
		SourceConfig:      json.RawMessage(cfg),
		Destination:       jsonl.New(hclog.NewNullLogger()),
		DestinationConfig: json.RawMessage(fmt.Sprintf(`{"path":%q}`, filepath.Join(dir, "out.jsonl"))),
		Streams:           cat.Catalog.Streams,
	}
}

// pipeline reads the generator's one stream, items.
func pipeline(t *testing.T, dir string, count, every, delayMS int) Pipeline {
	t.Helper()
	return generatorPipeline(t, dir, fmt.Sprintf(`{"count":%d,"checkpoint_every":%d,"delay_ms":%d}`, count, every, delayMS))
}

// fullRefreshGenerations lists the generations of the output's
// full-refresh-complete lines.
func fullRefreshGenerations(t *testing.T, path string) []uint64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var gens []uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line struct {
			Full *struct{ Generation uint64 } `json:"full_refresh_complete"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line.Full != nil {
			gens = append(gens, line.Full.Generation)
		}
	}
	return gens
}

func TestInterruptedFullRefreshKeepsItsGeneration(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)

	// The first run is stopped once a checkpoint has been persisted.
	ctx, cancel := context.WithCancel(context.Background())
	p := pipeline(t, dir, 1000, 100, 20)
	run, err := Run(ctx, p, store, fence(t, store), Options{
		ProgressEvery: 5 * time.Millisecond,
		OnProgress: func(pr Progress) {
			if pr.Written >= 200 {
				cancel()
			}
		},
	})
	if err != nil {
		t.Fatalf("interrupted run: %v", err)
	}
	if run.Outcome != "interrupted" || run.Written < 200 || run.Written >= 1000 {
		t.Fatalf("first run: outcome %s, written %d", run.Outcome, run.Written)
	}
	st, _ := store.Stream(context.Background(), "p", "items")
	first := st.FullRefresh
	if st.State == nil || first == 0 || first != st.Generation {
		t.Fatalf("after the interrupted full refresh: %+v", st)
	}

	// The second run resumes and completes the same full refresh.
	run, err = Run(context.Background(), pipeline(t, dir, 1000, 100, 0), store, fence(t, store), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if run.Outcome != "succeeded" || len(run.Resumed) != 1 {
		t.Fatalf("second run: %+v", run)
	}
	if gens := fullRefreshGenerations(t, filepath.Join(dir, "out.jsonl")); len(gens) != 1 || gens[0] != first {
		t.Fatalf("full refresh completed with generations %v, want [%d]", gens, first)
	}
	st, _ = store.Stream(context.Background(), "p", "items")
	if st.FullRefresh != 0 || st.Generation != first {
		t.Fatalf("after completion: %+v", st)
	}

	// A later run is incremental with a new generation; -full-refresh
	// starts over with yet another.
	if _, err := Run(context.Background(), pipeline(t, dir, 1000, 100, 0), store, fence(t, store), Options{FullRefresh: true}); err != nil {
		t.Fatal(err)
	}
	if gens := fullRefreshGenerations(t, filepath.Join(dir, "out.jsonl")); len(gens) != 2 || gens[1] <= first {
		t.Fatalf("forced full refresh completed with generations %v, want a second one above %d", gens, first)
	}
	runs, _ := store.Runs(context.Background(), "p", 0)
	if len(runs) != 3 {
		t.Fatalf("run history has %d runs, want 3", len(runs))
	}
}

func TestDestinationFailureFailsTheRunAndKeepsTheLastCheckpoint(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	p := pipeline(t, dir, 1000, 100, 0)
	p.DestinationConfig = json.RawMessage(fmt.Sprintf(`{"path":%q}`, filepath.Join(dir, "no", "such", "folder", "out.jsonl")))
	run, err := Run(context.Background(), p, store, fence(t, store), Options{})
	if err == nil || run.Outcome != "failed" || run.Error == "" {
		t.Fatalf("run into a missing folder: err %v, run %+v", err, run)
	}
	if st, _ := store.Stream(context.Background(), "p", "items"); st.State != nil {
		t.Fatalf("a checkpoint was persisted although nothing was written: %s", st.State)
	}
}

func TestNextGeneration(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, c := range []struct{ last, want uint64 }{
		{0, 1_800_000_000},             // first ever
		{1_800_000_000, 1_800_000_001}, // twice in one second
		{1_900_000_000, 1_900_000_001}, // the clock went back
	} {
		if got := nextGeneration(c.last, now); got != c.want {
			t.Errorf("nextGeneration(%d) = %d, want %d", c.last, got, c.want)
		}
	}
}

func TestFullRefreshWithoutCheckpointStartsANewGeneration(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	// A full refresh that crashed before its first checkpoint: its
	// generation is remembered, but no state was persisted.
	if err := store.SaveStream(context.Background(), fence(t, store), "items", state.StreamState{Generation: 5_000_000_000, FullRefresh: 5_000_000_000}); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), pipeline(t, dir, 100, 50, 0), store, fence(t, store), Options{}); err != nil {
		t.Fatal(err)
	}
	if gens := fullRefreshGenerations(t, filepath.Join(dir, "out.jsonl")); len(gens) != 1 || gens[0] != 5_000_000_001 {
		t.Fatalf("the restarted full refresh completed with generations %v, want [5000000001]", gens)
	}
}

// fence claims the test pipeline "p" for one run; the claim is released
// when the test ends.
func fence(t *testing.T, store state.Store) state.Fence {
	t.Helper()
	h, err := store.Holders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cur, ok := h["p"]; ok {
		return state.Fence{Pipeline: "p", Token: cur.Token}
	}
	c, err := store.Claim(context.Background(), "p", "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Release(context.Background()) })
	return c.Fence
}

// A run whose state file is deleted under it fails: its checkpoints would
// be lost with the file.
func TestStateFileDeletedDuringRunFailsTheRun(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db") // where openStore keeps it
	store := openStore(t, dir)
	deleted := false
	run, err := Run(context.Background(), pipeline(t, dir, 1000, 100, 5), store, fence(t, store), Options{
		ProgressEvery: time.Millisecond,
		OnProgress: func(pr Progress) {
			if pr.Written > 0 && !deleted {
				deleted = true
				if err := os.Remove(path); err != nil {
					t.Error(err)
				}
			}
		},
	})
	if !deleted {
		t.Fatal("the run ended before the file could be deleted")
	}
	if err == nil || !strings.Contains(err.Error(), "was deleted while in use") || run.Outcome != state.OutcomeFailed {
		t.Fatalf("run after its state file was deleted: %v, %+v", err, run)
	}
}

// A pipeline with FullRefreshEvery reads incrementally until its last full
// refresh is that old, then reads everything again with a new generation;
// one interrupted midway resumes with its generation although it is still
// due.
func TestPeriodicFullRefresh(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	ctx := context.Background()
	out := filepath.Join(dir, "out.jsonl")
	periodic := func(delayMS int) Pipeline {
		p := pipeline(t, dir, 1000, 100, delayMS)
		p.FullRefreshEvery = 24 * time.Hour
		return p
	}
	age := func(d time.Duration) {
		t.Helper()
		st, err := store.Stream(ctx, "p", "items")
		if err != nil {
			t.Fatal(err)
		}
		st.FullRefreshed = st.FullRefreshed.Add(-d)
		if err := store.SaveStream(ctx, fence(t, store), "items", st); err != nil {
			t.Fatal(err)
		}
	}

	// The first run is a full refresh, and its completion is recorded.
	run, err := Run(ctx, periodic(0), store, fence(t, store), Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := store.Stream(ctx, "p", "items")
	if st.FullRefreshed.Before(run.Started) || st.FullRefresh != 0 {
		t.Fatalf("after the first full refresh, started %s: %+v", run.Started, st)
	}

	// Within the period, runs are incremental.
	age(23 * time.Hour)
	run, err = Run(ctx, periodic(0), store, fence(t, store), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Resumed) != 1 || len(fullRefreshGenerations(t, out)) != 1 {
		t.Fatalf("a run 23h after the full refresh: resumed %v, full refreshes %v", run.Resumed, fullRefreshGenerations(t, out))
	}

	// Past it, the stream is read from scratch with a new generation.
	age(2 * time.Hour)
	run, err = Run(ctx, periodic(0), store, fence(t, store), Options{})
	if err != nil {
		t.Fatal(err)
	}
	gens := fullRefreshGenerations(t, out)
	if len(run.Resumed) != 0 || len(gens) != 2 || gens[1] <= gens[0] {
		t.Fatalf("a run 25h after the full refresh: resumed %v, full refreshes %v", run.Resumed, gens)
	}
	if st, _ = store.Stream(ctx, "p", "items"); st.FullRefreshed.Before(run.Started) {
		t.Fatalf("the periodic full refresh's completion was not recorded: %+v", st)
	}

	// A periodic full refresh stopped after a checkpoint keeps its
	// generation and resumes, though its predecessor is still too old.
	age(25 * time.Hour)
	stop, cancel := context.WithCancel(ctx)
	run, err = Run(stop, periodic(20), store, fence(t, store), Options{
		ProgressEvery: 5 * time.Millisecond,
		OnProgress: func(pr Progress) {
			if pr.Written >= 200 {
				cancel()
			}
		},
	})
	cancel()
	if err != nil || run.Outcome != state.OutcomeInterrupted {
		t.Fatalf("interrupted periodic full refresh: %v, %+v", err, run)
	}
	st, _ = store.Stream(ctx, "p", "items")
	interrupted := st.FullRefresh
	if st.State == nil || interrupted == 0 || interrupted <= gens[1] {
		t.Fatalf("after the interrupted periodic full refresh: %+v", st)
	}
	run, err = Run(ctx, periodic(0), store, fence(t, store), Options{})
	if err != nil {
		t.Fatal(err)
	}
	gens = fullRefreshGenerations(t, out)
	if len(run.Resumed) != 1 || len(gens) != 3 || gens[2] != interrupted {
		t.Fatalf("the run after the interrupted one: resumed %v, full refreshes %v, want the third with generation %d", run.Resumed, gens, interrupted)
	}
}

// readCounting is a store that counts the reads of stream state.
type readCounting struct {
	state.Store
	reads atomic.Int64
}

func (s *readCounting) Stream(ctx context.Context, pipeline, stream string) (state.StreamState, error) {
	s.reads.Add(1)
	return s.Store.Stream(ctx, pipeline, stream)
}

// A run reads each stream's state once, at its start, also when it resets
// it: after that the state is what the run itself stored, and on a shared
// database every read is a round trip. What it stores is the same.
func TestRunReadsEachStreamsStateOnce(t *testing.T) {
	dir := t.TempDir()
	store := &readCounting{Store: openStore(t, dir)}
	ctx := context.Background()
	p := generatorPipeline(t, dir, `{"count":500,"checkpoint_every":100,"streams":["contacts","accounts"]}`)
	before := map[string]state.StreamState{}
	for _, c := range []struct {
		name        string
		fullRefresh bool
	}{{"first", false}, {"incremental", false}, {"forced full refresh", true}} {
		store.reads.Store(0)
		run, err := Run(ctx, p, store, fence(t, store), Options{FullRefresh: c.fullRefresh})
		if err != nil || run.Outcome != state.OutcomeSucceeded {
			t.Fatalf("%s run: %+v, %v", c.name, run, err)
		}
		if n := store.reads.Load(); n != 2 {
			t.Errorf("%s run read stream state %d times, want 2 (once per stream)", c.name, n)
		}
		for _, stream := range []string{"contacts", "accounts"} {
			st, err := store.Store.Stream(ctx, "p", stream)
			if err != nil {
				t.Fatal(err)
			}
			was := before[stream]
			refreshed := c.name != "incremental"
			if string(st.State) != `{"next":500}` || st.FullRefresh != 0 || st.Generation <= was.Generation ||
				refreshed == st.FullRefreshed.Equal(was.FullRefreshed) || st.FullRefreshed.Before(was.FullRefreshed) {
				t.Errorf("after the %s run, stream %s is %+v (state %s); before it %+v", c.name, stream, st, st.State, was)
			}
			before[stream] = st
		}
	}
}

// TestRunKeepsPluginLines: the lines the pipeline's plugins logged are
// stored with the run's end.
func TestRunKeepsPluginLines(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	p := pipeline(t, dir, 10, 5, 0)
	lines := []state.PluginLog{{Plugin: "source", Lines: []string{"[WARN] slow answer"}}}
	p.Logs = func() []state.PluginLog { return lines }
	run, err := Run(context.Background(), p, store, fence(t, store), Options{})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := store.Runs(context.Background(), "p", 1)
	if err != nil || len(stored) != 1 || stored[0].ID != run.ID || len(stored[0].Logs) != 1 || stored[0].Logs[0].Lines[0] != "[WARN] slow answer" {
		t.Errorf("stored run %+v (%v), want its plugin lines", stored, err)
	}
}
