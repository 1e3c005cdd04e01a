package wirev1

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// batchToWire packs records into one message (the layout is described in
// replicator.proto), appending to scratch[:0]. The message holds a copy of
// the records, so rs may be reused at once; scratch may be reused once the
// message is sent.
func batchToWire(rs []contract.Record, scratch []byte) *RecordBatch {
	b := &RecordBatch{Count: uint32(len(rs)), Packed: scratch[:0]}
	last := -1
	for i := range rs {
		r := &rs[i]
		// Batches rarely mix streams: look up the last one first.
		if last < 0 || b.Streams[last] != r.Stream {
			last = indexOf(b.Streams, r.Stream)
			if last < 0 {
				b.Streams = append(b.Streams, r.Stream)
				last = len(b.Streams) - 1
			}
		}
		p := binary.AppendUvarint(b.Packed, uint64(last))
		p = binary.AppendUvarint(p, uint64(len(r.Key)))
		p = append(p, r.Key...)
		p = append(p, byte(r.Op))
		var t int64
		if !r.SourceTime.IsZero() {
			t = r.SourceTime.UnixNano()
		}
		p = binary.AppendVarint(p, t)
		p = binary.AppendUvarint(p, uint64(len(r.Data)))
		b.Packed = append(p, r.Data...)
	}
	return b
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

var errTruncated = errors.New("record batch is truncated")

// minRecordBytes is the smallest a packed record can be: a stream index, a
// key length, an operation, a source time and a data length, one byte each.
const minRecordBytes = 5

// batchFromWire unpacks a batch. The records' keys and data share the
// message's buffer, which the receiver owns and nothing writes to again.
//
// The batch comes from another process, so every count and length it
// claims is checked against the bytes actually present before anything
// is allocated or sliced.
func batchFromWire(b *RecordBatch) ([]contract.Record, error) {
	p, streams := b.GetPacked(), b.GetStreams()
	count := uint64(b.GetCount())
	if count > uint64(len(p)/minRecordBytes) {
		return nil, fmt.Errorf("record batch says it holds %d records, but its %d bytes cannot hold more than %d",
			count, len(p), len(p)/minRecordBytes)
	}
	out := make([]contract.Record, 0, count)
	for len(p) > 0 {
		if uint64(len(out)) == count {
			return nil, fmt.Errorf("record batch holds more records than the %d it says", count)
		}
		var r contract.Record
		idx, n := binary.Uvarint(p)
		if n <= 0 || idx >= uint64(len(streams)) {
			return nil, fmt.Errorf("record %d has a bad stream index", len(out))
		}
		r.Stream, p = streams[idx], p[n:]
		klen, n := binary.Uvarint(p)
		// The key must leave room for the operation byte after it.
		if n <= 0 || klen >= uint64(len(p)-n) {
			return nil, errTruncated
		}
		if klen > 0 {
			r.Key = unsafe.String(&p[n], int(klen))
		}
		p = p[n+int(klen):]
		switch p[0] {
		case 0:
			r.Op = contract.Upsert
		case 1:
			r.Op = contract.Delete
		default:
			return nil, fmt.Errorf("record %d has unknown operation %d", len(out), p[0])
		}
		p = p[1:]
		t, n := binary.Varint(p)
		if n <= 0 {
			return nil, errTruncated
		}
		if t != 0 {
			r.SourceTime = time.Unix(0, t).UTC()
		}
		p = p[n:]
		dlen, n := binary.Uvarint(p)
		if n <= 0 || dlen > uint64(len(p)-n) {
			return nil, errTruncated
		}
		if dlen > 0 {
			r.Data = p[n : n+int(dlen) : n+int(dlen)]
		}
		p = p[n+int(dlen):]
		out = append(out, r)
	}
	if uint64(len(out)) != count {
		return nil, fmt.Errorf("record batch holds %d records, says %d", len(out), count)
	}
	return out, nil
}
