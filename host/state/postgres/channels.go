package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/replicatorhq/replicator/host/state"
)

// SignalChannel is the LISTEN/NOTIFY channel on which SetSignaled tells
// every host of a callback: the payload is the pipeline's name.
const SignalChannel = "replicator_signals"

// SaveChannel stores c with its secret sealed, keeping the time of its
// last callback.
func (s *Store) SaveChannel(ctx context.Context, c state.Channel) error {
	if err := state.CheckChannel(c); err != nil {
		return err
	}
	if s.keys == nil {
		return fmt.Errorf("saving channel %s of pipeline %q: %w", c.ID, c.Pipeline, errNoKeys)
	}
	sealed, err := s.keys.Seal(channelAAD(c.Key), []byte(c.Secret))
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO channels
		(key, id, pipeline, url, sealed, secret_field, max_body_bytes, streams, expires, watched)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (key) DO UPDATE SET id = EXCLUDED.id, pipeline = EXCLUDED.pipeline, url = EXCLUDED.url,
			sealed = EXCLUDED.sealed, secret_field = EXCLUDED.secret_field, max_body_bytes = EXCLUDED.max_body_bytes,
			streams = EXCLUDED.streams, expires = EXCLUDED.expires, watched = EXCLUDED.watched`,
		c.Key, c.ID, c.Pipeline, c.URL, sealed, c.SecretField, c.MaxBodyBytes, c.Streams, nullTime(c.Expires), c.Watched)
	if err != nil {
		return fmt.Errorf("saving channel %s of pipeline %q: %w", c.ID, c.Pipeline, err)
	}
	return nil
}

// channelAAD is what a channel's sealed secret is bound to, as in the
// state file.
func channelAAD(key string) string { return "channel:" + key }

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// DeleteChannel forgets the channel with key.
func (s *Store) DeleteChannel(ctx context.Context, key string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM channels WHERE key = $1`, key); err != nil {
		return fmt.Errorf("forgetting a channel: %w", err)
	}
	return nil
}

// Channels returns every stored channel, secrets opened; without keys,
// with empty secrets, which verify no callback.
func (s *Store) Channels(ctx context.Context) ([]state.Channel, error) {
	rows, _ := s.pool.Query(ctx, `SELECT key, id, pipeline, url, sealed, secret_field, max_body_bytes, streams,
		expires, watched, signaled FROM channels ORDER BY key`)
	var out []state.Channel
	var sealed []byte
	var expires, signaled *time.Time
	var c state.Channel
	_, err := pgx.ForEachRow(rows, []any{&c.Key, &c.ID, &c.Pipeline, &c.URL, &sealed, &c.SecretField, &c.MaxBodyBytes,
		&c.Streams, &expires, &c.Watched, &signaled}, func() error {
		got := c
		if s.keys != nil {
			plain, err := s.keys.Open(channelAAD(c.Key), sealed)
			if err != nil {
				return fmt.Errorf("channel %s of pipeline %q: %w", c.ID, c.Pipeline, err)
			}
			got.Secret = string(plain)
		}
		got.Expires, got.Signaled = timeOf(expires), timeOf(signaled)
		out = append(out, got)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the change-signal channels: %w", err)
	}
	return out, nil
}

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// SetSignaled records a verified callback and tells every host listening
// (ListenSignals) in the same transaction, so that the host that holds or
// next claims the pipeline runs it.
func (s *Store) SetSignaled(ctx context.Context, key string, at time.Time) (string, error) {
	var pipeline string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE channels SET signaled = greatest(signaled, $2) WHERE key = $1 RETURNING pipeline`,
			key, at).Scan(&pipeline)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, SignalChannel, pipeline)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("recording a callback: %w", err)
	}
	return pipeline, nil
}

// ListenSignals calls fn with the pipeline of every callback any host
// records (SetSignaled), until ctx ends or the connection fails: the
// caller listens again after a failure, and meanwhile the pipelines'
// intervals catch what it missed.
func (s *Store) ListenSignals(ctx context.Context, fn func(pipeline string)) error {
	pooled, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("listening for callbacks: %w", err)
	}
	// The connection has LISTEN on it: it does not go back to the pool.
	conn := pooled.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{SignalChannel}.Sanitize()); err != nil {
		return fmt.Errorf("listening for callbacks: %w", err)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("listening for callbacks: %w", err)
		}
		fn(n.Payload)
	}
}
