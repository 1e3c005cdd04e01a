package launch

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConnectorInAModuleOfItsOwn builds a connector in a module of its own
// against this checkout with the commands that docs/writing-a-connector.md
// gives for "A checkout", then launches it: the guide's way of depending
// on an untagged SDK must work as written.
func TestConnectorInAModuleOfItsOwn(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile(filepath.Join(root, "docs", "writing-a-connector.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The connector's folder beside a checkout named replicator, as in the
	// guide; the connector is the SDK 1.0 source of the compatibility test.
	dir := t.TempDir()
	if err := os.Symlink(root, filepath.Join(dir, "replicator")); err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(dir, "replicator-source-acme")
	if err := os.Mkdir(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join("testdata", "v1source", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mod, "main.go"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	// Nothing may come from the network: the SDK's dependencies are in the
	// module cache, and their checksums in the checkout's go.sum, which the
	// guide suggests copying where the checksum database is out of reach.
	env := append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=readonly", "GOWORK=off", "GOTOOLCHAIN=local")
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir, cmd.Env = mod, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	steps := [][]string{
		{"go", "mod", "init", "example.com/replicator-source-acme"},
		{"go", "mod", "edit", "-require=github.com/replicatorhq/replicator@v0.0.0-00010101000000-000000000000"},
		{"go", "mod", "edit", "-replace=github.com/replicatorhq/replicator=../replicator"},
		{"cp", "../replicator/go.sum", "."},
		{"go", "mod", "tidy"},
		{"go", "build", "-o", "replicator-source-acme", "."},
	}
	for _, step := range steps {
		line := strings.Join(step, " ")
		if !strings.Contains(string(guide), line) {
			t.Errorf("the guide no longer says %q; change this test with it", line)
		}
		if line == "go mod tidy" {
			// -e: offline, tidy cannot fetch what only the tests of the
			// SDK's dependencies import; the build below needs none of it.
			step = append(step, "-e")
		}
		run(step...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, Config{Path: filepath.Join(mod, "replicator-source-acme"), Kind: KindSource})
	if err != nil {
		t.Fatal(err)
	}
	defer closeOrFail(t, c)
	s, err := c.Source()
	if err != nil {
		t.Fatal(err)
	}
	if spec, err := s.Spec(ctx); err != nil || spec.Name != "v1source" {
		t.Fatalf("spec of the connector built in its own module: %+v, %v", spec, err)
	}
}
