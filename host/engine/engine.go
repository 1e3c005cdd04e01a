// Package engine turns a loaded configuration into running connectors: it
// finds each plugin binary, checks it against the lock file, launches it,
// and decodes its HCL block against the schema the plugin reports.
package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/host/lockfile"
	"github.com/replicatorhq/replicator/host/plugins"
	"github.com/replicatorhq/replicator/host/runner"
	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/launch"
)

// LockFileName is the lock file's name, in the configuration's folder.
const LockFileName = ".replicator.lock.hcl"

// Engine launches the connectors of one configuration.
type Engine struct {
	Config   *config.Config
	Lock     *lockfile.Lock
	LockPath string
	Dirs     []string // where plugin binaries are searched
	Log      hclog.Logger
	// SocketDir is where plugins make their Unix sockets; see package sockdir.
	SocketDir string
	// Binaries hashes each plugin binary once per change of its file. A
	// host process that builds several engines (a reloaded configuration)
	// gives them one.
	Binaries *launch.Binaries
	// HostCert is what the host presents to its plugins over mutual TLS,
	// made once rather than per launch; a reloaded engine keeps it.
	HostCert *launch.HostCert
	// Specs keeps the specs plugins reported, so that Spec launches each
	// binary once; a reloaded engine keeps them. Nil keeps none.
	Specs *Specs
}

// Specs keeps the specs plugin binaries reported, by the binary's sha256:
// a binary reports the same spec each time it is asked, so `replicator
// validate` of thousands of blocks, and every reload of `replicator run`,
// launches each binary once. It lives as long as the process; a binary
// replaced on disk has another checksum and is asked again.
type Specs struct {
	mu sync.Mutex
	m  map[specKey]contract.Spec
}

// specKey names a binary asked for its spec as a plugin of a kind and
// type: the same file copied under another type's name is asked again, so
// that it is refused as Start refuses it (SpecNameError).
type specKey struct{ kind, typ, sha256 string }

// NewSpecs returns an empty Specs.
func NewSpecs() *Specs { return &Specs{m: map[specKey]contract.Spec{}} }

func (s *Specs) get(k specKey) (contract.Spec, bool) {
	if s == nil {
		return contract.Spec{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	spec, ok := s.m[k]
	return spec, ok
}

func (s *Specs) put(k specKey, spec contract.Spec) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = spec
}

// New loads the lock file beside cfg and works out the plugin folders.
func New(cfg *config.Config, log hclog.Logger) (*Engine, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the replicator binary's folder: %w", err)
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("find the working folder: %w", err)
	}
	cert, err := launch.NewHostCert()
	if err != nil {
		return nil, err
	}
	base := &Engine{
		Dirs:     plugins.SearchDirs(filepath.Dir(exe), wd, os.Getenv("REPLICATOR_PLUGIN_PATH")),
		Binaries: launch.NewBinaries(),
		HostCert: cert,
		Specs:    NewSpecs(),
	}
	return base.Reload(cfg, log)
}

// Reload returns an engine for cfg, a reloaded configuration, that keeps
// e's plugin folders, binary cache, certificate, socket folder and specs,
// so that a reload neither hashes nor asks unchanged binaries again nor
// makes a new key.
func (e *Engine) Reload(cfg *config.Config, log hclog.Logger) (*Engine, error) {
	lockPath := filepath.Join(cfg.Dir, LockFileName)
	lock, err := lockfile.Load(lockPath)
	if err != nil {
		return nil, fmt.Errorf("read lock file: %w", err)
	}
	return &Engine{
		Config:    cfg,
		Lock:      lock,
		LockPath:  lockPath,
		Dirs:      e.Dirs,
		Log:       log,
		SocketDir: e.SocketDir,
		Binaries:  e.Binaries,
		HostCert:  e.HostCert,
		Specs:     e.Specs,
	}, nil
}

// DiagnosticsError is a configuration problem found once a plugin reported
// its schema. Print it with Config.WriteDiagnostics.
type DiagnosticsError struct{ Diags hcl.Diagnostics }

func (e *DiagnosticsError) Error() string { return e.Diags.Error() }

// Connector is a launched connector with its decoded configuration.
type Connector struct {
	Block  *config.Connector
	Client *launch.Client
	Spec   contract.Spec
	Config json.RawMessage
	Path   string
	sha256 string // of the binary the process was started from
	// OAuth is the provider's OAuth client for a source's type, or nil.
	OAuth *contract.OAuthClient
}

// Close ends the connector's process.
func (c *Connector) Close() { c.Client.Close() }

// Source returns the connector as a source.
func (c *Connector) Source() (contract.Source, error) { return c.Client.Source() }

// Destination returns the connector as a destination.
func (c *Connector) Destination() (contract.Destination, error) { return c.Client.Destination() }

