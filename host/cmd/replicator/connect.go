package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/host/connect"
	"github.com/replicatorhq/replicator/host/console"
	"github.com/replicatorhq/replicator/host/engine"
	"github.com/replicatorhq/replicator/host/schedule"
	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// connectHost is the running host as the connect pages and the portal
// API see it: it fills in what the configuration says (the source's
// configuration, the provider's OAuth client) and keeps secrets out of
// what it returns.
type connectHost struct{ h *runHost }

// publicURL is where customers' browsers reach the host: public_url, or
// for a console on a loopback address without one, the console's own.
func (h *runHost) publicURL() string {
	if u := h.engine().Config.Host.PublicURL; u != "" {
		return u
	}
	if w := h.web; w != nil && console.IsLoopback(w.listen) {
		return w.base
	}
	return ""
}

// sourceBlock returns the source block ref names.
func (c connectHost) sourceBlock(ref string) (*engine.Engine, *config.Connector, error) {
	eng := c.h.engine()
	block, ok := eng.Config.Source(ref)
	if !ok {
		return nil, nil, fmt.Errorf("%s is %w", ref, console.ErrUnknown)
	}
	return eng, block, nil
}

func (c connectHost) Source(ctx context.Context, ref string) (connect.Source, error) {
	eng, block, err := c.sourceBlock(ref)
	if err != nil {
		return connect.Source{}, fmt.Errorf("%w: %w", connect.ErrUnknown, err)
	}
	spec, err := c.h.spec(ctx, eng, block)
	if err != nil {
		return connect.Source{}, err
	}
	src := connect.Source{Ref: block.Ref(), Type: block.Type}
	for _, m := range spec.Connect {
		if m.Kind == contract.ConnectWeb && eng.OAuthClient(block.Type) == nil {
			continue // the provider has no client to send customers through
		}
		src.Methods = append(src.Methods, m)
	}
	for _, pc := range eng.Config.Pipelines {
		if pc.Source == block {
			src.Pipelines = append(src.Pipelines, pc.Name)
		}
	}
	creds, err := withStore(c.h, func(s state.Store) (json.RawMessage, error) { return s.Credentials(ctx, src.Ref) })
	if err != nil {
		return connect.Source{}, err
	}
	src.Connected = len(creds) > 0
	return src, nil
}

// withSource starts the source ref's plugin for one call.
func withSource[T any](ctx context.Context, c connectHost, ref string, call func(*engine.Engine, *engine.Connector, contract.Source) (T, error)) (T, error) {
	var zero T
	eng, block, err := c.sourceBlock(ref)
	if err != nil {
		return zero, err
	}
	conn, err := eng.Start(ctx, block, c.h.runLog.Named(block.Ref()))
	if err != nil {
		return zero, err
	}
	defer conn.Close()
	src, err := conn.Source()
	if err != nil {
		return zero, err
	}
	return call(eng, conn, src)
}

func (c connectHost) AuthorizeURL(ctx context.Context, ref string, req contract.AuthorizeURLRequest) (contract.AuthorizeURLResponse, error) {
	return withSource(ctx, c, ref, func(eng *engine.Engine, conn *engine.Connector, src contract.Source) (contract.AuthorizeURLResponse, error) {
		wa, ok := src.(contract.WebAuthorizer)
		if !ok || conn.OAuth == nil {
			return contract.AuthorizeURLResponse{}, fmt.Errorf("%s: %w", ref, contract.ErrUnsupported)
		}
		req.Config, req.Client = conn.Config, *conn.OAuth
		for _, pc := range eng.Config.Pipelines {
			if pc.Source == conn.Block {
				for _, s := range pc.Streams {
					if !slices.Contains(req.Streams, s) {
						req.Streams = append(req.Streams, s)
					}
				}
			}
		}
		return wa.AuthorizeURL(ctx, req)
	})
}

func (c connectHost) Authorize(ctx context.Context, ref string, req contract.AuthorizeRequest) (contract.AuthorizeResponse, error) {
	return withSource(ctx, c, ref, func(_ *engine.Engine, conn *engine.Connector, src contract.Source) (contract.AuthorizeResponse, error) {
		req.Config, req.Client = conn.Config, conn.OAuth
		return src.Authorize(ctx, req)
	})
}

func (c connectHost) Revoke(ctx context.Context, ref string, creds contract.Credentials) error {
	_, err := c.revoke(ctx, ref, creds)
	return err
}

// revoke asks the source to have the service forget creds.
func (c connectHost) revoke(ctx context.Context, ref string, creds contract.Credentials) (string, error) {
	return withSource(ctx, c, ref, func(_ *engine.Engine, conn *engine.Connector, src contract.Source) (string, error) {
		rv, ok := src.(contract.Revoker)
		if !ok {
			return "", fmt.Errorf("%s: %w", ref, contract.ErrUnsupported)
		}
		resp, err := rv.Revoke(ctx, contract.RevokeRequest{Config: conn.Config, Credentials: creds, Client: conn.OAuth})
		return resp.Message, err
	})
}

