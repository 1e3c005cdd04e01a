// Package e2e tests the built binaries end to end: the replicator host
// running real plugin processes on HCL files.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/internal/logbuf"
)

// binDir holds the binaries under test: $REPLICATOR_BIN (as `make test`
// sets it), or a folder this package builds them into.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	binDir = os.Getenv("REPLICATOR_BIN")
	if binDir == "" {
		dir, err := os.MkdirTemp("", "replicator-e2e-bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		for name, pkg := range map[string]string{
			"replicator":                      "./host/cmd/replicator",
			"replicator-source-generator":     "./connector/generator/cmd/replicator-source-generator",
			"replicator-destination-jsonl":    "./connector/jsonl/cmd/replicator-destination-jsonl",
			"replicator-source-zoho":          "./connector/zoho/cmd/replicator-source-zoho",
			"replicator-destination-roger365": "./connector/roger365/cmd/replicator-destination-roger365",
			"replicator-source-csvcontacts":   "./connector/csvcontacts/cmd/replicator-source-csvcontacts",
		} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
			cmd.Dir = "../.."
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "build %s: %v\n%s", name, err, out)
				return 1
			}
		}
		binDir = dir
	}
	return m.Run()
}

// workspace is a folder with a config file and its own copy of the
// plugins, so tests can change a plugin without touching the others. It
// holds the generator and jsonl plugins, and the named extra ones.
type workspace struct {
	t   *testing.T
	dir string
}

func newWorkspace(t *testing.T, hcl string, extraPlugins ...string) *workspace {
	t.Helper()
	return newWorkspaceFrom(t, binDir, hcl, extraPlugins...)
}

// newWorkspaceFrom is newWorkspace with the binaries taken from bin.
func newWorkspaceFrom(t *testing.T, bin, hcl string, extraPlugins ...string) *workspace {
	t.Helper()
	w := &workspace{t: t, dir: t.TempDir()}
	// The host binary gets a folder of its own: plugins beside it would be
	// found before ./plugins.
	for _, d := range []string{"bin", "plugins"} {
		if err := os.Mkdir(filepath.Join(w.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, filepath.Join(bin, "replicator"), w.path("bin/replicator"))
	for _, name := range append([]string{"replicator-source-generator", "replicator-destination-jsonl"}, extraPlugins...) {
		copyFile(t, filepath.Join(bin, name), w.path("plugins/"+name))
	}
	w.write("replicator.hcl", hcl)
	return w
}

func (w *workspace) path(name string) string { return filepath.Join(w.dir, name) }

func (w *workspace) write(name, content string) {
	w.t.Helper()
	if err := os.WriteFile(w.path(name), []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// command prepares `replicator args...` run in the workspace.
func (w *workspace) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, w.path("bin/replicator"), args...)
	cmd.Dir = w.dir
	cmd.Env = append(os.Environ(), "REPLICATOR_PLUGIN_PATH=", "REPLICATOR_CONFIG=")
	return cmd
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs replicator to completion within two minutes.
func (w *workspace) run(args ...string) result {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := w.command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		w.t.Fatalf("replicator %s did not finish in time\nstderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatal(err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// mustRun runs replicator and fails the test unless it succeeds.
func (w *workspace) mustRun(args ...string) result {
	w.t.Helper()
	r := w.run(args...)
	if r.code != 0 {
		w.t.Fatalf("replicator %s exited %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// startRun starts `replicator run` with args, its output going to the
// returned log, and stops it with SIGTERM at the end of the test, unless
// the test stopped it; one that has not exited a minute later is killed.
// Its context is not the test's: t.Context ends before the cleanups run,
// and would kill the host before the SIGTERM could stop it.
func (w *workspace) startRun(args ...string) (*exec.Cmd, *logbuf.Buffer) {
	w.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := w.command(ctx, append([]string{"run"}, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	// Also bounds the wait for the output should a plugin hold it.
	cmd.WaitDelay = time.Minute
	log := &logbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		cancel()
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() {
		cancel()
		if cmd.ProcessState == nil {
			_ = cmd.Wait()
		}
	})
	return cmd, log
}

// waitLog waits until the log of a run holds want n times.
func waitLog(t *testing.T, log *logbuf.Buffer, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for strings.Count(log.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the log never held %q %d times:\n%s", want, n, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends `replicator run` with SIGTERM and expects a clean exit.
func stop(t *testing.T, cmd *exec.Cmd, log *logbuf.Buffer) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run did not exit cleanly after SIGTERM: %v\n%s", err, log.String())
	}
}
