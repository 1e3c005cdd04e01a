package jsonl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// wholeLines is an Input that, each time the destination asks for the next
// message, checks that the file holds whole lines only: a crash at that
// moment must not leave a torn line.
type wholeLines struct {
	feed
	t    *testing.T
	path string
}

func (w *wholeLines) Next(ctx context.Context) (contract.Message, error) {
	b, err := os.ReadFile(w.path)
	if err != nil {
		w.t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		w.t.Fatalf("before message %d the file ends in a torn line: …%q", w.next, b[max(len(b)-40, 0):])
	}
	return w.feed.Next(ctx)
}

func TestWritesWholeLinesOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	var msgs []contract.Message
	for b := range 6 {
		var rs []contract.Record
		// 1,000 records of some 300 bytes pass the write buffer in the
		// middle of a line; one record is larger than the buffer.
		for i := range 1000 {
			rs = append(
				rs,
				contract.Record{
					Stream: "s",
					Key:    fmt.Sprint(b*1000 + i),
					Data:   json.RawMessage(`{"pad":"` + strings.Repeat("x", 270+b) + `"}`),
				},
			)
		}
		if b == 3 {
			rs = append(
				rs,
				contract.Record{
					Stream: "s",
					Key:    "big",
					Data:   json.RawMessage(`{"pad":"` + strings.Repeat("y", bufferSize+100) + `"}`),
				},
			)
		}
		msgs = append(msgs, contract.Message{Records: rs})
	}
	in := &wholeLines{feed: feed{msgs: msgs}, t: t, path: path}
	if err := New(nil).Write(context.Background(), contract.WriteRequest{Config: cfgFor(path, false)}, in); err != nil {
		t.Fatal(err)
	}
	if n := len(readLines(t, path)); n != 6001 {
		t.Fatalf("%d lines, want 6001", n)
	}
}

func TestOpenRemovesATornLastLine(t *testing.T) {
	good := `{"stream":"s","key":"1","op":"upsert","data":{}}` + "\n"
	for _, tt := range []struct {
		name, before string
		keep         int // lines kept of before
	}{
		{"torn after whole lines", good + good + `{"stream":"s","ke`, 2},
		{"only a torn line", `{"stream":"s","key":"2","op":"ups`, 0},
		{"torn line longer than a read",
			good + `{"stream":"s","key":"3","op":"upsert","data":{"pad":"` + strings.Repeat("z", 200<<10), 1},
		{"whole lines", good + good, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.jsonl")
			if err := os.WriteFile(path, []byte(tt.before), 0o644); err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			d := New(hclog.New(&hclog.LoggerOptions{Output: &log}))
			in := &feed{
				msgs: []contract.Message{{Records: []contract.Record{{Stream: "s", Key: "new", Data: json.RawMessage(`{}`)}}}},
			}
			if err := d.Write(context.Background(), contract.WriteRequest{Config: cfgFor(path, true)}, in); err != nil {
				t.Fatal(err)
			}
			lines := readLines(t, path)
			if len(lines) != tt.keep+1 || lines[len(lines)-1].Key != "new" {
				t.Fatalf("%d lines after the write, want %d kept and the new one", len(lines), tt.keep)
			}
			torn := !strings.HasSuffix(tt.before, "\n")
			if said := strings.Contains(log.String(), "removed a torn last line"); said != torn {
				t.Fatalf("torn %v, log: %s", torn, log.String())
			}
		})
	}
}

// FuzzAppendRecord checks the line built for any record: one line that
// parses back to the same stream, key, operation, time and data.
func FuzzAppendRecord(f *testing.F) {
	f.Add("items", "42", []byte(`{"id":42}`), false, int64(1767225600000000000))
	f.Add("s \"q\"", "new\nline\r\n\\", []byte("{\n \"a\": [1,\r\n2],\"s\":\"x\\ny\"}"), false, int64(0))
	f.Add("\u2028", "ctl\x00\x1f\x7f", []byte(`{}`), true, int64(-1))
	f.Add("bad\xff", "\xe6\x97", []byte(`{"é":"日本"}`), false, int64(5))
	f.Fuzz(func(t *testing.T, stream, key string, data []byte, del bool, nanos int64) {
		r := contract.Record{Stream: stream, Key: key, Data: data}
		if del {
			r.Op = contract.Delete
		}
		if nanos != 0 {
			r.SourceTime = time.Unix(0, nanos).UTC()
		}
		var w writer
		b := w.appendRecord(nil, &r)
		if bytes.IndexByte(b, '\n') != len(b)-1 {
			t.Fatalf("the record is not one line: %q", b)
		}
		var got map[string]json.RawMessage
		err := json.Unmarshal(b, &got)
		if r.Op == contract.Upsert && !isObject(data) {
			// The contract makes data a JSON object; jsonl copies it as given.
			return
		}
		if err != nil {
			t.Fatalf("line %q is not JSON: %v", b, err)
		}
		var s, k, op string
		for field, dst := range map[string]*string{"stream": &s, "key": &k, "op": &op} {
			if err := json.Unmarshal(got[field], dst); err != nil {
				t.Fatalf("line %q: %s is not a string: %v", b, field, err)
			}
		}
		if s != asJSON(stream) || k != asJSON(key) || op != r.Op.String() {
			t.Fatalf("line %q reads back stream %q key %q op %q", b, s, k, op)
		}
		if ts, ok := got["source_time"]; ok != (nanos != 0) {
			t.Fatalf("source_time %s for time %d", ts, nanos)
		} else if ok {
			var when time.Time
			if err := json.Unmarshal(ts, &when); err != nil || !when.Equal(r.SourceTime) {
				t.Fatalf("source_time %s reads back as %v (%v), want %v", ts, when, err, r.SourceTime)
			}
		}
		if r.Op == contract.Upsert && !sameJSON(got["data"], data) {
			t.Fatalf("data %s reads back as %s", data, got["data"])
		}
	})
}

// asJSON is s as it reads back from JSON: invalid UTF-8 becomes U+FFFD.
func asJSON(s string) string {
	b, _ := json.Marshal(s)
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err) // a string marshalled by encoding/json reads back
	}
	return out
}

func isObject(b []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && m != nil
}

func sameJSON(a, b []byte) bool {
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	return da.Decode(&x) == nil && db.Decode(&y) == nil && reflect.DeepEqual(x, y)
}
