package engine

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/internal/logbuf"
	"github.com/replicatorhq/replicator/plugin/launch"
)

// The host block's call_timeout bounds the calls the engine makes: a
// plugin that never answers Spec fails the launch instead of hanging it.
func TestLaunchTakesTheHostsCallTimeout(t *testing.T) {
	dir := t.TempDir()
	// The test plugin behaves as its name says: this one never answers.
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "replicator-source-hang"), "../../plugin/launch/testdata/misbehave")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the test plugin: %v\n%s", err, out)
	}
	host := config.DefaultHost()
	host.CallTimeout = 300 * time.Millisecond
	e := &Engine{Config: &config.Config{Dir: dir, Host: host}, Dirs: []string{dir}, Log: hclog.NewNullLogger(), Binaries: launch.NewBinaries()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := e.StartUnlocked(ctx, launch.KindSource, "hang")
	want := "plugin replicator-source-hang did not answer Spec within 300ms"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("launch of a plugin that never answers: %v, want %q", err, want)
	}
}

// Spec launches a plugin binary once, however often it is asked and across
// reloads; a binary that changed on disk is asked again, and a copy under
// another type's name is still refused.
func TestSpecAsksEachBinaryOnce(t *testing.T) {
	dir := t.TempDir()
	gen := filepath.Join(dir, "replicator-source-generator")
	build := exec.Command("go", "build", "-o", gen, "../../connector/generator/cmd/replicator-source-generator")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the generator: %v\n%s", err, out)
	}
	var log logbuf.Buffer
	cfg := &config.Config{Dir: dir, Host: config.DefaultHost()}
	base := &Engine{Dirs: []string{dir}, Binaries: launch.NewBinaries(), Specs: NewSpecs()}
	e, err := base.Reload(cfg, hclog.New(&hclog.LoggerOptions{Output: &log, Level: hclog.Debug}))
	if err != nil {
		t.Fatal(err)
	}
	launches := func() int { return strings.Count(log.String(), "starting plugin") }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ask := func(e *Engine, typ string) error {
		t.Helper()
		spec, err := e.SpecToValidate(ctx, launch.KindSource, typ)
		if err == nil && spec.Name != "generator" {
			t.Fatalf("spec of %s: %+v", typ, spec)
		}
		return err
	}
	for range 3 {
		if err := ask(e, "generator"); err != nil {
			t.Fatal(err)
		}
	}
	again, err := e.Reload(cfg, e.Log)
	if err != nil {
		t.Fatal(err)
	}
	if err := ask(again, "generator"); err != nil {
		t.Fatal(err)
	}
	if n := launches(); n != 1 {
		t.Fatalf("%d launches for four asks of one binary, want 1:\n%s", n, log.String())
	}

	// Trailing bytes leave the binary runnable, with another checksum.
	f, err := os.OpenFile(gen, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Write([]byte("changed"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := ask(again, "generator"); err != nil {
		t.Fatal(err)
	}
	if n := launches(); n != 2 {
		t.Fatalf("%d launches after the binary changed, want 2", n)
	}

	copied := filepath.Join(dir, "replicator-source-contacts")
	if err := os.Link(gen, copied); err != nil {
		t.Fatal(err)
	}
	var wrong *SpecNameError
	if err := ask(again, "contacts"); !errors.As(err, &wrong) {
		t.Fatalf("the generator named replicator-source-contacts: %v, want a SpecNameError", err)
	}
}
