package generator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// event is one call a source made on its Output.
type event struct {
	kind   string // "record", "checkpoint", "frc", "count", "credentials"
	record contract.Record
	stream string
	state  string
	gen    uint64
}

// recorder is an Output that keeps every call in order.
type recorder struct {
	events []event
	// onEmit, when set, runs after each record is kept.
	onEmit func(n int)
	n      int
}

func (r *recorder) Emit(_ context.Context, rec contract.Record) error {
	r.events = append(r.events, event{kind: "record", record: rec, stream: rec.Stream})
	r.n++
	if r.onEmit != nil {
		r.onEmit(r.n)
	}
	return nil
}

func (r *recorder) Checkpoint(_ context.Context, stream string, state json.RawMessage) error {
	r.events = append(r.events, event{kind: "checkpoint", stream: stream, state: string(state)})
	return nil
}

func (r *recorder) FullRefreshComplete(_ context.Context, stream string, gen uint64) error {
	r.events = append(r.events, event{kind: "frc", stream: stream, gen: gen})
	return nil
}

func (r *recorder) UpdateCredentials(context.Context, contract.Credentials) error {
	r.events = append(r.events, event{kind: "credentials"})
	return nil
}

func (r *recorder) Count(context.Context, string, int64) error {
	r.events = append(r.events, event{kind: "count"})
	return nil
}

// records returns the records of stream, in order.
func (r *recorder) records(stream string) []contract.Record {
	var out []contract.Record
	for _, e := range r.events {
		if e.kind == "record" && e.stream == stream {
			out = append(out, e.record)
		}
	}
	return out
}

// controls describes the non-record events of stream, in order, such as
// "checkpoint {"next":10}" and "frc 7".
func (r *recorder) controls(stream string) []string {
	var out []string
	for _, e := range r.events {
		if e.stream != stream {
			continue
		}
		switch e.kind {
		case "checkpoint":
			out = append(out, "checkpoint "+e.state)
		case "frc":
			out = append(out, fmt.Sprintf("frc %d", e.gen))
		}
	}
	return out
}

func cfg(s string) json.RawMessage { return json.RawMessage(s) }

func read(t *testing.T, src *Source, config string, streams ...contract.ReadStream) *recorder {
	t.Helper()
	out := &recorder{}
	err := src.Read(context.Background(), contract.ReadRequest{Config: cfg(config), Streams: streams}, out)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return out
}

func TestReadFreshAndResume(t *testing.T) {
	const config = `{"count":25,"checkpoint_every":10,"streams":["a","b"],"record_size":120}`
	src := New(nil)
	fresh := read(t, src, config,
		contract.ReadStream{Name: "a", Generation: 7},
		contract.ReadStream{Name: "b", Generation: 8})

	for stream, gen := range map[string]uint64{"a": 7, "b": 8} {
		recs := fresh.records(stream)
		if len(recs) != 25 {
			t.Fatalf("stream %s: %d records, want 25", stream, len(recs))
		}
		for i, r := range recs {
			if r.Key != strconv.Itoa(i) || r.Op != contract.Upsert || r.Stream != stream {
				t.Errorf("stream %s record %d: key %q op %v stream %q", stream, i, r.Key, r.Op, r.Stream)
			}
		}
		want := []string{
			`checkpoint {"next":10,"full_refresh":true}`, `checkpoint {"next":20,"full_refresh":true}`,
			fmt.Sprintf("frc %d", gen), `checkpoint {"next":25}`,
		}
		if got := fresh.controls(stream); !reflect.DeepEqual(got, want) {
			t.Errorf("stream %s controls %q, want %q", stream, got, want)
		}
	}
	// Each checkpoint follows exactly the records before its position.
	seen := 0
	for _, e := range fresh.events {
		switch e.kind {
		case "record":
			if e.stream == "a" {
				seen++
			}
		case "checkpoint":
			var p position
			if err := json.Unmarshal([]byte(e.state), &p); err != nil {
				t.Fatalf("checkpoint state %q: %v", e.state, err)
			}
			if e.stream == "a" && (p.Next == nil || *p.Next != int64(seen)) {
				t.Errorf("checkpoint %s after %d records of a", e.state, seen)
			}
		}
	}

	// The same read again gives the same bytes; streams differ.
	again := read(t, src, config, contract.ReadStream{Name: "a", Generation: 7})
	a1, a2, b1 := fresh.records("a"), again.records("a"), fresh.records("b")
	for i := range a1 {
		if !bytes.Equal(a1[i].Data, a2[i].Data) {
			t.Fatalf("record %d differs between reads:\n%s\n%s", i, a1[i].Data, a2[i].Data)
		}
		if bytes.Equal(a1[i].Data, b1[i].Data) {
			t.Errorf("record %d is the same in streams a and b", i)
		}
	}

	// Resuming at 10 gives records 10.. with the same data, and no full
	// refresh complete after an incremental checkpoint.
	resumed := read(t, src, config, contract.ReadStream{Name: "a", State: cfg(`{"next":10}`), Generation: 9})
	recs := resumed.records("a")
	if len(recs) != 15 || recs[0].Key != "10" {
		t.Fatalf("resumed: %d records starting at %q, want 15 starting at 10", len(recs), recs[0].Key)
	}
	for i, r := range recs {
		if !bytes.Equal(r.Data, a1[10+i].Data) {
			t.Errorf("resumed record %s differs from the fresh read", r.Key)
		}
	}
	if got, want := resumed.controls("a"), []string{
		`checkpoint {"next":20}`, `checkpoint {"next":25}`,
	}; !reflect.DeepEqual(
		got,
		want,
	) {
		t.Errorf("resumed controls %q, want %q", got, want)
	}
}

