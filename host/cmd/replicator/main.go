// Command replicator runs the pipelines of an HCL configuration: it
// launches connector plugins, schedules syncs and keeps checkpoints,
// credentials and run history in an embedded state file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/host/connect"
	"github.com/replicatorhq/replicator/host/engine"
	"github.com/replicatorhq/replicator/host/sockdir"
	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/internal/logdur"
)

const usage = `Usage: replicator <command> [flags] [arguments]

Commands:
  validate              check the configuration and each connector block
  init                  record each plugin's version and sha256 in the lock file
  plugins               list the plugins found and whether they are locked
  authorize SOURCE      exchange a one-time grant code for stored credentials
  connect-link SOURCE   make a link whose holder connects the source in a browser
  check PIPELINE        check that both connectors work for the pipeline
  discover SOURCE       list the streams a source offers
  sync PIPELINE         run a pipeline once
  run                   run every pipeline on its interval until stopped
  status [PIPELINE]     show the last runs
  state backup -to FILE write a consistent copy of the state file
  state copy -from A -to B  copy checkpoints, credentials and history between
                        state files and PostgreSQL databases

Flags common to every command:
  -config PATH          configuration file or folder (default "replicator.hcl", or $REPLICATOR_CONFIG)
  -state PATH           state file (default: the configuration's state_file)
  -log-level LEVEL      trace, debug, info, warn or error (default "info")
  -log-format FORMAT    text, or json for log shippers (default "text")
  -fresh-state          start a new state file where the one in use is missing, empty or damaged

Run "replicator <command> -h" for a command's own flags.
`

// The -log-format values.
const (
	logFormatText = "text"
	logFormatJSON = "json"
)

// command is one subcommand: its flags are registered on fs, then run is
// called with the arguments left.
type command struct {
	name  string
	flags func(fs *flag.FlagSet, o *options)
	run   func(ctx context.Context, a *app, args []string) error
}

// options holds every flag; each command registers the ones it takes.
type options struct {
	config, state, logLevel string
	logFormat               string
	listen                  string // run
	freshState              bool
	code                    string        // authorize
	expires                 time.Duration // connect-link
	upgrade                 bool          // init
	fullRefresh             bool          // sync
	json                    bool          // discover
	limit                   int           // status
	from, to                string        // state
}

