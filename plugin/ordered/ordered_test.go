package ordered

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// acks records acknowledgements.
type acks struct {
	mu  sync.Mutex
	ids []uint64
}

func (a *acks) Ack(_ context.Context, id uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ids = append(a.ids, id)
	return nil
}

func (a *acks) got() []uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.ids)
}

// gate is a task that waits until released.
func gate() (func(context.Context) error, func(error)) {
	ch := make(chan error, 1)
	return func(ctx context.Context) error {
			select {
			case err := <-ch:
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		}, func(err error) {
			ch <- err
		}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBarrierWaitsForEarlierTasks(t *testing.T) {
	var a acks
	w := New(context.Background(), &a, 4)
	f1, release1 := gate()
	f2, release2 := gate()
	if err := w.Go([]string{"a"}, f1); err != nil {
		t.Fatal(err)
	}
	if err := w.Barrier(1); err != nil {
		t.Fatal(err)
	}
	if err := w.Go([]string{"b"}, f2); err != nil {
		t.Fatal(err)
	}
	if err := w.Barrier(2); err != nil {
		t.Fatal(err)
	}
	release2(nil) // the later task finishing first acknowledges nothing
	time.Sleep(20 * time.Millisecond)
	if got := a.got(); len(got) != 0 {
		t.Fatalf("acknowledged %v before the first task finished", got)
	}
	release1(nil)
	eventually(t, "both acknowledgements", func() bool { return len(a.got()) == 2 })
	if err := w.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := a.got(); !slices.Equal(got, []uint64{1, 2}) {
		t.Errorf("acknowledged %v, want [1 2]", got)
	}
}

func TestBarrierWithNothingPendingAcksAtOnce(t *testing.T) {
	var a acks
	w := New(context.Background(), &a, 1)
	if err := w.Barrier(9); err != nil {
		t.Fatal(err)
	}
	if got := a.got(); !slices.Equal(got, []uint64{9}) {
		t.Errorf("acknowledged %v, want [9]", got)
	}
}

func TestSameKeyKeepsOrder(t *testing.T) {
	w := New(context.Background(), &acks{}, 8)
	var (
		mu    sync.Mutex
		order []int
	)
	first, release := gate()
	_ = w.Go([]string{"x", "y"}, func(ctx context.Context) error {
		err := first(ctx)
		mu.Lock()
		order = append(order, 1)
		mu.Unlock()
		return err
	})
	_ = w.Go([]string{"z"}, func(context.Context) error {
		mu.Lock()
		order = append(order, 2)
		mu.Unlock()
		return nil
	})
	_ = w.Go([]string{"y"}, func(context.Context) error {
		mu.Lock()
		order = append(order, 3)
		mu.Unlock()
		return nil
	})
	eventually(t, "the unrelated task", func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 1 })
	release(nil)
	if err := w.Wait(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, []int{2, 1, 3}) {
		t.Errorf("ran in order %v, want [2 1 3]: the task sharing key y must wait for task 1, task 2 need not", order)
	}
}

func TestFailureStopsAcknowledgements(t *testing.T) {
	var a acks
	w := New(context.Background(), &a, 4)
	boom := errors.New("HTTP 500")
	// A request already sent when the failure comes, which succeeds.
	sent := make(chan struct{})
	_ = w.Go([]string{"a"}, func(context.Context) error { <-sent; return nil })
	release := func(error) { close(sent) }
	_ = w.Barrier(1)
	_ = w.Go([]string{"b"}, func(context.Context) error { return boom })
	eventually(t, "the failure", func() bool { return w.Err() != nil })
	if err := w.Barrier(2); !errors.Is(err, boom) {
		t.Errorf("Barrier after a failure = %v, want it", err)
	}
	ranAfter := func(context.Context) error { t.Error("a task ran after a failure"); return nil }
	if err := w.Go([]string{"c"}, ranAfter); !errors.Is(err, boom) {
		t.Errorf("Go after a failure = %v", err)
	}
	release(nil) // a task before barrier 1 that succeeds after the failure
	if err := w.Wait(); !errors.Is(err, boom) {
		t.Errorf("Wait = %v, want the failure", err)
	}
	if got := a.got(); !slices.Equal(got, []uint64{1}) {
		t.Errorf("acknowledged %v, want only [1], whose tasks all succeeded", got)
	}
}

func TestExclusiveWaitsForEverything(t *testing.T) {
	var a acks
	w := New(context.Background(), &a, 4)
	var done atomic.Int32
	for i := range 10 {
		_ = w.Go([]string{string(rune('a' + i))}, func(context.Context) error {
			time.Sleep(time.Duration(i) * time.Millisecond)
			done.Add(1)
			return nil
		})
	}
	err := w.Exclusive(func(context.Context) error {
		if n := done.Load(); n != 10 {
			t.Errorf("the exclusive task ran with %d of 10 earlier tasks finished", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = w.Barrier(1)
	if err := w.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := a.got(); !slices.Equal(got, []uint64{1}) {
		t.Errorf("acknowledged %v", got)
	}
}

func TestConcurrencyBound(t *testing.T) {
	w := New(context.Background(), &acks{}, 3)
	var now, peak atomic.Int32
	for i := range 50 {
		_ = w.Go([]string{string(rune(i))}, func(context.Context) error {
			n := now.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			now.Add(-1)
			return nil
		})
	}
	if err := w.Wait(); err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p > 3 {
		t.Errorf("%d tasks ran at once, bound 3", p)
	}
}

func TestPanicIsAFailure(t *testing.T) {
	w := New(context.Background(), &acks{}, 2)
	_ = w.Go(nil, func(context.Context) error { panic("bad request builder") })
	if err := w.Wait(); err == nil {
		t.Error("a panicking task did not fail the writer")
	}
}

func TestLongWriteStaysSmall(t *testing.T) {
	w := New(context.Background(), &acks{}, 4)
	for i := range 20000 {
		_ = w.Go([]string{string(rune(i))}, func(context.Context) error { return nil })
		if i%100 == 0 {
			_ = w.Barrier(uint64(i))
		}
	}
	if err := w.Wait(); err != nil {
		t.Fatal(err)
	}
	if n := len(w.lastKey); n > 4096 {
		t.Errorf("the writer still tracks %d keys of finished tasks", n)
	}
}

// A batch that starts filling before a checkpoint and is sent after it
// holds the checkpoint back, although it is submitted last.
func TestReservedSlotHoldsLaterBarriers(t *testing.T) {
	var a acks
	w := New(context.Background(), &a, 4)
	slot := w.Reserve()
	if err := w.Barrier(1); err != nil {
		t.Fatal(err)
	}
	if err := w.Go([]string{"b"}, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := w.Barrier(2); err != nil {
		t.Fatal(err)
	}
	// The later task finishing acknowledges nothing while the slot is open;
	// Exclusive does not wait for the slot either.
	if err := w.Exclusive(func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := a.got(); len(got) != 0 {
		t.Fatalf("acknowledged %v before the reserved batch was sent", got)
	}
	fn, release := gate()
	if err := slot.Go([]string{"a"}, fn); err != nil {
		t.Fatal(err)
	}
	if err := slot.Go([]string{"a"}, fn); err == nil {
		t.Error("a slot was submitted twice")
	}
	if w.Pending() != 2 {
		t.Errorf("%d barriers pending, want 2", w.Pending())
	}
	release(nil)
	if err := w.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := a.got(); !slices.Equal(got, []uint64{1, 2}) {
		t.Errorf("acknowledged %v, want [1 2]", got)
	}
}

// A reserved slot submitted after a failure fails too, and what it holds
// back is never acknowledged.
func TestReservedSlotAfterFailure(t *testing.T) {
	var a acks
	w := New(context.Background(), &a, 2)
	slot := w.Reserve()
	_ = w.Barrier(1)
	boom := errors.New("HTTP 500")
	_ = w.Go([]string{"x"}, func(context.Context) error { return boom })
	<-w.Done()
	ranAfter := func(context.Context) error { t.Error("ran after a failure"); return nil }
	if err := slot.Go([]string{"y"}, ranAfter); !errors.Is(err, boom) {
		t.Errorf("slot.Go after a failure = %v", err)
	}
	if err := w.Wait(); !errors.Is(err, boom) {
		t.Errorf("Wait = %v", err)
	}
	if got := a.got(); len(got) != 0 {
		t.Errorf("acknowledged %v", got)
	}
}

// Work on a key whose earlier task failed does not run: it would apply a
// later change without the earlier one.
func TestTaskAfterAFailedDependencyDoesNotRun(t *testing.T) {
	w := New(context.Background(), &acks{}, 4)
	first, release := gate()
	boom := errors.New("HTTP 500")
	_ = w.Go([]string{"k"}, first)
	var ran atomic.Bool
	_ = w.Go([]string{"k"}, func(context.Context) error { ran.Store(true); return nil })
	release(boom)
	if err := w.Wait(); !errors.Is(err, boom) {
		t.Errorf("Wait = %v", err)
	}
	if ran.Load() {
		t.Error("the task after the failed one on the same key ran")
	}
}
