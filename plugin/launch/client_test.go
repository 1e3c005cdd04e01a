package launch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/internal/transport"
)

// built holds the plugin binaries the tests build, once each per run of
// the test binary.
var built = struct {
	sync.Mutex
	dir   string
	paths map[string]string
}{paths: map[string]string{}}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "plugin-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	built.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build builds the plugin in package pkg as name, once.
func build(t *testing.T, name, pkg string) string {
	t.Helper()
	built.Lock()
	defer built.Unlock()
	if path, ok := built.paths[pkg]; ok {
		return path
	}
	path := filepath.Join(built.dir, name)
	if out, err := exec.Command("go", "build", "-o", path, pkg).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	built.paths[pkg] = path
	return path
}

func buildGenerator(t *testing.T) string {
	return build(t, "replicator-source-generator", "../../connector/generator/cmd/replicator-source-generator")
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
	if _, err := Start(ctx, Config{Path: path, Kind: KindSource, SHA256: wrong}); err == nil ||
		!strings.Contains(err.Error(), "does not match") {
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
	c, err := Start(
		ctx,
		Config{Path: path, Kind: KindSource, Logger: hclog.NewNullLogger(), Env: EnvForPlugin(hclog.Info)},
	)
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
	tl := newTail(3, nil)
	for i := 0; i < 5; i++ {
		fmt.Fprintf(tl, `{"@level":"info","@message":"line %d","stream":"items","@timestamp":"x"}`+"\n", i)
	}
	if _, err := tl.Write([]byte("panic: boom\npartial")); err != nil {
		t.Fatal(err)
	}
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
	req := contract.ReadRequest{
		Config:  []byte(`{"count":10}`),
		Streams: []contract.ReadStream{{Name: "items", Generation: 1}},
	}
	if err := src.Read(ctx, req, &countingOutput{}); err != nil {
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

// A plugin's line reaches a host that logs JSON with the fields of the
// host's logger (the pipeline and run) and its durations as text, not as
// integers of nanoseconds.
func TestPluginLinesInJSONCarryTheRunAndReadableDurations(t *testing.T) {
	path := buildMisbehave(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var buf strings.Builder
	log := hclog.New(&hclog.LoggerOptions{Output: &syncWriter{w: &buf}, Level: hclog.Info, JSONFormat: true}).
		With("pipeline", "contacts", "run", 7)
	c, err := Start(ctx, Config{Path: path, Kind: KindSource, Logger: log, Env: EnvForPlugin(hclog.Info)})
	if err != nil {
		t.Fatal(err)
	}
	src, _ := c.Source()
	req := contract.ReadRequest{Streams: []contract.ReadStream{{Name: "items", Generation: 1}}}
	if err := src.Read(ctx, req, &countingOutput{}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	var line map[string]any
	for l := range strings.Lines(buf.String()) {
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("a line is not JSON: %v\n%s", err, l)
		}
		if line["@message"] == "reading" {
			break
		}
		line = nil
	}
	if line == nil {
		t.Fatalf("the plugin's line is not in the host's log:\n%s", buf.String())
	}
	for k, want := range map[string]any{"pipeline": "contacts", "run": float64(7), "waited": "1.5s", "stream": "items"} {
		if line[k] != want {
			t.Errorf("%s = %#v, want %#v", k, line[k], want)
		}
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

// buildMisbehave builds the test plugin in testdata/misbehave.
func buildMisbehave(t *testing.T) string {
	return build(t, "replicator-source-misbehave", "./testdata/misbehave")
}

// closeOrFail closes c and fails the test if that hangs.
func closeOrFail(t *testing.T, c *Client) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		c.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Close did not return")
	}
}

func TestControlCallsHaveADeadline(t *testing.T) {
	path := buildMisbehave(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(
		ctx,
		Config{Path: path, Kind: KindSource, Env: []string{"MISBEHAVE=hang"}, CallTimeout: 200 * time.Millisecond},
	)
	if err != nil {
		t.Fatal(err)
	}
	defer closeOrFail(t, c)
	src, _ := c.Source()
	calls := map[string]func() error{
		"Spec": func() error { _, err := src.Spec(ctx); return err },
		"Authorize": func() error {
			_, err := src.Authorize(ctx, contract.AuthorizeRequest{Grant: "g"})
			return err
		},
		"Check":    func() error { _, err := src.Check(ctx, contract.CheckRequest{}); return err },
		"Discover": func() error { _, err := src.Discover(ctx, contract.DiscoverRequest{}); return err },
		"AuthorizeURL": func() error {
			_, err := src.(contract.WebAuthorizer).AuthorizeURL(ctx, contract.AuthorizeURLRequest{})
			return err
		},
		"Revoke": func() error { _, err := src.(contract.Revoker).Revoke(ctx, contract.RevokeRequest{}); return err },
		"Watch": func() error {
			_, err := src.(contract.Watcher).Watch(ctx, contract.WatchRequest{})
			return err
		},
		"Unwatch": func() error {
			_, err := src.(contract.Watcher).Unwatch(ctx, contract.UnwatchRequest{})
			return err
		},
	}
	for name, call := range calls {
		err := call()
		want := "plugin replicator-source-misbehave did not answer " + name + " within 200ms"
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s of a plugin that never answers: %v, want %q", name, err, want)
		}
	}
}

// childAlive reports whether process pid still runs (a zombie does not).
func childAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// childEnds reports whether process pid ends within d. Close kills the
// plugin's process group, but a killed process ends only once it is next
// scheduled, which on a loaded machine can take a while.
func childEnds(pid int, d time.Duration) bool {
	for deadline := time.Now().Add(d); childAlive(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// childPids reads the process ids the misbehave plugin wrote, one a line,
// and kills them when the test ends, whatever it found.
func childPids(t *testing.T, file string) []int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	}
	return pids
}

// A plugin's child that keeps the plugin's stdout open must not make
// closing the plugin hang; the child ends with it.
func TestCloseEndsAPluginWhoseChildHoldsItsOutput(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
	path := buildMisbehave(t)
	for _, how := range []string{"child", "escaped-child"} {
		t.Run(how, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			pidFile := filepath.Join(t.TempDir(), "child.pid")
			c, err := Start(
				ctx,
				Config{Path: path, Kind: KindSource, Env: []string{"MISBEHAVE=" + how, "CHILD_PID_FILE=" + pidFile}},
			)
			if err != nil {
				t.Fatal(err)
			}
			pid := childPids(t, pidFile)[0]
			src, _ := c.Source()
			if _, err := src.Spec(ctx); err != nil {
				t.Fatal(err)
			}
			closeOrFail(t, c)
			if how == "child" && !childEnds(pid, 10*time.Second) {
				t.Errorf("the plugin's child %d outlived it", pid)
			}
		})
	}
}

// The processes a plugin starts end with it, however it ends: on its own,
// by a crash, or closed by the host. They hold none of the plugin's
// files, so only its process group ties them to it.
func TestAPluginsChildrenEndWithIt(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
	path := buildMisbehave(t)
	for _, tt := range []struct {
		name, how string
		// end ends the plugin; the children must then end without Close.
		end func(ctx context.Context, t *testing.T, c *Client)
	}{
		{"exits", "fork-exit", readFails},
		{"crashes", "fork-crash", readFails},
		{"is closed", "fork", func(_ context.Context, t *testing.T, c *Client) { closeOrFail(t, c) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			pidFile := filepath.Join(t.TempDir(), "children")
			c, err := Start(
				ctx,
				Config{Path: path, Kind: KindSource, Env: []string{"MISBEHAVE=" + tt.how, "CHILD_PID_FILE=" + pidFile}},
			)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { closeOrFail(t, c) })
			pids := childPids(t, pidFile)
			if len(pids) != 3 {
				t.Fatalf("the plugin started %d children, want 3", len(pids))
			}
			for _, pid := range pids {
				if !childAlive(pid) {
					t.Fatalf("child %d ended before the plugin did", pid)
				}
			}
			tt.end(ctx, t, c)
			for _, pid := range pids {
				if !childEnds(pid, 10*time.Second) {
					t.Errorf("the plugin's child %d outlived it", pid)
				}
			}
		})
	}
}

// readFails reads from a plugin that ends during the read.
func readFails(ctx context.Context, t *testing.T, c *Client) {
	src, _ := c.Source()
	err := src.Read(
		ctx,
		contract.ReadRequest{Streams: []contract.ReadStream{{Name: "items", Generation: 1}}},
		&countingOutput{},
	)
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("Read from a plugin that ends = %v", err)
	}
}

// Whatever a plugin writes to stderr, the host logs it and lives on; the
// numbers of its log lines keep their types.
func TestPluginStderrCannotCrashTheHost(t *testing.T) {
	path := buildMisbehave(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var buf strings.Builder
	log := hclog.New(&hclog.LoggerOptions{Name: "contacts", Output: &syncWriter{w: &buf}, Level: hclog.Debug})
	c, err := Start(
		ctx,
		Config{Path: path, Kind: KindSource, Logger: log, Env: []string{"MISBEHAVE=stderr", transport.LogLevelEnv + "=info"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := c.Source()
	err = src.Read(
		ctx,
		contract.ReadRequest{Streams: []contract.ReadStream{{Name: "items", Generation: 1796120652}}},
		&countingOutput{},
	)
	if err != nil {
		t.Fatal(err)
	}
	closeOrFail(t, c)
	out := buf.String()
	for _, want := range []string{
		"reading: generation=1796120652 stream=items", `{"@message":1,"@level":"info"}`,
		"level is a number", "line cut at 16 KiB",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the host's log lacks %q:\n%s", want, strings.ReplaceAll(out, strings.Repeat("x", 1000), "x…"))
		}
	}
	longError := false
	for _, l := range strings.Split(out, "\n") {
		if len(l) > maxLogLine+200 {
			t.Errorf("the host logged a line of %d bytes", len(l))
		}
		longError = longError ||
			strings.Contains(l, "[ERROR]") && strings.Contains(l, "long error: yyy") &&
				strings.HasSuffix(l, "(line cut at 16 KiB)")
	}
	if !longError {
		t.Error("an error line of the plugin cut at 16 KiB is not an error cut with a note in the host's log")
	}
}

// A plugin that logs faster than the host logs plugins' lines gets the
// first maxLogLinesPerSecond lines of each second logged, and a warning
// that counts the rest.
func TestPluginLogFloodIsBounded(t *testing.T) {
	path := buildMisbehave(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var buf strings.Builder
	log := hclog.New(&hclog.LoggerOptions{Name: "contacts", Output: &syncWriter{w: &buf}, Level: hclog.Info})
	const lines = 20000
	c, err := Start(
		ctx,
		Config{
			Path:   path,
			Kind:   KindSource,
			Logger: log,
			Env:    []string{"MISBEHAVE=flood", "FLOOD_LINES=" + strconv.Itoa(lines), transport.LogLevelEnv + "=info"},
		},
	)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := c.Source()
	req := contract.ReadRequest{Streams: []contract.ReadStream{{Name: "items", Generation: 1}}}
	if err := src.Read(ctx, req, &countingOutput{}); err != nil {
		t.Fatal(err)
	}
	closeOrFail(t, c)
	var logged, dropped, warnings int
	for _, l := range strings.Split(buf.String(), "\n") {
		switch {
		case strings.Contains(l, "replicator-source-misbehave: flood: line="):
			logged++
		case strings.Contains(l, "[WARN]  contacts.replicator-source-misbehave: "+
			"plugin logged more than 100 lines a second; the lines beyond were dropped: dropped="):
			n, err := strconv.Atoi(l[strings.LastIndex(l, "=")+1:])
			if err != nil {
				t.Fatalf("warning %q: %v", l, err)
			}
			dropped += n
			warnings++
		}
	}
	if logged+dropped != lines || warnings == 0 {
		t.Fatalf(
			"%d lines logged and %d dropped in %d warnings; want %d in all, some dropped",
			logged,
			dropped,
			warnings,
			lines,
		)
	}
	// 100 lines a second: more than half would take the plugin 100 seconds.
	if logged > lines/2 {
		t.Fatalf("%d of the plugin's %d lines were logged", logged, lines)
	}
}

func TestTailLogsAtMostMaxLogLinesPerSecond(t *testing.T) {
	var buf strings.Builder
	now := time.Unix(1_800_000_000, 0)
	tl := newTail(3, hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Info}))
	tl.now = func() time.Time { return now }
	write := func(n int, level, msg string) {
		for i := range n {
			fmt.Fprintf(tl, `{"@level":%q,"@message":%q,"i":%d}`+"\n", level, msg, i)
		}
	}
	write(maxLogLinesPerSecond+50, "info", "first")
	now = now.Add(999 * time.Millisecond)
	write(10, "info", "late")
	now = now.Add(time.Millisecond)
	write(1, "info", "second")
	write(500, "debug", "below the host's level") // neither logged nor counted
	write(maxLogLinesPerSecond-1, "warn", "second")
	tl.flush()
	out := buf.String()
	if got := strings.Count(out, "]  first: i="); got != maxLogLinesPerSecond {
		t.Errorf("%d lines of the first second logged, want %d", got, maxLogLinesPerSecond)
	}
	if got := strings.Count(out, "]  second: i="); got != maxLogLinesPerSecond {
		t.Errorf("%d lines of the second second logged, want %d", got, maxLogLinesPerSecond)
	}
	if strings.Contains(out, "late") || strings.Contains(out, "below the host's level") {
		t.Error("a line over the limit or below the host's level was logged")
	}
	warn := "[WARN]  plugin logged more than 100 lines a second; the lines beyond were dropped: dropped=60\n"
	if i, j := strings.Index(out, warn), strings.Index(out, "second: i=0"); i < 0 || j < i ||
		strings.Count(out, "dropped=") != 1 {
		t.Errorf("want one warning of 60 dropped lines, before the next second's first line:\n%s", out)
	}
}

// sizeOutput keeps the size of each record's data.
type sizeOutput struct {
	countingOutput
	sizes []int
}

func (o *sizeOutput) Emit(_ context.Context, r contract.Record) error {
	o.sizes = append(o.sizes, len(r.Data))
	return nil
}

// A record as large as the contract allows travels from a plugin to the
// host: the generator's largest record_size is that size.
func TestTheLargestRecordTravels(t *testing.T) {
	path := buildGenerator(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, Config{Path: path, Kind: KindSource})
	if err != nil {
		t.Fatal(err)
	}
	defer closeOrFail(t, c)
	src, _ := c.Source()
	out := &sizeOutput{}
	cfg := fmt.Sprintf(`{"count":2,"record_size":%d}`, contract.MaxRecordBytes)
	req := contract.ReadRequest{Config: []byte(cfg), Streams: []contract.ReadStream{{Name: "items", Generation: 1}}}
	if err := src.Read(ctx, req, out); err != nil {
		t.Fatal(err)
	}
	if len(out.sizes) != 2 || out.sizes[0] != contract.MaxRecordBytes || out.sizes[1] != contract.MaxRecordBytes {
		t.Fatalf("record sizes %v, want two of %d", out.sizes, contract.MaxRecordBytes)
	}
}

// A read from a plugin that sends nothing and ignores cancellation ends
// when the host cancels it, and the plugin is ended after.
func TestSilentReadEndsWhenTheHostGivesUp(t *testing.T) {
	path := buildMisbehave(t)
	c, err := Start(context.Background(), Config{Path: path, Kind: KindSource, Env: []string{"MISBEHAVE=silent"}})
	if err != nil {
		t.Fatal(err)
	}
	src, _ := c.Source()
	ctx, cancel := context.WithCancel(context.Background())
	read := make(chan error, 1)
	go func() {
		req := contract.ReadRequest{Streams: []contract.ReadStream{{Name: "items", Generation: 1}}}
		read <- src.Read(ctx, req, &countingOutput{})
	}()
	cancel()
	select {
	case err := <-read:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Read = %v, want context.Canceled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Read did not return after it was cancelled")
	}
	closeOrFail(t, c)
	if !c.pc.Exited() {
		t.Fatal("the plugin process still runs after Close")
	}
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
