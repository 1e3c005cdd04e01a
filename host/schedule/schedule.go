// Package schedule runs jobs on their intervals. Each job runs in its own
// goroutine, one run after another, so two runs of one job never overlap.
package schedule

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Job is something to run every Interval.
type Job struct {
	Name     string
	Interval time.Duration
	// Run does one run; a cancelled ctx asks it to stop gracefully.
	Run func(ctx context.Context) error
}

// Run runs every job at once and then every Interval after each run began,
// until ctx is cancelled; it returns when the runs underway have stopped.
// A run that takes longer than its interval is followed at once by the next.
func Run(ctx context.Context, jobs []Job, log hclog.Logger) {
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(ctx, j, log.Named(j.Name))
		}()
	}
	wg.Wait()
}

func loop(ctx context.Context, j Job, log hclog.Logger) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		began := time.Now()
		if err := j.Run(ctx); err != nil {
			log.Error("run failed", "error", err)
		}
		if ctx.Err() != nil {
			return
		}
		wait := j.Interval - time.Since(began)
		if wait <= 0 {
			log.Warn("run took longer than its interval; starting the next one now", "interval", j.Interval, "took", time.Since(began).Round(time.Millisecond))
			wait = 0
		} else {
			log.Info("next run scheduled", "at", time.Now().Add(wait).Format(time.RFC3339))
		}
		timer.Reset(wait)
	}
}
