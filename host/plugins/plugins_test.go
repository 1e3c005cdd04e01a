package plugins

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestBinaryName(t *testing.T) {
	want := "replicator-source-zoho"
	if runtime.GOOS == "windows" {
		want += ".exe"
	}
	if got := BinaryName("source", "zoho"); got != want {
		t.Errorf("BinaryName = %q, want %q", got, want)
	}
}

func TestSearchDirs(t *testing.T) {
	sep := string(os.PathListSeparator)
	root := filepath.FromSlash("/opt")
	work := filepath.Join(root, "work")
	bin := filepath.Join(root, "bin")
	extra := filepath.Join(root, "extra")
	tests := []struct {
		name                 string
		exeDir, workDir, env string
		want                 []string
	}{
		{"no env", bin, work, "", []string{bin, filepath.Join(work, "plugins")}},
		{"env folders in order", bin, work, extra + sep + filepath.Join(root, "more"),
			[]string{bin, filepath.Join(work, "plugins"), extra, filepath.Join(root, "more")}},
		{"empty entries skipped", bin, work, sep + extra + sep + sep,
			[]string{bin, filepath.Join(work, "plugins"), extra}},
		{"repeats dropped", bin, work, bin + sep + extra + sep + extra + string(filepath.Separator),
			[]string{bin, filepath.Join(work, "plugins"), extra}},
		{"relative entry taken from workDir", bin, work, "local",
			[]string{bin, filepath.Join(work, "plugins"), filepath.Join(work, "local")}},
		{"no exeDir", "", work, "", []string{filepath.Join(work, "plugins")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SearchDirs(tt.exeDir, tt.workDir, tt.env); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SearchDirs = %q, want %q", got, tt.want)
			}
		})
	}
}

// place writes a file named name in dir with the given mode.
func place(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask may have cleared bits
		t.Fatal(err)
	}
	return p
}

func skipWithoutExecBit(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no execute permission bit")
	}
}

func TestFind(t *testing.T) {
	skipWithoutExecBit(t)
	first, second, third := t.TempDir(), t.TempDir(), t.TempDir()
	missing := filepath.Join(t.TempDir(), "missing")
	dirs := []string{missing, first, second, third}

	place(t, first, "replicator-source-zoho", 0o644) // not executable: ignored
	want := place(t, second, "replicator-source-zoho", 0o755)
	place(t, third, "replicator-source-zoho", 0o755)
	if err := os.Mkdir(filepath.Join(first, "replicator-destination-roger365"), 0o755); err != nil {
		t.Fatal(err) // a folder with a plugin's name is not a plugin
	}

	got, err := Find(dirs, "source", "zoho")
	if err != nil || got != want {
		t.Errorf("Find = %q, %v; want %q", got, err, want)
	}

	_, err = Find(dirs, "destination", "roger365")
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("Find of a missing plugin = %v, want a *NotFoundError", err)
	}
	msg := err.Error()
	for _, s := range append([]string{"replicator-destination-roger365", PathEnv}, dirs...) {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q lacks %q", msg, s)
		}
	}

	// Only non-executable copies: the error says so.
	_, err = Find(dirs[:2], "source", "zoho")
	if err == nil || !strings.Contains(err.Error(), "not executable") ||
		!strings.Contains(err.Error(), filepath.Join(first, "replicator-source-zoho")) {
		t.Errorf("Find with a non-executable copy = %v", err)
	}

	for _, bad := range [][2]string{{"sink", "zoho"}, {"source", ""}, {"source", "../zoho"}} {
		if _, err := Find(dirs, bad[0], bad[1]); err == nil || errors.As(err, &nf) {
			t.Errorf("Find(%q, %q) = %v, want an invalid-name error", bad[0], bad[1], err)
		}
	}
}

func TestList(t *testing.T) {
	skipWithoutExecBit(t)
	first, second := t.TempDir(), t.TempDir()
	place(t, first, "replicator-source-zoho", 0o755)
	place(t, first, "replicator-destination-roger365", 0o644) // not executable
	place(t, first, "replicator-source-", 0o755)              // no type
	place(t, first, "replicator-sink-x", 0o755)               // no such kind
	place(t, first, "README", 0o755)
	place(t, second, "replicator-source-zoho", 0o755) // shadowed by first
	place(t, second, "replicator-destination-roger365", 0o755)
	place(t, second, "replicator-source-hubspot", 0o755)

	got, err := List([]string{filepath.Join(first, "missing"), first, second})
	if err != nil {
		t.Fatal(err)
	}
	want := []Found{
		{Kind: "destination", Type: "roger365", Path: filepath.Join(second, "replicator-destination-roger365")},
		{Kind: "source", Type: "hubspot", Path: filepath.Join(second, "replicator-source-hubspot")},
		{Kind: "source", Type: "zoho", Path: filepath.Join(first, "replicator-source-zoho")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List =\n%+v\nwant\n%+v", got, want)
	}

	// List and Find agree on which copy wins.
	for _, f := range got {
		p, err := Find([]string{first, second}, f.Kind, f.Type)
		if err != nil || p != f.Path {
			t.Errorf("Find(%s, %s) = %q, %v; List said %q", f.Kind, f.Type, p, err, f.Path)
		}
	}

	empty, err := List(nil)
	if err != nil || len(empty) != 0 {
		t.Errorf("List(nil) = %v, %v", empty, err)
	}
}
