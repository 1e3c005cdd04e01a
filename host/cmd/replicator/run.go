package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/host/connect"
	"github.com/replicatorhq/replicator/host/engine"
	"github.com/replicatorhq/replicator/host/metrics"
	"github.com/replicatorhq/replicator/host/notify"
	"github.com/replicatorhq/replicator/host/reload"
	"github.com/replicatorhq/replicator/host/runner"
	"github.com/replicatorhq/replicator/host/schedule"
	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/host/state/postgres"
	"github.com/replicatorhq/replicator/host/warm"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/launch"
)

// runHost is `replicator run`: every pipeline with an interval, run by one
// scheduler that bounds the runs in flight.
type runHost struct {
	ctx context.Context // the command's: a reload's plugin launches end with it
	a   *app
	// log carries the host's own lines: one per run at info.
	log hclog.Logger
	// runLog is what the runs' connectors and runner log through: at the
	// default info level their own info lines would be several per run, so
	// it shows warnings and errors only unless the host logs at debug.
	runLog hclog.Logger
	shared *sharedStore
	sched  *schedule.Scheduler
	// names are the pipelines scheduled, for the reload's summary.
	names []string
	// retry is how soon a pipeline another host holds is tried again: a
	// quarter of the store's takeover bound, so that the pipelines of a
	// host that died or was paused move on within that bound and a
	// quarter, not at their next interval.
	retry time.Duration
	// fleet is true when other hosts may run the same pipelines.
	fleet bool
	// metrics and live are what /metrics and the console show.
	metrics *metrics.Metrics
	live    live
	// fullRefreshes are the ones asked for in the console; asked the
	// runs asked for there (Sync now, resume), which run whatever the
	// pipeline's backoff and start its count again.
	fullRefreshes, asked pipelineFlags
	// console says the console is served, so pipelines without an
	// interval are scheduled too, to run when asked there.
	console bool
	web     *webConsole    // the console served, nil when none is
	pages   *connect.Pages // the connect pages, served with the console
	// metricsOnly is /metrics on metrics_listen, nil when not set.
	metricsOnly *metricsOnly
	// health follows the state database once it is reached, nil for a
	// state file or before; known is what the console last read, shown
	// while the database is down.
	health atomic.Pointer[storeHealth]
	known  lastKnown
	// signals are the callbacks that wake pipelines, and their channels.
	signals *signals
	// warm keeps pipelines' plugins running between their runs.
	warm *warm.Pool
	// tenants are the configuration files left out for their errors.
	tenants tenantFiles

	mu    sync.Mutex
	eng   *engine.Engine           // of the configuration in use
	specs map[string]contract.Spec // of eng's plugins, by kind/type
	// digests are configDigest's, by pipeline of eng's configuration.
	digests map[*config.Pipeline]string
	// versions are the digests the scheduler last got, by pipeline name.
	versions map[string]string
}

// engine returns the engine of the configuration in use.
func (h *runHost) engine() *engine.Engine {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.eng
}

