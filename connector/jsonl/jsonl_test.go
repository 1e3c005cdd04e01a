package jsonl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// feed is an Input serving a fixed list of messages.
type feed struct {
	msgs  []contract.Message
	next  int
	acked []uint64
	// onAck, when set, runs before an acknowledgement is recorded.
	onAck func(id uint64) error
}

func (f *feed) Next(ctx context.Context) (contract.Message, error) {
	if err := ctx.Err(); err != nil {
		return contract.Message{}, err
	}
	if f.next == len(f.msgs) {
		return contract.Message{}, io.EOF
	}
	f.next++
	return f.msgs[f.next-1], nil
}

func (f *feed) Ack(_ context.Context, id uint64) error {
	if f.onAck != nil {
		if err := f.onAck(id); err != nil {
			return err
		}
	}
	f.acked = append(f.acked, id)
	return nil
}

func (f *feed) Count(context.Context, string, int64) error { return nil }

func cfgFor(path string, fsync bool) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"path": path, "fsync": fsync})
	return b
}

// line is a parsed output line.
type line struct {
	Stream     string          `json:"stream"`
	Key        string          `json:"key"`
	Op         string          `json:"op"`
	Generation *uint64         `json:"generation"`
	SourceTime *time.Time      `json:"source_time"`
	Data       json.RawMessage `json:"data"`
	FRC        *struct {
		Generation uint64 `json:"generation"`
	} `json:"full_refresh_complete"`
}

// readLines parses every line of path, failing on any that is not JSON.
func readLines(t *testing.T, path string) []line {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []line
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l line
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("line %d is not a valid line: %v\n%s", len(out)+1, err, sc.Bytes())
		}
		out = append(out, l)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("file does not end with a newline")
	}
	return out
}

func TestWriteLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	when := time.Date(2026, 2, 3, 4, 5, 6, 789000000, time.UTC)
	keys := []string{
		"plain", `with "quotes"`, "new\nline\r\n", `back\slash`, "tab\there", "ctl\x00\x01\x1f\x7f",
		"unicode é ü 日本 🎉", "\u2028\u2029", "</script>&", "",
	}
	var recs []contract.Record
	for i, k := range keys {
		recs = append(recs,
			contract.Record{Stream: "s-" + k, Key: k, Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), SourceTime: when})
	}
	in := &feed{msgs: []contract.Message{
		{Records: recs},
		{Records: []contract.Record{
			{Stream: "c", Key: "gone", Op: contract.Delete},
			{Stream: "c", Key: "pretty", Data: json.RawMessage("{\n  \"a\": [1,\r\n 2],\n  \"s\": \"x\\ny\"\n}")},
		}},
		{Checkpoint: &contract.Checkpoint{ID: 1, Stream: "c", State: json.RawMessage(`{}`)}},
		{FullRefreshComplete: &contract.FullRefreshComplete{ID: 2, Stream: "c \"q\"", Generation: 42}},
	}}
	req := contract.WriteRequest{
		Config:  cfgFor(path, true),
		Streams: []contract.WriteStream{{Stream: contract.Stream{Name: "c"}, Generation: 42}},
	}
	if err := New(nil).Write(context.Background(), req, in); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in.acked, []uint64{1, 2}) {
		t.Errorf("acked %v, want [1 2]", in.acked)
	}
	lines := readLines(t, path)
	if len(lines) != len(keys)+3 {
		t.Fatalf("%d lines, want %d", len(lines), len(keys)+3)
	}
	for i, k := range keys {
		l := lines[i]
		if l.Key != k || l.Stream != "s-"+k || l.Op != "upsert" {
			t.Errorf("line %d: stream %q key %q op %q, want stream %q key %q upsert", i, l.Stream, l.Key, l.Op, "s-"+k, k)
		}
		if l.SourceTime == nil || !l.SourceTime.Equal(when) {
			t.Errorf("line %d: source_time %v, want %v", i, l.SourceTime, when)
		}
		if string(l.Data) != fmt.Sprintf(`{"i":%d}`, i) {
			t.Errorf("line %d: data %s", i, l.Data)
		}
	}
	del, pretty, frc := lines[len(keys)], lines[len(keys)+1], lines[len(keys)+2]
	if del.Op != "delete" || del.Key != "gone" || del.Data != nil || del.SourceTime != nil || del.Generation == nil ||
		*del.Generation != 42 {
		t.Errorf("delete line %+v", del)
	}
	var p struct {
		A []int
		S string
	}
	if err := json.Unmarshal(pretty.Data, &p); err != nil || !reflect.DeepEqual(p.A, []int{1, 2}) || p.S != "x\ny" {
		t.Errorf("multi-line data came out as %s (%v)", pretty.Data, err)
	}
	if pretty.Generation == nil || *pretty.Generation != 42 {
		t.Errorf("a record of stream c, written in generation 42, has generation %v", pretty.Generation)
	}
	if frc.FRC == nil || frc.FRC.Generation != 42 || frc.Stream != "c \"q\"" || frc.Key != "" || frc.Op != "" {
		t.Errorf("full refresh complete line %+v", frc)
	}

	// A second write appends.
	in2 := &feed{
		msgs: []contract.Message{{Records: []contract.Record{{Stream: "c", Key: "more", Data: json.RawMessage(`{}`)}}}},
	}
	if err := New(nil).Write(context.Background(), contract.WriteRequest{Config: cfgFor(path, false)}, in2); err != nil {
		t.Fatal(err)
	}
	if lines := readLines(t, path); len(lines) != len(keys)+4 || lines[len(lines)-1].Key != "more" {
		t.Errorf("after a second write: %d lines", len(lines))
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm()&0o022 != 0 || fi.Mode().Perm()&0o600 != 0o600 {
		t.Errorf("file mode %v", fi.Mode().Perm())
	}
}