func TestCheckpointPositions(t *testing.T) {
	tests := []struct {
		name   string
		config string
		state  string
		want   []string
	}{
		{"multiple of checkpoint_every", `{"count":20,"checkpoint_every":10}`, "",
			[]string{`checkpoint {"next":10,"full_refresh":true}`, "frc 1", `checkpoint {"next":20}`}},
		{"empty stream", `{"count":0}`, "",
			[]string{"frc 1", `checkpoint {"next":0}`}},
		{"every record", `{"count":3,"checkpoint_every":1}`, "",
			[]string{
				`checkpoint {"next":1,"full_refresh":true}`, `checkpoint {"next":2,"full_refresh":true}`, "frc 1",
				`checkpoint {"next":3}`,
			}},
		{"resume mid-way between checkpoints", `{"count":30,"checkpoint_every":10}`, `{"next":15}`,
			[]string{`checkpoint {"next":20}`, `checkpoint {"next":30}`}},
		{"resume a full refresh", `{"count":30,"checkpoint_every":10}`, `{"next":10,"full_refresh":true}`,
			[]string{`checkpoint {"next":20,"full_refresh":true}`, "frc 1", `checkpoint {"next":30}`}},
		{"resume a full refresh at its end", `{"count":30,"checkpoint_every":10}`, `{"next":30,"full_refresh":true}`,
			[]string{"frc 1", `checkpoint {"next":30}`}},
		{"resume at the end", `{"count":30,"checkpoint_every":10}`, `{"next":30}`,
			[]string{`checkpoint {"next":30}`}},
		{"resume beyond a smaller count", `{"count":5}`, `{"next":8}`,
			[]string{`checkpoint {"next":8}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := contract.ReadStream{Name: "items", Generation: 1}
			if tt.state != "" {
				rs.State = cfg(tt.state)
			}
			out := read(t, New(nil), tt.config, rs)
			if got := out.controls("items"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("controls %q, want %q", got, tt.want)
			}
		})
	}
}

func compileSchema(t *testing.T, schema json.RawMessage) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("stream.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("stream.json")
	if err != nil {
		t.Fatalf("discovered schema does not compile: %v", err)
	}
	return s
}

func TestDiscoverAndDataMatchSchema(t *testing.T) {
	src := New(nil)
	resp, err := src.Discover(context.Background(),
		contract.DiscoverRequest{Config: cfg(`{"streams":["contacts","weird \"name\"\n✓"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Catalog.Streams) != 2 {
		t.Fatalf("catalog %+v, want 2 streams", resp.Catalog)
	}
	for _, st := range resp.Catalog.Streams {
		if !reflect.DeepEqual(st.PrimaryKey, []string{"id"}) || !reflect.DeepEqual(st.CursorField, []string{"id"}) ||
			!reflect.DeepEqual(st.Modes, []contract.SyncMode{contract.FullRefresh, contract.Incremental}) {
			t.Errorf("stream %+v", st)
		}
		schema := compileSchema(t, st.Schema)
		for _, size := range []int{40, 300, 5000} {
			out := read(t, src, fmt.Sprintf(`{"count":300,"record_size":%d,"streams":["contacts","weird \"name\"\n✓"]}`, size),
				contract.ReadStream{Name: st.Name})
			recs := out.records(st.Name)
			if len(recs) != 300 {
				t.Fatalf("%d records, want 300", len(recs))
			}
			for _, r := range recs {
				v, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.Data))
				if err != nil {
					t.Fatalf("record %s is not JSON: %v\n%s", r.Key, err, r.Data)
				}
				if err := schema.Validate(v); err != nil {
					t.Fatalf("record %s does not match the schema: %v\n%s", r.Key, err, r.Data)
				}
				var d struct {
					ID   int64  `json:"id"`
					Name string `json:"name"`
				}
				if err := json.Unmarshal(r.Data, &d); err != nil {
					t.Fatalf("record %s: %v", r.Key, err)
				}
				if strconv.FormatInt(d.ID, 10) != r.Key || d.Name != st.Name+" #"+r.Key {
					t.Errorf("record %s has id %d and name %q", r.Key, d.ID, d.Name)
				}
				// Fixed fields take about 80 bytes plus the stream name; above
				// that, records are exactly record_size.
				if size > 200 && len(r.Data) != size {
					t.Errorf("record %s is %d bytes, want %d", r.Key, len(r.Data), size)
				}
				if size == 40 && !strings.Contains(string(r.Data), `"payload":""`) {
					t.Errorf("record %s has a payload although record_size is below the fixed fields: %s", r.Key, r.Data)
				}
			}
		}
	}
}

func TestCheckRejects(t *testing.T) {
	tests := []struct {
		config string
		want   string
	}{
		{`{"count":-1}`, "count must be at least 0"},
		{`{"record_size":39}`, "record_size must be at least 40"},
		{`{"checkpoint_every":0}`, "checkpoint_every must be at least 1"},
		{`{"count":1.5}`, "count takes a whole number"},
		{`{"count":1e16}`, "count must be at most 2^53"},
		{`{"colour":"blue"}`, `unknown attribute "colour"`},
		{`{"fail_after":-2}`, "fail_after must be at least 0"},
		{`{"delay_ms":-1}`, "delay_ms must be at least 0"},
		{`{"streams":[]}`, "streams must name at least one stream"},
		{`{"streams":["a","a"]}`, `streams lists "a" twice`},
		{`{"streams":[""]}`, "streams[0] is empty"},
		{`{"count":"many"}`, "count"},
	}
	src := New(nil)
	for _, tt := range tests {
		_, err := src.Check(context.Background(), contract.CheckRequest{Config: cfg(tt.config)})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Check(%s) = %v, want an error containing %q", tt.config, err, tt.want)
		}
	}
	_, err := src.Check(context.Background(),
		contract.CheckRequest{Config: cfg(`{"streams":["a"]}`), Streams: []contract.Stream{{Name: "b"}}})
	if err == nil || !strings.Contains(err.Error(), `stream "b" is not offered`) {
		t.Errorf("Check with an unknown stream: %v", err)
	}
	resp, err := src.Check(context.Background(),
		contract.CheckRequest{Config: cfg(`{"count":1e6}`), Streams: []contract.Stream{{Name: "items"}}})
	if err != nil || !strings.Contains(resp.Message, "1000000") {
		t.Errorf("Check of a good config: %+v, %v", resp, err)
	}
}

func TestSpecDefaultsAreTheDefaults(t *testing.T) {
	spec, err := New(nil).Spec(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if spec.Name != "generator" || spec.Version != "1.0.0" {
		t.Errorf("spec %s %s", spec.Name, spec.Version)
	}
	// A config spelling out every default reads the same as an empty one.
	m := map[string]json.RawMessage{}
	for _, a := range spec.Config {
		m[a.Name] = a.Default
	}
	full, _ := json.Marshal(m)
	c1, err1 := parseConfig(full)
	c2, err2 := parseConfig(nil)
	if err1 != nil || err2 != nil || !reflect.DeepEqual(c1, c2) {
		t.Errorf("defaults from spec %+v (%v) differ from built-in %+v (%v)", c1, err1, c2, err2)
	}
	if c2.Count != 1000 || c2.RecordSize != 300 || c2.CheckpointEvery != 10000 ||
		!reflect.DeepEqual(c2.Streams, []string{"items"}) {
		t.Errorf("built-in defaults %+v", c2)
	}
}

func TestReadRejectsBadRequests(t *testing.T) {
	tests := []struct {
		stream contract.ReadStream
		want   string
	}{
		{contract.ReadStream{Name: "nope"}, `stream "nope" is not offered`},
		{contract.ReadStream{Name: "items", State: cfg(`{"page":3}`)}, "is not a generator checkpoint"},
		{contract.ReadStream{Name: "items", State: cfg(`{"next":-3}`)}, "is not a generator checkpoint"},
		{contract.ReadStream{Name: "items", State: cfg(`[1]`)}, "is not a generator checkpoint"},
	}
	for _, tt := range tests {
		out := &recorder{}
		err := New(nil).Read(context.Background(), contract.ReadRequest{Streams: []contract.ReadStream{tt.stream}}, out)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Read(%+v) = %v, want %q", tt.stream, err, tt.want)
		}
		if len(out.events) != 0 {
			t.Errorf("Read(%+v) emitted %d events before failing", tt.stream, len(out.events))
		}
	}
}

func TestReadHonoursCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &recorder{onEmit: func(n int) {
		if n == 100 {
			cancel()
		}
	}}
	req := contract.ReadRequest{Config: cfg(`{"count":1000000}`), Streams: []contract.ReadStream{{Name: "items"}}}
	err := New(nil).Read(ctx, req, out)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after cancel = %v, want context.Canceled", err)
	}
	if out.n > 100+ctxEvery {
		t.Errorf("%d records emitted after cancel at 100", out.n)
	}
}

func TestDelayHonoursCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// With a cancelled context and an hour's delay, the read must end at
	// the first checkpoint instead of sleeping.
	items := []contract.ReadStream{{Name: "items"}}
	req := contract.ReadRequest{Config: cfg(`{"count":0,"delay_ms":3600000}`), Streams: items}
	err := New(nil).Read(ctx, req, &recorder{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Read = %v, want context.Canceled", err)
	}
}

func TestFailAfterExits(t *testing.T) {
	src := New(nil)
	var code int
	src.exit = func(c int) { code = c }
	out := &recorder{}
	err := src.Read(context.Background(), contract.ReadRequest{
		Config:  cfg(`{"count":10,"fail_after":15,"streams":["a","b"]}`),
		Streams: []contract.ReadStream{{Name: "a"}, {Name: "b"}},
	}, out)
	if code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	if err == nil || out.n != 15 {
		t.Errorf("Read = %v after %d records, want an error after 15", err, out.n)
	}
}

func TestLogsWhereStreamsStart(t *testing.T) {
	var buf bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Info})
	read(t, New(log), `{"count":3,"streams":["a","b"]}`,
		contract.ReadStream{Name: "a", State: cfg(`{"next":2}`)},
		contract.ReadStream{Name: "b", Generation: 4})
	logs := buf.String()
	for _, want := range []string{"resuming at 2: stream=a", "starting full refresh: stream=b"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// discard is an Output that drops everything, for the benchmark.
type discard struct{ n int }

func (d *discard) Emit(context.Context, contract.Record) error { d.n++; return nil }
func (d *discard) Checkpoint(context.Context, string, json.RawMessage) error {
	return nil
}
func (d *discard) FullRefreshComplete(context.Context, string, uint64) error { return nil }
func (d *discard) UpdateCredentials(context.Context, contract.Credentials) error {
	return nil
}
func (d *discard) Count(context.Context, string, int64) error { return nil }

// BenchmarkRead measures one record of 300 bytes per op.
func BenchmarkRead(b *testing.B) {
	src := New(nil)
	out := &discard{}
	req := contract.ReadRequest{
		Config:  cfg(fmt.Sprintf(`{"count":%d,"record_size":300}`, b.N)),
		Streams: []contract.ReadStream{{Name: "items", Generation: 1}},
	}
	b.ReportAllocs()
	b.SetBytes(300)
	b.ResetTimer()
	if err := src.Read(context.Background(), req, out); err != nil {
		b.Fatal(err)
	}
	if out.n != b.N {
		b.Fatalf("%d records, want %d", out.n, b.N)
	}
}
