package launch

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// settled returns a cache that sees every file as last changed long ago,
// outside the window in which a hash is not reused.
func settled() *Binaries {
	b := NewBinaries()
	b.now = func() time.Time { return time.Now().Add(time.Hour) }
	return b
}

func open(t *testing.T, b *Binaries, path string) string {
	t.Helper()
	bin, err := b.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	bin.Release()
	return bin.SHA256
}

func TestBinaryIsHashedOncePerChangeOfItsFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("binaries are hashed at every launch where files have no inode and ctime")
	}
	path := filepath.Join(t.TempDir(), "replicator-source-x")
	if err := os.WriteFile(path, []byte("first version"), 0o755); err != nil {
		t.Fatal(err)
	}
	b := settled()
	defer b.Close()
	first := open(t, b, path)
	if again := open(t, b, path); again != first || b.Hashes() != 1 {
		t.Fatalf("second open: sha %s (first %s), %d hashes; want the same sha from one hash", again, first, b.Hashes())
	}

	// Rewritten in place, same size, mtime put back: the ctime still moves.
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("FIRST"), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	rewritten := open(t, b, path)
	if rewritten == first || b.Hashes() != 2 {
		t.Fatalf("after an in-place rewrite: sha %s (was %s), %d hashes; want a new hash", rewritten, first, b.Hashes())
	}

	// Renamed over with a file of the same content as the original.
	other := path + ".new"
	if err := os.WriteFile(other, []byte("first version"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	if renamed := open(t, b, path); renamed != first || b.Hashes() != 3 {
		t.Fatalf("after a rename over it: sha %s (want %s), %d hashes; want a new hash", renamed, first, b.Hashes())
	}
	open(t, b, path)
	if b.Hashes() != 3 {
		t.Fatalf("%d hashes of an unchanged file, want 3", b.Hashes())
	}
}

func TestBinaryJustChangedIsHashedAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replicator-source-x")
	if err := os.WriteFile(path, []byte("fresh"), 0o755); err != nil {
		t.Fatal(err)
	}
	b := NewBinaries()
	defer b.Close()
	open(t, b, path)
	open(t, b, path)
	if b.Hashes() != 2 {
		t.Fatalf("%d hashes; a file changed within the timestamp tick of its hash must be hashed again", b.Hashes())
	}
}

func TestStartRunsTheFileThatWasHashed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("launching through the open file needs /proc/self/fd")
	}
	// A copy of its own: the test replaces the file, which other tests
	// share.
	path := filepath.Join(t.TempDir(), "replicator-source-generator")
	content, err := os.ReadFile(buildGenerator(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, content, 0o755); err != nil {
		t.Fatal(err)
	}
	b := settled()
	defer b.Close()
	bin, err := b.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer bin.Release()
	// The path is replaced after the check: what starts is still the
	// binary that was hashed.
	impostor := path + ".new"
	if err := os.WriteFile(impostor, []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(impostor, path); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, Config{Binary: bin, Kind: KindSource, SHA256: bin.SHA256})
	if err != nil {
		t.Fatalf("start the hashed binary: %v", err)
	}
	defer c.Close()
	src, err := c.Source()
	if err != nil {
		t.Fatal(err)
	}
	if spec, err := src.Spec(ctx); err != nil || spec.Name != "generator" {
		t.Fatalf("spec %+v, err %v", spec, err)
	}
	if args := c.cmd.Args; len(args) == 0 || args[0] != path {
		t.Errorf("the plugin runs as %q, want its path %s", args, path)
	}

	wrong := strings.Repeat("0", 64)
	if _, err := Start(ctx, Config{Binary: bin, Kind: KindSource, SHA256: wrong}); err == nil ||
		!strings.Contains(err.Error(), "does not match") {
		t.Fatalf("start with a pin the binary does not have: %v", err)
	}
}

// One host certificate serves every launch of a host process: each plugin
// accepts the host by it, over mutual TLS, as with a new one per launch.
func TestPluginsAcceptOneHostCertificate(t *testing.T) {
	path := buildGenerator(t)
	hc, err := NewHostCert()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range 2 {
		c, err := Start(ctx, Config{Path: path, Kind: KindSource, HostCert: hc, Env: EnvForPlugin(hclog.Info)})
		if err != nil {
			t.Fatalf("start with the host's certificate: %v", err)
		}
		src, err := c.Source()
		if err != nil {
			t.Fatal(err)
		}
		if spec, err := src.Spec(ctx); err != nil || spec.Name != "generator" {
			t.Fatalf("spec %+v, err %v", spec, err)
		}
		// The plugin was told to accept this host's certificate only, and
		// the call above passed its check of the host's.
		if !slices.Contains(c.cmd.Env, hc.env()) {
			t.Error("the plugin was not given the host's certificate")
		}
		c.Close()
	}
}
