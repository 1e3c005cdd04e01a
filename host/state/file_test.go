package state

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func open(t *testing.T) (*File, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nested", "state.db")
	s, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestOpenModes(t *testing.T) {
	_, path := open(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("state file mode %v, want 0600", m)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if m := di.Mode().Perm(); m != 0o700 {
		t.Errorf("state folder mode %v, want 0700", m)
	}
}

func TestOpenLocked(t *testing.T) {
	_, path := open(t)
	// flock is per open file, so a second Open in this process contends
	// exactly as another process would.
	s2, err := OpenFile(path, FileOptions{})
	if err == nil {
		s2.Close()
		t.Fatal("second Open of a locked state file succeeded")
	}
	want := "state file " + path + " is in use by another replicator process"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
}

func TestOpenNotAStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not bolt ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenFile(path, FileOptions{})
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a file that is not a state file")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := StreamState{State: json.RawMessage(`{"next":5}`), Generation: 2, FullRefresh: 2}
	run := &Run{Pipeline: "p", Started: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Outcome: OutcomeSucceeded, Read: 5, Written: 5}
	creds := json.RawMessage(`{"refresh_token":"x"}`)
	c := claimFor(t, s, "p")
	if err := s.SaveStream(ctx, c.Fence, "items", st); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRun(ctx, c.Fence, run); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCredentials(ctx, c.Fence, "source.generator.a", creds); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatalf("reopening after close: %v", err)
	}
	defer s.Close()
	if got, _ := s.Stream(ctx, "p", "items"); !reflect.DeepEqual(got, st) {
		t.Errorf("stream after reopen: %+v", got)
	}
	if runs, _ := s.Runs(ctx, "p", 0); len(runs) != 1 || runs[0].Read != 5 || !runs[0].Started.Equal(run.Started) {
		t.Errorf("runs after reopen: %+v", runs)
	}
	if c, _ := s.Credentials(ctx, "source.generator.a"); string(c) != string(creds) {
		t.Errorf("credentials after reopen: %s", c)
	}
	// The run sequence continues rather than reusing IDs.
	next := &Run{Pipeline: "p", Outcome: OutcomeRunning}
	c = claimFor(t, s, "p")
	if err := s.SaveRun(ctx, c.Fence, next); err != nil {
		t.Fatal(err)
	}
	if next.ID != 2 {
		t.Errorf("run after reopen got ID %d, want 2", next.ID)
	}
}

var ctx = context.Background()

func claimFor(t *testing.T, s Store, pipeline string) *Claim {
	t.Helper()
	c, err := s.Claim(ctx, pipeline, "test")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
