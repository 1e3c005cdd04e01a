package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/host/engine"
	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// runClaim is the claim a run holds on its pipeline, and the plugins it
// started under it. The moment the claim is lost, whether the store says
// so or its lease runs out, the plugins are killed rather than closed and
// the run's context ends: another host may be running the pipeline
// already, and whatever this one's destination still wrote could land
// after what the other wrote.
type runClaim struct {
	*state.Claim
	// ctx ends when the claim is lost, or the caller's context ends.
	ctx     context.Context
	stop    context.CancelFunc
	watched chan struct{}

	mu      sync.Mutex
	plugins *engine.Pipeline
}

// claimRun claims pipeline for this host. Done releases the claim.
func claimRun(ctx context.Context, log hclog.Logger, store state.Store, pipeline string) (*runClaim, error) {
	claim, err := store.Claim(ctx, pipeline, hostID())
	if err != nil {
		return nil, err
	}
	rc := &runClaim{Claim: claim, watched: make(chan struct{})}
	rc.ctx, rc.stop = context.WithCancel(ctx)
	go func() {
		defer close(rc.watched)
		select {
		case <-claim.Lost():
			rc.kill()
			log.Warn("stopping the run: its claim was lost, so its plugins were ended at once", "pipeline", pipeline, "error", claim.Err())
			rc.stop()
		case <-rc.ctx.Done():
		}
	}()
	return rc, nil
}

// open starts pc's plugins under the claim, logging through log. Its
// destination is handed nothing more once the claim cannot be counted on:
// each message is let through only after a look at the claim
// (state.Claim.Check).
func (rc *runClaim) open(eng *engine.Engine, pc *config.Pipeline, store state.Store, log hclog.Logger) (*engine.Pipeline, error) {
	p, err := eng.Open(rc.ctx, pc, store, rc.Fence, log)
	if err != nil {
		return nil, err
	}
	rc.attach(p)
	return p, nil
}

// attach puts p, started for this run or kept warm since an earlier one,
// under the claim: killed when it is lost, its destination handed only
// what passes the claim's check.
func (rc *runClaim) attach(p *engine.Pipeline) {
	p.Destination = checkedDestination{Destination: p.Destination, rc: rc}
	rc.mu.Lock()
	rc.plugins = p
	rc.mu.Unlock()
	// Lost while they started: the watch found no plugins to kill.
	if rc.Err() != nil {
		rc.kill()
	}
}

// kill ends the run's plugins at once, if it has any.
func (rc *runClaim) kill() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.plugins != nil {
		rc.plugins.Kill()
	}
}

// done releases the claim, after the run's plugins are closed.
func (rc *runClaim) done(log hclog.Logger) {
	rc.stop()
	<-rc.watched
	if err := rc.Release(context.WithoutCancel(rc.ctx)); err != nil {
		log.Warn("could not release the pipeline's claim", "pipeline", rc.Pipeline, "error", err)
	}
}

// checkedDestination is a destination that gets each message only while
// the run's claim holds.
type checkedDestination struct {
	contract.Destination
	rc *runClaim
}

func (d checkedDestination) Write(ctx context.Context, req contract.WriteRequest, in contract.Input) error {
	return d.Destination.Write(ctx, req, checkedInput{Input: in, rc: d.rc})
}

type checkedInput struct {
	contract.Input
	rc *runClaim
}

// Next hands the destination its next message only once the claim is
// seen to hold, right before the message leaves: a host paused while it
// waited here may come back after another host took the pipeline over.
func (in checkedInput) Next(ctx context.Context) (contract.Message, error) {
	m, err := in.Input.Next(ctx)
	if err != nil {
		return m, err
	}
	if err := in.rc.Check(); err != nil {
		in.rc.kill()
		return contract.Message{}, err
	}
	return m, nil
}

// endUnstarted records the end of rec, a run begun whose plugins did not
// start. One cut by the host's shutdown (plugins starting, streams being
// discovered) is interrupted, and another host runs the pipeline at once;
// any other is failed, with the last lines its plugins logged: a plugin
// that did not start, a source that could not discover its streams (no
// credentials, say), so that the history and the console show why the
// pipeline does not run. It returns cause, with the error of recording
// the run when that failed.
func endUnstarted(ctx context.Context, store state.Store, fence state.Fence, rec state.Run, cause error,
	interrupted bool) (state.Run, error) {
	rec.Ended, rec.Outcome = time.Now(), state.OutcomeInterrupted
	if !interrupted {
		rec.Outcome, rec.Error = state.OutcomeFailed, cause.Error()
		if open, ok := errors.AsType[*engine.OpenError](cause); ok {
			rec.Logs = open.Logs
		}
	}
	if err := store.SaveRun(context.WithoutCancel(ctx), fence, &rec); err != nil {
		return rec, fmt.Errorf("%w (and recording the %s run: %w)", cause, rec.Outcome, err)
	}
	return rec, cause
}
