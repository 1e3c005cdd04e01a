package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/host/engine"
	"github.com/replicatorhq/replicator/host/schedule"
	"github.com/replicatorhq/replicator/host/state"
)

// A pipeline whose runs keep failing waits longer before each next one
// (schedule.Backoff), so that a broken tenant does not spend its source's
// API credits at every interval. What a failed run counts is kept on the
// run in the history (state.Backoff), so every host sharing the history
// holds the pipeline back alike, and `replicator status` shows it without
// the configuration. A success, a change to the pipeline's configuration
// (its digest), and a run an operator asks for (Sync now, resume) start
// the count again; a failure that was the host's fault (its claim lost,
// the state database out, a shutdown) does not count.

// backoffLookback is how many of a pipeline's newest runs are read to
// find the failure that counts last: interrupted, crashed and uncounted
// runs in between are skipped.
const backoffLookback = 16

// errBackingOff is why a run did not start: the pipeline backs off.
var errBackingOff = errors.New("the pipeline backs off after failing")

// counted returns what the newest failure that counts says among runs,
// newest first, when no success comes before it and it ran with the
// configuration whose digest is digest; else the zero value.
func counted(runs []state.Run, digest string) state.Backoff {
	if b := lastCounted(runs); b.Config == digest {
		return b
	}
	return state.Backoff{}
}

// lastCounted returns what the newest failure that counts says among
// runs, newest first, when no success comes before it; else the zero
// value.
func lastCounted(runs []state.Run) state.Backoff {
	for _, r := range runs {
		switch {
		case r.Outcome == state.OutcomeSucceeded:
			return state.Backoff{}
		case r.Outcome == state.OutcomeFailed && r.Backoff.Config != "":
			return r.Backoff
		}
	}
	return state.Backoff{}
}

// backOff counts rec, a failed run of pc that was not the host's fault,
// after prev, the failure counted before it: it stores the count on rec
// and returns when pc is next due.
func (h *runHost) backOff(ctx context.Context, store state.Store, fence state.Fence, eng *engine.Engine, pc *config.Pipeline,
	rec *state.Run, prev state.Backoff, asked bool) schedule.Next {
	digest := h.configDigest(pc)
	if digest == "" {
		return schedule.Next{}
	}
	b := state.Backoff{Config: digest, Failures: 1, Asked: asked}
	if !asked && prev.Config == digest {
		b.Failures = prev.Failures + 1
	}
	if wait := schedule.Backoff(pc.Name, pc.Interval, b.Failures, eng.Config.Host.FailureBackoffMax); wait > pc.Interval {
		b.Until = rec.Started.Add(wait)
	}
	rec.Backoff = b
	if err := store.SaveRun(context.WithoutCancel(ctx), fence, rec); err != nil {
		h.log.Warn("the failure could not be counted for the pipeline's backoff", "pipeline", pc.Name, "error", err)
		rec.Backoff = state.Backoff{}
		return schedule.Next{}
	}
	if b.Until.IsZero() {
		return schedule.Next{}
	}
	return schedule.Next{At: b.Until, Backoff: true}
}

// configDigest is a digest of what pc runs: its own settings and its
// connectors' attributes as they evaluate (config.Connector.Digest), so
// that a key read with env() and changed outside the file counts as a
// change too. It needs no plugin. Every host with the same configuration
// computes the same. It is "" when a block does not evaluate: such a
// pipeline's failures do not count (its runs fail on the configuration
// and say so).
func (h *runHost) configDigest(pc *config.Pipeline) string {
	h.mu.Lock()
	d, ok := h.digests[pc]
	h.mu.Unlock()
	if ok {
		return d
	}
	sum := sha256.New()
	_ = json.NewEncoder(sum).Encode([]any{pc.Name, pc.Streams, pc.Interval, pc.FullRefreshEvery})
	for _, b := range []*config.Connector{pc.Source, pc.Destination} {
		bd, err := b.Digest()
		if err != nil {
			return ""
		}
		_, _ = sum.Write([]byte(bd))
	}
	d = hex.EncodeToString(sum.Sum(nil)[:12])
	h.mu.Lock()
	if h.digests == nil {
		h.digests = map[*config.Pipeline]string{}
	}
	h.digests[pc] = d
	h.mu.Unlock()
	return d
}

// backoffShown is the pipeline's backoff as the console, status and the
// metrics show it: when the newest run failed and counted, with an end
// still ahead.
func backoffShown(last state.Run, now time.Time) (state.Backoff, bool) {
	b := last.Backoff
	return b, last.Outcome == state.OutcomeFailed && b.Until.After(now)
}
