package main

import (
	"context"
	"encoding/json"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/host/engine"
	"github.com/replicatorhq/replicator/host/metrics"
	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// showPipelines shows every pipeline of eng's configuration in the
// metrics, so that alerts see them from the start: what the configuration
// says of each and, for those new to the metrics, whether their source
// needs authorization and how their newest runs ended, from the state
// store. The metrics are served with the console or on metrics_listen,
// and shown only then. What cannot be
// read is logged, and the host goes on: a pipeline whose runs could not be
// read has them read again at the end of its next run.
func (h *runHost) showPipelines(ctx context.Context, eng *engine.Engine) {
	if !h.console && h.metricsOnly == nil {
		return
	}
	store, release, err := h.shared.acquire()
	if err != nil {
		h.log.Warn("the pipelines' metrics cannot be read from the state store; each shows its runs from the end of its next run", "error", err)
	} else {
		defer release()
	}
	sources := map[*config.Connector]sourceFacts{}
	var unread int
	var lastErr error
	for _, pc := range eng.Config.Pipelines {
		src, ok := sources[pc.Source]
		if !ok {
			if src, err = h.sourceFacts(ctx, eng, store, pc.Source); err != nil {
				h.log.Warn("the metrics cannot tell whether this source needs authorization, or its credit budget", "source", pc.Source.Ref(), "error", err)
			}
			sources[pc.Source] = src
		}
		cfg := metrics.Config{Source: pc.Source.Ref(), Interval: pc.Interval, CreditsPerRun: src.creditsPerRun}
		if !h.metrics.Configure(pc.Name, cfg) || store == nil {
			continue
		}
		h.metrics.SetNeedsAuthorization(pc.Name, src.needsGrant)
		if err := h.metrics.LoadRuns(ctx, store, pc.Name); err != nil {
			unread, lastErr = unread+1, err
		}
	}
	if unread > 0 {
		h.log.Warn("the last runs of some pipelines could not be read for the metrics; each shows its runs from the end of its next run", "pipelines", unread, "error", lastErr)
	}
}

// sourceFacts is what the metrics show of a source.
type sourceFacts struct {
	needsGrant    bool  // it takes a grant and has no credentials
	creditsPerRun int64 // its max_credits_per_run; 0 for none
}

// sourceFacts asks the source's plugin for its spec (once per
// configuration) and store, when there is one, for its credentials.
func (h *runHost) sourceFacts(ctx context.Context, eng *engine.Engine, store state.Store, b *config.Connector) (sourceFacts, error) {
	var f sourceFacts
	spec, err := h.spec(ctx, eng, b)
	if err != nil {
		return f, err
	}
	f.creditsPerRun = creditsPerRun(b, spec)
	if spec.Grant != "" && store != nil {
		creds, err := store.Credentials(ctx, b.Ref())
		if err != nil {
			return f, err
		}
		f.needsGrant = len(creds) == 0
	}
	return f, nil
}

// creditsPerRun is the source's budget of API credits per run, when its
// plugin has one and the block sets it. A block that does not decode has
// none here: its runs fail, and say why.
func creditsPerRun(b *config.Connector, spec contract.Spec) int64 {
	if _, ok := spec.Attribute(metrics.AttrCreditsPerRun); !ok {
		return 0
	}
	raw, diags := b.Decode(spec)
	if diags.HasErrors() {
		return 0
	}
	var attrs map[string]json.RawMessage
	var n float64
	if json.Unmarshal(raw, &attrs) != nil || json.Unmarshal(attrs[metrics.AttrCreditsPerRun], &n) != nil {
		return 0
	}
	return int64(n)
}

// runEnded shows a run's end in the metrics; the state store is opened
// only when the metrics must read the pipeline's runs (others ran it
// meanwhile).
func (h *runHost) runEnded(ctx context.Context, rec state.Run) {
	if err := h.metrics.RunEnded(ctx, sharedHistory{h.shared}, rec); err != nil {
		h.log.Warn("the pipeline's metrics show its last run only", "pipeline", rec.Pipeline, "error", err)
	}
}

// sharedHistory reads runs from the shared store, holding it meanwhile.
type sharedHistory struct{ s *sharedStore }

func (sh sharedHistory) Runs(ctx context.Context, pipeline string, limit int) ([]state.Run, error) {
	store, release, err := sh.s.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	return store.Runs(ctx, pipeline, limit)
}
