package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// Want is what a pipeline asks of its source's change signals now.
type Want struct {
	Pipeline string
	// SourceRef names the source's stored credentials ("source.zoho.eu").
	SourceRef string
	Config    json.RawMessage // the source's, as its calls get it
	Streams   []string
	// Signals is the source's spec's; nil when it cannot watch.
	Signals *contract.ChangeSignals
	// PublicURL is the host's public_url; empty when callbacks cannot
	// reach it, and the pipeline only polls.
	PublicURL string
	// Client is the provider's OAuth client for the source's type, for
	// sources connected through it; nil for none.
	Client *contract.OAuthClient
}

// Watching keeps pipelines' channels: made, subscribed and renewed by the
// host that runs the pipeline, after its run and with its source's
// process, and ended when the pipeline no longer wants them.
type Watching struct {
	Channels *Channels
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	mu sync.Mutex
	// synced is the source configuration each pipeline's channels were
	// last subscribed with: a source that answered it watches nothing
	// (notifications off in its configuration) is not asked again, and
	// one whose configuration changed is asked again, until then.
	synced map[string]string
}

func (w *Watching) now() time.Time {
	if w.Now == nil {
		return time.Now()
	}
	return w.Now()
}

// Due reports whether want's channels must be subscribed, renewed or
// ended: none yet, the source's configuration changed, a stream not
// watched, a public URL changed, one past contract.RenewBefore, or
// channels the pipeline no longer wants. missed says a run found changes
// that no callback announced, which a channel the service dropped would
// explain: it is renewed then too.
func (w *Watching) Due(want Want, missed bool) bool {
	have := w.Channels.Of(want.Pipeline)
	if want.Signals == nil || want.PublicURL == "" {
		return len(have) > 0
	}
	w.mu.Lock()
	cfg, synced := w.synced[want.Pipeline]
	w.mu.Unlock()
	switch {
	case !synced || cfg != string(want.Config):
		return true
	case len(have) == 0:
		return false // the source watches nothing under this configuration
	case missed:
		return true
	}
	var watched []string
	now := w.now()
	for _, ch := range have {
		if ch.URL != CallbackURL(want.PublicURL, ch.Key) || !ch.Expires.IsZero() && !now.Before(contract.RenewBefore(ch.Watched, ch.Expires)) {
			return true
		}
		watched = append(watched, ch.Streams...)
	}
	slices.Sort(watched)
	streams := slices.Sorted(slices.Values(want.Streams))
	return !slices.Equal(slices.Compact(watched), slices.Compact(streams))
}

// RenewAt is when pipeline's channels are next due for renewal; zero
// when none expires.
func (w *Watching) RenewAt(pipeline string) time.Time {
	var at time.Time
	for _, ch := range w.Channels.Of(pipeline) {
		if ch.Expires.IsZero() {
			continue
		}
		if r := contract.RenewBefore(ch.Watched, ch.Expires); at.IsZero() || r.Before(at) {
			at = r
		}
	}
	return at
}

// Live returns the state of pipeline's channels now.
func (w *Watching) Live(pipeline string) Status {
	return StatusOf(w.Channels.Of(pipeline), w.now())
}

// Sync subscribes, renews or ends want's channels with src, the
// pipeline's source, whose credentials store holds and keeps under
// fence. A source that answers it watches nothing is not asked again
// until its configuration changes.
func (w *Watching) Sync(ctx context.Context, src contract.Watcher, store state.Store, fence state.Fence, want Want) error {
	have := w.Channels.Of(want.Pipeline)
	if want.Signals == nil || want.PublicURL == "" {
		return w.end(ctx, src, store, fence, want, have)
	}
	offer := w.offer(want, have)
	creds, err := store.Credentials(ctx, want.SourceRef)
	if err != nil {
		return fmt.Errorf("reading the credentials of %s to watch for changes: %w", want.SourceRef, err)
	}
	req := contract.WatchRequest{Config: want.Config, Credentials: creds, Streams: want.Streams, Client: want.Client}
	for _, ch := range offer {
		req.Channels = append(req.Channels, contract.Channel{ID: ch.ID, URL: ch.URL, Secret: ch.Secret})
	}
	// A new channel is known before the service is asked: it may call
	// back as soon as it subscribes, on this host or another, and does
	// not call again. The new channels it does not take are forgotten.
	fresh, err := w.keep(ctx, store, offer, have)
	if err != nil {
		w.forgetUntaken(ctx, store, fresh, nil)
		return fmt.Errorf("storing the channels of %s: %w", want.Pipeline, err)
	}
	resp, err := src.Watch(ctx, req)
	defer func() { w.forgetUntaken(ctx, store, fresh, resp.Channels) }()
	if resp.Credentials != nil {
		if serr := store.SaveCredentials(ctx, fence, want.SourceRef, resp.Credentials); serr != nil {
			err = errors.Join(err, fmt.Errorf("storing credentials of %s: %w", want.SourceRef, serr))
		}
	}
	if err != nil {
		return fmt.Errorf("watching %s for changes: %w", want.SourceRef, err)
	}
	w.mu.Lock()
	if w.synced == nil {
		w.synced = map[string]string{}
	}
	w.synced[want.Pipeline] = string(want.Config)
	w.mu.Unlock()
	now := w.now()
	var kept []state.Channel
	for _, got := range resp.Channels {
		i := slices.IndexFunc(offer, func(c state.Channel) bool { return c.ID == got.ID })
		ch := offer[i] // CheckWatchResponse: only offered channels come back
		ch.Streams, ch.Expires, ch.Watched = got.Streams, got.Expires.UTC(), now
		if err := store.SaveChannel(ctx, ch); err != nil {
			return err
		}
		w.Channels.Put(ch)
		kept = append(kept, ch)
	}
	var drop []state.Channel
	for _, ch := range have {
		if !slices.ContainsFunc(kept, func(k state.Channel) bool { return k.Key == ch.Key }) {
			drop = append(drop, ch)
		}
	}
	return w.end(ctx, src, store, fence, want, drop)
}

