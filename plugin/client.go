package plugin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/wirev1"
)

// Config says how the host launches one plugin process.
type Config struct {
	Path   string // the plugin binary
	Kind   string // KindSource or KindDestination
	SHA256 string // hex checksum the binary must have; empty skips the check
	// Logger receives the plugin's log lines; name it after the pipeline.
	Logger hclog.Logger
	// Env is the plugin's whole environment besides what go-plugin adds:
	// the plugin inherits nothing from the host.
	Env []string
	// Dir is the plugin's working folder, against which relative paths in
	// its configuration resolve; empty means the host's.
	Dir string
	// Binary, when set, is the plugin binary opened and hashed by
	// Binaries: it is launched instead of Path, without hashing it again.
	Binary *Binary
	// HostCert, when set, is the certificate the host presents, made once
	// per host process; without it go-plugin makes one per launch.
	HostCert *HostCert
	// TailLines is how many of the plugin's last log lines are kept for the
	// error of a crashed run; zero means 20.
	TailLines int
}

// Client is a running plugin process.
type Client struct {
	cfg  Config
	pc   *goplugin.Client
	cmd  *exec.Cmd
	tail *tail
	impl any
}

// Start launches the plugin and completes the handshake. The caller must
// Close the client; Close ends the process.
func Start(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Kind != KindSource && cfg.Kind != KindDestination {
		return nil, fmt.Errorf("start plugin %s: unknown kind %q", cfg.Path, cfg.Kind)
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Path == "" && cfg.Binary != nil {
		cfg.Path = cfg.Binary.Path
	}
	if cfg.TailLines == 0 {
		cfg.TailLines = 20
	}
	var secure *goplugin.SecureConfig
	if cfg.SHA256 != "" {
		sum, err := hex.DecodeString(cfg.SHA256)
		if err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("start plugin %s: pinned checksum %q is not a hex sha256", cfg.Path, cfg.SHA256)
		}
		secure = &goplugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	cmd := exec.Command(cfg.Path)
	if cfg.Binary != nil {
		if err := cfg.Binary.checkSum(cfg.SHA256); err != nil {
			return nil, err
		}
		cmd, secure = cfg.Binary.command(), nil // hashed once by Binaries
	}
	cmd.Env = cfg.Env
	cmd.Dir = cfg.Dir
	c := &Client{cfg: cfg, cmd: cmd, tail: newTail(cfg.TailLines)}
	pcfg := &goplugin.ClientConfig{
		HandshakeConfig:  handshake(),
		VersionedPlugins: clientPlugins(),
		Cmd:              cmd,
		SkipHostEnv:      true,
		SecureConfig:     secure,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		Logger:           pluginLog{cfg.Logger},
		Stderr:           c.tail,
		GRPCDialOptions:  grpcDialOptions(),
	}
	if cfg.HostCert != nil {
		pcfg.AutoMTLS, pcfg.TLSConfig = false, cfg.HostCert.tlsConfig()
		cmd.Env = append(slices.Clip(cmd.Env), cfg.HostCert.env())
	}
	c.pc = goplugin.NewClient(pcfg)
	started := make(chan error, 1)
	go func() {
		rpc, err := c.pc.Client()
		if err == nil {
			c.impl, err = rpc.Dispense(cfg.Kind)
		}
		started <- err
	}()
	select {
	case err := <-started:
		if err != nil {
			c.pc.Kill()
			if errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
				return nil, fmt.Errorf("start plugin %s: its sha256 does not match the pinned %s: %w", cfg.Path, cfg.SHA256, err)
			}
			return nil, c.explain(fmt.Errorf("start plugin %s: %w", cfg.Path, err))
		}
		return c, nil
	case <-ctx.Done():
		c.pc.Kill()
		return nil, fmt.Errorf("start plugin %s: %w", cfg.Path, ctx.Err())
	}
}

// Source returns the plugin's Source; it fails for a destination plugin.
func (c *Client) Source() (contract.Source, error) {
	s, ok := c.impl.(contract.Source)
	if !ok {
		return nil, fmt.Errorf("plugin %s is not a source", c.cfg.Path)
	}
	return &guardedSource{Source: s, c: c}, nil
}

// Destination returns the plugin's Destination; it fails for a source plugin.
func (c *Client) Destination() (contract.Destination, error) {
	d, ok := c.impl.(contract.Destination)
	if !ok {
		return nil, fmt.Errorf("plugin %s is not a destination", c.cfg.Path)
	}
	return &guardedDestination{Destination: d, c: c}, nil
}

// Close ends the plugin process: gracefully if it listens, killed otherwise.
func (c *Client) Close() {
	c.pc.Kill()
}

