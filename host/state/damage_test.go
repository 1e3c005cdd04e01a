package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// filled writes a state file with enough runs to span many pages and
// closes it.
func filled(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.db.NoSync = true
	var claims []*Claim
	for i := range 7 {
		claims = append(claims, claimFor(t, s, fmt.Sprintf("p%d", i)))
	}
	for i := range 300 {
		r := &Run{Pipeline: fmt.Sprintf("p%d", i%7), Started: time.Unix(int64(i), 0).UTC(), Outcome: OutcomeSucceeded, Error: strings.Repeat("x", 200)}
		if err := s.SaveRun(ctx, claims[i%7].Fence, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveStream(ctx, claims[0].Fence, "items", StreamState{State: json.RawMessage(`{"n":1}`), Generation: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func wantDamaged(t *testing.T, err error, path string, more ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("Open accepted a damaged state file")
	}
	if !errors.Is(err, ErrDamaged) {
		t.Errorf("error %q does not wrap ErrDamaged", err)
	}
	for _, want := range append([]string{path, "restore it from a backup", "-fresh-state"}, more...) {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func movedAside(t *testing.T, path string) {
	t.Helper()
	m, _ := filepath.Glob(path + ".damaged-*")
	if len(m) != 1 {
		t.Errorf("damaged file not moved aside: %q", m)
	}
}

func TestOpenTruncated(t *testing.T) {
	path := filled(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	_, err = OpenFile(path, FileOptions{})
	wantDamaged(t, err, path, "truncated")
	// Refusing leaves the file as it was, for recovery.
	if fi2, _ := os.Stat(path); fi2.Size() != fi.Size()/2 {
		t.Errorf("refused file changed size: %d", fi2.Size())
	}

	s, err := OpenFile(path, FileOptions{Fresh: true})
	if err != nil {
		t.Fatalf("fresh start: %v", err)
	}
	defer s.Close()
	movedAside(t, path)
	if p, _ := s.Pipelines(ctx); len(p) != 0 {
		t.Errorf("fresh state file has pipelines %q", p)
	}
}

func TestOpenDamagedPages(t *testing.T) {
	for _, pattern := range []byte{0x00, 0xff, 0x5a} {
		t.Run(fmt.Sprintf("%#x", pattern), func(t *testing.T) {
			path := filled(t)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// Leave the two meta pages; overwrite what they point at.
			const page = 4096
			for i := 2 * page; i < len(b); i++ {
				if (i/page)%3 == 0 {
					b[i] = pattern
				}
			}
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := OpenFile(path, FileOptions{})
			if err == nil {
				// Whatever Open missed must still be an error, not a panic.
				defer s.Close()
				for i := range 7 {
					if _, err = s.Runs(ctx, fmt.Sprintf("p%d", i), 0); err != nil {
						break
					}
				}
			}
			wantDamaged(t, err, path)
		})
	}
}

func TestOpenBothHeadersDamaged(t *testing.T) {
	path := filled(t)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xee}, 2*4096), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = OpenFile(path, FileOptions{})
	wantDamaged(t, err, path, "not a bbolt file")
}

func TestOpenEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenFile(path, FileOptions{})
	wantDamaged(t, err, path, "empty (0 bytes)")
	s, err := OpenFile(path, FileOptions{Fresh: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	movedAside(t, path)
}

func TestOpenMissingAfterUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(path + MarkerSuffix); err != nil {
		t.Fatalf("no marker beside the state file: %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	_, err = OpenFile(path, FileOptions{})
	if err == nil {
		t.Fatal("a missing state file that was used before was recreated")
	}
	for _, want := range []string{path + " is missing", MarkerSuffix, "-fresh-state", "backup"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("refusing created the file anyway")
	}
	s, err = OpenFile(path, FileOptions{Fresh: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestOpenEnforcesMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	s, err = OpenFile(path, FileOptions{Log: hclog.New(&hclog.LoggerOptions{Output: &logged})})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, _ := os.Stat(path)
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("mode %v after open, want 0600", m)
	}
	if !strings.Contains(logged.String(), "state file was readable by others; its mode is now 0600") {
		t.Errorf("no warning about the mode; log: %s", logged.String())
	}
}

func TestWriteAfterFileDeleted(t *testing.T) {
	s, path := open(t)
	c := claimFor(t, s, "p")
	if err := s.SaveStream(ctx, c.Fence, "c", StreamState{Generation: 1}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	err := s.SaveStream(ctx, c.Fence, "c", StreamState{Generation: 2})
	if err == nil || !strings.Contains(err.Error(), "was deleted while in use") {
		t.Errorf("write to a deleted state file: %v", err)
	}
	if err := s.SaveRun(ctx, c.Fence, &Run{Pipeline: "p", Outcome: OutcomeSucceeded}); err == nil {
		t.Error("run saved to a deleted state file")
	}
}

func TestWriteAfterFileReplaced(t *testing.T) {
	s, path := open(t)
	other := filepath.Join(filepath.Dir(path), "other.db")
	if err := os.WriteFile(other, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	err := s.SaveCredentials(ctx, NoFence, "source.a.b", json.RawMessage(`{}`))
	if err == nil || !strings.Contains(err.Error(), "was replaced by another file while in use") {
		t.Errorf("write to a replaced state file: %v", err)
	}
}

func TestRunningRunCrashedAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := claimFor(t, s, "p")
	done := &Run{Pipeline: "p", Outcome: OutcomeRunning}
	if err := s.SaveRun(ctx, c.Fence, done); err != nil {
		t.Fatal(err)
	}
	done.Outcome = OutcomeSucceeded
	if err := s.SaveRun(ctx, c.Fence, done); err != nil {
		t.Fatal(err)
	}
	left := &Run{Pipeline: "p", Outcome: OutcomeRunning, Read: 5}
	if err := s.SaveRun(ctx, c.Fence, left); err != nil {
		t.Fatal(err)
	}
	// The host dies: the file is closed without the run ending. (Close
	// releases the claim, as the next open would.)
	s.Close()

	s, err = OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runs, err := s.Runs(ctx, "p", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].Outcome != OutcomeCrashed || runs[0].Error != CrashedError || runs[0].Read != 5 {
		t.Errorf("run left running: %+v", runs[0])
	}
	if runs[1].Outcome != OutcomeSucceeded {
		t.Errorf("finished run changed: %+v", runs[1])
	}
}

func TestBackupRestores(t *testing.T) {
	s, _ := open(t)
	st := StreamState{State: json.RawMessage(`{"next":3}`), Generation: 7}
	if err := s.SaveStream(ctx, claimFor(t, s, "p").Fence, "c", st); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "restored.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.Stream(ctx, "p", "c")
	if err != nil || got.Generation != 7 || string(got.State) != `{"next":3}` {
		t.Errorf("restored stream: %+v, %v", got, err)
	}
}

// damageFile overwrites the first occurrence of what in the file with with.
func damageFile(t *testing.T, path string, what, with []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, what)
	if i < 0 {
		t.Fatalf("%q is not in the file", what)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(with, int64(i)); err != nil {
		t.Fatal(err)
	}
}

// TestOpenDamagedValue damages bytes inside stored values, where bbolt's
// check of the pages does not look: one change keeps the value valid JSON,
// which only a checksum tells from what was stored, the other does not.
func TestOpenDamagedValue(t *testing.T) {
	for name, with := range map[string][]byte{"still JSON": []byte("xy"), "not JSON": {'x', 0x14}} {
		t.Run(name, func(t *testing.T) {
			path := filled(t)
			damageFile(t, path, []byte(strings.Repeat("x", 200)), with)
			s, err := OpenFile(path, FileOptions{})
			if err == nil {
				s.Close()
			}
			wantDamaged(t, err, path, "of pipeline", "run ")
		})
	}
}

// TestDamagedValueFoundAtRead damages a value while the file is open: the
// read that meets it says what to do, as open would have.
func TestDamagedValueFoundAtRead(t *testing.T) {
	s, path := open(t)
	c := claimFor(t, s, "p")
	if err := s.SaveStream(ctx, c.Fence, "items", StreamState{State: json.RawMessage(`{"next":12345}`), Generation: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRun(ctx, c.Fence, &Run{Pipeline: "p", Outcome: OutcomeSucceeded, Error: "all good"}); err != nil {
		t.Fatal(err)
	}
	damageFile(t, path, []byte(`"next":12345`), []byte("9"))
	damageFile(t, path, []byte(`all good`), []byte{0x14})
	_, err := s.Stream(ctx, "p", "items")
	wantDamaged(t, err, path, `stream "items" of pipeline "p"`)
	_, err = s.Streams(ctx, "p")
	wantDamaged(t, err, path, `stream "items"`)
	_, err = s.Runs(ctx, "p", 0)
	wantDamaged(t, err, path, "run 1")
}

// TestRandomDamageIsNeverSilent damages a few bytes at random places of a
// state file, many times over: each time the file is refused as damaged,
// or everything in it reads back exactly as it was stored (the damage hit
// free space). Never a panic, a decode error or a changed value.
func TestRandomDamageIsNeverSilent(t *testing.T) {
	path := filled(t)
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := contents(t, path)
	const page = 4096
	refused := 0
	for seed := range 100 {
		rng := rand.New(rand.NewPCG(uint64(seed), 15))
		b := bytes.Clone(whole)
		// Past the two meta pages, which have checksums of their own.
		off := 2*page + rng.IntN(len(b)-2*page-8)
		for i := range 8 {
			b[off+i] = byte(rng.IntN(256))
		}
		p := filepath.Join(t.TempDir(), "state.db")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := OpenFile(p, FileOptions{})
		if err != nil {
			wantDamaged(t, err, p)
			refused++
			continue
		}
		s.Close()
		if got := contents(t, p); !reflect.DeepEqual(got, want) {
			t.Errorf("seed %d: damage at offset %d read back as different contents without an error", seed, off)
		}
	}
	if refused == 0 {
		t.Error("no damage was found: the test damages nothing")
	}
}

// contents reads everything in the state file at path.
func contents(t *testing.T, path string) map[string]any {
	t.Helper()
	s, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := map[string]any{}
	pipelines, err := s.Pipelines(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pipelines {
		runs, err := s.Runs(ctx, p, 0)
		if err != nil {
			t.Fatal(err)
		}
		streams, err := s.Streams(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		out["runs "+p], out["streams "+p] = runs, streams
	}
	return out
}
