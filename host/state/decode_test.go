package state

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeStored feeds any bytes to the decoders of stored values: none
// may panic, and whatever one accepts must survive encoding and decoding
// again unchanged.
func FuzzDecodeStored(f *testing.F) {
	f.Add([]byte(`{"state":{"next":12345},"generation":3,"full_refresh":3}`))
	f.Add([]byte(`{"id":2,"pipeline":"p","started":"2026-01-02T03:04:05Z","read":1,"written":1,"outcome":"succeeded","counters":{"a":1},"resumed":["c"]}`))
	f.Add([]byte(`{"refresh_token":"r","access_token":"a"}`))
	f.Add([]byte(`{"state":null}`))
	f.Add([]byte(`{"id":3,"pipeline":"p","outcome":"failed","logs":[{"plugin":"source","lines":["[ERROR] x"]}]}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		if st, err := decodeStream(v); err == nil {
			again, err := json.Marshal(st)
			if err != nil {
				t.Fatalf("accepted stream state does not encode: %v", err)
			}
			st2, err := decodeStream(again)
			if err != nil {
				t.Fatalf("re-encoded stream state %s does not decode: %v", again, err)
			}
			if st2.Generation != st.Generation || st2.FullRefresh != st.FullRefresh || !sameJSON(st2.State, st.State) {
				t.Fatalf("stream state changed through encoding: %+v then %+v", st, st2)
			}
		}
		if r, err := decodeRun(v); err == nil {
			again, err := json.Marshal(r)
			if err != nil {
				t.Fatalf("accepted run does not encode: %v", err)
			}
			r2, err := decodeRun(again)
			if err != nil {
				t.Fatalf("re-encoded run %s does not decode: %v", again, err)
			}
			if !reflect.DeepEqual(normRun(r), normRun(r2)) {
				t.Fatalf("run changed through encoding: %+v then %+v", r, r2)
			}
		}
		// The newest run of LastRuns is the run without its lines.
		full, ferr := decodeRun(v)
		head, herr := decodeRunWithoutLogs(v)
		full.Logs = nil
		if (ferr == nil) != (herr == nil) || (ferr == nil && !reflect.DeepEqual(normRun(full), normRun(head))) {
			t.Fatalf("decodeRun gives %+v (%v), without its lines %+v (%v)", full, ferr, head, herr)
		}
		_, _ = decodeRunBrief(v)
		if c, err := decodeCredentials(v); err == nil {
			if !json.Valid(c) || !bytes.Equal(c, v) {
				t.Fatalf("credentials %q decoded to %q", v, c)
			}
		}
	})
}

func sameJSON(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// normRun drops what JSON cannot tell apart: an empty map or list from
// none, and time zones of the same instant.
func normRun(r Run) Run {
	if len(r.Counters) == 0 {
		r.Counters = nil
	}
	if len(r.Resumed) == 0 {
		r.Resumed = nil
	}
	if len(r.Logs) == 0 {
		r.Logs = nil
	}
	r.Started, r.Ended = r.Started.UTC(), r.Ended.UTC()
	return r
}