// explain adds to err how the plugin ended and its last log lines when the
// call failed because the process went away.
func (c *Client) explain(err error) error {
	if err == nil {
		return nil
	}
	var lost *wirev1.ConnectionError
	if !errors.As(err, &lost) && !c.pc.Exited() {
		return err
	}
	// The process may still be dying; its last words are worth a moment.
	deadline := time.Now().Add(2 * time.Second)
	for !c.pc.Exited() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	how := "stopped answering"
	if c.pc.Exited() {
		how = "exited"
		if st := c.cmd.ProcessState; st != nil {
			how = "exited (" + st.String() + ")"
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "plugin %s %s: %v", filepath.Base(c.cfg.Path), how, err)
	if lines := c.tail.lines(); len(lines) > 0 {
		b.WriteString("\nits last log lines:")
		for _, l := range lines {
			b.WriteString("\n  ")
			b.WriteString(l)
		}
	}
	return &PluginError{msg: b.String(), err: err}
}

// pluginLog is the host's logger as go-plugin gets it. go-plugin notes a
// plugin's normal exit at info level; the host ends its plugins after
// every run and reports an abnormal exit as an error anyway, so the note
// goes to debug.
type pluginLog struct{ hclog.Logger }

func (l pluginLog) Info(msg string, args ...any) {
	if msg == "plugin process exited" {
		l.Logger.Debug(msg, args...)
		return
	}
	l.Logger.Info(msg, args...)
}

// Named is what go-plugin logs a plugin's own lines through.
func (l pluginLog) Named(name string) hclog.Logger { return lineLog{l.Logger.Named(name)} }

// lineLog logs a plugin's own lines without the "timestamp" go-plugin
// appends to each: the host's log stamps every line already.
type lineLog struct{ hclog.Logger }

func (l lineLog) Trace(msg string, args ...any) { l.Logger.Trace(msg, dropTimestamp(args)...) }
func (l lineLog) Debug(msg string, args ...any) { l.Logger.Debug(msg, dropTimestamp(args)...) }
func (l lineLog) Info(msg string, args ...any)  { l.Logger.Info(msg, dropTimestamp(args)...) }
func (l lineLog) Warn(msg string, args ...any)  { l.Logger.Warn(msg, dropTimestamp(args)...) }
func (l lineLog) Error(msg string, args ...any) { l.Logger.Error(msg, dropTimestamp(args)...) }

func dropTimestamp(args []any) []any {
	if n := len(args); n >= 2 && args[n-2] == "timestamp" {
		return args[:n-2]
	}
	return args
}

// PluginError is a call that failed because the plugin process went away.
type PluginError struct {
	msg string
	err error
}

func (e *PluginError) Error() string { return e.msg }
func (e *PluginError) Unwrap() error { return e.err }

// guardedSource explains failures caused by the plugin process ending.
type guardedSource struct {
	contract.Source
	c *Client
}

func (g *guardedSource) Spec(ctx context.Context) (contract.Spec, error) {
	s, err := g.Source.Spec(ctx)
	return s, g.c.explain(err)
}

func (g *guardedSource) Authorize(ctx context.Context, req contract.AuthorizeRequest) (contract.AuthorizeResponse, error) {
	r, err := g.Source.Authorize(ctx, req)
	return r, g.c.explain(err)
}

func (g *guardedSource) Check(ctx context.Context, req contract.CheckRequest) (contract.CheckResponse, error) {
	r, err := g.Source.Check(ctx, req)
	return r, g.c.explain(err)
}

func (g *guardedSource) Discover(ctx context.Context, req contract.DiscoverRequest) (contract.DiscoverResponse, error) {
	r, err := g.Source.Discover(ctx, req)
	return r, g.c.explain(err)
}

func (g *guardedSource) Read(ctx context.Context, req contract.ReadRequest, out contract.Output) error {
	return g.c.explain(g.Source.Read(ctx, req, out))
}

// guardedDestination explains failures caused by the plugin process ending.
type guardedDestination struct {
	contract.Destination
	c *Client
}

func (g *guardedDestination) Spec(ctx context.Context) (contract.Spec, error) {
	s, err := g.Destination.Spec(ctx)
	return s, g.c.explain(err)
}

func (g *guardedDestination) Check(ctx context.Context, req contract.CheckRequest) (contract.CheckResponse, error) {
	r, err := g.Destination.Check(ctx, req)
	return r, g.c.explain(err)
}

func (g *guardedDestination) Write(ctx context.Context, req contract.WriteRequest, in contract.Input) error {
	return g.c.explain(g.Destination.Write(ctx, req, in))
}

// tail keeps a plugin's last stderr lines, rendering hclog's JSON lines as
// "[LEVEL] message key=value".
type tail struct {
	mu      sync.Mutex
	max     int
	partial []byte
	ring    []string
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			t.partial = append(t.partial, p...)
			break
		}
		t.partial = append(t.partial, p[:i]...)
		if len(t.partial) > 0 {
			t.ring = append(t.ring, renderLogLine(t.partial))
			if len(t.ring) > t.max {
				t.ring = t.ring[len(t.ring)-t.max:]
			}
		}
		t.partial = t.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

func (t *tail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string(nil), t.ring...)
	if len(t.partial) > 0 {
		out = append(out, string(t.partial))
	}
	return out
}

func renderLogLine(line []byte) string {
	var entry map[string]any
	if json.Unmarshal(line, &entry) != nil {
		return string(line)
	}
	msg, _ := entry["@message"].(string)
	level, _ := entry["@level"].(string)
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s", strings.ToUpper(level), msg)
	for _, k := range slices.Sorted(maps.Keys(entry)) {
		if !strings.HasPrefix(k, "@") {
			fmt.Fprintf(&b, " %s=%v", k, entry[k])
		}
	}
	return b.String()
}

// EnvForPlugin builds the environment a plugin gets: its log level and, when
// the host has one, the folder for temporary files. Nothing else leaks in.
func EnvForPlugin(level hclog.Level) []string {
	env := []string{LogLevelEnv + "=" + level.String()}
	if dir := os.Getenv("TMPDIR"); dir != "" {
		env = append(env, "TMPDIR="+dir)
	}
	return env
}
