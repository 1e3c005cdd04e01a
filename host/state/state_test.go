package state

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func open(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nested", "state.db")
	s, err := Open(path, Options{})
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
	s2, err := Open(path, Options{})
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
	s, err := Open(path, Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a file that is not a state file")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestStreamRoundTrip(t *testing.T) {
	s, _ := open(t)
	got, err := s.Stream("p", "contacts")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, StreamState{}) {
		t.Fatalf("absent stream: %+v, want zero value", got)
	}
	tests := []StreamState{
		{State: json.RawMessage(`{"next":12345}`), Generation: 3},
		{State: json.RawMessage(`{"since":"2026-01-02T03:04:05Z","page":["a","b"]}`), Generation: 4, FullRefresh: 4},
		{Generation: 5},
	}
	for _, want := range tests {
		if err := s.SaveStream("p", "contacts", want); err != nil {
			t.Fatal(err)
		}
		got, err := s.Stream("p", "contacts")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v (state %s), want %+v (state %s)", got, got.State, want, want.State)
		}
	}
	// Streams of another pipeline and other streams stay apart.
	if got, _ := s.Stream("q", "contacts"); got.Generation != 0 {
		t.Errorf("pipeline q sees pipeline p's stream: %+v", got)
	}
	if got, _ := s.Stream("p", "accounts"); got.Generation != 0 {
		t.Errorf("stream accounts sees stream contacts: %+v", got)
	}
	if err := s.SaveStream("", "x", StreamState{}); err == nil {
		t.Error("empty pipeline name accepted")
	}
	if err := s.SaveStream("p", "x", StreamState{State: json.RawMessage(`{bad`)}); err == nil {
		t.Error("invalid JSON state accepted")
	}
}

