package main

import (
	"context"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/host/engine"
	"github.com/replicatorhq/replicator/host/runner"
	"github.com/replicatorhq/replicator/host/state"
)

// openWarm begins a run of pc under rc with the plugins its last run kept
// running, when they still answer, and starts them afresh otherwise
// (openRun). Kept plugins skip their start and the discovery of the
// pipeline's streams, which the last run did under this configuration;
// their log lines carry the run that started them.
func (h *runHost) openWarm(ctx context.Context, rc *runClaim, eng *engine.Engine, pc *config.Pipeline,
	store state.Store) (*engine.Pipeline, state.Run, error) {
	if p, ok := h.warm.Take(pc.Name, eng); ok {
		if err := eng.Refresh(rc.ctx, p); err != nil {
			h.log.Debug("kept plugins do not answer; starting them afresh", "pipeline", pc.Name, "error", err)
			p.Close()
		} else {
			begun, err := runner.Begin(rc.ctx, store, rc.Fence)
			if err != nil {
				p.Close()
				return nil, state.Run{}, err
			}
			rc.attach(p)
			return p, begun, nil
		}
	}
	p, rec, err := openRun(ctx, rc, eng, pc, store, h.runLog.Named(pc.Name))
	if err == nil {
		h.metrics.PluginStarted(pc.Name, config.KindSource)
		h.metrics.PluginStarted(pc.Name, config.KindDestination)
	}
	return p, rec, err
}
