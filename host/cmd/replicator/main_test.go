package main

import (
	"flag"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/host/state/postgres"
)

func TestFlagsMayFollowArguments(t *testing.T) {
	for _, c := range []struct {
		args       []string
		code       string
		positional []string
	}{
		{[]string{"-code", "X", "zoho.eu"}, "X", []string{"zoho.eu"}},
		{[]string{"zoho.eu", "-code", "X"}, "X", []string{"zoho.eu"}},
		{[]string{"zoho.eu", "-code=X", "extra"}, "X", []string{"zoho.eu", "extra"}},
		{[]string{"--", "-code"}, "", []string{"-code"}},
		{[]string{"a", "--", "-code", "X"}, "", []string{"a", "-code", "X"}},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		code := fs.String("code", "", "")
		got, err := parseInterleaved(fs, c.args)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if *code != c.code || !slices.Equal(got, c.positional) {
			t.Errorf("%v: code %q args %q, want %q %q", c.args, *code, got, c.code, c.positional)
		}
	}
}

func TestGrouped(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -45000: "-45,000"} {
		if got := grouped(n); got != want {
			t.Errorf("grouped(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestLogFormat(t *testing.T) {
	var out, errs strings.Builder
	if code := realMain([]string{"status", "-log-format", "yaml"}, strings.NewReader(""), &out, &errs); code != 2 {
		t.Errorf("-log-format yaml: exit %d, want 2", code)
	}
	if !strings.Contains(errs.String(), `-log-format "yaml" is not one of text, json`) {
		t.Errorf("-log-format yaml: stderr %q does not say what to write", errs.String())
	}
}

// With the default takeover_after, a pipeline leaves a host that stopped
// answering within a minute: the claim's session ends after the bound, and
// the other hosts try again every retryAfter.
func TestDefaultTakeoverWithinAMinute(t *testing.T) {
	bound := config.DefaultTakeoverAfter + retryAfter(config.DefaultTakeoverAfter)
	if bound > time.Minute {
		t.Fatalf("a pipeline moves on within %s by default, want at most a minute", bound)
	}
	if postgres.DefaultTakeoverAfter != config.DefaultTakeoverAfter {
		t.Fatalf("the store's default takeover bound %s is not the state block's %s", postgres.DefaultTakeoverAfter, config.DefaultTakeoverAfter)
	}
}

// realMain, called in this process as the tests here do, leaves no
// goroutine behind waiting for a second SIGINT or SIGTERM: it would end
// the process with exit status 130 at the next one.
func TestRealMainLeavesNoSignalWatcher(t *testing.T) {
	if code, _, _ := replicator(t, "validate", "-config", filepath.Join(t.TempDir(), "missing.hcl")); code == 0 {
		t.Fatal("validate of a missing file succeeded")
	}
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "replicator.realMain.func") {
		t.Fatalf("a goroutine of realMain outlived it:\n%s", stacks)
	}
}
