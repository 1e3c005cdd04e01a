package launch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/internal/transport"
	"github.com/replicatorhq/replicator/plugin/internal/wirev1"
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
	// SocketDir is the folder the plugin makes its Unix socket in; empty
	// means the system's temporary folder.
	SocketDir string
	// Binary, when set, is the plugin binary opened and hashed by
	// Binaries: it is launched instead of Path, without hashing it again.
	Binary *Binary
	// HostCert, when set, is the certificate the host presents, made once
	// per host process; without it go-plugin makes one per launch.
	HostCert *HostCert
	// TailLines is how many of the plugin's last log lines are kept for the
	// error of a crashed run; zero means 20.
	TailLines int
	// CallTimeout bounds each control call: Spec, Authorize, Check,
	// Discover, AuthorizeURL, Revoke, Watch and Unwatch. A plugin that has
	// not answered by then fails the call with an error saying so. Zero
	// means no bound. Read and Write run as long as they make progress;
	// the host watches that.
	CallTimeout time.Duration
}

// Client is a running plugin process.
type Client struct {
	cfg   Config
	pc    *goplugin.Client
	cmd   *exec.Cmd
	group *group
	abort context.CancelFunc // kills the process while it starts
	// killed is set by Kill, and when a start is given up: go-plugin's
	// notes of the exit that causes are no news.
	killed atomic.Bool
	tail   *tail
	impl   any
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
	// A start given up before the handshake, when ctx ends, kills the
	// process at once: go-plugin would wait for it as long as its start
	// timeout, a minute. Once started, only Close ends it.
	launch, abort := context.WithCancel(context.WithoutCancel(ctx))
	cmd := exec.CommandContext(launch, cfg.Path)
	if cfg.Binary != nil {
		if err := cfg.Binary.checkSum(cfg.SHA256); err != nil {
			abort()
			return nil, err
		}
		cmd, secure = cfg.Binary.command(launch), nil // hashed once by Binaries
	}
	cmd.Cancel = func() error {
		killStarting(cmd)
		return nil
	}
	cmd.Env = cfg.Env
	if cfg.SocketDir != "" {
		cmd.Env = append(slices.Clip(cfg.Env), goplugin.EnvUnixSocketDir+"="+cfg.SocketDir)
	}
	cmd.Dir = cfg.Dir
	c := &Client{
		cfg:   cfg,
		cmd:   cmd,
		group: newGroup(cmd),
		abort: abort,
		tail:  newTail(cfg.TailLines, cfg.Logger.Named(filepath.Base(cfg.Path))),
	}
	pcfg := &goplugin.ClientConfig{
		HandshakeConfig:  transport.Handshake(),
		VersionedPlugins: transport.ClientPlugins(),
		Cmd:              cmd,
		SkipHostEnv:      true,
		SecureConfig:     secure,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		Logger:           pluginLog{Logger: cfg.Logger, killed: &c.killed},
		Stderr:           c.tail,
		GRPCDialOptions:  transport.GRPCDialOptions(),
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
		c.group.started(cmd)
		if err != nil {
			c.Close()
			if errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
				return nil, fmt.Errorf(
					"start plugin %s: its sha256 does not match the pinned %s: %w",
					cfg.Path,
					cfg.SHA256,
					err,
				)
			}
			return nil, c.explain(fmt.Errorf("start plugin %s: %w", cfg.Path, err))
		}
		return c, nil
	case <-ctx.Done():
		// Given up on purpose: go-plugin's notes of the exit are no news.
		c.killed.Store(true)
		abort()
		c.pc.Kill()
		// A process started after all is ended once its start returns.
		go func() {
			if err := <-started; err == nil {
				cfg.Logger.Debug(
					"plugin started after its start was given up; ending it",
					"plugin",
					filepath.Base(cfg.Path),
				)
			}
			c.group.started(cmd)
			c.Close()
		}()
		return nil, fmt.Errorf("start plugin %s: %w", cfg.Path, ctx.Err())
	}
}

// Source returns the plugin's Source; it fails for a destination plugin.
// It implements contract.WebAuthorizer and contract.Revoker too, whatever
// the plugin offers: a plugin that does not offer a call answers it with
// contract.ErrUnsupported.
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

// How long Close waits: first for go-plugin to end the plugin (it asks
// the plugin to exit and kills it after two seconds), then for the
// plugin's output to close once its process group is killed.
const (
	closeWait   = 3 * time.Second
	closeLinger = 2 * time.Second
)

// Close ends the plugin process, gracefully if it listens, killed
// otherwise, and kills what is left in its process group. It returns
// within a few seconds: a process that left the group while holding the
// plugin's output open is left behind with a warning.
func (c *Client) Close() {
	defer c.abort()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.pc.Kill()
	}()
	select {
	case <-done:
	case <-c.group.gone:
	case <-time.After(closeWait):
	}
	c.group.kill()
	select {
	case <-done:
	case <-time.After(closeLinger):
		c.cfg.Logger.Warn(
			"plugin left a process behind that keeps its output open; not waiting for it",
			"plugin",
			filepath.Base(c.cfg.Path),
		)
	}
	c.tail.flush()
}

