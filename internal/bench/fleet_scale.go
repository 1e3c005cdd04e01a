package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/replicatorhq/replicator/host/state/postgres/pgtest"
)

// benchFleetScale measures what sharing one database buys.
//
// fleet_scale_3_hosts is the wave time of one host divided by that of
// three hosts, each wave being the fleet_wave_seconds one (1,000 pipeline
// files of 100 records, interval 1h, default host settings) with the state
// in a PostgreSQL database of its own, from the start of the first host
// until every pipeline has finished its first run on one of them. All the
// hosts run on this machine and share its cores with the database, so the
// figure says what the coordination costs rather than what more machines
// would bring; each host's first runs spread over the same minute, which
// bounds both waves from below. The waves' times are printed too.
func benchFleetScale(ctx context.Context, b *bench) error {
	server, err := pgtest.Start()
	if err != nil {
		return err
	}
	defer server.Remove()
	one, err := b.fleetWaveHosts(ctx, server, 1)
	if err != nil {
		return fmt.Errorf("one host: %w", err)
	}
	three, err := b.fleetWaveHosts(ctx, server, 3)
	if err != nil {
		return fmt.Errorf("three hosts: %w", err)
	}
	figure("fleet_scale_wave_1_host_seconds", one.Seconds(), "s")
	figure("fleet_scale_wave_3_hosts_seconds", three.Seconds(), "s")
	figure("fleet_scale_3_hosts", one.Seconds()/three.Seconds(), "x")
	return nil
}

const benchKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// fleetWaveHosts runs hosts `replicator run` processes on one new
// database and fleetPipelines pipeline files until each pipeline has run
// once, and returns how long that took.
func (b *bench) fleetWaveHosts(ctx context.Context, server *pgtest.Server, hosts int) (time.Duration, error) {
	url, err := server.NewDatabase(ctx)
	if err != nil {
		return 0, err
	}
	dir, err := tenantFolder(fleetPipelines, fleetRecords)
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	st := fmt.Sprintf("state {\n  postgres       = env(\"BENCH_DATABASE_URL\")\n  encryption_key = %q\n}\n", benchKey)
	if err := os.WriteFile(filepath.Join(dir, "state.hcl"), []byte(st), 0o644); err != nil {
		return 0, err
	}
	replicator := filepath.Join(b.bin, "replicator")
	command := func(args ...string) *exec.Cmd {
		cmd := b.command(ctx, dir, replicator, args...)
		cmd.Env = append(cmd.Env, "BENCH_DATABASE_URL="+url)
		return cmd
	}
	if out, err := command("init", "-config", ".").CombinedOutput(); err != nil {
		return 0, fmt.Errorf("init: %w\n%s", err, out)
	}

	finished := make(chan string, 64)
	failed := make(chan error, hosts)
	done := make(chan struct{}) // the hosts' logs are drained from then on
	var cmds []*exec.Cmd
	defer func() {
		close(done)
		for _, cmd := range cmds {
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
		for _, cmd := range cmds {
			_ = cmd.Wait()
		}
	}()
	start := time.Now()
	for range hosts {
		cmd := command("run", "-config", ".")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			return 0, err
		}
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		cmds = append(cmds, cmd)
		go func() { failed <- finishedRuns(stderr, finished, done) }()
	}
	seen := map[string]bool{}
	for len(seen) < fleetPipelines {
		select {
		case name := <-finished:
			seen[name] = true
		case err := <-failed:
			return 0, err
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	took := time.Since(start)
	for i := range fleetPipelines {
		path := filepath.Join(dir, "out", fmt.Sprintf("tenant-%04d.jsonl", i))
		lines, err := countLines(path)
		if err != nil {
			return 0, fmt.Errorf("counting the lines of %s: %w", path, err)
		}
		if lines != fleetRecords+1 {
			return 0, fmt.Errorf("%s has %d lines, want %d", path, lines, fleetRecords+1)
		}
	}
	return took, nil
}

// finishedRuns sends the pipeline of each run a host's log says finished,
// and fails on the first error the host logs; once done is closed it
// reads on without sending, so that the host never blocks on its log.
func finishedRuns(log io.Reader, finished chan<- string, done <-chan struct{}) error {
	sc := bufio.NewScanner(log)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "[ERROR]") {
			go func() { _, _ = io.Copy(io.Discard, log) }()
			return fmt.Errorf("a run failed: %s", line)
		}
		if _, rest, ok := strings.Cut(line, "run finished: pipeline="); ok {
			name, _, _ := strings.Cut(rest, " ")
			select {
			case finished <- name:
			case <-done:
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("a host exited before every pipeline ran")
}
