package metrics

import (
	"context"
	"sync"
	"time"
)

// Readiness is checked apart from the scrapes: a check reads the state
// file's header, or waits for the database's answer to a ping, which may
// take longer than a scrape should. A scrape shows the last check's result and starts the next
// check when that one is older than readyEvery; only the first scrape
// waits for a check.
const (
	readyEvery = 30 * time.Second
	// readyTimeout bounds a check: a state store that does not answer
	// within it is not ready.
	readyTimeout = 5 * time.Second
)

// readiness is the last result of a host's readiness check.
type readiness struct {
	check func(context.Context) error
	now   func() time.Time

	mu      sync.Mutex
	ready   bool
	checked time.Time     // when the last check ended; zero before the first
	running chan struct{} // closed when the check underway ends; nil when none is
}

// value is replicator_ready: 1 when the last check passed.
func (r *readiness) value() float64 {
	r.mu.Lock()
	if r.running == nil && (r.checked.IsZero() || r.now().Sub(r.checked) >= readyEvery) {
		r.running = make(chan struct{})
		go r.run(r.running)
	}
	first, running := r.checked.IsZero(), r.running
	r.mu.Unlock()
	if first {
		<-running
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ready {
		return 1
	}
	return 0
}

// run checks once, and closes done when the result is kept.
func (r *readiness) run(done chan struct{}) {
	defer close(done)
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	err := r.check(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ready, r.checked, r.running = err == nil, r.now(), nil
}