// Start launches the plugin of block, verified against the lock file, and
// decodes the block. log names whose work the plugin's log lines belong to.
func (e *Engine) Start(ctx context.Context, block *config.Connector, log hclog.Logger) (*Connector, error) {
	path, err := plugins.Find(e.Dirs, block.Kind, block.Type)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", block.Ref(), err)
	}
	bin, err := e.Binaries.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", block.Ref(), err)
	}
	defer bin.Release()
	entry, err := e.checkLock(block.Kind, block.Type, bin, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", block.Ref(), err)
	}
	c, err := e.launch(ctx, block, bin, entry.SHA256, log)
	if err != nil {
		return nil, err
	}
	cfg, diags := block.Decode(c.Spec)
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			log.Warn(d.Summary, "connector", block.Ref(), "detail", d.Detail)
		}
	}
	if diags.HasErrors() {
		c.Close()
		return nil, &DiagnosticsError{Diags: diags}
	}
	c.Config = cfg
	return c, nil
}

// checkLock checks bin, the plugin of kind and typ, against the lock file
// and returns its entry. Unless mustBeLocked, a plugin the lock file does
// not name passes, with an empty entry; one that differs from its entry
// never does.
func (e *Engine) checkLock(kind, typ string, bin *launch.Binary, mustBeLocked bool) (lockfile.Entry, error) {
	entry, err := e.Lock.Check(kind, typ, bin.Path, bin.SHA256)
	var notLocked *lockfile.NotLockedError
	if err != nil && (mustBeLocked || !errors.As(err, &notLocked)) {
		return lockfile.Entry{}, err
	}
	return entry, nil
}

// Spec returns the spec of the plugin of kind and typ, verified against
// the lock file, for checking blocks of that type without a launch for
// each: it launches the plugin's binary only if Specs has not kept its
// spec yet.
func (e *Engine) Spec(ctx context.Context, kind, typ string) (contract.Spec, error) {
	return e.spec(ctx, kind, typ, true)
}

// SpecToValidate is Spec for `replicator validate`, which only asks for
// the schema: a plugin missing from the lock file is asked anyway, one
// that differs from its lock entry is not.
func (e *Engine) SpecToValidate(ctx context.Context, kind, typ string) (contract.Spec, error) {
	return e.spec(ctx, kind, typ, false)
}

func (e *Engine) spec(ctx context.Context, kind, typ string, mustBeLocked bool) (contract.Spec, error) {
	path, err := plugins.Find(e.Dirs, kind, typ)
	if err != nil {
		return contract.Spec{}, err
	}
	bin, err := e.Binaries.Open(path)
	if err != nil {
		return contract.Spec{}, err
	}
	defer bin.Release()
	entry, err := e.checkLock(kind, typ, bin, mustBeLocked)
	if err != nil {
		return contract.Spec{}, err
	}
	key := specKey{kind: kind, typ: typ, sha256: bin.SHA256}
	if spec, ok := e.Specs.get(key); ok {
		return spec, nil
	}
	c, err := e.launch(ctx, &config.Connector{Kind: kind, Type: typ}, bin, entry.SHA256, e.Log)
	if err != nil {
		return contract.Spec{}, err
	}
	c.Close()
	e.Specs.put(key, c.Spec)
	return c.Spec, nil
}

// StartUnlocked launches the plugin found for block without consulting the
// lock file, for `replicator init` and `replicator plugins`.
func (e *Engine) StartUnlocked(ctx context.Context, kind, typ string) (*Connector, error) {
	path, err := plugins.Find(e.Dirs, kind, typ)
	if err != nil {
		return nil, err
	}
	bin, err := e.Binaries.Open(path)
	if err != nil {
		return nil, err
	}
	defer bin.Release()
	return e.launch(ctx, &config.Connector{Kind: kind, Type: typ}, bin, "", e.Log)
}

// launch starts bin, the binary hashed and checked against sum.
func (e *Engine) launch(ctx context.Context, block *config.Connector, bin *launch.Binary, sum string, log hclog.Logger) (*Connector, error) {
	path := bin.Path
	client, err := launch.Start(ctx, launch.Config{
		Path:     path,
		Binary:   bin,
		HostCert: e.HostCert,
		Kind:     block.Kind,
		SHA256:   sum,
		Logger:   log,
		Env:      launch.EnvForPlugin(log.GetLevel()),
		// Relative paths in a connector block resolve against the
		// configuration's folder, as they do for file().
		Dir:         e.Config.Dir,
		CallTimeout: e.Config.Host.CallTimeout,
		SocketDir:   e.SocketDir,
	})
	if err != nil {
		return nil, err
	}
	c := &Connector{Block: block, Client: client, Path: path, sha256: bin.SHA256}
	if block.Kind == launch.KindSource {
		c.OAuth = e.OAuthClient(block.Type)
	}
	var spec contract.Spec
	if block.Kind == launch.KindSource {
		var s contract.Source
		if s, err = client.Source(); err == nil {
			spec, err = s.Spec(ctx)
		}
	} else {
		var d contract.Destination
		if d, err = client.Destination(); err == nil {
			spec, err = d.Spec(ctx)
		}
	}
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("ask %s for its spec: %w", filepath.Base(path), err)
	}
	if spec.Name != block.Type {
		client.Close()
		return nil, &SpecNameError{Path: path, Kind: block.Kind, Type: block.Type, SpecName: spec.Name}
	}
	c.Spec = spec
	return c, nil
}