// setEngine makes eng the engine of the next runs, with the specs of its
// plugins already asked (nil when none were).
func (h *runHost) setEngine(eng *engine.Engine, specs map[string]contract.Spec) {
	if specs == nil {
		specs = map[string]contract.Spec{}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	digests := map[*config.Pipeline]string{}
	for _, pc := range eng.Config.Pipelines {
		if d, ok := h.digests[pc]; ok {
			digests[pc] = d
		}
	}
	h.eng, h.specs, h.digests = eng, specs, digests
}

func cmdRun(ctx context.Context, a *app, _ []string) error {
	h := &runHost{ctx: ctx, a: a, log: a.log, runLog: a.log.ResetNamed("replicator")}
	if a.log.GetLevel() == hclog.Info {
		h.runLog.SetLevel(hclog.Warn)
	}
	// SIGHUP and changed files reload the configuration until ctx ends.
	// Both are followed from before the configuration is read, so that
	// neither a SIGHUP (whose default would end the host) nor a file
	// saved while the host starts (checking plugins, reaching the
	// database) is lost: the reloads they ask for wait until it runs.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	running := make(chan struct{})
	followCtx, stopFollowing := context.WithCancel(ctx)
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		h.follow(followCtx, running, hup)
	}()
	defer func() {
		stopFollowing()
		<-followed
	}()

	cfg, err := h.startConfig()
	if err != nil {
		return err
	}
	// The app's engine has the plugin socket folder this process removes
	// at exit; the runs log through their own, quieter logger.
	base, err := a.engine()
	if err != nil {
		return err
	}
	eng, err := base.Reload(cfg, h.runLog)
	if err != nil {
		return err
	}
	// The state file is open only while runs are underway, so that
	// `replicator status` and the like can read it in between; a database
	// stays open once reached.
	opts, err := a.stateOptions()
	if err != nil {
		return err
	}
	h.shared = &sharedStore{path: a.storePath(), opts: opts}
	h.retry = retryAfter(cmp.Or(cfg.State.TakeoverAfter, config.DefaultTakeoverAfter))
	h.fleet = a.usesPostgres()
	h.startSignals(ctx)
	if h.fleet {
		h.shared.waiting = errWaitingForDatabase
	} else {
		store, release, err := h.shared.acquire()
		if err != nil {
			return err
		}
		h.loadChannels(ctx, store)
		release()
	}
	listen := cmp.Or(a.opts.listen, cfg.Host.Listen)
	h.console = listen != ""
	jobs := h.jobs(eng)
	if len(jobs) == 0 {
		return fmt.Errorf("no pipeline in %s has an interval; add one such as interval = \"15m\", or serve the console (-listen) to run them when asked", cfg.Path)
	}
	h.setEngine(eng, nil)
	h.warm = &warm.Pool{}
	h.warm.Configure(cfg.Host.WarmPlugins/2, cfg.Host.WarmIdle, eng)
	defer h.warm.Close()
	h.sched = schedule.New(schedule.Options{MaxConcurrent: cfg.Host.MaxConcurrentRuns, Log: a.log})
	h.metrics = metrics.New(metrics.Options{
		Host:  hostID(),
		Load:  func() (int, int) { return h.sched.Queued(), h.sched.InFlight() },
		Ready: consoleHost{h}.Ready,
		// Callbacks are counted by outcome from the start.
		CallbackOutcomes: notify.Outcomes,
		// A tenant file with errors leaves the host ready.
		ConfigFilesRejected: h.tenants.rejected,
	})
	if cfg.Host.PublicURL != "" && listen == "" {
		a.log.Warn("public_url is set but nothing is served: set listen in the host block (or -listen) for services to call back; the pipelines poll meanwhile")
	}
	// A state file is at hand: the first scrape of /metrics shows every
	// pipeline's gauges. The console and /readyz are up while the host
	// waits for its database: not ready until it is reached.
	if !h.fleet {
		h.set(jobs)
	}
	if h.console {
		if err := h.serveConsole(ctx, listen, cfg.Host); err != nil {
			return err
		}
	}
	if cfg.Host.MetricsListen != "" {
		if err := h.serveMetrics(ctx, cfg.Host.MetricsListen, cfg.Host); err != nil {
			return err
		}
	}
	if h.fleet {
		store, err := waitForDatabase(ctx, a)
		if errors.Is(err, errStopped) {
			a.log.Info("stopped before the state database could be reached")
			return nil
		}
		if err != nil {
			return err
		}
		h.shared.open(store)
		h.followStore(ctx, store)
		h.loadChannels(ctx, store)
		h.set(jobs)
	}

	a.log.Info("running pipelines on their intervals; reload with SIGHUP, stop with Ctrl-C or SIGTERM",
		"pipelines", len(jobs), "max_concurrent_runs", cfg.Host.MaxConcurrentRuns,
		"takeover_slots", schedule.TakeoverSlots(cfg.Host.MaxConcurrentRuns))
	close(running)
	h.sched.Run(ctx)
	stopFollowing()
	<-followed
	a.log.Info("stopped; checkpoints are saved")
	return nil
}

// follow reloads the configuration on SIGHUP and when its files change,
// until ctx ends. It starts before the host has read the configuration;
// the reloads wait until running is closed, once the host runs. A reload
// racing the stop schedules nothing, as the scheduler has stopped.
func (h *runHost) follow(ctx context.Context, running <-chan struct{}, hup <-chan os.Signal) {
	whenRunning := func(reason string) {
		select {
		case <-running:
			h.reload(reason)
		case <-ctx.Done():
		}
	}
	err := reload.Watch(ctx, h.a.opts.config, reload.DefaultSettle, hup, whenRunning)
	if err == nil {
		return
	}
	select {
	case <-running:
	case <-ctx.Done():
		return
	}
	h.log.Warn("changes to the configuration files are not followed; reload with SIGHUP", "error", err)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			h.reload("SIGHUP")
		}
	}
}

