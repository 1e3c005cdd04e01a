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
	"syscall"
	"time"
)

const (
	fleetPipelines = 1000
	fleetRecords   = 100
)

// benchFleet measures one host holding many tenants, and the fixed cost
// of a run.
//
// fleet_wave_seconds is the time from the start of `replicator run` on a
// folder of 1,000 pipeline files (generator -> jsonl, 100 records each,
// interval 1h, default host settings) until every pipeline has finished
// its first run. The first runs are spread over a minute by design
// (100 ms per pipeline, at most a minute), so the figure is at least
// about 60 s; beyond that it measures how fast max_concurrent_runs slots
// work through the queue. fleet_peak_processes is the most plugin
// processes alive at once during the wave, fleet_host_peak_rss_mb the
// host's VmHWM at its end. run_overhead_ms is the median wall time of
// `replicator sync` of a 1-record pipeline, process start to exit.
func benchFleet(ctx context.Context, b *bench) error {
	overhead, err := b.runOverhead(ctx)
	if err != nil {
		return err
	}
	wave, err := b.fleetWave(ctx)
	if err != nil {
		return err
	}
	figure("fleet_wave_seconds", wave.elapsed.Seconds(), "s")
	figure("fleet_peak_processes", float64(wave.peakProcesses), "processes")
	figure("fleet_host_peak_rss_mb", wave.peakRSSMB, "MB")
	figure("run_overhead_ms", float64(overhead.Microseconds())/1000, "ms")
	return nil
}

// tenantFolder makes a temporary configuration folder of n pipeline
// files named tenant-0000 and on, each of records records on an hourly
// interval, with an out folder for their output. The caller removes it.
func tenantFolder(n, records int) (string, error) { return tenantFiles(n, records, 0, "") }

// tenantFiles is tenantFolder of which one pipeline in every failEvery
// (none when 0) has a source that crashes after 3 records, and whose
// generator blocks also hold source, such as a delay.
func tenantFiles(n, records, failEvery int, source string) (string, error) {
	dir, err := os.MkdirTemp("", "replicator-bench")
	if err != nil {
		return "", err
	}
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	for i := range n {
		name := fmt.Sprintf("tenant-%04d", i)
		hcl := tenantHCL(name, records, "1h", source)
		if failEvery > 0 && i%failEvery == 0 {
			hcl = strings.Replace(hcl, "  count = ", "  fail_after = 3\n  count = ", 1)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".hcl"), []byte(hcl), 0o644); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
	}
	return dir, nil
}

func tenantHCL(name string, records int, interval, source string) string {
	s := fmt.Sprintf(`
source "generator" %[1]q {
  count = %[2]d
  %[3]s
}
destination "jsonl" %[1]q {
  path = "out/%[1]s.jsonl"
}
pipeline %[1]q {
  source      = source.generator.%[1]s
  destination = destination.jsonl.%[1]s
  streams     = ["items"]
`, name, records, source)
	if interval != "" {
		s += fmt.Sprintf("  interval    = %q\n", interval)
	}
	return s + "}\n"
}

// runOverhead is the median wall time of `replicator sync` of a 1-record
// pipeline.
func (b *bench) runOverhead(ctx context.Context) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "replicator-bench")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, "replicator.hcl"), []byte(tenantHCL("one", 1, "", "")), 0o644); err != nil {
		return 0, err
	}
	replicator := filepath.Join(b.bin, "replicator")
	if out, err := b.command(ctx, dir, replicator, "init").CombinedOutput(); err != nil {
		return 0, fmt.Errorf("init: %w\n%s", err, out)
	}
	const runs = 21
	var took []time.Duration
	for i := range runs + 1 {
		cmd := b.command(ctx, dir, replicator, "sync", "-log-level", "warn", "one")
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("sync: %w\n%s", err, out)
		}
		if i > 0 { // the first warms the page cache
			took = append(took, time.Since(start))
		}
	}
	slices.Sort(took)
	return took[len(took)/2], nil
}

type waveResult struct {
	elapsed       time.Duration
	peakProcesses int
	peakRSSMB     float64
}

// fleetWave runs `replicator run` on fleetPipelines pipeline files until
// each has run once.
func (b *bench) fleetWave(ctx context.Context) (waveResult, error) {
	var res waveResult
	dir, err := tenantFolder(fleetPipelines, fleetRecords)
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	replicator := filepath.Join(b.bin, "replicator")
	if out, err := b.command(ctx, dir, replicator, "init", "-config", ".").CombinedOutput(); err != nil {
		return res, fmt.Errorf("init: %w\n%s", err, out)
	}

	cmd := b.command(ctx, dir, replicator, "run", "-config", ".")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return res, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	finished := make(chan error, 1)
	go func() { finished <- countRuns(stderr, fleetPipelines, false) }()

	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case err := <-finished:
			if err != nil {
				return res, err
			}
			res.elapsed = time.Since(start)
			done = true
		case <-tick.C:
			res.peakProcesses = max(res.peakProcesses, len(children(cmd.Process.Pid, "replicator-")))
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	kb, err := vmHWM(cmd.Process.Pid)
	if err != nil {
		return res, err
	}
	res.peakRSSMB = float64(kb) / 1024
	for i := range fleetPipelines {
		path := filepath.Join(dir, "out", fmt.Sprintf("tenant-%04d.jsonl", i))
		// One line per record and one for the full-refresh-complete.
		lines, err := countLines(path)
		if err != nil {
			return res, fmt.Errorf("counting the lines of %s: %w", path, err)
		}
		if lines != fleetRecords+1 {
			return res, fmt.Errorf("%s has %d lines, want %d", path, lines, fleetRecords+1)
		}
	}
	return res, nil
}

// countRuns reads the host's log until each of n pipelines has finished
// a run, and fails on the first failed run unless failed runs count too.
func countRuns(log io.Reader, n int, failedCount bool) error {
	sc := bufio.NewScanner(log)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	seen := map[string]bool{}
	for sc.Scan() {
		line := sc.Text()
		_, rest, ok := strings.Cut(line, "run finished: pipeline=")
		if !ok && failedCount {
			_, rest, ok = strings.Cut(line, "run failed: pipeline=")
		}
		if !ok {
			if strings.Contains(line, "[ERROR]") && !failedCount {
				return fmt.Errorf("a run failed: %s", line)
			}
			continue
		}
		name, _, _ := strings.Cut(rest, " ")
		seen[name] = true
		if len(seen) == n {
			// Keep draining so that the host never blocks on its log.
			go func() { _, _ = io.Copy(io.Discard, log) }()
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("the host exited before every pipeline ran")
}