// LogTail returns the last lines the plugin logged (Config.TailLines of
// them), oldest first, hclog's rendered as "[LEVEL] message key=value".
// Lines reach it a moment after the plugin writes them.
func (c *Client) LogTail() []string { return c.tail.lines() }

// control runs one control call of the plugin under the call timeout.
func (c *Client) control(ctx context.Context, call string, f func(context.Context) error) error {
	if c.cfg.CallTimeout <= 0 {
		return c.explain(f(ctx))
	}
	// The host's own timer cancels the call rather than a deadline on ctx:
	// gRPC would hand a deadline to the plugin too, whose side may then end
	// the call a moment earlier with an error that does not say why.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(c.cfg.CallTimeout, func() { cancel(errCallTimeout) })
	defer timer.Stop()
	err := f(ctx)
	if err != nil && errors.Is(context.Cause(ctx), errCallTimeout) {
		return &CallTimeoutError{Plugin: filepath.Base(c.cfg.Path), Call: call, Timeout: c.cfg.CallTimeout}
	}
	return c.explain(err)
}

var errCallTimeout = errors.New("call timeout")

// CallTimeoutError is a control call the plugin did not answer in time.
type CallTimeoutError struct {
	Plugin  string // the plugin binary's name
	Call    string // Spec, Authorize, Check, Discover, AuthorizeURL, Revoke, Watch or Unwatch
	Timeout time.Duration
}

func (e *CallTimeoutError) Error() string {
	return fmt.Sprintf("plugin %s did not answer %s within %s (the host's call_timeout)", e.Plugin, e.Call, e.Timeout)
}

// Is makes a timed-out call match context.DeadlineExceeded.
func (e *CallTimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

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

// PluginError is a call that failed because the plugin process went away.
type PluginError struct {
	msg string
	err error
}

func (e *PluginError) Error() string { return e.msg }
func (e *PluginError) Unwrap() error { return e.err }

// guardedSource bounds the control calls and explains failures caused by
// the plugin process ending.
type guardedSource struct {
	contract.Source
	c *Client
}

func (g *guardedSource) Spec(ctx context.Context) (s contract.Spec, err error) {
	err = g.c.control(ctx, "Spec", func(ctx context.Context) error {
		s, err = g.Source.Spec(ctx)
		return err
	})
	return s, err
}

func (g *guardedSource) Authorize(
	ctx context.Context,
	req contract.AuthorizeRequest,
) (r contract.AuthorizeResponse, err error) {
	err = g.c.control(ctx, "Authorize", func(ctx context.Context) error {
		r, err = g.Source.Authorize(ctx, req)
		return err
	})
	return r, err
}

func (g *guardedSource) Check(ctx context.Context, req contract.CheckRequest) (r contract.CheckResponse, err error) {
	err = g.c.control(ctx, "Check", func(ctx context.Context) error {
		r, err = g.Source.Check(ctx, req)
		return err
	})
	return r, err
}

func (g *guardedSource) Discover(
	ctx context.Context,
	req contract.DiscoverRequest,
) (r contract.DiscoverResponse, err error) {
	err = g.c.control(ctx, "Discover", func(ctx context.Context) error {
		r, err = g.Source.Discover(ctx, req)
		return err
	})
	return r, err
}

func (g *guardedSource) Read(ctx context.Context, req contract.ReadRequest, out contract.Output) error {
	return g.c.explain(g.Source.Read(ctx, req, out))
}

// guardedDestination bounds the control calls and explains failures
// caused by the plugin process ending.
type guardedDestination struct {
	contract.Destination
	c *Client
}

func (g *guardedDestination) Spec(ctx context.Context) (s contract.Spec, err error) {
	err = g.c.control(ctx, "Spec", func(ctx context.Context) error {
		s, err = g.Destination.Spec(ctx)
		return err
	})
	return s, err
}

func (g *guardedDestination) Check(
	ctx context.Context,
	req contract.CheckRequest,
) (r contract.CheckResponse, err error) {
	err = g.c.control(ctx, "Check", func(ctx context.Context) error {
		r, err = g.Destination.Check(ctx, req)
		return err
	})
	return r, err
}

func (g *guardedDestination) Write(ctx context.Context, req contract.WriteRequest, in contract.Input) error {
	return g.c.explain(g.Destination.Write(ctx, req, in))
}

// EnvForPlugin builds the environment a plugin gets: its log level and, when
// the host has one, the folder for temporary files. Nothing else leaks in.
func EnvForPlugin(level hclog.Level) []string {
	env := []string{transport.LogLevelEnv + "=" + level.String()}
	if dir := os.Getenv("TMPDIR"); dir != "" {
		env = append(env, "TMPDIR="+dir)
	}
	return env
}

// Kill ends the plugin process, and any process it started, at once with
// SIGKILL, without letting it finish what it was doing: for a host that
// must not let the plugin write anything more, such as one whose claim on
// the pipeline was lost. Close must still be called, and Kill not after
// it.
func (c *Client) Kill() {
	c.killed.Store(true)
	c.group.kill()
}
