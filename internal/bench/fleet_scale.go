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
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

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
//
// claim_connections_per_wave is how many connections the three hosts
// opened to the database for that wave, from their start until they
// stopped after it (pg_stat_database's sessions): each holds a pool and
// its claim sessions, opened once, so the target is at most three times
// a host's pool size.
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
	figure("fleet_scale_wave_1_host_seconds", one.took.Seconds(), "s")
	figure("fleet_scale_wave_3_hosts_seconds", three.took.Seconds(), "s")
	figure("fleet_scale_3_hosts", one.took.Seconds()/three.took.Seconds(), "x")
	figure("claim_connections_per_wave", float64(three.sessions), "connections")
	return nil
}

// hostWave is how a wave on several hosts went.
type hostWave struct {
	took     time.Duration
	sessions int64 // connections the hosts opened to the database
}

// sessions returns how many sessions were ever opened to the database at
// url, the one that asks included.
func sessions(ctx context.Context, url string) (int64, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int64
	err = conn.QueryRow(ctx, `SELECT sessions FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
	return n, err
}

const benchKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// fleetWaveHosts runs hosts `replicator run` processes on one new
// database and fleetPipelines pipeline files until each pipeline has run
// once, and returns how long that took and the connections they opened.
func (b *bench) fleetWaveHosts(ctx context.Context, server *pgtest.Server, hosts int) (hostWave, error) {
	var res hostWave
	url, err := server.NewDatabase(ctx)
	if err != nil {
		return res, err
	}
	dir, err := tenantFolder(fleetPipelines, fleetRecords)
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	f, err := startFleet(ctx, b, dir, url, "")
	if err != nil {
		return res, err
	}
	defer f.stop()
	before, err := sessions(ctx, url)
	if err != nil {
		return res, err
	}
	finished := make(chan string, 64)
	failed := make(chan error, hosts)
	start := time.Now()
	for range hosts {
		if err := f.start(func(log io.Reader) error { return finishedRuns(log, finished, f.done) }, failed); err != nil {
			return res, err
		}
	}
	seen := map[string]bool{}
	for len(seen) < fleetPipelines {
		select {
		case name := <-finished:
			seen[name] = true
		case err := <-failed:
			return res, err
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	res.took = time.Since(start)
	// Stopped, the hosts have ended their sessions, and PostgreSQL has
	// counted them all.
	f.stop()
	after, err := sessions(ctx, url)
	if err != nil {
		return res, err
	}
	res.sessions = after - before - 1 // the session that asked after
	for i := range fleetPipelines {
		path := filepath.Join(dir, "out", fmt.Sprintf("tenant-%04d.jsonl", i))
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

// hostFleet is `replicator run` hosts on one configuration folder and
// database.
type hostFleet struct {
	ctx  context.Context
	b    *bench
	dir  string
	url  string
	cmds []*exec.Cmd
	done chan struct{} // closed when the hosts stop: their logs are drained from then on
	once sync.Once
}

// startFleet writes the state block of dir, with extra in it, for the
// database at url, and locks its plugins. Start adds hosts.
func startFleet(ctx context.Context, b *bench, dir, url, extra string) (*hostFleet, error) {
	st := fmt.Sprintf("state {\n  postgres       = env(\"BENCH_DATABASE_URL\")\n  encryption_key = %q\n  %s\n}\n", benchKey, extra)
	if err := os.WriteFile(filepath.Join(dir, "state.hcl"), []byte(st), 0o644); err != nil {
		return nil, err
	}
	f := &hostFleet{ctx: ctx, b: b, dir: dir, url: url, done: make(chan struct{})}
	if out, err := f.command("init", "-config", ".").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("init: %w\n%s", err, out)
	}
	return f, nil
}

func (f *hostFleet) command(args ...string) *exec.Cmd {
	cmd := f.b.command(f.ctx, f.dir, filepath.Join(f.b.bin, "replicator"), args...)
	cmd.Env = append(cmd.Env, "BENCH_DATABASE_URL="+f.url)
	return cmd
}

// start starts a host whose log read reads; what read returns goes to
// failed.
func (f *hostFleet) start(read func(io.Reader) error, failed chan<- error) error {
	cmd := f.command("run", "-config", ".")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	f.cmds = append(f.cmds, cmd)
	go func() { failed <- read(stderr) }()
	return nil
}

// stop stops the hosts with SIGTERM and waits for them; again, it does
// nothing.
func (f *hostFleet) stop() {
	f.once.Do(func() {
		close(f.done)
		for _, cmd := range f.cmds {
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
		for _, cmd := range f.cmds {
			_ = cmd.Wait()
		}
	})
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