// reload reads the configuration again and reschedules its pipelines:
// added ones start, removed ones stop after their run in flight, changed
// ones run as changed from their next run. A tenant file with errors runs
// in its last good version or is left out (see reloadTenants); errors in
// the host-wide settings are reported with their diagnostics, and the
// pipelines keep running as they were.
func (h *runHost) reload(reason string) {
	h.log.Info("reading the configuration again", "reason", reason)
	cfg, eng, specs, ok := h.reloadTenants()
	if !ok {
		return
	}
	if h.a.opts.state == "" && (cfg.StateFile != h.shared.path || cfg.State.Postgres != h.a.cfg.State.Postgres) {
		h.log.Warn("the state store changed; the host keeps using the one it started with until it is restarted")
	}
	if was := h.a.cfg.State; cfg.State.EncryptionKey != was.EncryptionKey || cfg.State.PreviousEncryptionKey != was.PreviousEncryptionKey {
		h.log.Warn("the state block's keys changed; the host keeps using the ones it started with until it is restarted")
	}
	h.sched.SetMaxConcurrent(cfg.Host.MaxConcurrentRuns)
	h.reconfigureConsole(cfg.Host)
	old := h.engine()
	h.setEngine(eng, specs)
	h.warm.Configure(cfg.Host.WarmPlugins/2, cfg.Host.WarmIdle, eng)
	h.set(h.jobs(eng))
	h.unwatchRemoved(old, eng)
}

// checkConnectors decodes every connector block of eng's configuration
// against its plugin's schema, as a run would, launching each plugin once
// rather than once per block: a misspelt attribute, or a plugin that does
// not answer, is an error of the block's file at the reload, not found at
// the next run. It returns the specs it asked, by specKey, for the console
// to reuse; an error only when ctx ended.
func checkConnectors(ctx context.Context, eng *engine.Engine) (map[string]contract.Spec, hcl.Diagnostics, error) {
	specs := map[string]contract.Spec{}
	var diags hcl.Diagnostics
	for _, b := range slices.Concat(eng.Config.Sources, eng.Config.Destinations) {
		spec, ok := specs[specKey(b)]
		if !ok {
			var err error
			if spec, err = eng.Spec(ctx, b.Kind, b.Type); err != nil {
				if ctx.Err() != nil {
					return nil, nil, fmt.Errorf("%s: %w", b.Ref(), err)
				}
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "The block's plugin could not be asked for its schema",
					Detail:   fmt.Sprintf("%s: %v", b.Ref(), err),
					Subject:  b.DeclRange.Ptr(),
				})
				continue
			}
			specs[specKey(b)] = spec
		}
		_, d := b.Decode(spec)
		for _, diag := range d {
			if diag.Severity == hcl.DiagError {
				diags = append(diags, diag)
			}
		}
	}
	return specs, diags, nil
}

// set schedules jobs and logs which pipelines came and went.
func (h *runHost) set(jobs []schedule.Job) {
	names := make([]string, 0, len(jobs))
	for _, j := range jobs {
		names = append(names, j.Name)
	}
	slices.Sort(names)
	if h.names != nil {
		var added, removed []string
		for _, n := range names {
			if _, found := slices.BinarySearch(h.names, n); !found {
				added = append(added, n)
			}
		}
		for _, n := range h.names {
			if _, found := slices.BinarySearch(names, n); !found {
				removed = append(removed, n)
			}
		}
		h.log.Info("configuration reloaded", "pipelines", len(names), "added", len(added), "removed", len(removed))
		for _, n := range added {
			h.log.Debug("pipeline added", "pipeline", n)
		}
		for _, n := range removed {
			h.log.Info("pipeline removed; it stops after its run in flight", "pipeline", n)
			h.metrics.Forget(n)
		}
	}
	h.names = names
	h.showPipelines(h.ctx, h.engine())
	versions := make(map[string]string, len(jobs))
	for _, j := range jobs {
		versions[j.Name] = j.Version
		if was, ok := h.versions[j.Name]; ok && was != j.Version {
			// A changed configuration has not failed yet.
			h.metrics.SetBackoff(j.Name, time.Time{})
		}
	}
	h.versions = versions
	h.sched.Set(jobs)
}