func TestAppendStringMatchesJSON(t *testing.T) {
	// Every single byte, every rune class and broken UTF-8 must decode
	// back to what encoding/json makes of the same string.
	var inputs []string
	for c := range 256 {
		inputs = append(inputs, string([]byte{'a', byte(c), 'z'}))
	}
	inputs = append(inputs, "é", "日本語", "🎉x", "\xe6\x97", "\xff\xfe", "a\u2028b", strings.Repeat(`"\`, 50))
	for _, s := range inputs {
		b := appendString(nil, s)
		if !utf8.Valid(b) {
			t.Errorf("%q encodes to invalid UTF-8 %q", s, b)
		}
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("%q encodes to invalid JSON %s: %v", s, b, err)
			continue
		}
		want, _ := json.Marshal(s)
		var wantS string
		if err := json.Unmarshal(want, &wantS); err != nil {
			t.Fatal(err)
		}
		if got != wantS {
			t.Errorf("%q round-trips to %q, want %q", s, got, wantS)
		}
		if utf8.ValidString(s) && got != s {
			t.Errorf("valid %q round-trips to %q", s, got)
		}
	}
}

func TestAckAfterDataIsInFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	batch := func(from, n int) contract.Message {
		var rs []contract.Record
		for i := from; i < from+n; i++ {
			rs = append(
				rs,
				contract.Record{
					Stream: "s",
					Key:    fmt.Sprint(i),
					Data:   json.RawMessage(`{"pad":"` + strings.Repeat("x", 200) + `"}`),
				},
			)
		}
		return contract.Message{Records: rs}
	}
	in := &feed{msgs: []contract.Message{
		batch(0, 10),
		{Checkpoint: &contract.Checkpoint{ID: 1, Stream: "s"}},
		// Enough to pass the write buffer several times over.
		batch(10, 3000),
		{Checkpoint: &contract.Checkpoint{ID: 2, Stream: "s"}},
		batch(3010, 5),
		{FullRefreshComplete: &contract.FullRefreshComplete{ID: 3, Stream: "s", Generation: 1}},
		batch(3015, 7), // written at the end with no checkpoint after it
	}}
	want := map[uint64]int{1: 10, 2: 3010, 3: 3016} // lines in the file at each ack
	in.onAck = func(id uint64) error {
		if got := len(readLines(t, path)); got != want[id] {
			return fmt.Errorf("ack %d with %d lines in the file, want %d", id, got, want[id])
		}
		return nil
	}
	for _, fsync := range []bool{true, false} {
		os.Remove(path)
		in.next, in.acked = 0, nil
		if err := New(nil).Write(context.Background(), contract.WriteRequest{Config: cfgFor(path, fsync)}, in); err != nil {
			t.Fatalf("fsync %v: %v", fsync, err)
		}
		if !reflect.DeepEqual(in.acked, []uint64{1, 2, 3}) {
			t.Errorf("fsync %v: acked %v", fsync, in.acked)
		}
		if got := len(readLines(t, path)); got != 3023 {
			t.Errorf("fsync %v: %d lines at the end, want 3023", fsync, got)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		cfg  json.RawMessage
		msgs []contract.Message
		want string
	}{
		{"no path", context.Background(), json.RawMessage(`{}`), nil, "path is required"},
		{"empty path", context.Background(), json.RawMessage(`{"path":""}`), nil, "path is empty"},
		{"fsync not a bool", context.Background(), json.RawMessage(`{"path":"x","fsync":"yes"}`), nil,
			"fsync takes true or false"},
		{"missing folder", context.Background(), cfgFor(filepath.Join(dir, "nope", "out.jsonl"), true), nil,
			"opening output file"},
		{"upsert without data", context.Background(), cfgFor(filepath.Join(dir, "a.jsonl"), true),
			[]contract.Message{
				{Records: []contract.Record{{Stream: "s", Key: "k"}}},
			}, `record "k" of stream "s" is an upsert without data`},
		{"cancelled", ctx, cfgFor(filepath.Join(dir, "b.jsonl"), true), nil, "context canceled"},
	}
	for _, tt := range tests {
		err := New(nil).Write(tt.ctx, contract.WriteRequest{Config: tt.cfg}, &feed{msgs: tt.msgs})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Write = %v, want %q", tt.name, err, tt.want)
		}
	}
	// A failed Ack stops the write with that error.
	boom := errors.New("host went away")
	in := &feed{
		msgs:  []contract.Message{{Checkpoint: &contract.Checkpoint{ID: 1}}},
		onAck: func(uint64) error { return boom },
	}
	if err := New(nil).Write(
		context.Background(), contract.WriteRequest{Config: cfgFor(filepath.Join(dir, "c.jsonl"), false)}, in,
	); !errors.Is(
		err,
		boom,
	) {
		t.Errorf("Write after a failed ack = %v", err)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want string // "" for success
	}{
		{"writable folder", filepath.Join(dir, "out.jsonl"), ""},
		{"missing folder", filepath.Join(dir, "missing", "out.jsonl"),
			"folder " + filepath.Join(dir, "missing") + " does not exist"},
		{"path is a folder", dir, "is a folder"},
		{"parent is a file", filepath.Join(file, "out.jsonl"), file + " is not a folder"},
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		tests = append(
			tests,
			struct{ name, path, want string }{
				"read-only folder",
				filepath.Join(ro, "out.jsonl"),
				"folder " + ro + " is not writable",
			},
		)
	}
	for _, tt := range tests {
		resp, err := New(nil).Check(context.Background(), contract.CheckRequest{Config: cfgFor(tt.path, true)})
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: Check = %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: Check = %v, want %q", tt.name, err, tt.want)
		case tt.want == "" && !strings.Contains(resp.Message, tt.path):
			t.Errorf("%s: message %q does not name the file", tt.name, resp.Message)
		}
	}
	// The check leaves nothing behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".jsonl-check") {
			t.Errorf("check left %s behind", e.Name())
		}
	}
}

func TestSpec(t *testing.T) {
	spec, err := New(nil).Spec(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	path, _ := spec.Attribute("path")
	fsync, _ := spec.Attribute("fsync")
	if spec.Name != "jsonl" || spec.Version != "1.0.0" || !path.Required || path.Type != contract.TypeString ||
		fsync.Type != contract.TypeBool || string(fsync.Default) != "true" {
		t.Errorf("spec %+v", spec)
	}
	c, err := parseConfig(json.RawMessage(`{"path":"x"}`))
	if err != nil || !c.Fsync {
		t.Errorf("fsync defaults to %v (%v), want true", c.Fsync, err)
	}
}

// bench is an Input that serves n records in batches of one reused batch,
// with a checkpoint after every ten batches.
type bench struct {
	batch      []contract.Record
	left, sent int
	ckpt       contract.Checkpoint
}

func (b *bench) Next(context.Context) (contract.Message, error) {
	if b.left == 0 {
		return contract.Message{}, io.EOF
	}
	b.sent++
	if b.sent%11 == 0 {
		b.ckpt.ID++
		return contract.Message{Checkpoint: &b.ckpt}, nil
	}
	n := min(b.left, len(b.batch))
	b.left -= n
	return contract.Message{Records: b.batch[:n]}, nil
}

func (b *bench) Ack(context.Context, uint64) error          { return nil }
func (b *bench) Count(context.Context, string, int64) error { return nil }

// BenchmarkWrite measures one record with 300 bytes of data per op,
// without fsync. "file" writes a real file, so it includes the kernel's
// cost of taking the bytes; "discard" writes to the null device, leaving
// mostly the line building.
func BenchmarkWrite(b *testing.B) {
	data := json.RawMessage(
		`{"id":123456,"name":"items #123456","payload":"` + strings.Repeat("x",
			224) + `","updated_at":"2026-01-02T10:17:36Z"}`,
	)
	batch := make([]contract.Record, 1000)
	for i := range batch {
		batch[i] = contract.Record{
			Stream:     "items",
			Key:        fmt.Sprint(123000 + i),
			Data:       data,
			SourceTime: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		}
	}
	run := func(b *testing.B, path string) {
		in := &bench{batch: batch, left: b.N}
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		b.ResetTimer()
		if err := New(nil).Write(context.Background(), contract.WriteRequest{Config: cfgFor(path, false)}, in); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("file", func(b *testing.B) { run(b, filepath.Join(b.TempDir(), "out.jsonl")) })
	b.Run("discard", func(b *testing.B) {
		if _, err := os.Stat(os.DevNull); err != nil {
			b.Skip("no null device")
		}
		run(b, os.DevNull)
	})
}
