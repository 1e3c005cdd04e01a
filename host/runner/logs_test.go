package runner

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/internal/logbuf"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// A run begun before it starts goes on under the ID Begin recorded: the
// history holds one run, and every line the run logs names the pipeline
// and that ID.
func TestEveryLineOfABegunRunNamesIt(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	f := fence(t, store)
	for want := uint64(1); want <= 2; want++ {
		begun, err := Begin(context.Background(), store, f)
		if err != nil {
			t.Fatal(err)
		}
		if begun.ID != want || begun.Outcome != state.OutcomeRunning {
			t.Fatalf("begun: %+v, want ID %d running", begun, want)
		}
		var out strings.Builder
		log := hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Info, JSONFormat: true})
		rec, err := Run(context.Background(), pipeline(t, dir, 10, 5, 0), store, f, Options{Log: log, Begun: begun})
		if err != nil {
			t.Fatal(err)
		}
		if rec.ID != want || rec.Outcome != state.OutcomeSucceeded || !rec.Started.Equal(begun.Started) {
			t.Fatalf("run: %+v, want ID %d succeeded, started as begun", rec, want)
		}
		runs, err := store.Runs(context.Background(), "p", 0)
		if err != nil || len(runs) != int(want) {
			t.Fatalf("history after run %d: %d runs, %v", want, len(runs), err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		for _, l := range lines {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, l)
			}
			if m["pipeline"] != "p" || m["run"] != float64(want) {
				t.Errorf("a line of run %d does not name it: %s", want, l)
			}
		}
		if len(lines) == 0 {
			t.Fatal("the run logged nothing")
		}
	}
}

// A store that stops taking the run's progress gets one warning, not one
// every SaveEvery.
func TestFailingProgressSavesWarnOnce(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	closed := make(chan struct{})
	// The source reads on for three SaveEvery after the store closed, a
	// batch of records at least every SaveEvery, so that at least two
	// saves fail, then ends.
	src := &faultySource{read: func(ctx context.Context, _ contract.ReadRequest, out contract.Output) error {
		deadline := time.Time{}
		for i := 0; ; i++ {
			select {
			case <-closed:
				if deadline.IsZero() {
					deadline = time.Now().Add(3 * SaveEvery)
				}
			default:
			}
			if !deadline.IsZero() && time.Now().After(deadline) {
				return nil
			}
			if err := out.Emit(ctx, record(i)); err != nil {
				return err
			}
			time.Sleep(100 * time.Microsecond)
		}
	}}
	var out logbuf.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Info})
	_, err := Run(context.Background(), faultPipeline(t, dir, src, nil), store, fence(t, store), Options{
		Log:           log,
		ProgressEvery: 10 * time.Millisecond,
		OnProgress: func(p Progress) {
			if p.Read > 0 && !isClosed(closed) {
				_ = store.Close()
				close(closed)
			}
		},
	})
	if err == nil {
		t.Fatal("the run's end was stored in a closed store")
	}
	if n := strings.Count(out.String(), "could not store the run's progress"); n != 1 {
		t.Fatalf("%d warnings of failed progress saves, want 1:\n%s", n, out.String())
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
