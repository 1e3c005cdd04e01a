package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/replicatorhq/replicator/host/state"
)

// LinkKeys returns the connect links' keys derived from the encryption
// keys, which every host sharing the database has.
func (s *Store) LinkKeys(ctx context.Context) ([][]byte, error) {
	if s.keys == nil {
		return nil, fmt.Errorf("signing connect links: %w", errNoKeys)
	}
	return s.keys.LinkKeys(), nil
}

// LinkUsed returns when a connect link connected its source.
func (s *Store) LinkUsed(ctx context.Context, id string) (time.Time, error) {
	var used time.Time
	err := s.pool.QueryRow(ctx, `SELECT used FROM connect_links WHERE id = $1`, id).Scan(&used)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, fmt.Errorf("reading whether connect link %s was used: %w", id, err)
	}
	return used, nil
}

// ConnectWithLink stores credentials and records the link used in one
// transaction; the link's row, inserted first, refuses a second use.
func (s *Store) ConnectWithLink(ctx context.Context, id, source string, expires time.Time, c json.RawMessage) error {
	if id == "" || source == "" || len(c) == 0 || !json.Valid(c) {
		return fmt.Errorf("connecting %s: the link id, the source and valid credentials are required", source)
	}
	if s.keys == nil {
		return fmt.Errorf("connecting %s: %w", source, errNoKeys)
	}
	sealed, err := s.keys.Seal(source, c)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM connect_links WHERE expires < now() - $1::interval`,
			fmt.Sprintf("%d seconds", int(state.LinkGrace.Seconds()))); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO connect_links (id, source, expires) VALUES ($1, $2, $3)`, id, source, expires); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
				return state.ErrLinkUsed
			}
			return err
		}
		return putSealed(ctx, tx, source, sealed)
	})
	if err != nil {
		return fmt.Errorf("connecting %s: %w", source, err)
	}
	return nil
}
