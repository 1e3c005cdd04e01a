package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
)

var zohoScopes = []string{
	"ZohoCRM.modules.contacts.READ", "ZohoCRM.modules.accounts.READ", "ZohoCRM.bulk.READ",
	"ZohoCRM.coql.READ", "ZohoCRM.settings.fields.READ", "ZohoCRM.settings.modules.READ", "ZohoCRM.org.READ",
}

// benchZohoSmall runs a full sync of a small org's contacts and accounts,
// which must read through the records API: below about 11,000 records a
// module costs fewer credits that way than through a Bulk Read job.
func benchZohoSmall(ctx context.Context, b *bench) error {
	org, err := b.zohoFull(ctx, 5_000, 500, false)
	if err != nil {
		return err
	}
	figure("zoho_small_full_credits", float64(org.credits), "credits")
	if org.bulkJobs != 0 {
		return fmt.Errorf("the small org's full sync made %d Bulk Read jobs; it should read through the records API", org.bulkJobs)
	}
	return nil
}

// benchZohoFull runs a full sync of the simulated org's contacts into the
// jsonl destination, then an incremental one after changes and deletions.
func benchZohoFull(ctx context.Context, b *bench) error {
	small, err := b.zohoFull(ctx, 100_000, 0, false)
	if err != nil {
		return err
	}
	big, err := b.zohoFull(ctx, 1_000_000, 0, true)
	if err != nil {
		return err
	}
	figure("zoho_full_rps", float64(big.records)/big.elapsed.Seconds(), "records/s")
	figure("zoho_full_credits", float64(big.credits), "credits")
	figure("zoho_peak_rss_mb", big.peakRSSMB, "MB")
	figure("zoho_peak_rss_mb_100k", small.peakRSSMB, "MB")
	figure("zoho_incr_credits", float64(big.incrCredits), "credits")
	figure("zoho_incr_seconds", big.incrElapsed.Seconds(), "s")
	return nil
}

type zohoResult struct {
	records, credits, incrCredits int64
	bulkJobs                      int64 // of the full sync
	elapsed, incrElapsed          time.Duration
	peakRSSMB                     float64
}

// zohoOrg is a simulated org on loopback with a pipeline of its streams
// into the jsonl destination, initialised and authorized.
type zohoOrg struct {
	sim     *zohosim.Server
	dir     string
	streams string // the pipeline's streams, as HCL
	sync    func() (elapsed time.Duration, peakMB float64, credits int64, err error)
	close   func()
}

// newZohoOrg serves an org of n contacts and accounts accounts (10 when
// 0, and then the pipeline reads contacts only).
func (b *bench) newZohoOrg(ctx context.Context, n, accounts int) (*zohoOrg, error) {
	streams := `["contacts"]`
	if accounts == 0 {
		accounts = 10
	} else {
		streams = `["contacts", "accounts"]`
	}
	sim, err := zohosim.New(zohosim.Options{Contacts: n, Accounts: accounts, Seed: 1})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: sim.Handler()}
	go func() { _ = srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()

	dir, err := os.MkdirTemp("", "replicator-bench-zoho")
	if err != nil {
		srv.Close()
		return nil, err
	}
	org := &zohoOrg{sim: sim, dir: dir, streams: streams, close: func() { srv.Close(); os.RemoveAll(dir) }}
	hcl := fmt.Sprintf(`
source "zoho" "sim" {
  domain         = %q
  client_id      = %q
  client_secret  = env("ZOHO_CLIENT_SECRET")
  default_region = "NL"
  accounts_url   = %q
  api_url        = %q
}
destination "jsonl" "out" {
  path = "out.jsonl"
}
pipeline "contacts" {
  source      = source.zoho.sim
  destination = destination.jsonl.out
  streams     = %s
}
`, sim.DC(), sim.ClientID(), base+"/accounts/{dc}", base, streams)
	if err := os.WriteFile(filepath.Join(dir, "replicator.hcl"), []byte(hcl), 0o644); err != nil {
		org.close()
		return nil, err
	}
	env := []string{"ZOHO_CLIENT_SECRET=" + sim.ClientSecret()}
	replicator := filepath.Join(b.bin, "replicator")
	code := sim.IssueGrantCode(zohoScopes...)
	for _, args := range [][]string{{"init"}, {"authorize", "-code", code, "zoho.sim"}} {
		cmd := b.command(ctx, dir, replicator, args...)
		cmd.Env = append(cmd.Env, env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			org.close()
			return nil, fmt.Errorf("%s: %w\n%s", args[0], err, out)
		}
	}
	org.sync = func() (time.Duration, float64, int64, error) {
		credits := sim.Credits()
		cmd := b.command(ctx, dir, replicator, "sync", "-log-level", "warn", "contacts")
		cmd.Env = append(cmd.Env, env...)
		elapsed, peak, err := runSampling(cmd, func(host int) []int { return children(host, "replicator-source-zoho") })
		return elapsed, peak, sim.Credits() - credits, err
	}
	return org, nil
}

