package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/connector/generator"
	"github.com/replicatorhq/replicator/connector/jsonl"
	"github.com/replicatorhq/replicator/host/runner"
	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/plugin/contract"
)

const (
	recordSize      = 300
	checkpointEvery = 10000
)

// benchPlugins moves records generator -> host -> jsonl through real plugin
// processes, then the same work in one process through the same runner.
func benchPlugins(ctx context.Context, b *bench) error {
	const n = 1_000_000
	small, err := b.pluginSync(ctx, 100_000)
	if err != nil {
		return err
	}
	big, err := b.pluginSync(ctx, n)
	if err != nil {
		return err
	}
	inproc, err := inProcessSync(ctx, n)
	if err != nil {
		return err
	}
	pluginRPS := float64(n) / big.elapsed.Seconds()
	inprocRPS := float64(n) / inproc.Seconds()
	figure("plugin_rps", pluginRPS, "records/s")
	figure("inprocess_rps", inprocRPS, "records/s")
	figure("plugin_ratio", pluginRPS/inprocRPS, "ratio")
	figure("host_peak_rss_mb", big.peakRSSMB, "MB")
	figure("host_peak_rss_mb_100k", small.peakRSSMB, "MB")
	return nil
}

type syncResult struct {
	elapsed   time.Duration
	peakRSSMB float64
}

// pluginSync runs `replicator sync` on a generator -> jsonl pipeline and
// samples the host's peak resident memory (VmHWM) while it runs.
func (b *bench) pluginSync(ctx context.Context, n int) (syncResult, error) {
	dir, err := os.MkdirTemp("", "replicator-bench")
	if err != nil {
		return syncResult{}, err
	}
	defer os.RemoveAll(dir)
	hcl := fmt.Sprintf(`
source "generator" "gen" {
  count            = %d
  record_size      = %d
  checkpoint_every = %d
}
destination "jsonl" "out" {
  path = "out.jsonl"
}
pipeline "bench" {
  source      = source.generator.gen
  destination = destination.jsonl.out
  streams     = ["items"]
}
`, n, recordSize, checkpointEvery)
	if err := os.WriteFile(filepath.Join(dir, "replicator.hcl"), []byte(hcl), 0o644); err != nil {
		return syncResult{}, err
	}
	replicator := filepath.Join(b.bin, "replicator")
	if out, err := b.command(ctx, dir, replicator, "init").CombinedOutput(); err != nil {
		return syncResult{}, fmt.Errorf("init: %w\n%s", err, out)
	}
	cmd := b.command(ctx, dir, replicator, "sync", "-log-level", "warn", "bench")
	elapsed, peakMB, err := runSampling(cmd, func(host int) []int { return []int{host} })
	if err != nil {
		return syncResult{}, fmt.Errorf("sync: %w", err)
	}
	// One line per record and one for the full-refresh-complete.
	if lines, err := countLines(filepath.Join(dir, "out.jsonl")); err != nil || lines != n+1 {
		return syncResult{}, fmt.Errorf("sync wrote %d lines, want %d (%w)", lines, n+1, err)
	}
	return syncResult{elapsed: elapsed, peakRSSMB: peakMB}, nil
}

func (b *bench) command(ctx context.Context, dir, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "REPLICATOR_PLUGIN_PATH="+b.bin)
	return cmd
}

// vmHWM reads a process's peak resident set size in KiB.
func vmHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM for pid %d", pid)
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	n := 0
	for {
		chunk, err := r.ReadSlice('\n')
		if len(chunk) > 0 && chunk[len(chunk)-1] == '\n' {
			n++
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return n, nil
		}
	}
}

// inProcessSync does the same work as pluginSync with the connectors
// linked in: same runner, same state store, no gRPC and no processes.
func inProcessSync(ctx context.Context, n int) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "replicator-bench")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	store, err := state.OpenFile(filepath.Join(dir, "replicator.db"), state.FileOptions{})
	if err != nil {
		return 0, err
	}
	defer store.Close()
	src, dst := generator.New(hclog.NewNullLogger()), jsonl.New(hclog.NewNullLogger())
	cat, err := src.Discover(ctx, contract.DiscoverRequest{})
	if err != nil {
		return 0, err
	}
	stream, _ := cat.Catalog.Stream("items")
	p := runner.Pipeline{
		Name:              "bench",
		SourceRef:         "source.generator.gen",
		Source:            src,
		SourceConfig:      []byte(fmt.Sprintf(`{"count":%d,"record_size":%d,"checkpoint_every":%d,"streams":["items"]}`, n, recordSize, checkpointEvery)),
		Destination:       dst,
		DestinationConfig: []byte(fmt.Sprintf(`{"path":%q,"fsync":true}`, filepath.Join(dir, "out.jsonl"))),
		Streams:           []contract.Stream{stream},
	}
	claim, err := store.Claim(ctx, p.Name, "bench")
	if err != nil {
		return 0, err
	}
	defer claim.Release(ctx)
	start := time.Now()
	run, err := runner.Run(ctx, p, store, claim.Fence, runner.Options{})
	elapsed := time.Since(start)
	if err != nil {
		return 0, err
	}
	if run.Written != int64(n) {
		return 0, fmt.Errorf("in-process run wrote %d records, want %d", run.Written, n)
	}
	return elapsed, nil
}
