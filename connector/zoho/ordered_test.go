package zoho

import (
	"context"
	"errors"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/keyset"
)

// inOrder delivers every item in read order although workers finish out of
// order, holds a bounded number of items, and stops at the first error or
// cancellation with its goroutines gone (synctest fails on any left
// blocked).
func TestInOrder(t *testing.T) {
	const n, workers, size = 1000, 4, 7
	errRead, errConvert, errDeliver := errors.New("read"), errors.New("convert"), errors.New("deliver")
	for _, tc := range []struct {
		name string
		// Item indexes at which the run is cancelled or a step fails; -1
		// for never.
		cancelAt, readFails, convFails, deliverFails int
		wantErr                                      error
		wantDelivered                                int
	}{
		{name: "all", cancelAt: -1, readFails: -1, convFails: -1, deliverFails: -1, wantDelivered: n},
		{
			name: "cancelled", cancelAt: 300, readFails: -1, convFails: -1, deliverFails: -1, wantErr: context.Canceled,
			wantDelivered: 300,
		},
		{
			name: "read error", cancelAt: -1, readFails: 500, convFails: -1, deliverFails: -1, wantErr: errRead,
			wantDelivered: 500,
		},
		{
			name: "convert error", cancelAt: -1, readFails: -1, convFails: 700, deliverFails: -1, wantErr: errConvert,
			wantDelivered: 700,
		},
		{
			name: "deliver error", cancelAt: -1, readFails: -1, convFails: -1, deliverFails: 42, wantErr: errDeliver,
			wantDelivered: 42,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				var read, delivered atomic.Int64
				var returned atomic.Bool
				next := func() (int, error) {
					if returned.Load() {
						t.Error("next was called after inOrder returned")
					}
					i := int(read.Load())
					if i == n {
						return 0, io.EOF
					}
					if i == tc.readFails {
						return 0, errRead
					}
					if held := read.Add(1) - delivered.Load(); held > (2*workers+2)*size {
						t.Errorf("%d items read and not delivered", held)
					}
					return i, nil
				}
				convert := func(i int) (prepared, error) {
					// Uneven work, so that workers finish out of order.
					time.Sleep(time.Duration(i*7919%13) * time.Millisecond)
					if i == tc.convFails {
						return prepared{}, errConvert
					}
					return prepared{rec: contract.Record{Key: strconv.Itoa(i)}}, nil
				}
				var got []string
				deliver := func(p prepared) error {
					if len(got) == tc.deliverFails {
						return errDeliver
					}
					got = append(got, p.rec.Key)
					delivered.Add(1)
					if len(got) == tc.cancelAt {
						cancel()
					}
					return nil
				}
				err := inOrder(ctx, workers, size, next, convert, deliver)
				returned.Store(true)
				if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
					t.Errorf("inOrder: %v, want %v", err, tc.wantErr)
				}
				want := make([]string, tc.wantDelivered)
				for i := range want {
					want[i] = strconv.Itoa(i)
				}
				if !slices.Equal(got, want) {
					t.Errorf("delivered %d items %v..., want the first %d in order", len(got), got[:min(len(got), 20)], len(want))
				}
			})
		})
	}
}

// A bulk page of many batches is emitted in the CSV's (Modified_Time, id)
// order; cancelled half way, the read stops at once, having emitted a
// prefix of that order, and leaves no converting goroutine behind.
func TestBulkPageOfManyBatchesKeepsCSVOrder(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 900, Seed: 5})
	h.src.tune.bulkBatch = 16
	h.authorize(allScopes...)
	whole := h.mustRead(contract.ReadStream{Name: "contacts", Generation: 1})
	if got, want := sorted(whole.keys(contract.Upsert)), simIDs(h.sim, "Contacts"); !slices.Equal(got, want) {
		t.Fatalf("read %d records, the org has %d", len(got), len(want))
	}
	for i := 1; i < len(whole.records); i++ {
		a, b := whole.records[i-1], whole.records[i]
		if b.SourceTime.Before(a.SourceTime) || (b.SourceTime.Equal(a.SourceTime) && keyset.CompareIDs(a.Key, b.Key) >= 0) {
			t.Fatalf("record %d (%s, %s) came after (%s, %s): not the CSV's order", i, b.SourceTime, b.Key, a.SourceTime, a.Key)
		}
	}

	const stopAt = 250
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cut := &memOut{onEmit: func(n int) {
		if n == stopAt {
			cancel()
		}
	}}
	err := h.readInto(ctx, cut, nil, contract.ReadStream{Name: "contacts", Generation: 2})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Read cancelled half way: %v, want context.Canceled", err)
	}
	if len(cut.records) != stopAt || len(cut.full) != 0 {
		t.Fatalf("cancelled read emitted %d records and %d completions, want %d and none",
			len(cut.records), len(cut.full), stopAt)
	}
	for i, r := range cut.records {
		if w := whole.records[i]; r.Key != w.Key || string(r.Data) != string(w.Data) {
			t.Fatalf("cancelled read's record %d is %s, the whole read's %s", i, r.Key, w.Key)
		}
	}
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "zoho.inOrder") {
		t.Errorf("converting goroutines outlived the read:\n%s", stacks)
	}
}