// benchZohoIdle runs incremental syncs of a small org's contacts and
// accounts in which nothing changed: what a run woken by a callback that
// finds nothing new costs at least.
func benchZohoIdle(ctx context.Context, b *bench) error {
	org, err := b.newZohoOrg(ctx, 5_000, 500)
	if err != nil {
		return err
	}
	defer org.close()
	if _, _, _, err := org.sync(); err != nil {
		return err
	}
	before, err := countLines(filepath.Join(org.dir, "out.jsonl"))
	if err != nil {
		return err
	}
	var most int64
	for range 3 {
		_, _, credits, err := org.sync()
		if err != nil {
			return err
		}
		most = max(most, credits)
	}
	after, err := countLines(filepath.Join(org.dir, "out.jsonl"))
	if err != nil {
		return err
	}
	if after != before {
		return fmt.Errorf("the idle runs wrote %d lines; nothing changed", after-before)
	}
	figure("idle_run_credits", float64(most), "credits")
	return nil
}

// zohoFull syncs an org of n contacts in full, and its accounts too when
// accounts is not 0; then, when incremental, it changes some contacts and
// syncs again.
func (b *bench) zohoFull(ctx context.Context, n, accounts int, incremental bool) (zohoResult, error) {
	var res zohoResult
	org, err := b.newZohoOrg(ctx, n, accounts)
	if err != nil {
		return res, err
	}
	defer org.close()
	sim, dir, streams, sync := org.sim, org.dir, org.streams, org.sync
	want := n
	if accounts != 0 {
		want += accounts
	}
	var peak float64
	jobs := sim.Calls()["bulk/create"]
	if res.elapsed, peak, res.credits, err = sync(); err != nil {
		return res, err
	}
	res.bulkJobs = sim.Calls()["bulk/create"] - jobs
	res.peakRSSMB = peak
	lines, err := countLines(filepath.Join(dir, "out.jsonl"))
	if err != nil {
		return res, err
	}
	res.records = int64(lines - strings.Count(streams, ",") - 1) // a full-refresh-complete line per stream
	if res.records != int64(want) {
		return res, fmt.Errorf("full sync wrote %d records, want %d", res.records, want)
	}
	if !incremental {
		return res, nil
	}

	// 1,000 changes and 100 deletions, then an incremental run once they
	// are older than the minute the source keeps its windows behind now.
	changed, deleted := 0, 0
	for id := range sim.Records("Contacts") {
		switch {
		case changed < 1000:
			if err := sim.Update("Contacts", id, map[string]any{"Title": "Changed " + strconv.Itoa(changed)}); err != nil {
				return res, err
			}
			changed++
		case deleted < 100:
			if err := sim.Delete("Contacts", id); err != nil {
				return res, err
			}
			deleted++
		}
		if deleted == 100 {
			break
		}
	}
	time.Sleep(time.Minute + 2*time.Second)
	before := lines
	if res.incrElapsed, _, res.incrCredits, err = sync(); err != nil {
		return res, err
	}
	after, err := countLines(filepath.Join(dir, "out.jsonl"))
	if err != nil {
		return res, err
	}
	if got := after - before; got < 1100 {
		return res, fmt.Errorf("incremental sync wrote %d lines, want the 1,000 changes and 100 deletions", got)
	}
	return res, nil
}

// runSampling runs cmd and samples the peak resident memory (VmHWM) of
// the processes that sample names, given cmd's process id.
func runSampling(cmd *exec.Cmd, sample func(pid int) []int) (time.Duration, float64, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peakKB int64
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return 0, 0, fmt.Errorf("%w\n%s", err, stderr.String())
			}
			if peakKB == 0 {
				return 0, 0, errors.New("never saw the process to sample its memory")
			}
			return time.Since(start), float64(peakKB) / 1024, nil
		case <-tick.C:
			for _, pid := range sample(cmd.Process.Pid) {
				if kb, err := vmHWM(pid); err == nil && kb > peakKB {
					peakKB = kb
				}
			}
		}
	}
}

// children lists the child processes of parent whose program name (the
// base of argv[0]: the host launches plugins through /proc/self/fd, so the
// kernel's comm is a number) starts with prefix.
func children(parent int, prefix string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		close := strings.LastIndexByte(s, ')')
		if close < 0 {
			continue
		}
		rest := strings.Fields(s[close+1:])
		if len(rest) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(rest[1]); ppid != parent {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		argv0, _, _ := strings.Cut(string(cmdline), "\x00")
		if strings.HasPrefix(filepath.Base(argv0), prefix) {
			out = append(out, pid)
		}
	}
	return out
}
