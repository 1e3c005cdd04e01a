package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// buildGenerator builds the generator plugin once per test binary run.
func buildGenerator(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "replicator-source-generator")
	cmd := exec.Command("go", "build", "-o", path, "../connector/generator/cmd/replicator-source-generator")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build generator: %v\n%s", err, out)
	}
	return path
}

func sha(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestStartVerifiesThePinnedChecksum(t *testing.T) {
	path := buildGenerator(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	c, err := Start(ctx, Config{Path: path, Kind: KindSource, SHA256: sha(t, path)})
	if err != nil {
		t.Fatalf("start with the right checksum: %v", err)
	}
	src, err := c.Source()
	if err != nil {
		t.Fatal(err)
	}
	if spec, err := src.Spec(ctx); err != nil || spec.Name != "generator" {
		t.Fatalf("spec %+v, err %v", spec, err)
	}
	if _, err := c.Destination(); err == nil {
		t.Error("a source plugin was dispensed as a destination")
	}
	c.Close()

	wrong := strings.Repeat("0", 64)
	if _, err := Start(ctx, Config{Path: path, Kind: KindSource, SHA256: wrong}); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("start with a wrong checksum: %v", err)
	}
	if _, err := Start(ctx, Config{Path: path, Kind: KindSource, SHA256: "nothex"}); err == nil {
		t.Fatal("start with a malformed checksum succeeded")
	}
}

// A plugin that exits mid-read fails the call with how it ended and its
// last log lines, and does not hang.
func TestCrashExplainsItself(t *testing.T) {
	path := buildGenerator(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, Config{Path: path, Kind: KindSource, Logger: hclog.NewNullLogger(), Env: EnvForPlugin(hclog.Info)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	src, _ := c.Source()
	out := &countingOutput{}
	err = src.Read(ctx, contract.ReadRequest{
		Config:  []byte(`{"count":50000,"fail_after":1000}`),
		Streams: []contract.ReadStream{{Name: "items", Generation: 1}},
	}, out)
	if err == nil {
		t.Fatal("read from a crashing plugin succeeded")
	}
	for _, want := range []string{"replicator-source-generator exited", "exit status 3", "last log lines", "fail_after"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

type countingOutput struct{ n int }

func (o *countingOutput) Emit(context.Context, contract.Record) error { o.n++; return nil }
func (o *countingOutput) Checkpoint(context.Context, string, json.RawMessage) error {
	return nil
}
func (o *countingOutput) FullRefreshComplete(context.Context, string, uint64) error { return nil }
func (o *countingOutput) UpdateCredentials(context.Context, contract.Credentials) error {
	return nil
}
func (o *countingOutput) Count(context.Context, string, int64) error { return nil }

func TestTailKeepsTheLastLinesReadable(t *testing.T) {
	tl := newTail(3)
	for i := 0; i < 5; i++ {
		fmt.Fprintf(tl, `{"@level":"info","@message":"line %d","stream":"items","@timestamp":"x"}`+"\n", i)
	}
	tl.Write([]byte("panic: boom\npartial"))
	got := tl.lines()
	want := []string{"[INFO] line 3 stream=items", "[INFO] line 4 stream=items", "panic: boom", "partial"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("tail %q, want %q", got, want)
	}
}

func TestPluginLinesComeThroughTheHostLog(t *testing.T) {
	path := buildGenerator(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var buf strings.Builder
	log := hclog.New(&hclog.LoggerOptions{Name: "contacts", Output: &syncWriter{w: &buf}, Level: hclog.Info})
	c, err := Start(ctx, Config{Path: path, Kind: KindSource, Logger: log, Env: EnvForPlugin(hclog.Info)})
	if err != nil {
		t.Fatal(err)
	}
	src, _ := c.Source()
	if err := src.Read(ctx, contract.ReadRequest{Config: []byte(`{"count":10}`), Streams: []contract.ReadStream{{Name: "items", Generation: 1}}}, &countingOutput{}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	out := buf.String()
	if !strings.Contains(out, "contacts.replicator-source-generator: starting full refresh") {
		t.Errorf("the plugin's line is not in the host's log under the pipeline's name:\n%s", out)
	}
	if strings.Contains(out, "timestamp=") || strings.Contains(out, "plugin process exited") {
		t.Errorf("the host's log carries go-plugin's noise:\n%s", out)
	}
}

// syncWriter serialises writes from the plugin's log goroutine.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// The plugin makes its socket in the folder the host gives it, so the host
// can remove what a killed plugin leaves.
func TestSocketInSocketDir(t *testing.T) {
	path := buildGenerator(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	c, err := Start(ctx, Config{Path: path, Kind: KindSource, SocketDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Type()&os.ModeSocket == 0 {
		t.Fatalf("socket folder holds %v, want the plugin's socket", entries)
	}
}
