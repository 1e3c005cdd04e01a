package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"golang.org/x/term"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/host/engine"
	"github.com/replicatorhq/replicator/host/lockfile"
	"github.com/replicatorhq/replicator/host/plugins"
	"github.com/replicatorhq/replicator/host/runner"
	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// cmdValidate checks the whole configuration and reports every error it
// finds: of every file, then of every connector block against its
// plugin's schema. Each plugin binary is launched once, whatever the
// number of blocks of its type (engine.Specs).
func cmdValidate(ctx context.Context, a *app, _ []string) error {
	cfg, diags := config.Load(a.opts.config)
	a.mu.Lock()
	a.cfg = cfg // what a.engine builds on, even with errors
	a.mu.Unlock()
	if len(cfg.Sources)+len(cfg.Destinations) > 0 {
		eng, err := a.engine()
		if err != nil {
			return err
		}
		diags = append(diags, checkBlocks(ctx, eng)...)
	}
	sortDiagnostics(diags)
	if len(diags) > 0 {
		a.writeDiagnostics(cfg, diags)
	}
	if diags.HasErrors() {
		files := map[string]bool{}
		for _, d := range diags {
			if d.Severity == hcl.DiagError && d.Subject != nil {
				files[d.Subject.Filename] = true
			}
		}
		return fmt.Errorf("the configuration has %d error(s) in %d file(s)", len(diags.Errs()), len(files))
	}
	fmt.Fprintf(a.stdout, "The configuration is valid: %d source(s), %d destination(s), %d pipeline(s).\n",
		len(cfg.Sources), len(cfg.Destinations), len(cfg.Pipelines))
	return nil
}

// checkBlocks decodes every connector block of eng's configuration
// against its plugin's schema and returns what it finds. A plugin that
// cannot be asked for its schema (missing, changed since it was locked,
// not answering) is one error, at the first block of its type, rather
// than one per block.
func checkBlocks(ctx context.Context, eng *engine.Engine) hcl.Diagnostics {
	type plugin struct{ kind, typ string }
	var order []plugin
	blocks := map[plugin][]*config.Connector{}
	for _, b := range slices.Concat(eng.Config.Sources, eng.Config.Destinations) {
		p := plugin{b.Kind, b.Type}
		if blocks[p] == nil {
			order = append(order, p)
		}
		blocks[p] = append(blocks[p], b)
	}
	var diags hcl.Diagnostics
	for _, p := range order {
		spec, err := eng.SpecToValidate(ctx, p.kind, p.typ)
		if err != nil {
			first := blocks[p][0]
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Cannot check %s %q blocks", p.kind, p.typ),
				Detail:   fmt.Sprintf("%v. The %d %s %q block(s) were not checked against the plugin's schema.", err, len(blocks[p]), p.kind, p.typ),
				Subject:  first.DeclRange.Ptr(),
			})
			continue
		}
		for _, b := range blocks[p] {
			_, d := b.Decode(spec)
			diags = append(diags, d...)
		}
	}
	return diags
}

// sortDiagnostics puts diags in the order of the files and lines they
// are about, those about no place first, so that a person reads each
// file's problems together.
func sortDiagnostics(diags hcl.Diagnostics) {
	slices.SortStableFunc(diags, func(x, y *hcl.Diagnostic) int {
		switch {
		case x.Subject == nil && y.Subject == nil:
			return 0
		case x.Subject == nil:
			return -1
		case y.Subject == nil:
			return 1
		}
		return cmp.Or(strings.Compare(x.Subject.Filename, y.Subject.Filename),
			cmp.Compare(x.Subject.Start.Line, y.Subject.Start.Line),
			cmp.Compare(x.Subject.Start.Column, y.Subject.Start.Column))
	})
}

