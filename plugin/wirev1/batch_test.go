package wirev1

import (
	"encoding/json"
	"reflect"
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
