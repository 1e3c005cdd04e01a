package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/replicatorhq/replicator/host/state"
)

// ClaimSessions is how many sessions a host holds its claims on. A
// session-level advisory lock takes no connection of its own, so the
// claims of every run in flight share these few long-lived sessions,
// opened when first needed and again only when one is lost: a host opens
// no connection per claim. Two rather than one, so that claiming goes on
// while one of them is busy, and a session lost ends only part of the
// runs.
const ClaimSessions = 2

// A claim is counted on for leaseShare of the takeover bound after the
// last word its session had from the database was asked for: PostgreSQL
// ends the session no sooner than the whole bound after that, so the
// quarter left over is the margin within which a batch let through just
// before the lease ran out reaches its destination. The keep-alive speaks
// every quarter of the bound and waits for an answer at most as long, so
// a host that is not paused renews well within the lease.
const (
	leaseNum = 3
	leaseDen = 4
)

// errStoreClosed ends the sessions of a store being closed.
var errStoreClosed = errors.New("the state store was closed")

// session is one connection whose session holds claims: a session-level
// advisory lock per claimed pipeline.
type session struct {
	s  *Store
	mu sync.Mutex // the connection is used by one goroutine at a time
	// conn is set once, before the session is shared.
	conn *pgx.Conn
	// renewed is when the last query that succeeded on the session was
	// sent, in nanoseconds since s.epoch on the monotonic clock: the
	// session has been idle, as PostgreSQL counts it, since no earlier.
	renewed atomic.Int64
	// claims are the claims held on the session; guarded by s.mu.
	claims map[*claim]struct{}
	// lost is closed, after why is set, once the session is lost.
	lost     chan struct{}
	why      error
	loseOnce sync.Once
	// tasks are the keep-alive, the lease's watch and the closing of the
	// connection; Close waits for them.
	tasks sync.WaitGroup
}

// claim is a held claim and the session whose lock it is.
type claim struct {
	*state.Claim
	id   int32
	sess *session
}

// openSession connects a claim session whose PostgreSQL ends it after the
// takeover bound without a word from this host.
func (s *Store) openSession(ctx context.Context) (*session, error) {
	// Claims wait for the session opening: a database that does not
	// answer fails them within the bound.
	ctx, cancel := context.WithTimeout(ctx, s.bound)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, s.conn.Copy())
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", s.where, err)
	}
	sent := time.Now()
	ms := strconv.FormatInt(s.bound.Milliseconds(), 10)
	// A statement that waits, such as for the row locks of a host paused
	// amid a write, is ended by the server well before do's own timeout,
	// which would end the connection and every claim on it.
	stmt := strconv.FormatInt((s.bound / 8).Milliseconds(), 10)
	if _, err := conn.Exec(ctx, "SET idle_session_timeout = "+ms+"; SET idle_in_transaction_session_timeout = "+ms+"; SET statement_timeout = "+stmt); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("setting the session's timeouts (PostgreSQL 14 or later is needed): %w", err)
	}
	sess := &session{s: s, conn: conn, claims: map[*claim]struct{}{}, lost: make(chan struct{})}
	sess.renew(sent)
	sess.tasks.Go(sess.keepAlive)
	sess.tasks.Go(sess.watch)
	return sess, nil
}

// session returns the session to claim on: a new one while fewer than
// ClaimSessions are open, else the one holding the fewest claims.
func (s *Store) session(ctx context.Context) (*session, error) {
	s.opening.Lock()
	defer s.opening.Unlock()
	s.mu.Lock()
	closed, open := s.closed, len(s.sessions)
	var least *session
	for _, sess := range s.sessions {
		if least == nil || len(sess.claims) < len(least.claims) {
			least = sess
		}
	}
	s.mu.Unlock()
	switch {
	case closed:
		return nil, errStoreClosed
	case open >= ClaimSessions:
		return least, nil
	}
	sess, err := s.openSession(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		sess.lose(errStoreClosed)
		return nil, errStoreClosed
	}
	s.sessions = append(s.sessions, sess)
	s.mu.Unlock()
	return sess, nil
}

// renew notes that a query sent at sent succeeded.
func (sess *session) renew(sent time.Time) {
	at := int64(sent.Sub(sess.s.epoch))
	for {
		old := sess.renewed.Load()
		if at <= old || sess.renewed.CompareAndSwap(old, at) {
			return
		}
	}
}

// leaseLeft is how long the session's claims can still be counted on.
func (sess *session) leaseLeft() time.Duration {
	renewed := time.Duration(sess.renewed.Load())
	return renewed + sess.s.bound*leaseNum/leaseDen - time.Since(sess.s.epoch)
}

// err is why the session was lost, or nil.
func (sess *session) err() error {
	select {
	case <-sess.lost:
		return sess.why
	default:
		return nil
	}
}

