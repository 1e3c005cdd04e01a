package launch

import (
	"context"
	"fmt"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// The source of every plugin implements contract.Watcher: a plugin built
// before SDK 1.2, or one that cannot watch, answers ErrUnsupported.
var _ contract.Watcher = (*guardedSource)(nil)

// Watch subscribes channels, bounded by the call timeout like Check.
func (g *guardedSource) Watch(ctx context.Context, req contract.WatchRequest) (r contract.WatchResponse, err error) {
	w, ok := g.Source.(contract.Watcher)
	if !ok {
		return r, fmt.Errorf("watch: %w", contract.ErrUnsupported)
	}
	err = g.c.control(ctx, "Watch", func(ctx context.Context) error {
		r, err = w.Watch(ctx, req)
		return err
	})
	return r, err
}

// Unwatch ends channels, bounded by the call timeout like Check.
func (g *guardedSource) Unwatch(
	ctx context.Context,
	req contract.UnwatchRequest,
) (r contract.UnwatchResponse, err error) {
	w, ok := g.Source.(contract.Watcher)
	if !ok {
		return r, fmt.Errorf("unwatch: %w", contract.ErrUnsupported)
	}
	err = g.c.control(ctx, "Unwatch", func(ctx context.Context) error {
		r, err = w.Unwatch(ctx, req)
		return err
	})
	return r, err
}
