// Package ordered lets a destination write concurrently and still
// acknowledge in order.
//
// A destination that sends several requests at once must acknowledge a
// checkpoint only when every request made before it has succeeded, must
// not reorder two requests that touch the same entry, and must run a
// full refresh's sweep only after everything written before it is stored.
// Writer does that bookkeeping: the destination submits each request with
// the keys it touches (Go), submits checkpoints and full-refresh-complete
// messages as barriers (Barrier), and runs sweeps exclusively (Exclusive);
// Writer acknowledges each barrier through the Input as soon as the work
// before it has succeeded, and never one that follows a failed request.
//
// A destination that fills batches while messages arrive takes a batch's
// place in the order when it starts filling it (Reserve), so a checkpoint
// that arrives meanwhile waits for the batch, and submits it once full
// (Slot.Go).
//
//	w := ordered.New(ctx, in, cfg.Concurrency)
//	for {
//		m, err := in.Next(ctx)
//		...
//		case len(m.Records) > 0:
//			err = w.Go(keysOf(m.Records), func(ctx context.Context) error { return client.Upsert(ctx, m.Records) })
//		case m.Checkpoint != nil:
//			err = w.Barrier(m.Checkpoint.ID)
//		case m.FullRefreshComplete != nil:
//			err = w.Exclusive(func(ctx context.Context) error { return client.Sweep(ctx, ...) })
//			if err == nil { err = w.Barrier(m.FullRefreshComplete.ID) }
//	}
//	return w.Wait()
package ordered

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// Acker receives acknowledgements; contract.Input is one.
type Acker interface {
	Ack(ctx context.Context, id uint64) error
}

var _ Acker = contract.Input(nil)

// task is one submitted request.
type task struct {
	seq     uint64
	done    chan struct{} // closed when the task finished, either way
	started bool          // submitted, not only reserved; caller's goroutine only
}

type barrier struct {
	id   uint64
	need uint64 // every task with seq <= need must have succeeded
}

// Writer runs submitted work concurrently and acknowledges barriers in
// order. Go, Exclusive and Barrier are called from one goroutine, the one
// reading the Input; the work runs on goroutines of its own.
type Writer struct {
	ack    Acker
	parent context.Context // for acknowledgements, which go on after a failure
	ctx    context.Context
	cancel context.CancelCauseFunc
	sem    chan struct{}
	wg     sync.WaitGroup

	seq     uint64           // last sequence number given out; caller's goroutine only
	lastKey map[string]*task // newest task touching each key; caller's goroutine only
	all     []*task          // tasks in flight, for Exclusive; caller's goroutine only
	pruneAt int              // size of lastKey that triggers the next prune

	mu       sync.Mutex
	running  map[uint64]bool // tasks not finished
	barriers []barrier
	err      error  // the first failure
	failed   uint64 // lowest sequence number that failed; 0 for none
	acking   sync.Mutex
}

// New returns a Writer that runs at most concurrency tasks at once and
// acknowledges through ack. Cancelling ctx stops the tasks.
func New(ctx context.Context, ack Acker, concurrency int) *Writer {
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	return &Writer{
		ack:     ack,
		parent:  parent,
		ctx:     ctx,
		cancel:  cancel,
		sem:     make(chan struct{}, max(concurrency, 1)),
		lastKey: map[string]*task{},
		running: map[uint64]bool{},
	}
}

// Go runs fn once a slot is free and every earlier task that touches one
// of keys has finished. It returns at once with the first failure of any
// task so far, if there is one, and otherwise only waits for the slot.
// fn's context is cancelled when any task fails or the Writer's context
// ends.
func (w *Writer) Go(keys []string, fn func(ctx context.Context) error) error {
	if err := w.Err(); err != nil {
		return err
	}
	w.prune()
	return w.submit(w.start(), keys, fn)
}

// Slot is a place in the order taken before its work is known: a barrier
// after it waits for it as for a submitted task.
type Slot struct {
	w *Writer
	t *task
}

// Reserve takes the next place in the order for work submitted later with
// the Slot's Go, such as a batch that starts filling now and is sent when
// full. Barriers after it are not acknowledged until that work has
// succeeded, so every slot must be submitted before Wait.
func (w *Writer) Reserve() *Slot {
	w.prune()
	return &Slot{w: w, t: w.start()}
}

// Go runs fn as Writer.Go does, in the slot's place: barriers after the
// slot wait for it, and it waits for every task submitted before this call
// that touches one of keys. A slot is submitted once.
func (s *Slot) Go(keys []string, fn func(ctx context.Context) error) error {
	if s.t.started {
		return errors.New("ordered: a slot submitted twice")
	}
	if err := s.w.Err(); err != nil {
		s.w.finish(s.t, err)
		return err
	}
	return s.w.submit(s.t, keys, fn)
}