func cmdInit(ctx context.Context, a *app, _ []string) error {
	eng, err := a.engine()
	if err != nil {
		return err
	}
	type want struct{ kind, typ string }
	seen := map[want]bool{}
	var wants []want
	for _, b := range append(append([]*config.Connector{}, eng.Config.Sources...), eng.Config.Destinations...) {
		w := want{b.Kind, b.Type}
		if !seen[w] {
			seen[w] = true
			wants = append(wants, w)
		}
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tTYPE\tVERSION\tSHA256\tPATH")
	for _, w := range wants {
		path, err := plugins.Find(eng.Dirs, w.kind, w.typ)
		if err != nil {
			return err
		}
		sum, err := lockfile.FileSHA256(path)
		if err != nil {
			return err
		}
		if old, ok := eng.Lock.Get(w.kind, w.typ); ok && old.SHA256 != sum && !a.opts.upgrade {
			return fmt.Errorf("plugin %s differs from the one locked in %s (sha256 %s, now %s); run `replicator init -upgrade` to accept it",
				plugins.BinaryName(w.kind, w.typ), eng.LockPath, short(old.SHA256), short(sum))
		}
		c, err := eng.StartUnlocked(ctx, w.kind, w.typ)
		if err != nil {
			return err
		}
		c.Close()
		eng.Lock.Set(lockfile.Entry{Kind: w.kind, Type: w.typ, Version: c.Spec.Version, SHA256: sum})
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", w.kind, w.typ, c.Spec.Version, short(sum), path)
	}
	if err := eng.Lock.Save(eng.LockPath); err != nil {
		return err
	}
	_ = tw.Flush()
	fmt.Fprintf(a.stdout, "Wrote %s.\n", eng.LockPath)
	return nil
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// cmdPlugins lists the plugins found. It never executes one: a binary the
// lock file does not pin, or that changed since, is not trusted to run, and
// a pinned one's version is the one recorded with its sha256.
func cmdPlugins(_ context.Context, a *app, _ []string) error {
	eng, err := a.engine()
	if err != nil {
		return err
	}
	found, err := plugins.List(eng.Dirs)
	if err != nil {
		return err
	}
	if len(found) == 0 {
		return fmt.Errorf("no plugins found; searched %s", strings.Join(eng.Dirs, ", "))
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tTYPE\tVERSION\tLOCKED\tPATH")
	unverified := 0
	for _, f := range found {
		version, locked := "-", "no"
		if entry, err := eng.Lock.Verify(f.Kind, f.Type, f.Path); err == nil {
			version, locked = entry.Version, "yes"
		} else if _, ok := eng.Lock.Get(f.Kind, f.Type); ok {
			locked = "CHANGED"
		}
		if locked != "yes" {
			unverified++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Kind, f.Type, version, locked, f.Path)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if unverified > 0 {
		fmt.Fprintf(a.stdout, "\nPlugins that are not locked, or changed since, are not run, so their version is not shown. "+
			"`replicator init` locks those the configuration uses (`init -upgrade` accepts a changed one) after checking them.\n")
	}
	return nil
}

// sourceCommand prepares a command on the one source named in args: the
// source launched, and the store holding its credentials.
func (a *app) sourceCommand(ctx context.Context, args []string) (*engine.Connector, contract.Source, state.Store, error) {
	ref, err := oneArg(args, "SOURCE")
	if err != nil {
		return nil, nil, nil, err
	}
	store, err := a.openStore(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	c, src, err := a.startSource(ctx, ref)
	if err != nil {
		return nil, nil, nil, err
	}
	return c, src, store, nil
}

// startSource launches the named source with its decoded configuration.
func (a *app) startSource(ctx context.Context, ref string) (*engine.Connector, contract.Source, error) {
	eng, err := a.engine()
	if err != nil {
		return nil, nil, err
	}
	block, ok := eng.Config.Source(ref)
	if !ok {
		return nil, nil, fmt.Errorf("no source %q in %s; sources are: %s", ref, eng.Config.Path, refs(eng.Config.Sources))
	}
	c, err := eng.Start(ctx, block, a.log.Named(block.Ref()))
	if err != nil {
		return nil, nil, err
	}
	src, err := c.Source()
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, src, nil
}

func refs(cs []*config.Connector) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Type+"."+c.Name)
	}
	if len(out) == 0 {
		return "(none)"
	}
	return strings.Join(out, ", ")
}

func cmdAuthorize(ctx context.Context, a *app, args []string) error {
	c, src, store, err := a.sourceCommand(ctx, args)
	if err != nil {
		return err
	}
	defer c.Close()
	code, err := a.grantCode(c.Block.Ref())
	if err != nil {
		return err
	}
	resp, err := src.Authorize(ctx, contract.AuthorizeRequest{Config: c.Config, Grant: code})
	if err != nil {
		return fmt.Errorf("authorize %s: %w", c.Block.Ref(), err)
	}
	if err := store.SaveCredentials(ctx, state.NoFence, c.Block.Ref(), resp.Credentials); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "Authorized %s; its credentials are stored in %s.\n", c.Block.Ref(), a.storeName())
	if resp.Message != "" {
		fmt.Fprintln(a.stdout, resp.Message)
	}
	return nil
}

// grantCode returns the grant code for source: read from standard input
// with -code -, taken from -code VALUE (with a warning, since the process
// list shows it), or asked for at the prompt.
func (a *app) grantCode(source string) (string, error) {
	var code string
	switch a.opts.code {
	case "-":
		// A code is far shorter than the limit, which only keeps an
		// endless input from filling memory.
		line, err := bufio.NewReader(io.LimitReader(a.stdin, 64<<10)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the grant code from standard input: %w", err)
		}
		if code = strings.TrimSpace(line); code == "" {
			return "", errors.New("no grant code on standard input; -code - reads it from the first line")
		}
		return code, nil
	case "":
		var err error
		if code, err = a.prompt("Paste the grant code for " + source + ": "); err != nil {
			return "", err
		}
	default:
		a.log.Warn("a grant code given with -code is visible to other users in the process list; " +
			"paste it at the prompt (leave out -code), or pass -code - to read it from standard input")
		code = strings.TrimSpace(a.opts.code)
	}
	if code == "" {
		return "", errors.New("no grant code given; paste one at the prompt, or pass -code - and give it on standard input")
	}
	return code, nil
}

// prompt reads one line, without echo when stdin is a terminal.
func (a *app) prompt(question string) (string, error) {
	fmt.Fprint(a.stderr, question)
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		return strings.TrimSpace(string(b)), err
	}
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	fmt.Fprintln(a.stderr) // what was read did not echo a line end
	if err != nil && line == "" {
		return "", fmt.Errorf("read the grant code: %w", err)
	}
	return strings.TrimSpace(line), nil
}

