package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/host/api"
	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/host/connect"
	"github.com/replicatorhq/replicator/host/console"
	"github.com/replicatorhq/replicator/host/engine"
	"github.com/replicatorhq/replicator/host/notify"
	"github.com/replicatorhq/replicator/host/schedule"
	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// liveRun is a run underway, as the console shows it.
type liveRun struct {
	since         time.Time
	read, written int64
}

// live keeps the runs underway on this host.
type live struct {
	mu   sync.Mutex
	runs map[string]*liveRun
}

func (l *live) start(pipeline string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.runs == nil {
		l.runs = map[string]*liveRun{}
	}
	l.runs[pipeline] = &liveRun{since: time.Now()}
}

func (l *live) update(pipeline string, read, written int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.runs[pipeline]; r != nil {
		r.read, r.written = read, written
	}
}

func (l *live) end(pipeline string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.runs, pipeline)
}

func (l *live) get(pipeline string) (liveRun, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.runs[pipeline]
	if !ok {
		return liveRun{}, false
	}
	return *r, true
}

// pipelineFlags are asks made in the console, by pipeline, such as for a
// full refresh: the pipeline's next run on this host takes its own.
type pipelineFlags struct {
	mu    sync.Mutex
	asked map[string]bool
}

// ask asks for pipeline's next run, or withdraws the ask.
func (f *pipelineFlags) ask(pipeline string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.asked == nil {
		f.asked = map[string]bool{}
	}
	if on {
		f.asked[pipeline] = true
	} else {
		delete(f.asked, pipeline)
	}
}

// take reports whether pipeline's next run was asked for, and forgets
// the ask.
func (f *pipelineFlags) take(pipeline string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	asked := f.asked[pipeline]
	delete(f.asked, pipeline)
	return asked
}

// errPaused is why a run of a paused pipeline did not start.
var errPaused = errors.New("the pipeline is paused")

// isPaused reads whether pipeline is paused.
func isPaused(ctx context.Context, store state.Store, pipeline string) (bool, error) {
	paused, err := store.Paused(ctx)
	if err != nil {
		return false, fmt.Errorf("reading whether pipeline %q is paused: %w", pipeline, err)
	}
	_, ok := paused[pipeline]
	return ok, nil
}

// webConsole is the console as served, with what a reload changes.
type webConsole struct {
	c   *console.Console
	log hclog.Logger
	// listen is the address it was started on; base its URL.
	listen, base string
	// made is the token the host made, while the configuration has none.
	made string
}

// serveConsole serves the console, /metrics and the health endpoints on
// listen until ctx ends.
func (h *runHost) serveConsole(ctx context.Context, listen string, hc config.Host) error {
	if hc.ConsoleToken == "" && !console.IsLoopback(listen) {
		return fmt.Errorf("the console on %s has no token: set host { console_token = env(\"REPLICATOR_CONSOLE_TOKEN\") }, or listen on a loopback address such as 127.0.0.1:8080", listen)
	}
	web := &webConsole{log: h.log.Named("console"), listen: listen}
	c, err := console.New(console.Options{
		Settings: web.settings(hc),
		Host:     consoleHost{h},
		Metrics:  h.metrics.Handler(),
		Notice:   h.notice,
		Log:      web.log,
		Listen:   listen,
		// Services call back at public_url, and find the endpoint there.
		Callbacks: h.signals.endpoint,
	})
	if err != nil {
		return err
	}
	web.c = c
	ln, err := listenOn("the console", listen)
	if err != nil {
		return err
	}
	web.base = "http://" + reachable(ln.Addr())
	h.web = web
	h.pages = connect.New(connect.Options{
		Host: connectHost{h}, PublicURL: h.publicURL, Log: h.log.Named("connect"), Wrap: console.SecurityHeaders,
	})
	root := http.NewServeMux()
	// The connect pages and the API answer to the console's names only,
	// public_url's included, as a rebinding page must not reach them.
	root.Handle("/connect/", c.CheckHost(h.pages))
	apiToken := func() string { return h.engine().Config.Host.APIToken }
	root.Handle(api.Prefix+"/", c.CheckHost(api.New(consoleHost{h}, apiToken, h.log.Named("api"))))
	root.Handle("/", c)
	h.serve(ctx, "the console", ln, root)
	h.log.Info("console, /metrics and health checks are served", "url", web.base+"/")
	web.printLogin()
	return nil
}

