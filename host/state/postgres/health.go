package postgres

import (
	"context"
	"fmt"

	"github.com/replicatorhq/replicator/host/state"
)

var _ state.Pinger = (*Store)(nil)

// Ping tells whether the database answers, over a connection of the pool:
// what a readiness probe asks, and nothing more.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("the state database %s does not answer: %w", s.where, err)
	}
	return nil
}