// OAuthClient returns the provider's OAuth client for sources of type typ
// (a connect block of the host block), or nil: requests that may use a
// source's credentials carry it, so that credentials a customer made
// through it can be refreshed.
func (e *Engine) OAuthClient(typ string) *contract.OAuthClient {
	c, ok := e.Config.Host.Connect[typ]
	if !ok {
		return nil
	}
	return &contract.OAuthClient{ID: c.ID, Secret: c.Secret}
}

// SpecNameError is a plugin whose Spec name is not the type its binary is
// named for, such as one connector's binary copied under another's name.
// Its blocks would be decoded against the wrong schema and its state kept
// under the wrong name, so it is not run.
type SpecNameError struct {
	Path     string // the plugin binary
	Kind     string // source or destination
	Type     string // the block type, which named the binary
	SpecName string
}

func (e *SpecNameError) Error() string {
	return fmt.Sprintf("plugin %s has Spec name %q, not %q: it is not the plugin of %s %q blocks. "+
		"Put the %q plugin in its place or, if %q is the connector you want, rename the file to %s and write its blocks as %s %q \"NAME\"",
		e.Path, e.SpecName, e.Type, e.Kind, e.Type, e.Type, e.SpecName, plugins.BinaryName(e.Kind, e.SpecName), e.Kind, e.SpecName)
}

// Pipeline is a pipeline with its connectors running, ready for runner.Run.
type Pipeline struct {
	runner.Pipeline
	Config      *config.Pipeline
	source      *Connector
	destination *Connector

	mu     sync.Mutex
	closed bool // the processes may be gone, and their IDs someone else's
}

// Kill ends both connectors' processes at once, the destination's first,
// without letting them finish what they were doing: for a run whose claim
// was lost, which must write nothing more. Close must still be called;
// Kill after it does nothing.
func (p *Pipeline) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.destination.Client.Kill()
		p.source.Client.Kill()
	}
}

// Close ends both connectors' processes.
func (p *Pipeline) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.source.Close()
	p.destination.Close()
}

// Refresh readies p, started by e, for another run of its plugins, kept
// running since its last (see package warm): its Source and Destination
// as the plugins serve them, without what that run wrapped around them,
// and both asked for their spec to show that they still answer. A plugin
// whose binary changed on disk since it started is not used again: a new
// one is started, and checked against the lock file. An error means the
// plugins cannot be used again: close them.
func (e *Engine) Refresh(ctx context.Context, p *Pipeline) error {
	for _, c := range []*Connector{p.source, p.destination} {
		bin, err := e.Binaries.Open(c.Path)
		if err != nil {
			return err
		}
		changed := bin.SHA256 != c.sha256
		bin.Release()
		if changed {
			return fmt.Errorf("%s: its binary changed since its process started", c.Block.Ref())
		}
	}
	src, err := p.source.Source()
	if err != nil {
		return err
	}
	dst, err := p.destination.Destination()
	if err != nil {
		return err
	}
	if _, err := src.Spec(ctx); err != nil {
		return fmt.Errorf("a kept %s does not answer: %w", p.SourceRef, err)
	}
	if _, err := dst.Spec(ctx); err != nil {
		return fmt.Errorf("a kept %s does not answer: %w", p.DestinationRef, err)
	}
	p.Source, p.Destination = src, dst
	return nil
}

// pluginLogs returns the last lines each of the pipeline's plugins logged,
// within the bounds of a run's record.
func (p *Pipeline) pluginLogs() []state.PluginLog {
	var out []state.PluginLog
	for _, c := range []*Connector{p.source, p.destination} {
		if lines := state.TrimLog(c.Client.LogTail()); len(lines) > 0 {
			out = append(out, state.PluginLog{Plugin: c.Block.Kind, Lines: lines})
		}
	}
	return out
}

