package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStateBlock(t *testing.T) {
	t.Setenv("TEST_DATABASE_URL", "postgres://app:hunter2@db/replicator")
	c, diags := loadSource(t, `
state {
  postgres                = env("TEST_DATABASE_URL")
  encryption_key          = "k1"
  previous_encryption_key = "k0"
  takeover_after          = "30s"
}
`)
	if diags.HasErrors() {
		t.Fatal(diagsText(c, diags))
	}
	want := State{Postgres: "postgres://app:hunter2@db/replicator", EncryptionKey: "k1", PreviousEncryptionKey: "k0", TakeoverAfter: 30 * time.Second}
	got := c.State
	got.DeclRange = nil
	if got != want {
		t.Errorf("state %+v, want %+v", got, want)
	}

	c, diags = loadSource(t, `state {
  postgres       = "postgres://db/r"
  encryption_key = "k1"
}`)
	if diags.HasErrors() || c.State.TakeoverAfter != DefaultTakeoverAfter {
		t.Errorf("default takeover_after: %v, %s", c.State.TakeoverAfter, diagsText(c, diags))
	}
	if c, _ := loadSource(t, `replicator {}`); c.State.DeclRange != nil || c.State.Postgres != "" {
		t.Errorf("state without a block: %+v", c.State)
	}

	// Without postgres, the block encrypts the state file's credentials.
	t.Setenv("TEST_STATE_KEY", "k1")
	c, diags = loadSource(t, `state {
  encryption_key = env("TEST_STATE_KEY")
}`)
	if diags.HasErrors() || c.State.Postgres != "" || c.State.EncryptionKey != "k1" || c.State.DeclRange == nil {
		t.Errorf("state block for the state file: %+v, %s", c.State, diagsText(c, diags))
	}
}

func TestStateBlockDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		src, summary string
		line         int
	}{
		{"state {\n  postgres = \"postgres://db/r\"\n}", "Missing required argument", 1},
		{"state {\n}", "Missing required argument", 1},
		{"state {\n  postgres = \"postgres://db/r\"\n  encryption_key = \"\"\n}", "Invalid encryption_key", 3},
		{"state {\n  postgres = [\"postgres://u:hunter2@db/r\"]\n  encryption_key = \"k\"\n}", "Invalid postgres", 2},
		{"state {\n  postgres = \"x\"\n  encryption_key = \"k\"\n  takeover_after = \"soon\"\n}", "Invalid takeover_after", 4},
		{"state {\n  postgres = \"x\"\n  encryption_key = \"k\"\n}\nstate {\n  postgres = \"y\"\n  encryption_key = \"k\"\n}", "Duplicate state block", 5},
	} {
		c, diags := loadSource(t, tc.src)
		if !diags.HasErrors() {
			t.Errorf("%q: no error", tc.src)
			continue
		}
		d := diags[0]
		if d.Summary != tc.summary || d.Subject == nil || d.Subject.Start.Line != tc.line {
			t.Errorf("%q: %q at %v, want %q at line %d", tc.src, d.Summary, d.Subject, tc.summary, tc.line)
		}
		if text := diagsText(c, diags); strings.Contains(text, "hunter2") {
			t.Errorf("a diagnostic shows the secret:\n%s", text)
		}
	}
}

// LoadStore reads where the state is kept from a folder of many files
// without decoding the others, and without the encryption key: a tenant
// file with an error goes unnoticed, and a key from an unset variable is
// not asked for.
func TestLoadStoreReadsOnlyWhereTheStateIs(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TEST_DATABASE_URL", "postgres://db/r")
	for name, src := range map[string]string{
		"state.hcl": `state {
  postgres       = env("TEST_DATABASE_URL")
  encryption_key = env("TEST_UNSET_KEY")
  takeover_after = "20s"
}
`,
		"tenant.hcl": `pipeline "t" { source = source.nowhere.t }`,
		"broken.hcl": `pipeline "b" {`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, diags := LoadStore(dir)
	if diags.HasErrors() {
		t.Fatal(diagsText(c, diags))
	}
	if c.State.Postgres != "postgres://db/r" || c.State.TakeoverAfter != 20*time.Second || c.State.EncryptionKey != "" {
		t.Errorf("state %+v", c.State)
	}
	if _, diags := Load(dir); !diags.HasErrors() {
		t.Error("Load found nothing wrong with the folder")
	}

	// Without a state block: the state file, where state_file says.
	file := filepath.Join(t.TempDir(), "one.hcl")
	if err := os.WriteFile(file, []byte("replicator {\n  state_file = \"data/state.db\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, diags = LoadStore(file)
	if diags.HasErrors() || c.State.Postgres != "" || c.StateFile != filepath.Join(filepath.Dir(file), "data/state.db") {
		t.Errorf("state file %q, postgres %q, %s", c.StateFile, c.State.Postgres, diagsText(c, diags))
	}
	if c, diags := LoadStore(filepath.Join(dir, "missing.hcl")); !diags.HasErrors() {
		t.Errorf("a missing configuration: %+v", c)
	}
}
