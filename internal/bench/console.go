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
//     every pipeline with its newest runs, over 25 loads.
func benchConsole(ctx context.Context, b *bench) error {
	dir, err := tenantFolder(fleetPipelines, 10)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	const token = "bench-console-token-2f8a61c0"
	host := fmt.Sprintf("host {\n  listen        = %q\n  console_token = %q\n}\n", addr, token)
	if err := os.WriteFile(filepath.Join(dir, "host.hcl"), []byte(host), 0o600); err != nil {
		return err
	}
	replicator := filepath.Join(b.bin, "replicator")
	if out, err := b.command(ctx, dir, replicator, "init", "-config", ".").CombinedOutput(); err != nil {
		return fmt.Errorf("init: %w\n%s", err, out)
	}
	cmd := b.command(ctx, dir, replicator, "run", "-config", ".")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	if err := countRuns(stderr, fleetPipelines); err != nil {
		return err
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()

	base := "http://" + addr
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: time.Minute}
	resp, err := c.PostForm(base+"/login", url.Values{"token": {token}})
	if err != nil {
		return err
	}
	resp.Body.Close()

	scrape, err := medianGet(c, base+"/metrics", "Bearer "+token, `replicator_runs_total{outcome="succeeded",pipeline="tenant-0999"} 1`)
	if err != nil {
		return fmt.Errorf("scraping /metrics: %w", err)
	}
	page, err := medianGet(c, base+"/", "", `id="pipeline-tenant-0999"`)
	if err != nil {
		return fmt.Errorf("loading the pipelines page: %w", err)
	}
	figure("metrics_scrape_ms", float64(scrape.Microseconds())/1000, "ms")
	figure("console_page_ms", float64(page.Microseconds())/1000, "ms")
	return nil
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
