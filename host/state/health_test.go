package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckFileHealth(t *testing.T) {
	path := filled(t)
	if err := CheckFileHealth(path); err != nil {
		t.Fatalf("a whole state file: %v", err)
	}
	// The check takes no lock: it answers while a process has the file
	// open, and leaves the file free for the next one.
	s, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckFileHealth(path); err != nil {
		t.Errorf("a state file in use: %v", err)
	}
	s.Close()
	if err := CheckFileHealth(path); err != nil {
		t.Fatal(err)
	}
	s, err = OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatalf("opening the file after the check: %v", err)
	}
	s.Close()

	dir := t.TempDir()
	truncated := filepath.Join(dir, "truncated.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.db")
	empty := filepath.Join(dir, "empty.db")
	for name, content := range map[string][]byte{truncated: b[:len(b)/2], junk: []byte(strings.Repeat("not bolt ", 1000)), empty: nil} {
		if err := os.WriteFile(name, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]string{
		truncated: "truncated", junk: "not a bbolt file", empty: "empty",
		filepath.Join(dir, "missing.db"): "missing", dir: "not a regular file",
	} {
		err := CheckFileHealth(name)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want an error naming the file and saying %q", name, err, want)
		}
		if want != "missing" && want != "not a regular file" && !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: %v does not wrap ErrDamaged", name, err)
		}
	}
}