// jobs returns a job for each pipeline of eng's configuration that has an
// interval. Each job runs the pipeline as this configuration has it.
func (h *runHost) jobs(eng *engine.Engine) []schedule.Job {
	var jobs []schedule.Job
	for _, pc := range eng.Config.Pipelines {
		if pc.Interval == 0 && !h.console {
			h.log.Debug("pipeline has no interval; it runs only with `replicator sync`", "pipeline", pc.Name)
			continue
		}
		jobs = append(jobs, schedule.Job{Name: pc.Name, Interval: pc.Interval, Version: h.configDigest(pc),
			Run: func(ctx context.Context) schedule.Next { return h.run(ctx, eng, pc) }})
	}
	return jobs
}

// run runs pc once and logs how it went in one line: a run stopped by the
// host's shutdown is interrupted, not failed. It returns when pc is next
// due, the zero value meaning one interval on: a pipeline another host
// runs now, or whose claim could not be taken or kept, is tried again
// after h.retry as a takeover, and one another host ran less than an
// interval ago is due one interval after that run started.
func (h *runHost) run(ctx context.Context, eng *engine.Engine, pc *config.Pipeline) schedule.Next {
	if next, wait := h.waitForStore(pc); wait {
		return schedule.Next{At: next}
	}
	h.log.Debug("run started", "pipeline", pc.Name)
	started := time.Now()
	h.live.start(pc.Name)
	woken := h.takeWake(pc.Name)
	rec, next, err := h.runOnce(ctx, eng, pc, woken)
	h.live.end(pc.Name)
	if next.Takeover {
		h.keepWake(pc.Name, woken)
	}
	took := time.Since(started).Round(time.Millisecond)
	if !rec.Started.IsZero() {
		h.runEnded(context.WithoutCancel(ctx), rec)
	}
	if _, crashed := errors.AsType[*launch.PluginError](err); crashed {
		h.metrics.PluginCrashed(pc.Name)
	}
	// The host's lines about the run name it as its plugins' lines do.
	log := runner.Logger(h.log, pc.Name, rec.ID)
	switch {
	case ctx.Err() != nil:
		log.Info("run interrupted by the shutdown; the next run resumes from its last checkpoint",
			"read", rec.Read, "written", rec.Written, "took", took)
	case errors.Is(err, state.ErrClaimed):
		log.Debug("pipeline runs on another host now; trying again soon", "in", h.retry, "detail", err)
	case errors.Is(err, errPaused):
		log.Debug("pipeline is paused; its run is skipped")
		h.unwatch(ctx, eng, pc)
	case errors.Is(err, errBackingOff):
		log.Debug("pipeline backs off after failing; its run is skipped", "until", next.At.Format(time.RFC3339))
	case h.stoppedByOutage(ctx, err):
		// The outage is logged once, not with each run it stops.
		log.Debug("run stopped by the state database's outage; it runs again once the database answers", "error", err)
		next = schedule.Next{At: h.retryAt(pc)}
	case err != nil && next.Takeover:
		log.Warn("run failed: the pipeline's claim could not be taken or kept; it is tried again soon, here or on another host, from its last checkpoint",
			"took", took, "in", h.retry, "error", err)
	case err != nil && next.Backoff:
		log.Error("run failed; the pipeline backs off", "took", took, "failures_in_a_row", rec.Backoff.Failures,
			"next_run", next.At.Format(time.RFC3339), "error", err)
	case !next.At.IsZero():
		log.Debug("pipeline ran on another host less than an interval ago; its next run is due one interval after that one started",
			"host", rec.Host, "at", next.At.Format(time.RFC3339))
	case err != nil:
		log.Error("run failed", "took", took, "error", err)
	default:
		log.Info("run finished", "outcome", rec.Outcome, "read", rec.Read, "written", rec.Written,
			"took", took, "counters", formatCounters(rec.Counters))
	}
	return next
}

