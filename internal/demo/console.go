package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// consoleSteps are `make console`: the simulators, the pipeline file and
// `replicator run` serving its console, for a person to try the Authorize
// and Sync now buttons.
func (d *demo) consoleSteps() []step {
	return []step{
		{"Start a simulated Zoho CRM", d.startZoho},
		{"Start a simulated ROGER365", d.startRoger},
		{"Write the pipeline file", d.writeConfig},
		{"Record the connector plugins", d.initPlugins},
		{"Run the pipelines with the console", d.serveConsole},
	}
}

// serveConsole runs `replicator run -listen` until ctx ends, handing out
// grant codes on request.
func (d *demo) serveConsole(ctx context.Context) error {
	logPath := filepath.Join(d.root, demoDir, "run.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	args := []string{"run", "-config", configPath, "-listen", d.listen}
	fmt.Fprintf(d.out, "\n  $ bin/replicator %s    (its log goes to %s)\n", strings.Join(args, " "), logPath)
	cmd := d.replicatorCommand(args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting replicator run: %w", err)
	}
	// exited closes once run has exited, with its Wait error in waitErr,
	// so that every place that watches for it sees it.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt) // run stops its runs and plugins
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if waitErr != nil {
			fmt.Fprintf(d.out, "\n  replicator run ended with %v; see %s\n", waitErr, logPath)
		}
	}()
	url := "http://" + d.listen + "/"
	if err := waitFor(ctx, url+"healthz", exited, &waitErr); err != nil {
		return fmt.Errorf("%w; see %s", err, logPath)
	}
	login, err := loginURL(ctx, logPath)
	if err != nil {
		return err
	}
	d.say(`The console is up at %s

The pipeline file sets no console_token, so replicator made one and
printed a login URL with it in its log. Open that URL in a browser:

  %s

The pipeline waits for its source to be authorized. Press "Authorize
source.zoho.crm", paste the grant code below, press Authorize, then press
"Sync now" and watch the pipeline run. /metrics has the Prometheus
metrics.`, url, login)
	lines := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- struct{}{}
		}
		close(lines)
	}()
	for {
		code, err := d.api.grantCode(ctx, scopes)
		if err != nil {
			return err
		}
		fmt.Fprintf(d.out, "\n  Grant code (valid 3 minutes, once): %s\n  Press Enter for a new code, Ctrl-C to stop everything.\n", code)
		select {
		case <-ctx.Done():
			return nil
		case <-exited:
			return fmt.Errorf("replicator run stopped (%w); see %s", waitErr, logPath)
		case _, ok := <-lines:
			if !ok { // no terminal: serve until interrupted
				select {
				case <-ctx.Done():
					return nil
				case <-exited:
					return fmt.Errorf("replicator run stopped (%w); see %s", waitErr, logPath)
				}
			}
		}
	}
}

// loginAt finds the login URL in replicator run's log.
var loginAt = regexp.MustCompile(`url=(http://\S+/login\?token=\S+)`)

// loginURL returns the login URL replicator run logs to logPath once it
// serves the console, waiting up to ten seconds for it.
func loginURL(ctx context.Context, logPath string) (string, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(logPath)
		if err != nil {
			return "", err
		}
		if m := loginAt.FindSubmatch(b); m != nil {
			return string(m[1]), nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("replicator run printed no login URL; see %s", logPath)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitFor polls url until it answers 200, the process exits (exited
// closes, with its error in *waitErr) or a minute passes.
func waitFor(ctx context.Context, url string, exited <-chan struct{}, waitErr *error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("replicator run stopped (%w)", *waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the console at %s did not answer within a minute", url)
		}
	}
}