// serveMetrics serves /metrics alone on listen (metrics_listen) until ctx
// ends: with metrics_token when it is set, else without a token.
func (h *runHost) serveMetrics(ctx context.Context, listen string, hc config.Host) error {
	m := console.NewMetricsEndpoint(h.metrics.Handler(), h.log.Named("metrics"))
	m.SetToken(hc.MetricsToken)
	ln, err := listenOn("the metrics", listen)
	if err != nil {
		return err
	}
	addr := reachable(ln.Addr())
	h.metricsOnly = &metricsOnly{m: m, listen: listen}
	h.serve(ctx, "the metrics", ln, m)
	if hc.MetricsToken == "" {
		h.log.Info("/metrics is served without a token to whoever can reach its address", "url", "http://"+addr+"/metrics")
	} else {
		h.log.Info("/metrics is served to bearers of metrics_token", "url", "http://"+addr+"/metrics")
	}
	return nil
}

// metricsOnly is /metrics as served on metrics_listen.
type metricsOnly struct {
	m      *console.MetricsEndpoint
	listen string
}

// listenOn listens on listen, for what, which names it in messages.
func listenOn(what, listen string) (net.Listener, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("serving %s: %w", what, err)
	}
	return ln, nil
}

// serve serves handler on ln until ctx ends; what names it in messages.
func (h *runHost) serve(ctx context.Context, what string, ln net.Listener, handler http.Handler) {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error(what+" stopped being served", "error", err)
		}
	}()
}

// reachable is addr as a URL names it, with a loopback address for a
// listener on every address.
func reachable(addr net.Addr) string {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil || !ap.Addr().IsUnspecified() {
		return addr.String()
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), ap.Port()).String()
}

// settings returns the console's settings for the host block hc: without
// a token there, the one the host made, made now if there is none yet.
func (w *webConsole) settings(hc config.Host) console.Settings {
	token := hc.ConsoleToken
	switch {
	case token != "":
		w.made = ""
	case w.made == "":
		w.made = console.NewToken()
		token = w.made
	default:
		token = w.made
	}
	allowed := hc.AllowedHosts
	if u, err := url.Parse(hc.PublicURL); err == nil && u.Hostname() != "" {
		// Customers' browsers and callbacks come with public_url's host.
		allowed = append(slices.Clone(allowed), u.Hostname())
	}
	return console.Settings{Token: token, MetricsToken: hc.MetricsToken, AllowedHosts: allowed}
}

// printLogin logs the login URL of a token the host made, once: a token
// from the configuration is never printed.
func (w *webConsole) printLogin() {
	if w.made == "" {
		return
	}
	w.log.Info("log in to the console with this URL; its token is made anew at each start unless console_token is set in the host block",
		"url", w.base+"/login?token="+w.made)
}

// reconfigureConsole gives the console the host block of a reloaded
// configuration: a changed token takes effect and ends the sessions
// opened with the old one.
func (h *runHost) reconfigureConsole(hc config.Host) {
	if m := h.metricsOnly; m != nil {
		m.m.SetToken(hc.MetricsToken)
		if hc.MetricsListen != m.listen {
			h.log.Warn("metrics_listen changed; /metrics moves there when replicator run is restarted", "serving", m.listen, "configured", hc.MetricsListen)
		}
	} else if hc.MetricsListen != "" {
		h.log.Warn("metrics_listen is set; /metrics is served there once replicator run is restarted", "configured", hc.MetricsListen)
	}
	w := h.web
	if w == nil {
		return
	}
	if h.a.opts.listen == "" && hc.Listen != w.listen {
		w.log.Warn("listen changed; the console moves there when replicator run is restarted", "serving", w.listen, "configured", hc.Listen)
	}
	made := w.made
	w.c.Configure(w.settings(hc))
	if w.made != made {
		w.printLogin()
	}
}

// usedBy says whether source is the source of the pipeline called name.
func usedBy(cfg *config.Config, source *config.Connector, name string) bool {
	pc, ok := cfg.Pipeline(name)
	return ok && pc.Source == source
}

// consoleHost is the running host as the console sees it.
type consoleHost struct{ h *runHost }

// Pipelines and Pipeline show what they last read while the state
// database does not answer (lastKnown).
func (c consoleHost) Pipelines(ctx context.Context) ([]console.Pipeline, error) {
	ps, err := c.pipelines(ctx, "", 0)
	return c.h.known.list(ps, err, err != nil && c.h.storeOutage(ctx))
}

func (c consoleHost) Pipeline(ctx context.Context, name string, runs int) (console.Pipeline, error) {
	ps, err := c.pipelines(ctx, name, runs)
	if err == nil && len(ps) == 0 {
		return console.Pipeline{}, fmt.Errorf("pipeline %s is %w", name, console.ErrUnknown)
	}
	p := console.Pipeline{Name: name}
	if err == nil {
		p = ps[0]
	}
	return c.h.known.pipeline(p, err, err != nil && c.h.storeOutage(ctx))
}

