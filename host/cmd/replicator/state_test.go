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
	"github.com/replicatorhq/replicator/host/state/postgres"
	"github.com/replicatorhq/replicator/host/state/postgres/pgtest"
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

// TestPostgresStateCopy moves a state file into PostgreSQL and back, and
// reads status from the database, with who runs a pipeline now.
func TestPostgresStateCopy(t *testing.T) {
	ctx := context.Background()
	server, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Remove()
	url, err := server.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	url += " password=hunter2" // trust authentication ignores it; no output may show it
	const key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "replicator.hcl")
	t.Setenv("TEST_DATABASE_URL", url)
	cfg := "state {\n  postgres = env(\"TEST_DATABASE_URL\")\n  encryption_key = \"" + key + "\"\n}\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	from := filepath.Join(dir, "replicator.db")
	s, err := state.OpenFile(from, state.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Claim(ctx, "tenant-1", "old-host")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveStream(ctx, c.Fence, "contacts", state.StreamState{State: json.RawMessage(`{"since":"x"}`), Generation: 5}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRun(ctx, c.Fence, &state.Run{Pipeline: "tenant-1", Outcome: state.OutcomeSucceeded, Read: 12, Written: 12}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCredentials(ctx, state.NoFence, "source.zoho.t1", json.RawMessage(`{"refresh_token":"keep-me"}`)); err != nil {
		t.Fatal(err)
	}
	s.Close()

	code, stdout, stderr := replicator(t, "state", "copy", "-config", cfgPath, "-from", from, "-to", url)
	if code != 0 {
		t.Fatalf("state copy to PostgreSQL: code %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "Copied 1 pipeline(s) with 1 stream(s) and 1 run(s), and the credentials of 1 source(s)") ||
		!strings.Contains(stdout, "password=xxxxx") || strings.Contains(stdout+stderr, "hunter2") {
		t.Errorf("stdout %q", stdout)
	}

	// Status reads the database named by the state block, and shows who
	// holds a pipeline.
	keys, err := state.NewKeyring(key, "")
	if err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(ctx, postgres.Options{URL: url, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if creds, err := db.Credentials(ctx, "source.zoho.t1"); err != nil || string(creds) != `{"refresh_token":"keep-me"}` {
		t.Errorf("credentials in the database: %s, %v", creds, err)
	}
	held, err := db.Claim(ctx, "tenant-1", "host-b:42")
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = replicator(t, "status", "-config", cfgPath)
	if code != 0 {
		t.Fatalf("status: code %d\n%s", code, stderr)
	}
	for _, want := range []string{"Pipeline tenant-1 is running on host-b:42", "succeeded"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, stdout)
		}
	}
	// Reading the history needs no encryption key.
	keyless := "state {\n  postgres = env(\"TEST_DATABASE_URL\")\n  encryption_key = env(\"TEST_UNSET_KEY\")\n}\n"
	if err := os.WriteFile(cfgPath, []byte(keyless), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = replicator(t, "status", "-config", cfgPath, "tenant-1")
	if code != 0 || !strings.Contains(stdout, "succeeded") {
		t.Errorf("status without the key: code %d\n%s%s", code, stdout, stderr)
	}
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// Copying into a database where a host runs the pipeline is refused.
	code, _, stderr = replicator(t, "state", "copy", "-config", cfgPath, "-from", from, "-to", url)
	if code == 0 || !strings.Contains(stderr, `pipeline "tenant-1" is running on host-b:42`) || strings.Contains(stderr, "hunter2") {
		t.Errorf("copy over a running pipeline: code %d\n%s", code, stderr)
	}
	if err := held.Release(ctx); err != nil {
		t.Fatal(err)
	}

	back := filepath.Join(dir, "back.db")
	if code, _, stderr := replicator(t, "state", "copy", "-config", cfgPath, "-from", url, "-to", back); code != 0 {
		t.Fatalf("state copy back to a file: code %d\n%s", code, stderr)
	}
	// The state block's key encrypts the credentials in the file too.
	f, err := state.OpenFile(back, state.FileOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if st, _ := f.Stream(ctx, "tenant-1", "contacts"); st.Generation != 5 || string(st.State) != `{"since":"x"}` {
		t.Errorf("stream copied back: %+v", st)
	}
	if creds, err := f.Credentials(ctx, "source.zoho.t1"); string(creds) != `{"refresh_token":"keep-me"}` {
		t.Errorf("credentials copied back: %s, %v", creds, err)
	}
	if b, _ := os.ReadFile(back); bytes.Contains(b, []byte("keep-me")) {
		t.Error("the file copied back holds the credentials in plain")
	}
}

// Under `replicator run`, -fresh-state applies to the first open only: a
// state file deleted later is refused, not silently started again.
func TestSharedStoreFreshOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replicator.db")
	shared := &sharedStore{path: path, opts: state.FileOptions{Fresh: true}}
	_, release, err := shared.acquire()
	if err != nil {
		t.Fatal(err)
	}
	release()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, _, err := shared.acquire(); err == nil || !strings.Contains(err.Error(), "is missing") {
		t.Fatalf("reopening a deleted state file: %v", err)
	}
}

// TestStateBlockEncryptsTheStateFile: a state block without postgres
// encrypts the state file's credentials, those stored in plain before
// included; state copy carries them into a file sealed with the same key;
// another key is refused with the key to set.
func TestStateBlockEncryptsTheStateFile(t *testing.T) {
	ctx := context.Background()
	const key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	dir := t.TempDir()
	path := filepath.Join(dir, "replicator.db")
	s, err := state.OpenFile(path, state.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCredentials(ctx, state.NoFence, "source.zoho.eu", json.RawMessage(`{"refresh_token":"keep-me"}`)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	writeConfig := func(name, key string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("state {\n  encryption_key = \""+key+"\"\n}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := writeConfig("replicator.hcl", key)

	// A command that opens the state file with the key seals what it
	// holds in plain; status, which reads only the history, needs no key.
	backup := filepath.Join(dir, "backup.db")
	if code, _, stderr := replicator(t, "state", "backup", "-config", cfg, "-to", backup); code != 0 {
		t.Fatalf("state backup: code %d\n%s", code, stderr)
	}
	keys, err := state.NewKeyring(key, "")
	if err != nil {
		t.Fatal(err)
	}
	credentials := func(path string, keys *state.Keyring) (json.RawMessage, error) {
		t.Helper()
		s, err := state.OpenFile(path, state.FileOptions{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		return s.Credentials(ctx, "source.zoho.eu")
	}
	if c, err := credentials(path, nil); err == nil || !strings.Contains(err.Error(), "set the state block's encryption_key") {
		t.Errorf("credentials read without the key: %s, %v", c, err)
	}
	if c, err := credentials(path, keys); err != nil || string(c) != `{"refresh_token":"keep-me"}` {
		t.Errorf("credentials read with the key: %s, %v", c, err)
	}

	copied := filepath.Join(dir, "copy.db")
	if code, _, stderr := replicator(t, "state", "copy", "-config", cfg, "-from", path, "-to", copied); code != 0 {
		t.Fatalf("state copy: code %d\n%s", code, stderr)
	}
	if c, err := credentials(copied, nil); err == nil {
		t.Errorf("the copy holds the credentials in plain: %s", c)
	}
	if c, err := credentials(copied, keys); err != nil || string(c) != `{"refresh_token":"keep-me"}` {
		t.Errorf("credentials in the copy: %s, %v", c, err)
	}

	other := writeConfig("other.hcl", strings.Repeat("ab", 32))
	code, _, stderr := replicator(t, "state", "copy", "-config", other, "-from", path, "-to", filepath.Join(dir, "other.db"))
	if code == 0 || !strings.Contains(stderr, "neither encryption_key") || !strings.Contains(stderr, keys.KeyID()) {
		t.Errorf("state copy with another key: code %d, %s", code, stderr)
	}
}

// Status reads the history without decoding the pipelines: a folder whose
// tenant files have errors still shows it, with the host of each run.
func TestStatusReadsOnlyTheHistory(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := state.OpenFile(filepath.Join(dir, "data.db"), state.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Claim(ctx, "tenant-1", "host-a:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRun(ctx, c.Fence, &state.Run{Pipeline: "tenant-1", Outcome: state.OutcomeSucceeded, Read: 7, Written: 7}); err != nil {
		t.Fatal(err)
	}
	_ = c.Release(ctx)
	s.Close()
	for name, src := range map[string]string{
		"host.hcl":     "replicator {\n  state_file = \"data.db\"\n}\n",
		"tenant-1.hcl": `pipeline "tenant-1" { source = source.gone.x }`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := replicator(t, "status", "-config", dir, "tenant-1")
	if code != 0 {
		t.Fatalf("status: code %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "HOST") || !strings.Contains(stdout, "host-a:1") || !strings.Contains(stdout, "succeeded") {
		t.Errorf("status does not show the run and its host:\n%s", stdout)
	}
}
