package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// benchConsole measures what an operator's tools cost a host holding
// fleetPipelines pipelines, each run once (generator -> jsonl, 10 records):
//
//   - metrics_scrape_ms: the median time of a Prometheus scrape of /metrics,
//     request to last byte, over 25 scrapes;
//   - console_page_ms: the median time of the console's pipelines page,
//     its last page of 50 (every pipeline is read, counted and sorted for
//     it), over 25 loads.
//
// Then, on a host of consolePipelines of which consoleFailing fail:
//
//   - console_filter_ms: the median time of the failed pipelines' page
//     (/?state=failed), over 25 loads.
func benchConsole(ctx context.Context, b *bench) error {
	if err := b.consolePage(ctx); err != nil {
		return err
	}
	return b.consoleFilter(ctx)
}

// consolePage measures metrics_scrape_ms and console_page_ms.
func (b *bench) consolePage(ctx context.Context) error {
	dir, err := tenantFolder(fleetPipelines, 10)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	h, err := b.startConsoleHost(ctx, dir, fleetPipelines, false)
	if err != nil {
		return err
	}
	defer h.stop()
	scrape, err := medianGet(h.c, h.base+"/metrics", "Bearer "+consoleToken, `replicator_runs_total{outcome="succeeded",pipeline="tenant-0999"} 1`)
	if err != nil {
		return fmt.Errorf("scraping /metrics: %w", err)
	}
	last := fmt.Sprintf("/?page=%d", fleetPipelines/50)
	page, err := medianGet(h.c, h.base+last, "", `id="pipeline-tenant-0999"`)
	if err != nil {
		return fmt.Errorf("loading the pipelines page: %w", err)
	}
	figure("metrics_scrape_ms", float64(scrape.Microseconds())/1000, "ms")
	figure("console_page_ms", float64(page.Microseconds())/1000, "ms")
	return nil
}

// consoleFilter measures console_filter_ms.
func (b *bench) consoleFilter(ctx context.Context) error {
	dir, err := tenantFiles(consolePipelines, 10, consolePipelines/consoleFailing, "")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	h, err := b.startConsoleHost(ctx, dir, consolePipelines, true)
	if err != nil {
		return err
	}
	defer h.stop()
	filter, err := medianGet(h.c, h.base+"/?state=failed", "", fmt.Sprintf(`id="count-failed">failed <b>%d</b>`, consoleFailing))
	if err != nil {
		return fmt.Errorf("loading the failed pipelines' page: %w", err)
	}
	figure("console_filter_ms", float64(filter.Microseconds())/1000, "ms")
	return nil
}

// The host of console_filter_ms: consolePipelines pipelines of 10
// records, of which one in every consolePipelines/consoleFailing fails.
const (
	consolePipelines = 2000
	consoleFailing   = 20
)

// consoleToken is the console token of the benchmarks' hosts.
const consoleToken = "bench-console-token-2f8a61c0"

// consoleHost is `replicator run` serving its console, with a client
// logged in to it.
type consoleHost struct {
	base string
	c    *http.Client
	stop func()
}

// startConsoleHost starts `replicator run` on the configuration folder
// dir with its console, and returns once each of its n pipelines has run
// once; a failed run fails it unless failedCount.
func (b *bench) startConsoleHost(ctx context.Context, dir string, n int, failedCount bool) (*consoleHost, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	host := fmt.Sprintf("host {\n  listen        = %q\n  console_token = %q\n}\n", addr, consoleToken)
	if err := os.WriteFile(filepath.Join(dir, "host.hcl"), []byte(host), 0o600); err != nil {
		return nil, err
	}
	replicator := filepath.Join(b.bin, "replicator")
	if out, err := b.command(ctx, dir, replicator, "init", "-config", ".").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("init: %w\n%s", err, out)
	}
	cmd := b.command(ctx, dir, replicator, "run", "-config", ".")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	if err := countRuns(stderr, n, failedCount); err != nil {
		stop()
		return nil, err
	}
	jar, _ := cookiejar.New(nil)
	h := &consoleHost{base: "http://" + addr, c: &http.Client{Jar: jar, Timeout: time.Minute}, stop: stop}
	resp, err := h.c.PostForm(h.base+"/login", url.Values{"token": {consoleToken}})
	if err != nil {
		stop()
		return nil, err
	}
	resp.Body.Close()
	return h, nil
}

// medianGet fetches url 25 times and returns the median time to the last
// byte; every answer must contain want.
func medianGet(c *http.Client, url, auth, want string) (time.Duration, error) {
	var took []time.Duration
	for range 25 {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		took = append(took, time.Since(start))
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			return 0, fmt.Errorf("%s answered %s without %q", url, resp.Status, want)
		}
	}
	slices.Sort(took)
	return took[len(took)/2], nil
}
