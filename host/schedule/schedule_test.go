package schedule

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestRunsRepeatWithoutOverlap(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var running, overlaps, runs atomic.Int32
	slow := Job{Name: "slow", Interval: time.Millisecond, Run: func(ctx context.Context) error {
		if running.Add(1) > 1 {
			overlaps.Add(1)
		}
		defer running.Add(-1)
		if runs.Add(1) == 5 {
			cancel()
		}
		time.Sleep(5 * time.Millisecond) // longer than the interval
		return nil
	}}
	done := make(chan struct{})
	go func() { Run(ctx, []Job{slow}, hclog.NewNullLogger()); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("scheduler did not stop after cancel")
	}
	if overlaps.Load() != 0 {
		t.Fatalf("%d runs overlapped", overlaps.Load())
	}
	if runs.Load() != 5 {
		t.Fatalf("ran %d times, want 5 (stopped by cancel)", runs.Load())
	}
}

func TestCancelWaitsForRunUnderway(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	finished := false
	started := make(chan struct{})
	job := Job{Name: "j", Interval: time.Hour, Run: func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond) // finishing the current batch
		mu.Lock()
		finished = true
		mu.Unlock()
		return nil
	}}
	done := make(chan struct{})
	go func() { Run(ctx, []Job{job}, hclog.NewNullLogger()); close(done) }()
	<-started
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if !finished {
		t.Fatal("Run returned before the run underway finished")
	}
}
