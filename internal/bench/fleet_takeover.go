package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/replicatorhq/replicator/host/schedule"
	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/host/state/postgres"
	"github.com/replicatorhq/replicator/host/state/postgres/pgtest"
)

// The takeover bench: three hosts of two run slots each, on pipelines
// that take about a second each (a pause of 100 ms after each checkpoint
// of 10 records), more than the hosts can start as they come due.
const (
	takeoverPipelines = 240
	takeoverAfter     = 8 * time.Second
	// takeoverBacklog is how many pipelines due and not yet run the
	// hosts must have before one is killed.
	takeoverBacklog = 20
)

// benchFleetTakeover measures how soon the pipelines of a host that dies
// run elsewhere while the others have a queue.
//
// takeover_backlog_s: three hosts with max_concurrent_runs = 2 on one
// database and 240 pipeline files of 100 records that take about a second
// each, interval 1h, takeover_after = "8s". Once one host is amid its
// runs while at least 20 pipelines due wait for their first run, it is
// SIGKILLed; the figure is the seconds from then until the last of the
// pipelines it held is claimed by another host, as the database dates the
// claim. The target is takeover_after and a quarter: 10 s.
func benchFleetTakeover(ctx context.Context, b *bench) error {
	server, err := pgtest.Start()
	if err != nil {
		return err
	}
	defer server.Remove()
	url, err := server.NewDatabase(ctx)
	if err != nil {
		return err
	}
	dir, err := tenantFiles(takeoverPipelines, fleetRecords, 0, "checkpoint_every = 10\n  delay_ms = 100")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "host.hcl"), []byte("host {\n  max_concurrent_runs = 2\n}\n"), 0o644); err != nil {
		return err
	}
	f, err := startFleet(ctx, b, dir, url, fmt.Sprintf("takeover_after = %q", takeoverAfter))
	if err != nil {
		return err
	}
	defer f.stop()
	// Without keys: the bench reads claims and runs, never credentials.
	db, err := postgres.Open(ctx, postgres.Options{URL: url, TakeoverAfter: takeoverAfter})
	if err != nil {
		return err
	}
	defer db.Close()

	failed := make(chan error, 3)
	start := time.Now()
	for range 3 {
		if err := f.start(func(log io.Reader) error { return failedRuns(log, f.done) }, failed); err != nil {
			return err
		}
	}
	due := map[string]time.Time{}
	for i := range takeoverPipelines {
		name := fmt.Sprintf("tenant-%04d", i)
		due[name] = start.Add(schedule.FirstRunOffset(name, time.Hour, schedule.FirstRunSpread(takeoverPipelines)))
	}
	victim := f.cmds[0]
	var held []state.Fence
	err = poll(ctx, 3*time.Minute, 50*time.Millisecond, failed, func() (bool, error) {
		ran, err := db.Pipelines(ctx)
		if err != nil {
			return false, err
		}
		waiting := 0
		for name, at := range due {
			if _, found := slices.BinarySearch(ran, name); !found && at.Before(time.Now()) {
				waiting++
			}
		}
		if waiting < takeoverBacklog {
			return false, nil
		}
		held, err = runningOn(ctx, db, victim.Process.Pid)
		return len(held) > 0, err
	})
	if err != nil {
		return fmt.Errorf("waiting for a host amid its runs with a backlog: %w", err)
	}
	if err := victim.Process.Kill(); err != nil {
		return err
	}
	killed := time.Now()
	_ = victim.Wait()

	var last time.Time
	moved := map[string]bool{}
	err = poll(ctx, 2*time.Minute, 20*time.Millisecond, failed, func() (bool, error) {
		holders, err := db.Holders(ctx)
		if err != nil {
			return false, err
		}
		for _, h := range held {
			if moved[h.Pipeline] {
				continue
			}
			at := time.Time{}
			if holder, ok := holders[h.Pipeline]; ok && holder.Token > h.Token {
				at = holder.Since
			} else if runs, err := db.Runs(ctx, h.Pipeline, 1); err != nil {
				return false, err
			} else if len(runs) == 1 && runs[0].Fence > h.Token {
				at = runs[0].Started // claimed, run and released between two looks
			}
			if !at.IsZero() {
				moved[h.Pipeline] = true
				if at.After(last) {
					last = at
				}
			}
		}
		return len(moved) == len(held), nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the killed host's pipelines to run elsewhere: %w", err)
	}
	figure("takeover_backlog_s", last.Sub(killed).Seconds(), "s")
	return nil
}

// runningOn returns the claims of the host process pid whose runs are
// underway.
func runningOn(ctx context.Context, db *postgres.Store, pid int) ([]state.Fence, error) {
	holders, err := db.Holders(ctx)
	if err != nil {
		return nil, err
	}
	var held []state.Fence
	for name, h := range holders {
		if !strings.HasSuffix(h.Host, fmt.Sprintf(":%d", pid)) {
			continue
		}
		runs, err := db.Runs(ctx, name, 1)
		if err != nil {
			return nil, err
		}
		if len(runs) == 1 && runs[0].Fence == h.Token && runs[0].Outcome == state.OutcomeRunning {
			held = append(held, state.Fence{Pipeline: name, Token: h.Token})
		}
	}
	return held, nil
}

// poll calls ok every while until it says yes, fails, or limit passes;
// a host's failure ends it too.
func poll(ctx context.Context, limit, every time.Duration, failed <-chan error, ok func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		done, err := ok()
		if done || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", limit)
		}
		select {
		case err := <-failed:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// failedRuns reads a host's log until it ends, and fails on the first
// error the host logs before done is closed.
func failedRuns(log io.Reader, done <-chan struct{}) error {
	sc := bufio.NewScanner(log)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		select {
		case <-done:
			continue
		default:
		}
		if line := sc.Text(); strings.Contains(line, "[ERROR]") {
			go func() { _, _ = io.Copy(io.Discard, log) }()
			return errors.New(line)
		}
	}
	return nil
}
