package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/host/console"
	"github.com/replicatorhq/replicator/host/state"
)

// How `replicator run` follows its state database.
const (
	// healthEvery is how often the database is pinged while the host
	// runs: an outage is noticed within it, or at once by a run or a
	// page that fails.
	healthEvery = 2 * time.Second
	// healthTimeout bounds one ping: a database that takes longer does
	// not answer.
	healthTimeout = 5 * time.Second
)

// storeHealth follows whether the state database answers. An outage is
// one warning when it starts and one when it ends, whatever the number
// of pipelines; meanwhile the pipelines wait for the database rather
// than fail one after the other, the console shows what it last read
// with a notice, and /readyz says the database does not answer.
type storeHealth struct {
	log  hclog.Logger
	ping func(context.Context) error

	mu    sync.Mutex
	since time.Time // when the database stopped answering; zero while it answers
	err   error     // what the last failed ping said
}

// check pings the database now, records what it says, and returns nil
// when it answers, or why it does not.
func (s *storeHealth) check(ctx context.Context) error {
	err := s.pingOnce(ctx)
	if err != nil && ctx.Err() == nil {
		// Once more, on a fresh connection and deadline: a pooled
		// connection the server ended while idle, or a ping whose deadline
		// passed while the process was stopped, is no outage.
		err = s.pingOnce(ctx)
	}
	if err != nil && ctx.Err() != nil {
		return nil // the caller gave up, which says nothing of the database
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err != nil && s.since.IsZero():
		s.since, s.err = time.Now(), err
		s.log.Warn("the state database does not answer; the pipelines wait for it, and the console shows what it last read",
			"error", err)
	case err != nil:
		s.err = err
	case !s.since.IsZero():
		s.log.Warn("the state database answers again; the pipelines go on", "after", time.Since(s.since).Round(time.Second))
		s.since, s.err = time.Time{}, nil
	}
	if err != nil {
		return s.outageError()
	}
	return nil
}

// pingOnce pings the database within healthTimeout.
func (s *storeHealth) pingOnce(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	return s.ping(ctx)
}

// outageError says since when the database does not answer, and why;
// s.mu is held.
func (s *storeHealth) outageError() error {
	return fmt.Errorf("the state database does not answer since %s: %w", s.since.UTC().Format(time.RFC3339), s.err)
}

// down returns when the outage started, or false while the database
// answers, as far as the last ping knows.
func (s *storeHealth) down() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.since, !s.since.IsZero()
}

// watch pings the database every healthEvery until ctx ends.
func (s *storeHealth) watch(ctx context.Context) {
	t := time.NewTicker(healthEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = s.check(ctx)
		}
	}
}

// followStore follows the state database of a host on PostgreSQL until
// ctx ends. A state file has no outage to follow.
func (h *runHost) followStore(ctx context.Context, store state.Store) {
	db, ok := store.(state.Pinger)
	if !ok {
		return
	}
	health := &storeHealth{log: h.log, ping: db.Ping}
	h.health.Store(health)
	go health.watch(ctx)
}

// storeOutage reports whether the state database does not answer, asking
// it now unless an outage is known: for a run or a page that failed, whose
// error then belongs to the outage, already logged once.
func (h *runHost) storeOutage(ctx context.Context) bool {
	health := h.health.Load()
	if health == nil {
		return false
	}
	if _, down := health.down(); down {
		return true
	}
	return health.check(ctx) != nil
}

// stoppedByOutage reports whether err, a run's, came of an outage of the
// state database, already warned of: not a write refused under a lost
// claim, nor a claim another host holds, whatever the database does.
func (h *runHost) stoppedByOutage(ctx context.Context, err error) bool {
	if err == nil || errors.Is(err, state.ErrFenced) || errors.Is(err, state.ErrClaimed) {
		return false
	}
	return h.storeOutage(ctx)
}

// waitForStore says whether pc's run waits for the state database, which
// does not answer, and when it is tried again: after h.retry, as a
// pipeline whose claim failed is.
func (h *runHost) waitForStore(pc *config.Pipeline) (time.Time, bool) {
	health := h.health.Load()
	if health == nil {
		return time.Time{}, false
	}
	if _, down := health.down(); !down {
		return time.Time{}, false
	}
	h.log.Debug("run waits for the state database", "pipeline", pc.Name, "in", h.retry)
	return h.retryAt(pc), true
}

// retryAt is when pc is tried again after a run that could not go on here
// for now: its claim failed or was lost, or the state database's outage
// stopped it.
func (h *runHost) retryAt(pc *config.Pipeline) time.Time {
	return time.Now().Add(min(h.retry, pc.Interval))
}

// storeNotice is the console's notice of an outage, or "" for none.
func (h *runHost) storeNotice() string {
	health := h.health.Load()
	if health == nil {
		return ""
	}
	since, down := health.down()
	if !down {
		return ""
	}
	return fmt.Sprintf("The state database does not answer since %s (%s ago). These pages show what was last read from it; "+
		"the pipelines wait for it and go on when it answers.", since.UTC().Format("15:04:05 UTC"), time.Since(since).Round(time.Second))
}

// lastKnown keeps what the console last read of the pipelines, so that
// it shows that, not an error, while the state database does not answer.
type lastKnown struct {
	mu  sync.Mutex
	all []console.Pipeline          // the last list of every pipeline
	one map[string]console.Pipeline // each pipeline's last page, with more runs
}

// list returns ps, kept for later, or the last list kept when reading
// failed during an outage (down).
func (k *lastKnown) list(ps []console.Pipeline, err error, down bool) ([]console.Pipeline, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case err == nil:
		k.all = ps
		return ps, nil
	case down && k.all != nil:
		return k.all, nil
	}
	return nil, err
}

// pipeline is list for one pipeline's page: its last page kept, or its
// row of the last list.
func (k *lastKnown) pipeline(p console.Pipeline, err error, down bool) (console.Pipeline, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case err == nil:
		if k.one == nil {
			k.one = map[string]console.Pipeline{}
		}
		k.one[p.Name] = p
		return p, nil
	case !down:
		return p, err
	}
	if last, ok := k.one[p.Name]; ok {
		return last, nil
	}
	if i := slices.IndexFunc(k.all, func(q console.Pipeline) bool { return q.Name == p.Name }); i >= 0 {
		return k.all[i], nil
	}
	return p, err
}