// lease is what a claim's Check asks: nil while the session's lease runs,
// else why not, the session lost with all its claims.
func (sess *session) lease() error {
	if err := sess.err(); err != nil {
		return err
	}
	left := sess.leaseLeft()
	if left > 0 {
		return nil
	}
	lease := sess.s.bound * leaseNum / leaseDen
	err := fmt.Errorf("this host last heard from the database %s ago, more than the %s it counts on its claims for (three quarters of takeover_after); it was paused or cut off, and another host may take its pipelines over",
		(lease - left).Round(time.Millisecond), lease)
	sess.lose(err)
	return err
}

// do runs f on the session's connection, one caller at a time, within a
// quarter of the takeover bound. It never runs under the caller's
// context: a query cancelled midway ends its connection, and with it the
// session and every claim on it. A failure that ends the connection loses
// the session.
func (sess *session) do(f func(ctx context.Context, conn *pgx.Conn) error) error {
	sess.mu.Lock()
	if err := sess.err(); err != nil {
		sess.mu.Unlock()
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), sess.s.bound/4)
	sent := time.Now()
	err := f(ctx, sess.conn)
	cancel()
	closed := sess.conn.IsClosed()
	sess.mu.Unlock()
	switch {
	case err == nil:
		sess.renew(sent)
	case closed:
		sess.lose(err)
	}
	return err
}

// keepAlive speaks on the session every quarter of the takeover bound, so
// that PostgreSQL keeps it; when that fails the session is lost.
func (sess *session) keepAlive() {
	t := time.NewTicker(sess.s.bound / 4)
	defer t.Stop()
	for {
		select {
		case <-sess.lost:
			return
		case <-t.C:
		}
		err := sess.do(func(ctx context.Context, conn *pgx.Conn) error {
			_, err := conn.Exec(ctx, "SELECT 1")
			return err
		})
		if err != nil {
			sess.lose(fmt.Errorf("the connection holding them was lost: %w", err))
			return
		}
	}
}

// watch loses the session once its lease runs out: a host that was paused
// ends its runs as it comes back, whether or not a write of theirs comes
// first to check.
func (sess *session) watch() {
	t := time.NewTimer(sess.leaseLeft())
	defer t.Stop()
	for {
		select {
		case <-sess.lost:
			return
		case <-t.C:
		}
		if sess.lease() != nil {
			return
		}
		t.Reset(sess.leaseLeft())
	}
}

// lose ends the session: every claim on it is lost, and the connection is
// closed so that a session still alive on the server gives its locks up.
func (sess *session) lose(why error) {
	sess.loseOnce.Do(func() {
		s := sess.s
		s.mu.Lock()
		sess.why = why
		close(sess.lost)
		s.sessions = slices.DeleteFunc(s.sessions, func(o *session) bool { return o == sess })
		claims := slices.Collect(maps.Keys(sess.claims))
		s.mu.Unlock()
		for _, c := range claims {
			c.Lose(fmt.Errorf("the claim on pipeline %q was lost, so another host may take it over: %w", c.Pipeline, why))
			s.log.Warn("lost the claim on a pipeline", "pipeline", c.Pipeline, "fence", c.Token, "error", why)
		}
		// A query under way holds the connection for at most its timeout.
		sess.tasks.Go(func() {
			sess.mu.Lock()
			defer sess.mu.Unlock()
			sess.conn.Close(context.Background())
		})
	})
}

// Claim takes the pipeline's advisory lock on one of the host's claim
// sessions and increments the pipeline's fencing token.
func (s *Store) Claim(ctx context.Context, pipeline, host string) (*state.Claim, error) {
	if pipeline == "" {
		return nil, errors.New("claiming a pipeline: the pipeline name is empty")
	}
	id, err := s.pipelineID(ctx, pipeline)
	if err != nil {
		return nil, fmt.Errorf("claiming pipeline %q: %w", pipeline, err)
	}
	// A session takes a lock it holds already once more, so a pipeline
	// claimed here is refused here. It is reserved (nil) while claimed.
	s.mu.Lock()
	if c, ok := s.held[id]; ok {
		s.mu.Unlock()
		ce := &state.ClaimedError{Pipeline: pipeline}
		if c != nil {
			ce.Holder = state.Holder{Host: c.Host, Since: c.Since, Token: c.Token}
		}
		return nil, ce
	}
	s.held[id] = nil
	s.mu.Unlock()
	c, err := s.claim(ctx, id, pipeline, host)
	s.mu.Lock()
	if err != nil {
		delete(s.held, id)
	} else {
		s.held[id] = c
		c.sess.claims[c] = struct{}{}
	}
	s.mu.Unlock()
	if err != nil {
		var ce *state.ClaimedError
		if !errors.As(err, &ce) {
			err = fmt.Errorf("claiming pipeline %q: %w", pipeline, err)
		}
		return nil, err
	}
	// Lost between the lock and the registration, the session told
	// none of its claims of this one.
	if err := c.sess.err(); err != nil {
		c.Lose(fmt.Errorf("the claim on pipeline %q was lost, so another host may take it over: %w", pipeline, err))
	}
	return c.Claim, nil
}

