package zoho

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/keyset"
	"github.com/replicatorhq/replicator/schemas/phone"
)

// prepared is a record converted and encoded, ready for Output.
type prepared struct {
	rec  contract.Record
	key  keyset.Cursor
	skip bool // the record has no id
	// unread says why each of the record's phones without a number has
	// none.
	unread []phone.Reason
}

// batch is a run of consecutive items and what became of them.
type batch[T any] struct {
	items []T
	out   []prepared
	// convErr is why converting items[len(out)] failed; readErr why
	// reading on after the last item failed.
	convErr, readErr error
	done             chan struct{} // closed once out and convErr are set
}

// inOrder reads items with next until it returns io.EOF, converts them on
// workers goroutines, size items to a batch, and hands each result to
// deliver on the calling goroutine in the order next returned the items,
// since Output wants one goroutine and the records' order. At most
// 2*workers+2 batches exist at once. next and convert run on goroutines of
// their own; next is never called concurrently, convert is.
//
// It returns the first error of next, convert or deliver in item order, or
// ctx's error once ctx is done; every goroutine it started has ended by
// then, so the caller may close what next reads.
func inOrder[T any](ctx context.Context, workers, size int, next func() (T, error), convert func(T) (prepared, error),
	deliver func(prepared) error) error {
	workers, size = max(workers, 1), max(size, 1)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(quit)

	// queue holds batches in read order for the delivering goroutine;
	// its capacity is what bounds memory. work hands them to workers.
	queue := make(chan *batch[T], 2*workers)
	work := make(chan *batch[T])
	wg.Go(func() {
		defer close(work)
		defer close(queue)
		for eof := false; !eof; {
			b := &batch[T]{items: make([]T, 0, size), done: make(chan struct{})}
			for len(b.items) < size {
				it, err := next()
				if err != nil {
					if !errors.Is(err, io.EOF) {
						b.readErr = err
					}
					eof = true
					break
				}
				b.items = append(b.items, it)
			}
			if len(b.items) == 0 && b.readErr == nil {
				return
			}
			select {
			case queue <- b:
			case <-quit:
				return
			}
			select {
			case work <- b:
			case <-quit:
				return
			}
		}
	})
	for range workers {
		wg.Go(func() {
			for b := range work {
				b.out = make([]prepared, 0, len(b.items))
			items:
				for _, it := range b.items {
					select {
					case <-quit:
						break items
					default:
					}
					p, err := convert(it)
					if err != nil {
						b.convErr = err
						break
					}
					b.out = append(b.out, p)
				}
				close(b.done)
			}
		})
	}

	for {
		var b *batch[T]
		select {
		case b = <-queue:
		case <-ctx.Done():
			return ctx.Err()
		}
		if b == nil {
			return nil
		}
		select {
		case <-b.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		for _, p := range b.out {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := deliver(p); err != nil {
				return err
			}
		}
		if b.convErr != nil {
			return b.convErr
		}
		if b.readErr != nil {
			return b.readErr
		}
	}
}