func (a *app) storePath() string {
	if a.opts.state != "" {
		return a.opts.state
	}
	return a.cfg.StateFile
}

// pipelineCommand prepares a command on the one pipeline named in args.
func (a *app) pipelineCommand(ctx context.Context, args []string) (*config.Pipeline, state.Store, error) {
	name, err := oneArg(args, "PIPELINE")
	if err != nil {
		return nil, nil, err
	}
	pc, err := a.pipeline(name)
	if err != nil {
		return nil, nil, err
	}
	store, err := a.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	return pc, store, nil
}

func (a *app) pipeline(name string) (*config.Pipeline, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	p, ok := cfg.Pipeline(name)
	if !ok {
		var names []string
		for _, p := range cfg.Pipelines {
			names = append(names, p.Name)
		}
		return nil, fmt.Errorf("no pipeline %q in %s; pipelines are: %s", name, cfg.Path, strings.Join(names, ", "))
	}
	return p, nil
}

func cmdCheck(ctx context.Context, a *app, args []string) error {
	pc, store, err := a.pipelineCommand(ctx, args)
	if err != nil {
		return err
	}
	eng, err := a.engine()
	if err != nil {
		return err
	}
	p, err := eng.Open(ctx, pc, store, state.NoFence, runner.Logger(a.log.Named(pc.Name), pc.Name, 0))
	if err != nil {
		return err
	}
	defer p.Close()
	creds, err := store.Credentials(ctx, p.SourceRef)
	if err != nil {
		return err
	}
	sr, err := p.Source.Check(ctx, contract.CheckRequest{Config: p.SourceConfig, Credentials: creds, Streams: p.Streams, Client: p.SourceClient})
	if err != nil {
		return fmt.Errorf("check %s: %w", p.SourceRef, err)
	}
	if sr.Credentials != nil {
		if err := store.SaveCredentials(ctx, state.NoFence, p.SourceRef, sr.Credentials); err != nil {
			return err
		}
	}
	fmt.Fprintf(a.stdout, "%s: ok. %s\n", p.SourceRef, sr.Message)
	dr, err := p.Destination.Check(ctx, contract.CheckRequest{Config: p.DestinationConfig, Streams: p.Streams})
	if err != nil {
		return fmt.Errorf("check %s: %w", pc.Destination.Ref(), err)
	}
	fmt.Fprintf(a.stdout, "%s: ok. %s\n", pc.Destination.Ref(), dr.Message)
	return nil
}

