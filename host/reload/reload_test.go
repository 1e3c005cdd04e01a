package reload

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/lockfile"
)

// watch runs Watch on path and returns the reasons it reloads for.
func watch(t *testing.T, path string, ask chan os.Signal) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reasons := make(chan string, 10)
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		close(ready)
		done <- Watch(ctx, path, 50*time.Millisecond, ask, func(r string) { reasons <- r })
	}()
	<-ready
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return reasons
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func next(t *testing.T, reasons <-chan string) string {
	t.Helper()
	select {
	case r := <-reasons:
		return r
	case <-time.After(time.Minute):
		t.Fatal("no reload")
		return ""
	}
}

func TestFolderChangesReloadOnceSettled(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.hcl"), "")
	ask := make(chan os.Signal)
	reasons := watch(t, dir, ask)
	// The watch is in place once a signal is answered.
	ask <- syscall.SIGHUP
	if r := next(t, reasons); r != "SIGHUP" {
		t.Fatalf("reason %q", r)
	}

	// The state file, temporary files and backups change nothing.
	write(t, filepath.Join(dir, "replicator.db"), "x")
	write(t, filepath.Join(dir, ".replicator.lock.hcl.tmp123"), "x")
	write(t, filepath.Join(dir, ".a.hcl.swp"), "x")
	write(t, filepath.Join(dir, "b.hcl"), "")
	write(t, filepath.Join(dir, "a.hcl"), "# changed")
	if r := next(t, reasons); r != "a.hcl, b.hcl changed" {
		t.Fatalf("reason %q, want the two .hcl files in one reload", r)
	}

	// Replaced by a rename, as `replicator init` saves the lock file.
	tmp := filepath.Join(dir, ".replicator.lock.hcl.tmp456")
	write(t, tmp, "")
	if err := os.Rename(tmp, filepath.Join(dir, lockfile.FileName)); err != nil {
		t.Fatal(err)
	}
	if r := next(t, reasons); r != lockfile.FileName+" changed" {
		t.Fatalf("reason %q", r)
	}
	if err := os.Remove(filepath.Join(dir, "b.hcl")); err != nil {
		t.Fatal(err)
	}
	if r := next(t, reasons); r != "b.hcl changed" {
		t.Fatalf("reason %q", r)
	}
}

func TestSingleFileWatchesOnlyItAndTheLockFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "replicator.hcl")
	write(t, path, "")
	ask := make(chan os.Signal)
	reasons := watch(t, path, ask)
	ask <- syscall.SIGHUP
	next(t, reasons)
	write(t, filepath.Join(dir, "other.hcl"), "")
	write(t, path, "# changed")
	if r := next(t, reasons); r != "replicator.hcl changed" {
		t.Fatalf("reason %q", r)
	}
}

func TestWatchFailsForAMissingPath(t *testing.T) {
	err := Watch(context.Background(), filepath.Join(t.TempDir(), "missing"), time.Millisecond, nil, func(string) {})
	if err == nil {
		t.Fatal("no error for a missing configuration")
	}
}
