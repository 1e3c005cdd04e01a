//go:build unix

package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestFileRefusesNamedPipe: file() of a named pipe fails at once instead
// of waiting for a writer.
func TestFileRefusesNamedPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	c, diags := loadSource(t, fmt.Sprintf("replicator {\n  state_file = file(%q)\n}\n", fifo))
	if len(diags) != 1 || diags[0].Summary != "Not a regular file" {
		t.Fatalf("want %q, got:\n%s", "Not a regular file", diagsText(c, diags))
	}
	if !strings.Contains(diags[0].Detail, "named pipe") {
		t.Errorf("detail %q does not say what the path is", diags[0].Detail)
	}
}