// pipelines returns every pipeline, or only the one called only with up
// to runs of its newest runs. The state is read in a handful of calls,
// whatever the number of pipelines: the claims, the pauses, the newest
// runs and the sources with credentials.
func (c consoleHost) pipelines(ctx context.Context, only string, runs int) ([]console.Pipeline, error) {
	h := c.h
	eng := h.engine()
	store, release, err := h.shared.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	holders, err := store.Holders(ctx)
	if err != nil {
		return nil, err
	}
	paused, err := store.Paused(ctx)
	if err != nil {
		return nil, err
	}
	last, err := store.LastRuns(ctx)
	if err != nil {
		return nil, err
	}
	authorized, err := store.Sources(ctx)
	if err != nil {
		return nil, err
	}
	me := hostID()
	// Whether each source takes a grant.
	takesGrant := map[*config.Connector]bool{}
	for _, b := range eng.Config.Sources {
		if only != "" && !usedBy(eng.Config, b, only) {
			continue
		}
		spec, err := h.spec(ctx, eng, b)
		if err != nil {
			return nil, err
		}
		takesGrant[b] = spec.Grant != ""
	}
	var out []console.Pipeline
	for _, pc := range eng.Config.Pipelines {
		if only != "" && pc.Name != only {
			continue
		}
		p := console.Pipeline{
			Name:         pc.Name,
			Source:       pc.Source.Ref(),
			Destination:  pc.Destination.Ref(),
			Streams:      pc.Streams,
			Interval:     pc.Interval,
			Last:         last[pc.Name],
			PausedSince:  paused[pc.Name],
			CanAuthorize: takesGrant[pc.Source],
		}
		if chs := h.signals.channels.Of(pc.Name); len(chs) > 0 {
			p.Notifications = describeSignals(notify.StatusOf(chs, time.Now()))
		}
		_, has := slices.BinarySearch(authorized, p.Source)
		p.NeedsGrant = p.CanAuthorize && !has
		if only != "" {
			if p.Runs, err = store.Runs(ctx, pc.Name, runs); err != nil {
				return nil, err
			}
		}
		st, _ := h.sched.Status(pc.Name)
		p.Queued = st.Phase == schedule.PhaseQueued
		if st.Phase != schedule.PhaseRunning {
			p.NextRun = st.Due
		}
		if b, ok := backoffShown(p.Last.Run, time.Now()); ok && p.PausedSince.IsZero() && st.Phase != schedule.PhaseRunning &&
			b.Config == h.configDigest(pc) {
			// What the shared history says, which the host that
			// runs it next goes by, whatever this one's schedule.
			p.Backoff = b
			if b.Until.After(p.NextRun) {
				p.NextRun = b.Until
			}
		}
		holder, held := holders[pc.Name]
		if held {
			p.Host = holder.Host
		}
		switch {
		case st.Phase == schedule.PhaseRunning:
			p.State = console.StateRunning
			if lr, ok := h.live.get(pc.Name); ok {
				p.LiveRead, p.LiveWritten, p.LiveSince = lr.read, lr.written, lr.since
			}
		case held && holder.Host != me:
			p.State = console.StateElse
		case !p.PausedSince.IsZero():
			p.State = console.StatePaused
		case p.NeedsGrant:
			p.State = console.StateNeedsGrant
		case p.Failing():
			p.State = console.StateFailed
		case p.Queued:
			p.State = console.StateQueued
		default:
			p.State = console.StateIdle
		}
		out = append(out, p)
	}
	return out, nil
}

func (c consoleHost) Sources(ctx context.Context) ([]console.Source, error) {
	h := c.h
	eng := h.engine()
	store, release, err := h.shared.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	var out []console.Source
	for _, b := range eng.Config.Sources {
		s := console.Source{Ref: b.Ref(), Type: b.Type}
		creds, err := store.Credentials(ctx, s.Ref)
		if err != nil {
			return nil, err
		}
		s.Authorized = len(creds) > 0
		spec, err := h.spec(ctx, eng, b)
		if err != nil {
			return nil, err
		}
		s.CanAuthorize = spec.Grant != ""
		for _, pc := range eng.Config.Pipelines {
			if pc.Source == b {
				s.Pipelines = append(s.Pipelines, pc.Name)
			}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b console.Source) int { return strings.Compare(a.Ref, b.Ref) })
	return out, nil
}

