package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/replicatorhq/replicator/host/state"
)

func replicator(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = realMain(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestStateBackup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "replicator.db")
	s, err := state.OpenFile(path, state.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := s.Claim(ctx, "p", "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveStream(ctx, c.Fence, "items", state.StreamState{State: json.RawMessage(`{"n":4}`), Generation: 4}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	copyPath := filepath.Join(dir, "backup.db")
	code, stdout, stderr := replicator(t, "state", "backup", "-state", path, "-to", copyPath)
	if code != 0 {
		t.Fatalf("state backup: code %d, %s", code, stderr)
	}
	if !strings.Contains(stdout, "Wrote a copy of "+path+" to "+copyPath) {
		t.Errorf("stdout %q", stdout)
	}
	c2, err := state.OpenFile(copyPath, state.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if st, err := c2.Stream(context.Background(), "p", "items"); err != nil || st.Generation != 4 {
		t.Errorf("stream in the copy: %+v, %v", st, err)
	}
	if code, _, stderr := replicator(t, "state", "backup", "-state", path); code == 0 || !strings.Contains(stderr, "needs -to FILE") {
		t.Errorf("backup without -to: code %d, %s", code, stderr)
	}
}

func TestFreshStateFlag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replicator.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := replicator(t, "status", "-state", path)
	if code != 1 || !strings.Contains(stderr, "is empty (0 bytes)") || !strings.Contains(stderr, "-fresh-state") {
		t.Fatalf("status on an empty state file: code %d, %s", code, stderr)
	}
	code, stdout, stderr := replicator(t, "status", "-state", path, "-fresh-state")
	if code != 0 || !strings.Contains(stdout, "No runs yet.") {
		t.Fatalf("status -fresh-state: code %d, %s %s", code, stdout, stderr)
	}
}
