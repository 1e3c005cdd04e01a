package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/internal/logbuf"
)

// binDir returns the folder of the built replicator binary and the
// generator and jsonl plugins: $REPLICATOR_BIN (make test), or one this
// test builds them into.
func binDir(t *testing.T) string {
	t.Helper()
	dir := pluginDir(t)
	if os.Getenv("REPLICATOR_BIN") != "" {
		return dir
	}
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "replicator"), ".").CombinedOutput(); err != nil {
		t.Fatalf("build replicator: %v\n%s", err, out)
	}
	return dir
}

// workspace is a configuration folder for the replicator binary.
type workspace struct {
	t   *testing.T
	bin string
	dir string
}

func newWorkspace(t *testing.T, files map[string]string) *workspace {
	t.Helper()
	w := &workspace{t: t, bin: binDir(t), dir: t.TempDir()}
	for name, body := range files {
		w.write(name, body)
	}
	return w
}

func (w *workspace) write(name, body string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.dir, name), []byte(body), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// command is the replicator binary run in the workspace with args; the
// plugins are found beside it, and the configuration is the folder.
func (w *workspace) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(w.bin, "replicator"), args...)
	cmd.Dir = w.dir
	cmd.Env = append(os.Environ(), "REPLICATOR_CONFIG=.", "REPLICATOR_PLUGIN_PATH=")
	return cmd
}

// run runs replicator to its end and returns its exit code, stdout and
// stderr.
func (w *workspace) run(args ...string) (int, string, string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := w.command(ctx, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exited *exec.ExitError
	if err != nil && !errors.As(err, &exited) {
		w.t.Fatalf("replicator %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// start starts replicator with args; stop ends it with SIGTERM.
func (w *workspace) start(args ...string) (*exec.Cmd, *logbuf.Buffer) {
	w.t.Helper()
	cmd := w.command(context.Background(), args...)
	log := &logbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.WaitDelay = time.Minute
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, log
}

func (w *workspace) stop(cmd *exec.Cmd, log *logbuf.Buffer) {
	w.t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		w.t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		w.t.Fatalf("replicator did not exit cleanly after SIGTERM: %v\n%s", err, log.String())
	}
}

// waitFor waits until found says yes to the log, for at most two minutes.
func waitFor(t *testing.T, log *logbuf.Buffer, what string, found func(string) bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !found(log.String()); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited two minutes for %s; the log:\n%s", what, log.String())
		}
	}
}
