package engine

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/plugin"
)

// The host block's call_timeout bounds the calls the engine makes: a
// plugin that never answers Spec fails the launch instead of hanging it.
func TestLaunchTakesTheHostsCallTimeout(t *testing.T) {
	dir := t.TempDir()
	// The test plugin behaves as its name says: this one never answers.
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "replicator-source-hang"), "../../plugin/testdata/misbehave")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the test plugin: %v\n%s", err, out)
	}
	host := config.DefaultHost()
	host.CallTimeout = 300 * time.Millisecond
	e := &Engine{Config: &config.Config{Dir: dir, Host: host}, Dirs: []string{dir}, Log: hclog.NewNullLogger()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := e.StartUnlocked(ctx, plugin.KindSource, "hang")
	want := "plugin replicator-source-hang did not answer Spec within 300ms"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("launch of a plugin that never answers: %v, want %q", err, want)
	}
}