// runOnce claims pc and runs it, unless another host ran it less than an
// interval ago: then it returns that run and when pc is next due. When the
// claim could not be taken, or was lost, or the run's end could not be
// stored under it (the database restarted), pc is due again after h.retry
// as a takeover: the history does not show that run's end, and the
// pipeline must go on within the takeover bound, here or elsewhere. A run
// cut by the host's shutdown at any point is recorded as interrupted.
//
// woken is when the latest callback that woke pc came, zero for none.
func (h *runHost) runOnce(ctx context.Context, eng *engine.Engine, pc *config.Pipeline, woken time.Time) (state.Run, schedule.Next, error) {
	store, release, err := h.shared.acquire()
	if err != nil {
		return state.Run{}, schedule.Next{}, err
	}
	defer release()
	// soon is when pc is due again after a claim that failed or was lost.
	soon := func() schedule.Next {
		return schedule.Next{At: h.retryAt(pc), Takeover: true}
	}
	asked := h.asked.take(pc.Name)
	// A paused pipeline's run is skipped, on every host: it stays due at
	// its slots, and runs again at the first after it is resumed.
	if paused, err := isPaused(ctx, store, pc.Name); err != nil || paused {
		if err != nil {
			return state.Run{}, soon(), err
		}
		return state.Run{}, schedule.Next{}, errPaused
	}
	rc, err := claimRun(ctx, h.log, store, pc.Name)
	if err != nil {
		return state.Run{}, soon(), err
	}
	defer rc.done(h.log)
	// The newest runs, read once under the claim: whether another host
	// has just run the pipeline, and its backoff.
	runs, err := store.Runs(rc.ctx, pc.Name, backoffLookback)
	if err != nil {
		return state.Run{}, soon(), fmt.Errorf("reading the last runs of pipeline %q: %w", pc.Name, err)
	}
	if h.fleet {
		if last, next := ranElsewhere(runs, pc.Interval, time.Now(), woken); !next.IsZero() {
			return last, schedule.Next{At: next}, nil
		}
	}
	prev := counted(runs, h.configDigest(pc))
	if !asked && prev.Until.After(time.Now()) {
		h.metrics.SetBackoff(pc.Name, prev.Until)
		return state.Run{}, schedule.Next{At: prev.Until, Backoff: true}, errBackingOff
	}
	// failed counts a failed run that was not the host's fault.
	failed := func(rec state.Run, err error) (state.Run, schedule.Next, error) {
		if h.stoppedByOutage(ctx, err) {
			return rec, schedule.Next{}, err
		}
		next := h.backOff(ctx, store, rc.Fence, eng, pc, &rec, prev, asked)
		return rec, next, err
	}
	p, rec, err := h.openWarm(ctx, rc, eng, pc, store)
	if err != nil {
		if rec.ID == 0 || rc.Err() != nil {
			// Not begun, or the claim was lost: the history shows no end
			// of this run, and the pipeline goes on within the bound.
			return state.Run{}, soon(), err
		}
		if rec.Outcome == state.OutcomeFailed && ctx.Err() == nil {
			return failed(rec, err)
		}
		return rec, schedule.Next{}, err
	}
	kept := false
	defer func() {
		if !kept {
			p.Close()
		}
	}()
	rec, err = runner.Run(rc.ctx, p.Pipeline, store, rc.Fence, runner.Options{
		Begun:         rec,
		FullRefresh:   h.fullRefreshes.take(pc.Name),
		Log:           h.runLog.Named(pc.Name),
		StallTimeout:  eng.Config.Host.StallTimeout,
		Observer:      h.metrics.Pipeline(pc.Name),
		ProgressEvery: time.Second,
		OnProgress:    func(pr runner.Progress) { h.live.update(pc.Name, pr.Read, pr.Written) },
	})
	switch {
	case ctx.Err() != nil:
	case rc.Err() != nil, err != nil && !endStored(context.WithoutCancel(ctx), store, rec):
		return rec, soon(), err
	case err == nil:
		h.watch(rc.ctx, eng, p, store, rc.Fence, woken, rec)
		if rc.Err() == nil {
			kept = true
			h.warm.Put(pc.Name, eng, p)
		}
	case rec.Outcome == state.OutcomeFailed:
		return failed(rec, err)
	}
	return rec, schedule.Next{At: h.renewal(pc)}, err
}

// endStored is true when the history holds rec's end, or rec never
// started (it failed before it was recorded, such as on a plugin that
// would not start, and waits its interval like any failed run).
func endStored(ctx context.Context, store state.Store, rec state.Run) bool {
	if rec.ID == 0 {
		return true
	}
	runs, err := store.Runs(ctx, rec.Pipeline, 1)
	return err == nil && len(runs) == 1 && runs[0].ID == rec.ID && runs[0].Outcome == rec.Outcome
}

