package wirev1

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/plugin/contract"
)

func TestBatchRoundTrip(t *testing.T) {
	in := []contract.Record{
		{Stream: "contacts", Key: "1", Data: json.RawMessage(`{"a":1}`), SourceTime: time.Unix(1700000000, 5).UTC()},
		{Stream: "contacts", Key: "2", Op: contract.Delete},
		{Stream: "accounts", Key: "ü\n\"", Data: json.RawMessage(`{}`)},
		{Stream: "contacts", Key: "", Data: json.RawMessage(`{"b":[1,2]}`)},
	}
	w := batchToWire(in, make([]byte, 0, 3))
	if len(w.Streams) != 2 {
		t.Fatalf("streams table %v, want two entries", w.Streams)
	}
	out, err := batchFromWire(w)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip changed the records:\n in  %+v\n out %+v", in, out)
	}
}

func TestBatchFromWireRejectsDamage(t *testing.T) {
	good := batchToWire([]contract.Record{{Stream: "s", Key: "k", Data: json.RawMessage(`{"x":1}`)}}, nil)
	for cut := 0; cut < len(good.Packed); cut++ {
		b := &RecordBatch{Count: 1, Streams: good.Streams, Packed: good.Packed[:cut]}
		if _, err := batchFromWire(b); err == nil {
			t.Fatalf("a batch cut at byte %d of %d decoded without error", cut, len(good.Packed))
		}
	}
	bad := &RecordBatch{Count: 1, Streams: nil, Packed: good.Packed}
	if _, err := batchFromWire(bad); err == nil {
		t.Fatal("a batch with a bad stream index decoded")
	}
	wrongCount := &RecordBatch{Count: 2, Streams: good.Streams, Packed: good.Packed}
	if _, err := batchFromWire(wrongCount); err == nil {
		t.Fatal("a batch with a wrong count decoded")
	}
}

// A plugin's claims about a batch are checked before the host believes
// them: a huge record count must not allocate, a key length near 2^64 must
// not wrap the bounds check.
func TestBatchFromWireRejectsLies(t *testing.T) {
	good := batchToWire([]contract.Record{{Stream: "s", Key: "k", Data: json.RawMessage(`{"x":1}`)}}, nil)
	hugeKey := []byte{0}                                                                  // stream 0
	hugeKey = append(hugeKey, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01) // key length 2^64-1
	hugeKey = append(hugeKey, 0, 0, 0)
	hugeData := []byte{0, 1, 'k', 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}
	for _, tt := range []struct {
		name string
		b    *RecordBatch
		want string
	}{
		{"count 2^32-1", &RecordBatch{Count: 1<<32 - 1, Streams: good.Streams, Packed: good.Packed}, "cannot hold more than"},
		{"key length 2^64-1", &RecordBatch{Count: 1, Streams: []string{"s"}, Packed: hugeKey}, "truncated"},
		{"data length 2^64-1", &RecordBatch{Count: 1, Streams: []string{"s"}, Packed: hugeData}, "truncated"},
		{"more records than said", &RecordBatch{
			Count: 1, Streams: good.Streams, Packed: append(append([]byte{}, good.Packed...), good.Packed...),
		}, "more records than"},
	} {
		_, err := batchFromWire(tt.b)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v, want %q", tt.name, err, tt.want)
		}
	}
}

// FuzzBatchFromWire feeds the decoder arbitrary batches: it must never
// panic or allocate beyond what the bytes can hold, and what it accepts
// must survive a round trip through the encoder unchanged.
func FuzzBatchFromWire(f *testing.F) {
	good := batchToWire([]contract.Record{
		{Stream: "a", Key: "1", Data: json.RawMessage(`{"x":1}`), SourceTime: time.Unix(1700000000, 5).UTC()},
		{Stream: "b", Key: "2", Op: contract.Delete},
	}, nil)
	f.Add(good.Count, uint8(len(good.Streams)), good.Packed)
	f.Add(uint32(1<<32-1), uint8(1), good.Packed)
	f.Add(uint32(1), uint8(1), []byte{0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0})
	f.Fuzz(func(t *testing.T, count uint32, streams uint8, packed []byte) {
		b := &RecordBatch{Count: count, Packed: packed}
		for i := range int(streams % 8) {
			b.Streams = append(b.Streams, fmt.Sprintf("s%d", i))
		}
		recs, err := batchFromWire(b)
		if err != nil {
			return
		}
		if len(recs) != int(count) {
			t.Fatalf("decoded %d records from a batch saying %d", len(recs), count)
		}
		again, err := batchFromWire(batchToWire(recs, nil))
		if err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
		if len(recs) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(recs, again) {
			t.Fatalf("round trip changed the records:\n in  %+v\n out %+v", recs, again)
		}
	})
}