func TestResetStreamKeepsGeneration(t *testing.T) {
	s, _ := open(t)
	if err := s.ResetStream("p", "never-saved"); err != nil {
		t.Fatalf("resetting an absent stream: %v", err)
	}
	if err := s.SaveStream("p", "c", StreamState{State: json.RawMessage(`{"next":7}`), Generation: 9, FullRefresh: 9}); err != nil {
		t.Fatal(err)
	}
	if err := s.ResetStream("p", "c"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Stream("p", "c")
	if err != nil {
		t.Fatal(err)
	}
	if want := (StreamState{Generation: 9}); !reflect.DeepEqual(got, want) {
		t.Errorf("after reset: %+v, want %+v", got, want)
	}
}

func TestCredentialsRoundTrip(t *testing.T) {
	s, _ := open(t)
	if c, err := s.Credentials("source.zoho.eu"); err != nil || c != nil {
		t.Fatalf("absent credentials: %s, %v", c, err)
	}
	want := json.RawMessage(`{"refresh_token":"r","access_token":"a","expires":"2026-01-01T00:00:00Z"}`)
	if err := s.SaveCredentials("source.zoho.eu", want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Credentials("source.zoho.eu")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("got %s, want %s", got, want)
	}
	if c, _ := s.Credentials("source.zoho.us"); c != nil {
		t.Errorf("another source sees the credentials: %s", c)
	}
	if err := s.SaveCredentials("source.zoho.eu", json.RawMessage(`{oops`)); err == nil {
		t.Error("invalid JSON credentials accepted")
	}
	if err := s.SaveCredentials("source.zoho.eu", nil); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Credentials("source.zoho.eu"); c != nil {
		t.Errorf("credentials survive saving nil: %s", c)
	}
}

func TestRuns(t *testing.T) {
	s, _ := open(t)
	start := time.Date(2026, 3, 4, 5, 6, 7, 890, time.UTC)
	r1 := &Run{Pipeline: "zoho", Started: start, Outcome: OutcomeRunning}
	if err := s.SaveRun(r1); err != nil {
		t.Fatal(err)
	}
	if r1.ID != 1 {
		t.Fatalf("first run ID %d, want 1", r1.ID)
	}
	// Saving again updates the same run.
	r1.Ended = start.Add(time.Minute)
	r1.Outcome = OutcomeSucceeded
	r1.Read, r1.Written = 10, 9
	r1.Counters = map[string]int64{"api_credits": 4}
	r1.Resumed = []string{"contacts"}
	if err := s.SaveRun(r1); err != nil {
		t.Fatal(err)
	}
	r2 := &Run{Pipeline: "zoho", Started: start.Add(time.Hour), Outcome: OutcomeFailed, Error: "boom"}
	if err := s.SaveRun(r2); err != nil {
		t.Fatal(err)
	}
	other := &Run{Pipeline: "another", Started: start, Outcome: OutcomeInterrupted}
	if err := s.SaveRun(other); err != nil {
		t.Fatal(err)
	}
	if r2.ID != 2 || other.ID != 1 {
		t.Errorf("IDs %d and %d, want 2 and 1 (per-pipeline sequences)", r2.ID, other.ID)
	}
	runs, err := s.Runs("zoho", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	if !reflect.DeepEqual(runs[0], *r2) || !reflect.DeepEqual(runs[1], *r1) {
		t.Errorf("runs newest first:\n got %+v\nwant %+v, %+v", runs, *r2, *r1)
	}
	if runs, _ := s.Runs("zoho", 1); len(runs) != 1 || runs[0].ID != 2 {
		t.Errorf("limit 1: %+v", runs)
	}
	if runs, _ := s.Runs("nobody", 5); len(runs) != 0 {
		t.Errorf("unknown pipeline has runs: %+v", runs)
	}
	p, err := s.Pipelines()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"another", "zoho"}; !reflect.DeepEqual(p, want) {
		t.Errorf("pipelines %q, want %q", p, want)
	}
	if err := s.SaveRun(&Run{}); err == nil {
		t.Error("run without pipeline accepted")
	}
}

func TestRunsTrimmed(t *testing.T) {
	s, _ := open(t)
	// Skipping fsync here only speeds up the many small writes; durability
	// is not what this test is about.
	s.db.NoSync = true
	const total = KeepRuns + 25
	for i := range total {
		r := &Run{Pipeline: "p", Started: time.Unix(int64(i), 0).UTC(), Outcome: OutcomeSucceeded}
		if err := s.SaveRun(r); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := s.Runs("p", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != KeepRuns {
		t.Fatalf("%d runs kept, want %d", len(runs), KeepRuns)
	}
	if runs[0].ID != total || runs[len(runs)-1].ID != total-KeepRuns+1 {
		t.Errorf("kept IDs %d..%d, want %d..%d", runs[len(runs)-1].ID, runs[0].ID, total-KeepRuns+1, total)
	}
	for i := 1; i < len(runs); i++ {
		if runs[i].ID != runs[i-1].ID-1 {
			t.Fatalf("runs out of order at %d: %d after %d", i, runs[i].ID, runs[i-1].ID)
		}
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := StreamState{State: json.RawMessage(`{"next":5}`), Generation: 2, FullRefresh: 2}
	run := &Run{Pipeline: "p", Started: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Outcome: OutcomeSucceeded, Read: 5, Written: 5}
	creds := json.RawMessage(`{"refresh_token":"x"}`)
	if err := s.SaveStream("p", "items", st); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRun(run); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCredentials("source.generator.a", creds); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("reopening after close: %v", err)
	}
	defer s.Close()
	if got, _ := s.Stream("p", "items"); !reflect.DeepEqual(got, st) {
		t.Errorf("stream after reopen: %+v", got)
	}
	if runs, _ := s.Runs("p", 0); len(runs) != 1 || !reflect.DeepEqual(runs[0], *run) {
		t.Errorf("runs after reopen: %+v", runs)
	}
	if c, _ := s.Credentials("source.generator.a"); string(c) != string(creds) {
		t.Errorf("credentials after reopen: %s", c)
	}
	// The run sequence continues rather than reusing IDs.
	next := &Run{Pipeline: "p", Outcome: OutcomeRunning}
	if err := s.SaveRun(next); err != nil {
		t.Fatal(err)
	}
	if next.ID != 2 {
		t.Errorf("run after reopen got ID %d, want 2", next.ID)
	}
}