// Open starts the pipeline's connectors, checks its destination's
// configuration and discovers its streams. The pipeline's plugins log
// through log, which names the pipeline and the run (see runner.Logger).
func (e *Engine) Open(ctx context.Context, p *config.Pipeline, store CredentialStore, fence state.Fence, log hclog.Logger) (*Pipeline, error) {
	// The two plugins start side by side: a run's start is mostly two
	// processes starting and their TLS handshakes.
	var src, dst *Connector
	var srcErr, dstErr error
	var wg sync.WaitGroup
	wg.Go(func() { src, srcErr = e.Start(ctx, p.Source, log) })
	wg.Go(func() { dst, dstErr = e.Start(ctx, p.Destination, log) })
	wg.Wait()
	if err := cmp.Or(srcErr, dstErr); err != nil {
		if src != nil {
			src.Close()
		}
		if dst != nil {
			dst.Close()
		}
		return nil, err
	}
	var err error
	out := &Pipeline{Config: p, source: src, destination: dst}
	out.Name, out.SourceRef, out.DestinationRef = p.Name, p.Source.Ref(), p.Destination.Ref()
	out.SourceConfig, out.DestinationConfig = src.Config, dst.Config
	out.FullRefreshEvery = p.FullRefreshEvery
	out.SourceClient = src.OAuth
	out.Logs = out.pluginLogs
	if out.Source, err = src.Source(); err == nil {
		out.Destination, err = dst.Destination()
	}
	if err == nil {
		err = checkDestination(ctx, out)
	}
	if err == nil {
		out.Streams, err = e.discover(ctx, out, store, fence)
	}
	if err != nil {
		err = &OpenError{Err: err, Logs: out.pluginLogs()}
		out.Close()
		return nil, err
	}
	return out, nil
}

// OpenError is a pipeline whose plugins started but that could not be
// opened (its source's Discover failed, say), with the last lines its
// plugins logged by then.
type OpenError struct {
	Err  error
	Logs []state.PluginLog
}

func (e *OpenError) Error() string { return e.Err.Error() }
func (e *OpenError) Unwrap() error { return e.Err }

// checkDestination asks the destination whether it takes its
// configuration before the source is asked anything: a destination that
// refuses it (an unknown ROGER365 replicator, a wrong key) fails the run
// before the source spends API credits on a discovery and a read whose
// records could not be written. The streams are not known yet, so the
// check is of the configuration only; Write checks the streams.
func checkDestination(ctx context.Context, p *Pipeline) error {
	if _, err := p.Destination.Check(ctx, contract.CheckRequest{Config: p.DestinationConfig}); err != nil {
		return fmt.Errorf("check %s: %w", p.DestinationRef, err)
	}
	return nil
}

// CredentialStore keeps sources' credentials between runs; see state.Store.
type CredentialStore interface {
	Credentials(ctx context.Context, source string) (json.RawMessage, error)
	SaveCredentials(ctx context.Context, f state.Fence, source string, c json.RawMessage) error
}

// discover asks the source for its catalog and picks the pipeline's streams.
func (e *Engine) discover(ctx context.Context, p *Pipeline, store CredentialStore, fence state.Fence) ([]contract.Stream, error) {
	cat, err := Discover(ctx, p.Source, p.SourceRef, p.SourceConfig, p.SourceClient, store, fence)
	if err != nil {
		return nil, err
	}
	var streams []contract.Stream
	for _, name := range p.Config.Streams {
		s, ok := cat.Stream(name)
		if !ok {
			var have []string
			for _, s := range cat.Streams {
				have = append(have, s.Name)
			}
			return nil, fmt.Errorf("pipeline %q: %s has no stream %q; it offers: %s", p.Name, p.SourceRef, name, strings.Join(have, ", "))
		}
		streams = append(streams, s)
	}
	return streams, nil
}

// Discover asks a source for its catalog with its stored credentials and
// the provider's OAuth client, and stores credentials it hands back under
// fence.
func Discover(ctx context.Context, src contract.Source, ref string, cfg json.RawMessage, client *contract.OAuthClient, store CredentialStore, fence state.Fence) (contract.Catalog, error) {
	creds, err := store.Credentials(ctx, ref)
	if err != nil {
		return contract.Catalog{}, fmt.Errorf("load credentials of %s: %w", ref, err)
	}
	resp, err := src.Discover(ctx, contract.DiscoverRequest{Config: cfg, Credentials: creds, Client: client})
	if err != nil {
		return contract.Catalog{}, fmt.Errorf("discover %s: %w", ref, err)
	}
	if resp.Credentials != nil {
		if err := store.SaveCredentials(ctx, fence, ref, resp.Credentials); err != nil {
			return contract.Catalog{}, fmt.Errorf("store credentials of %s: %w", ref, err)
		}
	}
	return resp.Catalog, nil
}

// IsDiagnostics reports whether err carries configuration diagnostics.
func IsDiagnostics(err error) (hcl.Diagnostics, bool) {
	var d *DiagnosticsError
	if errors.As(err, &d) {
		return d.Diags, true
	}
	return nil, false
}