// pipelineID returns the id of the pipeline's row, made if need be, and
// without locking it: a host paused amid a write may hold its lock for a
// while. A row another host made at the same moment is not seen by the
// statement that found it there, and is by the next.
func (s *Store) pipelineID(ctx context.Context, pipeline string) (int32, error) {
	var id int32
	var err error
	for range 2 {
		err = s.pool.QueryRow(ctx, `WITH made AS (INSERT INTO pipelines (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id)
			SELECT id FROM made UNION ALL SELECT id FROM pipelines WHERE name = $1 LIMIT 1`, pipeline).Scan(&id)
		if !errors.Is(err, pgx.ErrNoRows) {
			break
		}
	}
	return id, err
}

func (s *Store) claim(ctx context.Context, id int32, pipeline, host string) (*claim, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sess, err := s.session(ctx)
	if err != nil {
		return nil, err
	}
	var got bool
	var fence int64
	var since time.Time
	err = sess.do(func(ctx context.Context, conn *pgx.Conn) error {
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, lockNamespace, id).Scan(&got); err != nil || !got {
			return err
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			err := tx.QueryRow(ctx, `UPDATE pipelines SET fence = fence + 1, holder = $2, holder_pid = pg_backend_pid(), since = now()
				WHERE id = $1 RETURNING fence, since`, id, host).Scan(&fence, &since)
			if err != nil {
				return err
			}
			// Whoever ran the pipeline before is gone: a run of theirs
			// still "running" never ends.
			_, err = tx.Exec(ctx, `UPDATE runs SET outcome = 'crashed',
				run = run || jsonb_build_object('outcome', 'crashed', 'error', $2::text)
				WHERE pipeline = $1 AND outcome = 'running'`, pipeline, state.CrashedError)
			return err
		})
		if err != nil && !conn.IsClosed() {
			// The session goes on holding other claims: this lock goes.
			_, _ = conn.Exec(ctx, `SELECT pg_advisory_unlock($1, $2)`, lockNamespace, id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !got {
		ce := &state.ClaimedError{Pipeline: pipeline}
		var h *string
		var since *time.Time
		var fence int64
		if err := s.pool.QueryRow(ctx, `SELECT holder, since, fence FROM pipelines WHERE id = $1`, id).Scan(&h, &since, &fence); err == nil && h != nil {
			ce.Host, ce.Token = *h, uint64(fence)
			if since != nil {
				ce.Since = *since
			}
		}
		return nil, ce
	}
	c := &claim{id: id, sess: sess}
	c.Claim = state.NewClaim(state.Fence{Pipeline: pipeline, Token: uint64(fence)}, host, since, func(context.Context) error {
		return s.release(c)
	})
	c.SetLease(sess.lease)
	return c, nil
}

// release gives the claim's lock up; its session goes on.
func (s *Store) release(c *claim) error {
	var err error
	if c.Err() == nil {
		err = c.sess.do(func(ctx context.Context, conn *pgx.Conn) error {
			_, err := conn.Exec(ctx, `UPDATE pipelines SET holder = NULL, holder_pid = NULL, since = NULL WHERE id = $1 AND fence = $2`, c.id, int64(c.Token))
			if err == nil {
				_, err = conn.Exec(ctx, `SELECT pg_advisory_unlock($1, $2)`, lockNamespace, c.id)
			}
			return err
		})
	}
	// A claim lost went with its session, and its lock with it.
	s.mu.Lock()
	if s.held[c.id] == c {
		delete(s.held, c.id)
	}
	delete(c.sess.claims, c)
	s.mu.Unlock()
	if err != nil && c.sess.err() == nil {
		// The lock may be held still, and the session is kept alive: it
		// goes, or the pipeline would stay claimed by nobody.
		err = fmt.Errorf("releasing the claim on pipeline %q: %w", c.Pipeline, err)
		c.sess.lose(err)
		return err
	}
	return nil
}

// Close releases the claims still held, ends the claim sessions and
// closes the connections.
func (s *Store) Close() error {
	s.mu.Lock()
	var held []*claim
	for _, c := range s.held {
		if c != nil {
			held = append(held, c)
		}
	}
	s.mu.Unlock()
	for _, c := range held {
		_ = c.Release(context.Background())
	}
	s.opening.Lock()
	s.mu.Lock()
	s.closed = true
	sessions := slices.Clone(s.sessions)
	s.mu.Unlock()
	s.opening.Unlock()
	for _, sess := range sessions {
		sess.lose(errStoreClosed)
	}
	for _, sess := range sessions {
		sess.tasks.Wait()
	}
	s.pool.Close()
	return nil
}
