package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/host/engine"
	"github.com/replicatorhq/replicator/host/notify"
	"github.com/replicatorhq/replicator/host/runner"
	"github.com/replicatorhq/replicator/host/schedule"
	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/host/state/postgres"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// signals is what `replicator run` does with change signals: the
// callback endpoint, the channels, and the pipelines woken by callbacks.
type signals struct {
	channels *notify.Channels
	watching *notify.Watching
	endpoint *notify.Endpoint

	mu sync.Mutex
	// woken are the pipelines woken by a callback and not run since, by
	// when the latest callback came.
	woken map[string]time.Time
}

// startSignals sets up the callback endpoint, which the console's
// listener serves once h.metrics is made, and hands its verified
// callbacks to h.signaled until ctx ends.
func (h *runHost) startSignals(ctx context.Context) {
	chs := &notify.Channels{Load: func(ctx context.Context) ([]state.Channel, error) {
		store, release, err := h.shared.acquire()
		if err != nil {
			return nil, err
		}
		defer release()
		return store.Channels(ctx)
	}}
	h.signals = &signals{
		channels: chs,
		watching: &notify.Watching{Channels: chs},
		woken:    map[string]time.Time{},
	}
	h.signals.endpoint = &notify.Endpoint{
		Channels: chs,
		Signal:   h.signaled,
		// The metrics are made later, before anything is served.
		Outcome: func(outcome string) { h.metrics.Callback(outcome) },
		Log:     h.log.Named("callbacks"),
	}
	go h.signals.endpoint.Run(ctx)
}

// loadChannels reads the stored channels from store, once it is
// reached, and with a shared database follows the callbacks other hosts
// receive.
func (h *runHost) loadChannels(ctx context.Context, store state.Store) {
	all, err := store.Channels(ctx)
	if err != nil {
		h.log.Warn("the change-signal channels could not be read; callbacks of channels made before are refused until they are", "error", err)
	} else {
		h.signals.channels.Set(all)
	}
	if pg, ok := store.(*postgres.Store); ok {
		go h.listenSignals(ctx, pg)
	}
}

// listenSignals wakes the pipelines whose callbacks any host of the fleet
// receives, until ctx ends, listening again after a lost connection.
func (h *runHost) listenSignals(ctx context.Context, pg *postgres.Store) {
	for {
		err := pg.ListenSignals(ctx, func(pipeline string) { h.wake(pipeline, time.Now()) })
		if ctx.Err() != nil {
			return
		}
		h.log.Debug("callbacks of other hosts are not followed for now; the pipelines' intervals catch their changes", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(dbFirstRetry):
		}
	}
}

// signaled records a verified callback and wakes its pipeline. With a
// shared database, the record tells every host, and the one that claims
// the pipeline first runs it. The record comes first, so that the run
// woken finds it; a callback that could not be recorded wakes the
// pipeline all the same.
func (h *runHost) signaled(ctx context.Context, ch state.Channel, at time.Time) {
	h.signals.channels.Signaled(ch.Key, at)
	defer h.wake(ch.Pipeline, at)
	store, release, err := h.shared.acquire()
	if err != nil {
		h.log.Debug("a callback could not be recorded", "pipeline", ch.Pipeline, "error", err)
		return
	}
	defer release()
	if _, err := store.SetSignaled(ctx, ch.Key, at); err != nil {
		h.log.Debug("a callback could not be recorded", "pipeline", ch.Pipeline, "error", err)
	}
}

// wake makes pipeline due now: a callback said it changed at at.
func (h *runHost) wake(pipeline string, at time.Time) {
	s := h.signals
	s.mu.Lock()
	if at.After(s.woken[pipeline]) {
		s.woken[pipeline] = at
	}
	s.mu.Unlock()
	if err := h.sched.Wake(pipeline); err != nil && !errors.Is(err, schedule.ErrUnknownJob) {
		h.log.Debug("pipeline could not be woken", "pipeline", pipeline, "error", err)
	}
}

// takeWake returns when the latest callback that woke pipeline came, zero
// for none, and forgets it: the run about to start reads its change.
func (h *runHost) takeWake(pipeline string) time.Time {
	s := h.signals
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.woken[pipeline]
	delete(s.woken, pipeline)
	return at
}

// keepWake gives back a wake whose run did not happen here (another host
// held the pipeline), unless a later one came meanwhile.
func (h *runHost) keepWake(pipeline string, at time.Time) {
	if at.IsZero() {
		return
	}
	s := h.signals
	s.mu.Lock()
	defer s.mu.Unlock()
	if at.After(s.woken[pipeline]) {
		s.woken[pipeline] = at
	}
}

// want is what pc asks of its source's change signals under eng.
func (h *runHost) want(ctx context.Context, eng *engine.Engine, pc *config.Pipeline, cfg []byte) (notify.Want, error) {
	spec, err := h.spec(ctx, eng, pc.Source)
	if err != nil {
		return notify.Want{}, err
	}
	return notify.Want{
		Pipeline: pc.Name, SourceRef: pc.Source.Ref(), Config: cfg, Streams: pc.Streams,
		Signals: spec.ChangeSignals, PublicURL: eng.Config.Host.PublicURL, Client: eng.OAuthClient(pc.Source.Type),
	}, nil
}

