package state

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// Copied counts what Copy moved.
type Copied struct {
	Pipelines, Streams, Runs, Credentials, Paused int
}

// Copy moves checkpoints, credentials, run history and pauses from one
// store into another, such as from a state file into PostgreSQL. It claims each
// pipeline in the target as host, so it fails with ErrClaimed while a host
// runs one there. Credentials are decrypted by the source and sealed again
// by the target. Runs keep their IDs; one still running in the source is
// copied as crashed, since it will never end there.
func Copy(ctx context.Context, from, to Store, host string) (Copied, error) {
	var n Copied
	pipelines, err := from.Pipelines(ctx)
	if err != nil {
		return n, err
	}
	for _, p := range pipelines {
		if err := copyPipeline(ctx, from, to, p, host, &n); err != nil {
			return n, fmt.Errorf("copying pipeline %q: %w", p, err)
		}
	}
	sources, err := from.Sources(ctx)
	if err != nil {
		return n, err
	}
	for _, src := range sources {
		c, err := from.Credentials(ctx, src)
		if err != nil {
			return n, err
		}
		if err := to.SaveCredentials(ctx, NoFence, src, c); err != nil {
			return n, err
		}
		n.Credentials++
	}
	paused, err := from.Paused(ctx)
	if err != nil {
		return n, err
	}
	for _, p := range slices.Sorted(maps.Keys(paused)) {
		if err := to.SetPaused(ctx, p, true); err != nil {
			return n, err
		}
		n.Paused++
	}
	return n, nil
}

func copyPipeline(ctx context.Context, from, to Store, pipeline, host string, n *Copied) (err error) {
	claim, err := to.Claim(ctx, pipeline, host)
	if err != nil {
		return err
	}
	defer func() {
		if rerr := claim.Release(context.WithoutCancel(ctx)); rerr != nil && err == nil {
			err = fmt.Errorf("releasing the claim after the copy: %w", rerr)
		}
	}()
	streams, err := from.Streams(ctx, pipeline)
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(streams)) {
		if err := to.SaveStream(ctx, claim.Fence, name, streams[name]); err != nil {
			return err
		}
		n.Streams++
	}
	runs, err := from.Runs(ctx, pipeline, 0)
	if err != nil {
		return err
	}
	slices.Reverse(runs) // oldest first, so that the newest are the ones kept
	for i := range runs {
		r := &runs[i]
		if r.Outcome == OutcomeRunning {
			r.Outcome, r.Error = OutcomeCrashed, CrashedError
		}
		if err := to.SaveRun(ctx, claim.Fence, r); err != nil {
			return err
		}
		n.Runs++
	}
	n.Pipelines++
	return nil
}