// retryAfter is how soon a pipeline held by another host is tried again
// under a takeover bound: a quarter of it, so that a pipeline leaves a
// host that stopped answering within the bound and a quarter.
func retryAfter(takeover time.Duration) time.Duration { return takeover / 4 }

// ranElsewhere looks at a pipeline's newest runs, read under the claim:
// when another host (or a `replicator sync`) started the last less than
// interval before now and saw it to its end, succeeded or failed, it
// returns that run and when the pipeline is next due, one interval after
// that start. So hosts that join, and the hosts that lose the race for a
// claim, do not run again what another has just run. A run its host did
// not finish (crashed, interrupted) goes on now from its last checkpoint,
// and so does a run woken by a callback that came after that run started
// (woken): the change it signals may not have been read.
func ranElsewhere(runs []state.Run, interval time.Duration, now, woken time.Time) (state.Run, time.Time) {
	if len(runs) == 0 {
		return state.Run{}, time.Time{}
	}
	last := runs[0]
	next := last.Started.Add(interval)
	if last.Host == hostID() || (last.Outcome != state.OutcomeSucceeded && last.Outcome != state.OutcomeFailed) || !next.After(now) ||
		woken.After(last.Started) {
		return state.Run{}, time.Time{}
	}
	return last, next
}

// errWaitingForDatabase is what the runs and /readyz are told while the
// host waits for its state database at start.
var errWaitingForDatabase = errors.New("waiting for the state database, which could not be reached yet")

// Waiting for the state database at start: attempts back off from the
// first to the last delay, each bounded by dbAttemptTimeout, and the host
// says it still waits once every dbWaitReport.
const (
	dbFirstRetry     = time.Second
	dbLastRetry      = 30 * time.Second
	dbAttemptTimeout = 30 * time.Second
	dbWaitReport     = time.Minute
)

// errStopped is waitForDatabase's error once ctx ends.
var errStopped = errors.New("stopped while waiting for the state database")

// waitForDatabase opens the configuration's state database, trying again
// with backoff while it cannot be reached, until ctx ends: then it fails
// with errStopped. Any other error (a wrong URL or key, a schema newer
// than this replicator) is returned at once.
func waitForDatabase(ctx context.Context, a *app) (state.Store, error) {
	delay := dbFirstRetry
	var reported time.Time
	for {
		attempt, cancel := context.WithTimeout(ctx, dbAttemptTimeout)
		store, err := a.openStore(attempt)
		cancel()
		if err == nil {
			if !reported.IsZero() {
				a.log.Info("the state database is reached; the host is ready")
			}
			return store, nil
		}
		if ctx.Err() != nil {
			return nil, errStopped
		}
		if !errors.Is(err, postgres.ErrUnreachable) {
			return nil, err
		}
		if time.Since(reported) >= dbWaitReport {
			a.log.Warn("the state database cannot be reached; waiting for it, not ready until then",
				"database", postgres.Redacted(a.cfg.State.Postgres), "error", err, "retrying_every", dbLastRetry)
			reported = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, errStopped
		case <-time.After(delay):
		}
		delay = min(2*delay, dbLastRetry)
	}
}

// sharedStore keeps the state file open while at least one holder needs
// it; a database, once open, stays open.
type sharedStore struct {
	path  string
	opts  state.FileOptions
	mu    sync.Mutex
	store state.Store
	refs  int
	// waiting is the error of every acquire while the host waits for its
	// database.
	waiting error
}

// open makes the database store the one every holder gets.
func (s *sharedStore) open(db state.Store) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.store, s.refs, s.waiting = db, 1, nil
}

func (s *sharedStore) acquire() (state.Store, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiting != nil {
		return nil, nil, s.waiting
	}
	if s.refs == 0 {
		st, err := state.OpenFile(s.path, s.opts)
		if err != nil {
			return nil, nil, err
		}
		s.store = st
		// -fresh-state starts one new file, not one each time this one
		// goes missing while replicator runs.
		s.opts.Fresh = false
	}
	s.refs++
	return s.store, s.release, nil
}

func (s *sharedStore) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs--
	if s.refs == 0 {
		_ = s.store.Close()
		s.store = nil
	}
}