func (c consoleHost) SyncNow(ctx context.Context, pipeline string, fullRefresh bool) error {
	h := c.h
	if _, ok := h.engine().Config.Pipeline(pipeline); !ok {
		return fmt.Errorf("pipeline %s is %w", pipeline, console.ErrUnknown)
	}
	if paused, err := c.paused(ctx, pipeline); err != nil || paused {
		return cmp.Or(err, errors.New("it is paused; resume it first"))
	}
	if fullRefresh {
		h.fullRefreshes.ask(pipeline, true)
	}
	h.asked.ask(pipeline, true)
	err := h.sched.RunNow(pipeline)
	if err != nil {
		h.fullRefreshes.ask(pipeline, false)
		h.asked.ask(pipeline, false)
	}
	switch {
	case errors.Is(err, schedule.ErrUnknownJob):
		return fmt.Errorf("pipeline %s is %w", pipeline, console.ErrUnknown)
	case errors.Is(err, schedule.ErrRunning):
		return errors.New("a run is underway; wait for it to end")
	default:
		return err
	}
}

// paused says whether pipeline is paused.
func (c consoleHost) paused(ctx context.Context, pipeline string) (bool, error) {
	store, release, err := c.h.shared.acquire()
	if err != nil {
		return false, err
	}
	defer release()
	return isPaused(ctx, store, pipeline)
}

// SetPaused pauses or resumes a pipeline in the state store, where every
// host reads it before a run. A pipeline resumed runs as asked for: its
// failures before count no more for its backoff. One whose last run is an
// interval old or more (or that never ran), or that backs off, is due at
// once here; one that ran more recently keeps its next slot.
func (c consoleHost) SetPaused(ctx context.Context, pipeline string, paused bool) error {
	h := c.h
	pc, ok := h.engine().Config.Pipeline(pipeline)
	if !ok {
		return fmt.Errorf("pipeline %s is %w", pipeline, console.ErrUnknown)
	}
	store, release, err := h.shared.acquire()
	if err != nil {
		return err
	}
	defer release()
	if err := store.SetPaused(ctx, pipeline, paused); err != nil {
		return err
	}
	if paused || pc.Interval == 0 {
		return nil
	}
	runs, err := store.Runs(ctx, pipeline, backoffLookback)
	if err != nil {
		return fmt.Errorf("resumed; reading its last run to see whether it is due: %w", err)
	}
	h.asked.ask(pipeline, true)
	backsOff := counted(runs, h.configDigest(pc)).Until.After(time.Now())
	if len(runs) > 0 && time.Since(runs[0].Started) < pc.Interval && !backsOff {
		return nil
	}
	if err := h.sched.RunNow(pipeline); err != nil && !errors.Is(err, schedule.ErrRunning) {
		return fmt.Errorf("resumed; queueing its run: %w", err)
	}
	return nil
}

func (c consoleHost) Authorize(ctx context.Context, ref, code string) (string, error) {
	h := c.h
	_, block, err := connectHost(c).sourceBlock(ref)
	if err != nil {
		return "", err
	}
	resp, err := connectHost(c).Authorize(ctx, block.Ref(), contract.AuthorizeRequest{Grant: code})
	if err != nil {
		return "", err
	}
	store, release, err := h.shared.acquire()
	if err != nil {
		return "", err
	}
	defer release()
	if err := store.SaveCredentials(ctx, state.NoFence, block.Ref(), resp.Credentials); err != nil {
		return "", err
	}
	h.metrics.Authorized(block.Ref())
	msg := resp.Message
	if msg == "" {
		msg = "The credentials are stored."
	}
	return msg, nil
}

// Ready asks the state store's cheap health: a database is pinged, and
// what it says is what the host knows of an outage (storeHealth); a state
// file's header is read without its lock, so that /readyz, however often
// polled, never keeps the commands out of the file.
func (c consoleHost) Ready(ctx context.Context) error {
	if !c.h.fleet {
		return state.CheckFileHealth(c.h.shared.path)
	}
	health := c.h.health.Load()
	if health == nil {
		return errWaitingForDatabase
	}
	return health.check(ctx)
}

// specKey is what specs of plugins are kept under.
func specKey(b *config.Connector) string { return b.Kind + "/" + b.Type }

// spec returns the Spec of a connector block's plugin, asked once per
// engine (that is, per configuration load) and type.
func (h *runHost) spec(ctx context.Context, eng *engine.Engine, b *config.Connector) (contract.Spec, error) {
	key := specKey(b)
	h.mu.Lock()
	spec, ok := h.specs[key]
	h.mu.Unlock()
	if ok {
		return spec, nil
	}
	spec, err := eng.Spec(ctx, b.Kind, b.Type)
	if err != nil {
		return contract.Spec{}, fmt.Errorf("%s: %w", b.Ref(), err)
	}
	h.mu.Lock()
	if h.eng == eng {
		h.specs[key] = spec
	}
	h.mu.Unlock()
	return spec, nil
}
