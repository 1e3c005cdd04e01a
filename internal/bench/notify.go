package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/replicatorhq/replicator/connector/roger365/rogersim"
	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
	"github.com/replicatorhq/replicator/internal/logbuf"
)

// The notification benchmark's tenants: each a simulated Zoho org of its
// own with a pipeline into one ROGER365, polled hourly and woken by its
// org's callbacks; one change each, spread over notifySpread.
const (
	notifyTenants = 100
	notifySpread  = time.Minute
)

// benchNotify measures how soon a change in Zoho shows in ROGER365's
// lookup when callbacks wake the pipelines (change_latency_p95_ms), and
// what a woken run costs the host with its plugins kept warm
// (notify_run_overhead_ms: the median of the runs' took, from the claim
// to the stored end, the source's read of one change and the
// destination's write on loopback included).
func benchNotify(ctx context.Context, b *bench) error {
	dir, err := os.MkdirTemp("", "replicator-bench-notify")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	roger, err := rogersim.New(rogersim.Options{Keys: []string{"bench-key"}})
	if err != nil {
		return err
	}
	if err := roger.Start("127.0.0.1:0"); err != nil {
		return err
	}
	defer roger.Close()
	// The host's address, for public_url: taken now, served by the host.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	var hcl strings.Builder
	fmt.Fprintf(&hcl, "host {\n  listen = %q\n  public_url = \"http://%s\"\n}\n", addr, addr)
	orgs := make([]*zohosim.Server, notifyTenants)
	for i := range orgs {
		// Each org's clock is the host's: the run a callback wakes reads
		// the change though it is younger than the source's lag.
		sim, err := zohosim.New(zohosim.Options{Contacts: 20, Accounts: 2, Seed: int64(i + 1)})
		if err != nil {
			return err
		}
		orgs[i] = sim
		srv := &http.Server{Handler: sim.Handler()}
		sl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		go func() { _ = srv.Serve(sl) }()
		defer srv.Close()
		base := "http://" + sl.Addr().String()
		if err := roger.AddReplicator(rogersim.Replicator{ID: fmt.Sprint("t", i), Name: "bench", SourceType: "crm", Entity: "contacts"}); err != nil {
			return err
		}
		fmt.Fprintf(&hcl, `
source "zoho" "t%[1]d" {
  domain         = %[2]q
  client_id      = %[3]q
  client_secret  = env("ZOHO_CLIENT_SECRET")
  default_region = "NL"
  accounts_url   = "%[4]s/accounts/{dc}"
  api_url        = %[4]q
  notifications  = true
}
destination "roger365" "t%[1]d" {
  api_url       = %[5]q
  api_key       = "bench-key"
  replicator_id = "t%[1]d"
}
pipeline "t%[1]d" {
  source      = source.zoho.t%[1]d
  destination = destination.roger365.t%[1]d
  streams     = ["contacts", "accounts"]
  interval    = "1h"
}
`, i, sim.DC(), sim.ClientID(), base, roger.URL())
	}
	if err := os.WriteFile(filepath.Join(dir, "replicator.hcl"), []byte(hcl.String()), 0o644); err != nil {
		return err
	}
	env := []string{"ZOHO_CLIENT_SECRET=" + orgs[0].ClientSecret()}
	replicator := filepath.Join(b.bin, "replicator")
	scopes := append(slices.Clone(zohoScopes), "ZohoCRM.notifications.ALL")
	for i := -1; i < notifyTenants; i++ {
		args := []string{"init"}
		if i >= 0 {
			args = []string{"authorize", "-code", orgs[i].IssueGrantCode(scopes...), fmt.Sprint("zoho.t", i)}
		}
		cmd := b.command(ctx, dir, replicator, args...)
		cmd.Env = append(cmd.Env, env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", args[0], err, out)
		}
	}

	cmd := b.command(ctx, dir, replicator, "run")
	cmd.Env = append(cmd.Env, env...)
	log := &logbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	subscribed := func() bool {
		for _, o := range orgs {
			if len(o.Channels()) != 1 {
				return false
			}
		}
		return true
	}
	if err := waitUntil(ctx, 10*time.Minute, subscribed); err != nil {
		return fmt.Errorf("the pipelines did not all subscribe: %w\n%s", err, tail(log.String()))
	}

	latencies := make([]time.Duration, notifyTenants)
	errs := make(chan error, notifyTenants)
	var wg sync.WaitGroup
	for i, org := range orgs {
		wg.Go(func() {
			time.Sleep(rand.N(notifySpread))
			number := fmt.Sprintf("+3120888%04d", i)
			start := time.Now()
			if _, err := org.CreateRecord("Contacts", map[string]any{"Last_Name": "Bench", "Phone": number, "Mailing_Country": "Netherlands"}); err != nil {
				errs <- err
				return
			}
			err := waitUntil(ctx, time.Minute, func() bool { return len(roger.Lookup(number)) > 0 })
			latencies[i] = time.Since(start)
			if err != nil {
				errs <- fmt.Errorf("tenant t%d's change never showed: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	var failed []error
	for e := range errs {
		failed = append(failed, e)
	}
	if err := errors.Join(failed...); err != nil {
		return fmt.Errorf("%w\n%s", err, tail(log.String()))
	}
	slices.Sort(latencies)
	figure("change_latency_p95_ms", float64(latencies[len(latencies)*95/100].Milliseconds()), "ms")

	// One tenant's changes one after the other, each woken run within
	// warm_idle of the last: its plugins are kept running between them.
	// The first may find them closed; the others are counted.
	before := len(tookOf(log.String()))
	for n := range notifyWarmRuns + 1 {
		number := fmt.Sprintf("+3120999%04d", n)
		if _, err := orgs[0].CreateRecord("Contacts", map[string]any{"Last_Name": "Warm", "Phone": number, "Mailing_Country": "Netherlands"}); err != nil {
			return err
		}
		if err := waitUntil(ctx, time.Minute, func() bool { return len(roger.Lookup(number)) > 0 }); err != nil {
			return fmt.Errorf("a change of tenant t0 never showed: %w\n%s", err, tail(log.String()))
		}
		// Its run has ended once its line is logged.
		if err := waitUntil(ctx, time.Minute, func() bool { return len(tookOf(log.String())) > before+n }); err != nil {
			return err
		}
	}
	warm := tookOf(log.String())[before+1:]
	slices.Sort(warm)
	figure("notify_run_overhead_ms", float64(warm[len(warm)/2].Microseconds())/1000, "ms")
	return nil
}

// notifyWarmRuns is how many woken runs with warm plugins the overhead's
// median is of.
const notifyWarmRuns = 15

var tookField = regexp.MustCompile(`run finished: .* took=(\S+)`)

// tookOf returns the took= of every finished run in a log, in order.
func tookOf(log string) []time.Duration {
	var out []time.Duration
	for _, m := range tookField.FindAllStringSubmatch(log, -1) {
		if d, err := time.ParseDuration(m[1]); err == nil {
			out = append(out, d)
		}
	}
	return out
}

// waitUntil polls cond every 10 ms for up to limit.
func waitUntil(ctx context.Context, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// tail is the end of a long log, for an error.
func tail(s string) string {
	const keep = 4000
	if len(s) > keep {
		return "…" + s[len(s)-keep:]
	}
	return s
}