// submit starts t, which start numbered, for fn.
func (w *Writer) submit(t *task, keys []string, fn func(ctx context.Context) error) error {
	t.started = true
	var deps []*task
	seen := map[*task]bool{}
	for _, k := range keys {
		if d, ok := w.lastKey[k]; ok && !seen[d] {
			seen[d] = true
			deps = append(deps, d)
		}
	}
	for _, k := range keys {
		w.lastKey[k] = t
	}
	select {
	case w.sem <- struct{}{}:
	case <-w.ctx.Done():
		w.finish(t, context.Cause(w.ctx))
		return w.Err()
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() { <-w.sem }()
		for _, d := range deps {
			select {
			case <-d.done:
			case <-w.ctx.Done():
				w.finish(t, context.Cause(w.ctx))
				return
			}
		}
		if len(deps) > 0 && w.ctx.Err() != nil {
			// A task it waited for may have failed: the work after it
			// on the same keys is not done without it.
			w.finish(t, context.Cause(w.ctx))
			return
		}
		w.finish(t, w.guard(fn))
	}()
	return nil
}

// Exclusive waits for every task submitted so far to finish, then runs fn
// alone on the caller's goroutine, as a full refresh's sweep needs: it may
// remove whatever the tasks before it did not write. Reserved slots not yet
// submitted have written nothing and are not waited for. It returns fn's
// error, or the first failure of an earlier task (and then fn does not
// run).
func (w *Writer) Exclusive(fn func(ctx context.Context) error) error {
	reserved := w.all[:0]
	for _, t := range w.all {
		if !t.started {
			reserved = append(reserved, t)
			continue
		}
		select {
		case <-t.done:
		case <-w.ctx.Done():
		}
	}
	clear(w.all[len(reserved):])
	w.all = reserved
	clear(w.lastKey)
	if err := w.Err(); err != nil {
		return err
	}
	t := w.start()
	t.started = true
	err := w.guard(fn)
	w.finish(t, err)
	return w.Err()
}

// Barrier acknowledges id once every task submitted before it has
// succeeded; at once when they already have; never when one of them
// failed. It returns the first failure so far, or the Acker's error.
func (w *Writer) Barrier(id uint64) error {
	w.mu.Lock()
	w.barriers = append(w.barriers, barrier{id: id, need: w.seq})
	w.mu.Unlock()
	w.ackReady()
	return w.Err()
}

// Wait waits for every task, acknowledges the barriers left, and returns
// the first failure, if any.
func (w *Writer) Wait() error {
	w.wg.Wait()
	w.ackReady()
	err := w.Err()
	w.cancel(nil)
	return err
}

// Done is closed when a task fails, the Writer's context ends, or Wait
// has returned; a destination waiting for its next message also waits on
// it, so it stops reading at the first failure.
func (w *Writer) Done() <-chan struct{} {
	return w.ctx.Done()
}

// Err returns the first failure so far, or nil.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Pending returns the number of barriers not yet acknowledged.
func (w *Writer) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.barriers)
}

// prune forgets finished tasks, so that a long write's bookkeeping stays
// the size of what is in flight. It runs when lastKey has doubled since
// the last prune, which keeps its cost linear overall.
func (w *Writer) prune() {
	if len(w.lastKey) < w.pruneAt && len(w.all) < w.pruneAt {
		return
	}
	for k, t := range w.lastKey {
		if finished(t) {
			delete(w.lastKey, k)
		}
	}
	live := w.all[:0]
	for _, t := range w.all {
		if !finished(t) {
			live = append(live, t)
		}
	}
	clear(w.all[len(live):])
	w.all = live
	w.pruneAt = max(2*max(len(w.lastKey), len(w.all)), 1024)
}

func finished(t *task) bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

func (w *Writer) start() *task {
	w.seq++
	t := &task{seq: w.seq, done: make(chan struct{})}
	w.mu.Lock()
	w.running[t.seq] = true
	w.mu.Unlock()
	w.all = append(w.all, t)
	return t
}

// guard runs fn, turning a panic into an error so one bad request cannot
// leave the Writer waiting forever.
func (w *Writer) guard(fn func(ctx context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("write panicked: %v", r)
		}
	}()
	return fn(w.ctx)
}

func (w *Writer) finish(t *task, err error) {
	w.mu.Lock()
	delete(w.running, t.seq)
	if err != nil {
		if w.failed == 0 || t.seq < w.failed {
			w.failed = t.seq
		}
		if w.err == nil {
			w.err = err
			w.cancel(err)
		}
	}
	w.mu.Unlock()
	close(t.done)
	w.ackReady()
}

// ackReady acknowledges, in order, every barrier whose tasks all
// succeeded; a barrier after a failed task is never acknowledged. One
// goroutine acknowledges at a time, so IDs go out in order.
func (w *Writer) ackReady() {
	w.acking.Lock()
	defer w.acking.Unlock()
	for {
		w.mu.Lock()
		if len(w.barriers) == 0 || (w.failed != 0 && w.failed <= w.barriers[0].need) {
			w.mu.Unlock()
			return
		}
		b := w.barriers[0]
		for seq := range w.running {
			if seq <= b.need {
				w.mu.Unlock()
				return
			}
		}
		w.barriers = w.barriers[1:]
		w.mu.Unlock()
		if err := w.ack.Ack(w.parent, b.id); err != nil {
			w.mu.Lock()
			if w.err == nil {
				w.err = fmt.Errorf("acknowledging checkpoint %d: %w", b.id, err)
				w.cancel(w.err)
			}
			w.failed = 1 // nothing more goes out
			w.mu.Unlock()
			return
		}
	}
}