// watch subscribes, renews or ends pc's channels after a run that
// succeeded, with the run's source process and under its claim. A run
// woken by nothing that still read records found changes no callback
// announced: its channels are renewed, which brings back one the
// service dropped. A failure is logged; the pipeline polls meanwhile.
func (h *runHost) watch(ctx context.Context, eng *engine.Engine, p *engine.Pipeline, store state.Store, fence state.Fence,
	woken time.Time, rec state.Run) {
	src, ok := p.Source.(contract.Watcher)
	if !ok || h.web == nil {
		return
	}
	want, err := h.want(ctx, eng, p.Config, p.SourceConfig)
	if err != nil {
		return
	}
	if h.fleet {
		// Another host may have subscribed or renewed them since.
		if all, err := store.Channels(ctx); err == nil {
			h.signals.channels.Set(all)
		}
	}
	missed := woken.IsZero() && rec.Read > 0 && len(h.signals.channels.Of(p.Name)) > 0
	if !h.signals.watching.Due(want, missed) {
		return
	}
	log := runner.Logger(h.log, p.Name, rec.ID)
	if err := h.signals.watching.Sync(ctx, src, store, fence, want); err != nil {
		log.Warn("the pipeline's source could not watch for changes; it runs at its interval until this is fixed",
			"error", err)
		return
	}
	if st := h.signals.watching.Live(p.Name); st.Live {
		log.Debug("watching for changes", "until", st.Until)
	}
}

// unwatch ends pc's channels with a source process of its own, such as
// when pc is paused or removed; eng is the configuration pc is from.
func (h *runHost) unwatch(ctx context.Context, eng *engine.Engine, pc *config.Pipeline) {
	if len(h.signals.channels.Of(pc.Name)) == 0 {
		return
	}
	store, release, err := h.shared.acquire()
	if err != nil {
		return
	}
	defer release()
	log := h.log.With("pipeline", pc.Name)
	c, err := eng.Start(ctx, pc.Source, h.runLog.Named(pc.Name))
	var src contract.Watcher
	if err == nil {
		defer c.Close()
		s, serr := c.Source()
		src, _ = s.(contract.Watcher)
		err = serr
	}
	if err != nil {
		log.Warn("the pipeline's channels could not be ended at the service; they are forgotten here and expire there", "error", err)
	}
	cfg := []byte(nil)
	if c != nil {
		cfg = c.Config
	}
	want := notify.Want{Pipeline: pc.Name, SourceRef: pc.Source.Ref(), Config: cfg, Client: eng.OAuthClient(pc.Source.Type)}
	if err := h.signals.watching.Forget(ctx, src, store, want); err != nil {
		log.Warn("the pipeline's channels could not be ended at the service; they are forgotten here and expire there", "error", err)
		return
	}
	log.Info("stopped watching for changes")
}

// renewal is when pc is next due to renew its channels, if that comes
// before its interval does; zero otherwise.
func (h *runHost) renewal(pc *config.Pipeline) time.Time {
	at := h.signals.watching.RenewAt(pc.Name)
	if at.IsZero() || pc.Interval <= 0 || at.After(time.Now().Add(pc.Interval)) {
		return time.Time{}
	}
	return at
}

// unwatchRemoved ends the channels of the pipelines of old that eng no
// longer has, with their sources as old configured them.
func (h *runHost) unwatchRemoved(old, eng *engine.Engine) {
	for _, pc := range old.Config.Pipelines {
		if _, kept := eng.Config.Pipeline(pc.Name); !kept && len(h.signals.channels.Of(pc.Name)) > 0 {
			go h.unwatch(h.ctx, old, pc)
		}
	}
}

// printSignals says, for each of names that has change-signal channels,
// whether its notifications are live, until when, and when the last
// callback came.
func printSignals(ctx context.Context, w io.Writer, store state.Store, names []string) error {
	chs, err := store.Channels(ctx)
	if err != nil {
		return err
	}
	by := map[string][]state.Channel{}
	for _, ch := range chs {
		by[ch.Pipeline] = append(by[ch.Pipeline], ch)
	}
	for _, name := range names {
		if len(by[name]) > 0 {
			fmt.Fprintf(w, "Pipeline %s: %s.\n", name, describeSignals(notify.StatusOf(by[name], time.Now())))
		}
	}
	return nil
}

// describeSignals says what st means, as status and the console show it.
func describeSignals(st notify.Status) string {
	var b strings.Builder
	switch {
	case st.Live && st.Until.IsZero():
		b.WriteString("notifications live")
	case st.Live:
		b.WriteString("notifications live until " + st.Until.Local().Format(time.DateTime))
	default:
		b.WriteString("notifications expired; renewed at the next run, polled meanwhile")
	}
	if st.Signaled.IsZero() {
		b.WriteString("; no callback yet")
	} else {
		b.WriteString("; last callback " + st.Signaled.Local().Format(time.DateTime))
	}
	return b.String()
}
