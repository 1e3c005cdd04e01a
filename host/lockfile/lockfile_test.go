package lockfile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	var l Lock
	entries := []Entry{
		{Kind: "source", Type: "zoho", Version: "1.0.0", SHA256: sum("zoho")},
		{Kind: "destination", Type: "roger365", Version: "0.3.1", SHA256: sum("roger")},
		{Kind: "source", Type: "hubspot", Version: "2.0.0-beta.1", SHA256: sum("hubspot")},
	}
	for _, e := range entries {
		l.Set(e)
	}
	l.Set(Entry{Kind: "source", Type: "zoho", Version: "1.1.0", SHA256: sum("zoho 1.1")}) // replaces
	if err := l.Save(path); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `# This file is maintained by "replicator init". Commit it with your pipelines.

plugin "destination" "roger365" {
  version = "0.3.1"
  sha256  = "` + sum("roger") + `"
}

plugin "source" "hubspot" {
  version = "2.0.0-beta.1"
  sha256  = "` + sum("hubspot") + `"
}

plugin "source" "zoho" {
  version = "1.1.0"
  sha256  = "` + sum("zoho 1.1") + `"
}
`
	if string(first) != want {
		t.Errorf("file =\n%s\nwant\n%s", first, want)
	}

	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Entries(), l.Entries()) {
		t.Errorf("loaded %+v, saved %+v", got.Entries(), l.Entries())
	}
	if e, ok := got.Get("source", "zoho"); !ok || e.Version != "1.1.0" {
		t.Errorf("Get(source, zoho) = %+v, %v", e, ok)
	}
	if _, ok := got.Get("destination", "zoho"); ok {
		t.Error("Get mixed up kinds")
	}

	// Saving what was loaded gives the same bytes, and leaves no temp files.
	if err := got.Save(path); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(path)
	if string(second) != string(first) {
		t.Errorf("second save differs:\n%s", second)
	}
	files, _ := os.ReadDir(filepath.Dir(path))
	if len(files) != 1 {
		t.Errorf("folder holds %d files, want only the lock file", len(files))
	}

	got.Remove("source", "hubspot")
	if _, ok := got.Get("source", "hubspot"); ok || len(got.Entries()) != 2 {
		t.Error("Remove did not remove")
	}
}

func TestLoadMissing(t *testing.T) {
	l, err := Load(filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Entries()) != 0 {
		t.Errorf("missing file gave entries %+v", l.Entries())
	}
	l.Set(Entry{Kind: "source", Type: "zoho", Version: "1.0.0", SHA256: sum("x")})
	if _, ok := l.Get("source", "zoho"); !ok {
		t.Error("Set on a loaded empty lock did not stick")
	}
}

func TestLoadInvalid(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"syntax", "plugin \"source\" {", "Unclosed configuration block"},
		{"missing sha", "plugin \"source\" \"zoho\" {\n  version = \"1\"\n}\n", `"sha256" is required`},
		{"bad kind", "plugin \"sink\" \"zoho\" {\n  version = \"1\"\n  sha256 = \"" + sum("a") + "\"\n}\n", `"sink" is neither`},
		{"short sha", "plugin \"source\" \"zoho\" {\n  version = \"1\"\n  sha256 = \"abc\"\n}\n", "not 64 lowercase hex digits"},
		{"duplicate", strings.Repeat("plugin \"source\" \"zoho\" {\n  version = \"1\"\n  sha256 = \""+sum("a")+"\"\n}\n", 2), "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			if err := os.WriteFile(path, []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "replicator init") {
				t.Errorf("Load error = %v, want one containing %q and how to fix it", err, tt.want)
			}
		})
	}
}

func TestSaveRejectsInvalidEntry(t *testing.T) {
	var l Lock
	l.Set(Entry{Kind: "source", Type: "zoho", Version: "1.0.0", SHA256: "ABC"})
	if err := l.Save(filepath.Join(t.TempDir(), FileName)); err == nil {
		t.Error("Save accepted a malformed sha256")
	}
}

func TestVerify(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "replicator-source-zoho")
	if err := os.WriteFile(bin, []byte("plugin binary v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	actual, err := FileSHA256(bin)
	if err != nil {
		t.Fatal(err)
	}
	if actual != sum("plugin binary v1") {
		t.Fatalf("FileSHA256 = %s, want %s", actual, sum("plugin binary v1"))
	}

	var l Lock
	l.Set(Entry{Kind: "source", Type: "zoho", Version: "1.0.0", SHA256: actual})
	e, err := l.Verify("source", "zoho", bin)
	if err != nil || e.Version != "1.0.0" {
		t.Fatalf("Verify of the locked binary = %+v, %v", e, err)
	}

	// The binary is replaced: the error names the plugin, both sums and the fix.
	if err := os.WriteFile(bin, []byte("plugin binary v2"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = l.Verify("source", "zoho", bin)
	var mm *MismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("Verify of a replaced binary = %v, want a *MismatchError", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`source plugin "zoho"`,
		actual[:12],
		sum("plugin binary v2")[:12],
		"run `replicator init -upgrade` if you replaced the plugin on purpose",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("mismatch message %q lacks %q", msg, want)
		}
	}

	// A plugin missing from the lock.
	_, err = l.Verify("destination", "roger365", bin)
	var nl *NotLockedError
	if !errors.As(err, &nl) {
		t.Fatalf("Verify of an unlocked plugin = %v, want a *NotLockedError", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `destination plugin "roger365"`) || !strings.Contains(msg, "run `replicator init`") {
		t.Errorf("missing-entry message %q", msg)
	}

	// A missing binary is an ordinary error naming the plugin.
	_, err = l.Verify("source", "zoho", filepath.Join(dir, "gone"))
	if err == nil || errors.As(err, &mm) || !strings.Contains(err.Error(), `source plugin "zoho"`) {
		t.Errorf("Verify of a missing binary = %v", err)
	}
}