func commands() []command {
	return []command{
		{name: "validate", run: cmdValidate},
		{name: "init", run: cmdInit, flags: func(fs *flag.FlagSet, o *options) {
			fs.BoolVar(&o.upgrade, "upgrade", false, "replace entries whose plugin binary changed")
		}},
		{name: "plugins", run: cmdPlugins},
		{name: "authorize", run: cmdAuthorize, flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.code, "code", "", "the one-time grant code: - reads it from standard input; prompted for when absent (a code written here shows in the process list)")
		}},
		{name: "check", run: cmdCheck},
		{name: "connect-link", run: cmdConnectLink, flags: func(fs *flag.FlagSet, o *options) {
			fs.DurationVar(&o.expires, "expires", connect.DefaultLinkTTL, "how long the link lasts, at most 2160h (90 days)")
		}},
		{name: "discover", run: cmdDiscover, flags: func(fs *flag.FlagSet, o *options) {
			fs.BoolVar(&o.json, "json", false, "print the catalog as JSON, schemas included")
		}},
		{name: "sync", run: cmdSync, flags: func(fs *flag.FlagSet, o *options) {
			fs.BoolVar(&o.fullRefresh, "full-refresh", false, "forget the streams' checkpoints and read everything again")
		}},
		{name: "run", run: cmdRun, flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.listen, "listen", "", "serve the console, /metrics and health checks on this address, such as 127.0.0.1:8080 (default: host { listen })")
		}},
		{name: "status", run: cmdStatus, flags: func(fs *flag.FlagSet, o *options) {
			fs.IntVar(&o.limit, "n", 5, "how many runs to show per pipeline")
		}},
		{name: "state", run: cmdState, flags: stateFlags},
	}
}

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func realMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var cmd *command
	for _, c := range commands() {
		if c.name == args[0] {
			cmd = &c
			break
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "replicator: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var o options
	fs := flag.NewFlagSet("replicator "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaultConfig := os.Getenv("REPLICATOR_CONFIG")
	if defaultConfig == "" {
		defaultConfig = "replicator.hcl"
	}
	fs.StringVar(&o.config, "config", defaultConfig, "configuration file or folder")
	fs.StringVar(&o.state, "state", "", "state file (default: the configuration's state_file)")
	fs.StringVar(&o.logLevel, "log-level", "info", "trace, debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", logFormatText, "text, or json for log shippers")
	fs.BoolVar(&o.freshState, "fresh-state", false, "start a new state file where the one in use is missing, empty or damaged")
	if cmd.flags != nil {
		cmd.flags(fs, &o)
	}
	positional, err := parseInterleaved(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	level := hclog.LevelFromString(o.logLevel)
	if level == hclog.NoLevel {
		fmt.Fprintf(stderr, "replicator: -log-level %q is not one of trace, debug, info, warn, error\n", o.logLevel)
		return 2
	}
	if o.logFormat != logFormatText && o.logFormat != logFormatJSON {
		fmt.Fprintf(stderr, "replicator: -log-format %q is not one of text, json\n", o.logFormat)
		return 2
	}
	// Independent levels let `replicator run` quiet the runs' own lines;
	// durations read as text in JSON too.
	log := logdur.Text(hclog.New(&hclog.LoggerOptions{Name: "replicator", Level: level, Output: stderr,
		IndependentLevels: true, JSONFormat: o.logFormat == logFormatJSON}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A second signal means the user does not want to wait. The watch
	// ends with realMain, which waits for it: called in a process that
	// goes on (the tests), it must not take that process's signals.
	returned := make(chan struct{})
	var watch sync.WaitGroup
	watch.Go(func() {
		select {
		case <-ctx.Done():
		case <-returned:
			return
		}
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(again)
		select {
		case <-again:
			log.Warn("stopping at once; the last checkpoint is kept")
			os.Exit(130)
		case <-returned:
		}
	})
	defer watch.Wait()
	defer close(returned)

	a := &app{opts: o, log: log, stdin: stdin, stdout: stdout, stderr: stderr}
	defer a.close()
	err = cmd.run(ctx, a, positional)
	if err == nil {
		return 0
	}
	if diags, ok := engine.IsDiagnostics(err); ok && a.cfg != nil {
		a.writeDiagnostics(a.cfg, diags)
		return 1
	}
	if o.logFormat == logFormatJSON {
		log.Error("replicator "+cmd.name+" failed", "error", err)
	} else {
		fmt.Fprintf(stderr, "Error: %v\n", err)
	}
	return 1
}

// app holds what commands share: the configuration, engine and store,
// loaded when a command first needs them.
type app struct {
	opts           options
	log            hclog.Logger
	stdin          io.Reader
	stdout, stderr io.Writer
	store          state.Store
	removeSockets  func() error

	// mu guards cfg and eng: under `replicator run` each pipeline's
	// goroutine asks for the engine, and the first one builds it.
	mu  sync.Mutex
	cfg *config.Config
	eng *engine.Engine
}

func (a *app) close() {
	if a.store != nil {
		_ = a.store.Close()
	}
	if a.removeSockets != nil {
		_ = a.removeSockets()
	}
}

func (a *app) config() (*config.Config, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.loadConfig()
}

// loadConfig is config for a caller holding a.mu.
func (a *app) loadConfig() (*config.Config, error) {
	if a.cfg != nil {
		return a.cfg, nil
	}
	cfg, diags := config.Load(a.opts.config)
	if cfg != nil {
		a.cfg = cfg
	}
	if diags.HasErrors() {
		if cfg == nil {
			return nil, fmt.Errorf("load %s: %s", a.opts.config, diags.Error())
		}
		return nil, &engine.DiagnosticsError{Diags: diags}
	}
	for _, d := range diags {
		logDiagnostic(a.log, d)
	}
	return cfg, nil
}

func (a *app) engine() (*engine.Engine, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.eng != nil {
		return a.eng, nil
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	eng, err := engine.New(cfg, a.log)
	if err != nil {
		return nil, err
	}
	dir, remove, err := sockdir.Create(sockdir.Base())
	if err != nil {
		return nil, err
	}
	eng.SocketDir, a.removeSockets = dir, remove
	a.eng = eng
	return eng, nil
}

func (a *app) openStore(ctx context.Context) (state.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	if _, err := a.config(); err != nil && a.opts.state == "" {
		return nil, err
	}
	s, err := a.openBackend(ctx)
	if err != nil {
		return nil, err
	}
	a.store = s
	return s, nil
}

// stateOptions says how to open a state file: with the keys of the
// configuration's state block, if it has one. The commands that need only
// the state file work without a configuration that loads; they then have
// no key, and reading credentials stored encrypted fails with the key to
// set.
func (a *app) stateOptions() (state.FileOptions, error) {
	opts := state.FileOptions{Fresh: a.opts.freshState, Log: a.log}
	cfg, err := a.config()
	if err != nil || cfg.State.EncryptionKey == "" {
		return opts, nil //nolint:nilerr // see above
	}
	opts.Keys, err = stateKeys(cfg)
	return opts, err
}

// hostID names this process in claims: the machine's name and the process ID.
func hostID() string {
	name, err := os.Hostname()
	if err != nil {
		name = "unknown-host"
	}
	return fmt.Sprintf("%s:%d", name, os.Getpid())
}

// parseInterleaved parses flags wherever they stand, so that
// `replicator authorize zoho.eu -code X` works like
// `replicator authorize -code X zoho.eu`; "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

func oneArg(args []string, what string) (string, error) {
	if len(args) != 1 {
		return "", fmt.Errorf("expected one %s argument, got %d", what, len(args))
	}
	return args[0], nil
}