// keep stores and knows the channels of offer that are not in have, with
// the time they were made, and returns them.
func (w *Watching) keep(ctx context.Context, store state.Store, offer, have []state.Channel) ([]state.Channel, error) {
	var fresh []state.Channel
	for _, ch := range offer {
		if slices.ContainsFunc(have, func(h state.Channel) bool { return h.Key == ch.Key }) {
			continue
		}
		ch.Watched = w.now()
		if err := store.SaveChannel(ctx, ch); err != nil {
			return fresh, err
		}
		w.Channels.Put(ch)
		fresh = append(fresh, ch)
	}
	return fresh, nil
}

// forgetUntaken forgets the channels of fresh the service did not take.
func (w *Watching) forgetUntaken(ctx context.Context, store state.Store, fresh []state.Channel, taken []contract.Watched) {
	for _, ch := range fresh {
		if slices.ContainsFunc(taken, func(t contract.Watched) bool { return t.ID == ch.ID }) {
			continue
		}
		w.Channels.Remove(ch.Key)
		_ = store.DeleteChannel(context.WithoutCancel(ctx), ch.Key) // unknown there, its callbacks meet a 404
	}
}

// offer returns the channels to offer for want: those it has, with the
// public URL of now, and a new one for each stream none of them watches.
func (w *Watching) offer(want Want, have []state.Channel) []state.Channel {
	var offer []state.Channel
	covered := map[string]bool{}
	for _, ch := range have {
		ch.URL = CallbackURL(want.PublicURL, ch.Key)
		ch.SecretField, ch.MaxBodyBytes = want.Signals.SecretField, want.Signals.MaxBodyBytes
		offer = append(offer, ch)
		for _, s := range ch.Streams {
			covered[s] = slices.Contains(want.Streams, s)
		}
	}
	for _, s := range want.Streams {
		if covered[s] {
			continue
		}
		key := random()
		offer = append(offer, state.Channel{
			Key: key, ID: random(), Pipeline: want.Pipeline, URL: CallbackURL(want.PublicURL, key), Secret: random(),
			SecretField: want.Signals.SecretField, MaxBodyBytes: want.Signals.MaxBodyBytes, Streams: []string{s},
		})
	}
	return offer
}

// end unsubscribes chs and forgets them. They are forgotten even when
// the service could not be told: they then expire there, and their
// callbacks meet an unknown key.
func (w *Watching) end(ctx context.Context, src contract.Watcher, store state.Store, fence state.Fence, want Want,
	chs []state.Channel) error {
	if len(chs) == 0 {
		return nil
	}
	var err error
	if src != nil {
		err = Unwatch(ctx, src, store, fence, want, chs)
	}
	for _, ch := range chs {
		if derr := store.DeleteChannel(ctx, ch.Key); derr != nil {
			err = errors.Join(err, derr)
			continue
		}
		w.Channels.Remove(ch.Key)
	}
	return err
}

// Forget ends every channel of want.Pipeline, with src its source as
// last configured, such as when the pipeline is removed or paused.
func (w *Watching) Forget(ctx context.Context, src contract.Watcher, store state.Store, want Want) error {
	return w.end(ctx, src, store, state.NoFence, want, w.Channels.Of(want.Pipeline))
}

// Unwatch asks src to end chs at its service, with the credentials of
// want.SourceRef, and stores credentials it hands back.
func Unwatch(ctx context.Context, src contract.Watcher, store state.Store, fence state.Fence, want Want,
	chs []state.Channel) error {
	sourceRef := want.SourceRef
	creds, err := store.Credentials(ctx, sourceRef)
	if err != nil {
		return fmt.Errorf("reading the credentials of %s to stop watching: %w", sourceRef, err)
	}
	req := contract.UnwatchRequest{Config: want.Config, Credentials: creds, Client: want.Client}
	for _, ch := range chs {
		req.Channels = append(req.Channels, contract.Channel{ID: ch.ID, URL: ch.URL, Secret: ch.Secret})
	}
	resp, err := src.Unwatch(ctx, req)
	if resp.Credentials != nil {
		if serr := store.SaveCredentials(ctx, fence, sourceRef, resp.Credentials); serr != nil {
			err = errors.Join(err, serr)
		}
	}
	if err != nil {
		return fmt.Errorf("ending the channels of %s: %w", sourceRef, err)
	}
	return nil
}