// RevokeStored has the service forget the source's stored credentials,
// then forgets them. A connector that cannot revoke leaves the service as
// it is, which the message says; one that fails keeps them stored, so
// that revoking can be tried again.
func (c connectHost) RevokeStored(ctx context.Context, ref string) (string, error) {
	if _, _, err := c.sourceBlock(ref); err != nil {
		return "", err
	}
	creds, err := withStore(c.h, func(s state.Store) (json.RawMessage, error) { return s.Credentials(ctx, ref) })
	if err != nil {
		return "", err
	}
	if len(creds) == 0 {
		return "", fmt.Errorf("%s has no stored credentials to revoke", ref)
	}
	msg, err := c.revoke(ctx, ref, creds)
	switch {
	case errors.Is(err, contract.ErrUnsupported):
		msg = "Its connector cannot ask the service to revoke them; revoke them in the service's own settings too."
	case err != nil:
		return "", fmt.Errorf("revoking %s's credentials; they stay stored, so that revoking can be tried again: %w", ref, err)
	}
	_, err = withStore(c.h, func(s state.Store) (struct{}, error) {
		return struct{}{}, s.SaveCredentials(ctx, state.NoFence, ref, nil)
	})
	if err != nil {
		return "", fmt.Errorf("the service revoked %s's credentials, but forgetting them failed: %w", ref, err)
	}
	c.h.log.Info("a source's credentials were revoked and forgotten", "source", ref)
	return fmt.Sprintf("%s The credentials of %s are forgotten; its pipelines need a new connection to run.", msg, ref), nil
}

// withStore calls fn with the state store.
func withStore[T any](h *runHost, fn func(state.Store) (T, error)) (T, error) {
	var zero T
	store, release, err := h.shared.acquire()
	if err != nil {
		return zero, err
	}
	defer release()
	return fn(store)
}

func (c connectHost) LinkKeys(ctx context.Context) ([][]byte, error) {
	return withStore(c.h, func(s state.Store) ([][]byte, error) { return s.LinkKeys(ctx) })
}

func (c connectHost) LinkUsed(ctx context.Context, id string) (time.Time, error) {
	return withStore(c.h, func(s state.Store) (time.Time, error) { return s.LinkUsed(ctx, id) })
}

func (c connectHost) ConnectWithLink(ctx context.Context, id, source string, expires time.Time, creds json.RawMessage) error {
	_, err := withStore(c.h, func(s state.Store) (struct{}, error) {
		return struct{}{}, s.ConnectWithLink(ctx, id, source, expires, creds)
	})
	if err == nil {
		c.h.metrics.Authorized(source)
	}
	return err
}

// StartRuns queues a run of each pipeline of the source, as Sync now
// does. A pipeline with a run underway, which read the credentials from
// before the connection, runs again once that run ends.
func (c connectHost) StartRuns(ctx context.Context, ref string) ([]string, map[string]string) {
	var started []string
	notStarted := map[string]string{}
	eng, block, err := c.sourceBlock(ref)
	if err != nil {
		return nil, nil
	}
	for _, pc := range eng.Config.Pipelines {
		if pc.Source != block {
			continue
		}
		if st, _ := c.h.sched.Status(pc.Name); st.Phase == schedule.PhaseRunning {
			go c.runAfter(pc.Name)
			started = append(started, pc.Name)
			continue
		}
		if err := consoleHost(c).SyncNow(ctx, pc.Name, false); err != nil {
			notStarted[pc.Name] = err.Error()
			continue
		}
		started = append(started, pc.Name)
	}
	return started, notStarted
}

// runAfterPoll is how often runAfter looks whether the run underway ended.
const runAfterPoll = 200 * time.Millisecond

// runAfter queues a run of pipeline once its run underway has ended.
func (c connectHost) runAfter(pipeline string) {
	tick := time.NewTicker(runAfterPoll)
	defer tick.Stop()
	for {
		select {
		case <-c.h.ctx.Done():
			return
		case <-tick.C:
		}
		st, ok := c.h.sched.Status(pipeline)
		if !ok {
			return // removed by a reload
		}
		if st.Phase == schedule.PhaseRunning {
			continue
		}
		if err := c.h.sched.RunNow(pipeline); err != nil && !errors.Is(err, schedule.ErrRunning) {
			c.h.log.Warn("the run after a connection could not be queued; the pipeline runs at its next interval", "pipeline", pipeline, "error", err)
		}
		return
	}
}

// MakeLink makes a connect link for the source.
func (c connectHost) MakeLink(ctx context.Context, ref string, ttl time.Duration) (string, time.Time, error) {
	if _, _, err := c.sourceBlock(ref); err != nil {
		return "", time.Time{}, err
	}
	return c.h.pages.MakeLink(ctx, ref, ttl)
}

// MakeLink and Revoke are the console's and the portal API's.
func (c consoleHost) MakeLink(ctx context.Context, ref string, ttl time.Duration) (string, time.Time, error) {
	return connectHost(c).MakeLink(ctx, ref, ttl)
}

func (c consoleHost) Revoke(ctx context.Context, ref string) (string, error) {
	return connectHost(c).RevokeStored(ctx, ref)
}

// cmdConnectLink makes a connect link for a source, signed with the
// state's key: any host serving the connect pages at public_url opens it.
func cmdConnectLink(ctx context.Context, a *app, args []string) error {
	ref, err := oneArg(args, "SOURCE")
	if err != nil {
		return err
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	block, ok := cfg.Source(ref)
	if !ok {
		return fmt.Errorf("no source %q in %s; sources are: %s", ref, cfg.Path, refs(cfg.Sources))
	}
	if cfg.Host.PublicURL == "" {
		return errors.New(`connect links need the host's public address: set host { public_url = "https://..." }, where replicator run serves its console`)
	}
	store, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	link, expires, err := connect.MakeLink(ctx, store, cfg.Host.PublicURL, block.Ref(), a.opts.expires, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, link)
	fmt.Fprintf(a.stderr, "The link connects %s once, until %s. Whoever holds it can connect it: hand it only to the account's owner.\n",
		block.Ref(), expires.Format(time.RFC3339))
	return nil
}