func cmdDiscover(ctx context.Context, a *app, args []string) error {
	c, src, store, err := a.sourceCommand(ctx, args)
	if err != nil {
		return err
	}
	defer c.Close()
	cat, err := engine.Discover(ctx, src, c.Block.Ref(), c.Config, c.OAuth, store, state.NoFence)
	if err != nil {
		return err
	}
	if a.opts.json {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(cat)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tPRIMARY KEY\tCURSOR\tMODES\tFIELDS")
	for _, s := range cat.Streams {
		var modes []string
		for _, m := range s.Modes {
			modes = append(modes, string(m))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", s.Name, strings.Join(s.PrimaryKey, ","), strings.Join(s.CursorField, ","), strings.Join(modes, ","), countFields(s.Schema))
	}
	return tw.Flush()
}

func countFields(schema json.RawMessage) int {
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	_ = json.Unmarshal(schema, &s)
	return len(s.Properties)
}

// syncOnce runs one pipeline once, with progress on stderr, holding the
// pipeline's claim for the whole run.
func (a *app) syncOnce(ctx context.Context, pc *config.Pipeline, store state.Store, fullRefresh bool) error {
	eng, err := a.engine()
	if err != nil {
		return err
	}
	rc, err := claimRun(ctx, a.log, store, pc.Name)
	if err != nil {
		return err
	}
	defer rc.done(a.log)
	base := a.log.Named(pc.Name)
	p, begun, err := openRun(ctx, rc, eng, pc, store, base)
	if err != nil {
		if ctx.Err() != nil && begun.Outcome == state.OutcomeInterrupted {
			return nil // stopped while its plugins started; the caller says so
		}
		return err
	}
	defer p.Close()
	log := runner.Logger(base, pc.Name, begun.ID)
	prog := newProgress(a.stderr, pc.Name, log, a.opts.logFormat == logFormatText)
	run, err := runner.Run(rc.ctx, p.Pipeline, store, rc.Fence, runner.Options{
		Begun:         begun,
		Log:           base,
		OnProgress:    prog.update,
		ProgressEvery: prog.every(),
		FullRefresh:   fullRefresh,
		StallTimeout:  eng.Config.Host.StallTimeout,
	})
	prog.done()
	if err != nil {
		return fmt.Errorf("pipeline %s: %w", pc.Name, err)
	}
	runner.Logger(a.log, pc.Name, run.ID).Info("run finished", "outcome", run.Outcome, "read", run.Read, "written", run.Written,
		"took", run.Ended.Sub(run.Started), "counters", formatCounters(run.Counters))
	return nil
}

// openRun begins a run of pc under rc (runner.Begin) and starts its
// plugins, which log through log with the run's fields (runner.Logger),
// so that their lines carry the ID the history keeps for the run. When
// the plugins do not start, it returns the run recorded as failed, or as
// interrupted when ctx ended, under the claim: a host that lost the claim
// meanwhile (it was paused, say) learns so from the store, which refuses
// the write. When the run could not be begun, it returns the zero run.
func openRun(ctx context.Context, rc *runClaim, eng *engine.Engine, pc *config.Pipeline, store state.Store,
	log hclog.Logger) (*engine.Pipeline, state.Run, error) {
	begun, err := runner.Begin(rc.ctx, store, rc.Fence)
	if err != nil {
		return nil, state.Run{}, err
	}
	p, err := rc.open(eng, pc, store, runner.Logger(log, pc.Name, begun.ID))
	if err != nil {
		rec, err := endUnstarted(rc.ctx, store, rc.Fence, begun, err, ctx.Err() != nil && rc.Err() == nil)
		return nil, rec, err
	}
	return p, begun, nil
}

func cmdSync(ctx context.Context, a *app, args []string) error {
	pc, store, err := a.pipelineCommand(ctx, args)
	if err != nil {
		return err
	}
	if err := a.syncOnce(ctx, pc, store, a.opts.fullRefresh); err != nil {
		return err
	}
	if ctx.Err() != nil {
		fmt.Fprintf(a.stdout, "Pipeline %s stopped; the next sync resumes from its last checkpoint.\n", pc.Name)
		return nil //nolint:nilerr // a sync stopped by the user keeps its progress and is no failure
	}
	fmt.Fprintf(a.stdout, "Pipeline %s synced.\n", pc.Name)
	return nil
}

func cmdStatus(ctx context.Context, a *app, args []string) error {
	store, err := a.historyStore(ctx)
	if err != nil {
		return err
	}
	names := args
	if len(names) == 0 {
		if names, err = store.Pipelines(ctx); err != nil {
			return err
		}
	}
	if len(names) == 0 {
		fmt.Fprintln(a.stdout, "No runs yet.")
		return nil
	}
	holders, err := store.Holders(ctx)
	if err != nil {
		return err
	}
	paused, err := store.Paused(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, name := range names {
		if h, ok := holders[name]; ok {
			fmt.Fprintf(a.stdout, "Pipeline %s is running on %s since %s.\n", name, h.Host, h.Since.Local().Format("2006-01-02 15:04:05"))
		}
		if since, ok := paused[name]; ok {
			fmt.Fprintf(a.stdout, "Pipeline %s is paused since %s: no host runs it until it is resumed in the console.\n",
				name, since.Local().Format("2006-01-02 15:04:05"))
			continue
		}
		runs, err := store.Runs(ctx, name, backoffLookback)
		if err != nil {
			return err
		}
		if b := lastCounted(runs); b.Until.After(now) {
			fmt.Fprintf(a.stdout, "Pipeline %s is backing off until %s, after %d failures in a row; "+
				"Sync now or resume in the console, or a change to its configuration, ends the wait.\n",
				name, b.Until.Local().Format("2006-01-02 15:04:05"), b.Failures)
		}
	}
	if err := printSignals(ctx, a.stdout, store, names); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PIPELINE\tRUN\tHOST\tSTARTED\tTOOK\tREAD\tWRITTEN\tOUTCOME\tDETAILS")
	for _, name := range names {
		runs, err := store.Runs(ctx, name, a.opts.limit)
		if err != nil {
			return err
		}
		for _, r := range runs {
			took := "-"
			if !r.Ended.IsZero() {
				took = r.Ended.Sub(r.Started).Round(time.Millisecond).String()
			}
			details := formatCounters(r.Counters)
			if len(r.Resumed) > 0 {
				details = strings.TrimSpace("resumed " + strings.Join(r.Resumed, ",") + " " + details)
			}
			if r.Error != "" {
				details = strings.TrimSpace(details + " error: " + firstLine(r.Error))
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", r.Pipeline, r.ID, cmp.Or(r.Host, "-"), r.Started.Local().Format("2006-01-02 15:04:05"),
				took, r.Read, r.Written, r.Outcome, details)
		}
	}
	return tw.Flush()
}

func formatCounters(c map[string]int64) string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	// In the order records flow: the source's counters, then the
	// destination's, then the unprefixed ones of runs stored before.
	side := func(k string) int {
		switch {
		case strings.HasPrefix(k, runner.SourceCounters):
			return 0
		case strings.HasPrefix(k, runner.DestinationCounters):
			return 1
		}
		return 2
	}
	sort.Slice(keys, func(i, j int) bool {
		if si, sj := side(keys[i]), side(keys[j]); si != sj {
			return si < sj
		}
		return keys[i] < keys[j]
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, c[k]))
	}
	return strings.Join(parts, " ")
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
