package csvcontacts

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/schemas"
)

// recorder is an Output keeping what the source sent, in order.
type recorder struct {
	records     []contract.Record
	checkpoints []json.RawMessage
	full        []contract.FullRefreshComplete
	counters    map[string]int64
	log         []string // "record KEY", "checkpoint", "full"
}

func (r *recorder) Emit(_ context.Context, rec contract.Record) error {
	r.records = append(r.records, rec)
	r.log = append(r.log, "record "+rec.Key)
	return nil
}

func (r *recorder) Checkpoint(_ context.Context, _ string, state json.RawMessage) error {
	r.checkpoints = append(r.checkpoints, append(json.RawMessage(nil), state...))
	r.log = append(r.log, "checkpoint")
	return nil
}

func (r *recorder) FullRefreshComplete(_ context.Context, stream string, gen uint64) error {
	r.full = append(r.full, contract.FullRefreshComplete{Stream: stream, Generation: gen})
	r.log = append(r.log, "full")
	return nil
}

func (r *recorder) UpdateCredentials(context.Context, contract.Credentials) error { return nil }

func (r *recorder) Count(_ context.Context, name string, delta int64) error {
	if r.counters == nil {
		r.counters = map[string]int64{}
	}
	r.counters[name] += delta
	return nil
}

func (r *recorder) contacts(t *testing.T) map[string]schemas.Contact {
	t.Helper()
	out := map[string]schemas.Contact{}
	for _, rec := range r.records {
		var c schemas.Contact
		if err := json.Unmarshal(rec.Data, &c); err != nil {
			t.Fatalf("record %s: %v", rec.Key, err)
		}
		out[rec.Key] = c
	}
	return out
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "contacts.csv")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func configFor(path string, extra string) json.RawMessage {
	b, _ := json.Marshal(path)
	return json.RawMessage(`{"path": ` + string(b) + extra + `}`)
}

func read(t *testing.T, cfg json.RawMessage, state json.RawMessage) *recorder {
	t.Helper()
	rec := &recorder{}
	if err := New(hclog.NewNullLogger()).Read(context.Background(), readRequest(cfg, state), rec); err != nil {
		t.Fatalf("Read: %v", err)
	}
	return rec
}

// readRequest asks for the contacts stream from state, in generation 3.
func readRequest(cfg, state json.RawMessage) contract.ReadRequest {
	streams := []contract.ReadStream{{Name: "contacts", State: state, Generation: 3}}
	return contract.ReadRequest{Config: cfg, Streams: streams}
}

// awkward holds the rows a hand-kept or exported file has: a BOM, headers
// in another case and order, quoted fields with commas and line breaks,
// empty lines, short rows, extra cells, a bad date, a row without id, a
// number without country, a duplicate id and spaces around cells.
const awkward = "\uFEFFID,Updated_At,First_Name,Last_Name,Company,Phone,Country,Email,Notes\r\n" +
	"1,2026-05-01T10:00:00Z,Ada,Lovelace,\"Analytical Engines, Ltd.\",020 123 4567,,ada@example.com,\"two\nlines\"\r\n" +
	"\r\n" +
	"2,2026-05-01T10:00:00+02:00,Alan,Turing,,030 1234567,DE,,\n" +
	"3,2026-05-01T09:00:00Z,Grace\n" +
	"4,yesterday,Bad,Date,,+31 20 123 4567,,,\n" +
	",2026-05-01T10:00:00Z,No,Id,,,,,\n" +
	"5,2026-05-02T10:00:00Z,,,Widgets Inc,030 1234567,,,\n" +
	"6,2026-05-02T11:00:00Z,Emil,Uncountried,,0612345678,Atlantis,,\n" +
	"1, 2026-05-03T10:00:00Z ,Ada,King,,+44 20 7946 0958,,ada@example.com second@example.com,extra,cells\n" +
	"7,2026-05-02T10:00:00Z,Bad,Number,,12,NL,,\n"

func TestReadHandlesAwkwardRows(t *testing.T) {
	path := writeFile(t, awkward)
	rec := read(t, configFor(path, `, "default_region": "NL"`), nil)
	got := rec.contacts(t)

	var keys []string
	for _, r := range rec.records {
		keys = append(keys, r.Key)
	}
	// (updated_at, id) order; 2 is 08:00Z; 1 is its last row, of May 3.
	// Counters describe the file's rows, the replaced one included.
	if want := []string{"2", "3", "5", "7", "6", "1"}; !slices.Equal(keys, want) {
		t.Fatalf("emitted %v, want %v", keys, want)
	}
	checks := []struct {
		id, display, company, number, raw string
		emails                            []string
	}{
		{"1", "Ada King", "", "+442079460958", "+44 20 7946 0958", []string{"ada@example.com", "second@example.com"}},
		{"2", "Alan Turing", "", "+49301234567", "030 1234567", nil},
		{"3", "Grace", "", "", "", nil},
		{"5", "Widgets Inc", "Widgets Inc", "+31301234567", "030 1234567", nil},
		{"6", "Emil Uncountried", "", "", "0612345678", nil},
		{"7", "Bad Number", "", "", "12", nil},
	}
	for _, w := range checks {
		c := got[w.id]
		if c.DisplayName != w.display || c.Company != w.company || !slices.Equal(c.Emails, w.emails) ||
			c.Kind != schemas.KindContact {
			t.Errorf("contact %s: %+v", w.id, c)
		}
		if w.raw == "" {
			if len(c.Phones) != 0 {
				t.Errorf("contact %s: phones %+v, want none", w.id, c.Phones)
			}
			continue
		}
		if len(c.Phones) != 1 || c.Phones[0].Number != w.number || c.Phones[0].Raw != w.raw {
			t.Errorf("contact %s: phones %+v, want %s read from %q", w.id, c.Phones, w.number, w.raw)
		}
	}
	if at := got["2"].UpdatedAt.Format("15:04Z07:00"); at != "08:00Z" {
		t.Errorf("updated_at of 2 is %s, want it in UTC", at)
	}
	want := map[string]int64{
		"rows_left_out": 2, "duplicate_ids": 1,
		"phones_ok": 4, "phones_unknown_country": 1, "phones_too_short": 1,
	}
	for name, n := range want {
		if rec.counters[name] != n {
			t.Errorf("counter %s = %d, want %d (all: %v)", name, rec.counters[name], n, rec.counters)
		}
	}
	if len(rec.counters) != len(want) {
		t.Errorf("counters %v, want %v", rec.counters, want)
	}
	// Emitted data is a valid canonical contact, ending a full refresh.
	end := rec.log[len(rec.log)-2:]
	if len(rec.full) != 1 || rec.full[0].Generation != 3 || !slices.Equal(end, []string{"full", "checkpoint"}) {
		t.Errorf("a full read must end with full-refresh-complete, then a checkpoint: %v", rec.log)
	}
}

func TestIncrementalReadsOnlyChanges(t *testing.T) {
	path := writeFile(t, "id,updated_at,first_name,phone\n"+
		"1,2026-05-01T10:00:00Z,A,+31201234567\n"+
		"2,2026-05-01T10:00:00Z,B,+31201234568\n"+
		"3,2026-05-01T11:00:00Z,C,+31201234569\n")
	cfg := configFor(path, `, "checkpoint_every": 2`)
	first := read(t, cfg, nil)
	want := []string{"record 1", "record 2", "checkpoint", "record 3", "full", "checkpoint"}
	if !slices.Equal(first.log, want) {
		t.Fatalf("full read %v, want %v", first.log, want)
	}
	// Resuming from the checkpoint inside the full refresh finishes it.
	mid := read(t, cfg, first.checkpoints[0])
	if want := []string{"record 3", "full", "checkpoint"}; !slices.Equal(mid.log, want) {
		t.Fatalf("resumed full refresh %v, want %v", mid.log, want)
	}
	last := first.checkpoints[len(first.checkpoints)-1]
	if again := read(t, cfg, last); len(again.records) != 0 || len(again.full) != 0 {
		t.Fatalf("an unchanged file read again: %v", again.log)
	}
	// A row changed at the same second as the cursor but with a later id,
	// a changed row and a new one are read; the others are not, nor is 5,
	// new but dated before the cursor (change updated_at with a row).
	if err := os.WriteFile(path, []byte("id,updated_at,first_name,phone\n"+
		"5,2026-05-01T09:00:00Z,E,+31201234561\n"+
		"1,2026-05-01T12:00:00Z,A2,+31201234567\n"+
		"2,2026-05-01T10:00:00Z,B,+31201234568\n"+
		"3,2026-05-01T11:00:00Z,C,+31201234569\n"+
		"4,2026-05-01T11:00:00Z,D,+31201234560\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inc := read(t, cfg, last)
	// A checkpoint every two contacts read, not every two of the file,
	// then the last one.
	if want := []string{"record 4", "record 1", "checkpoint", "checkpoint"}; !slices.Equal(inc.log, want) {
		t.Fatalf("incremental read %v, want %v", inc.log, want)
	}
	if c := inc.contacts(t)["1"]; c.FirstName != "A2" {
		t.Errorf("changed contact read as %+v", c)
	}
}

func TestConfigAndFileErrors(t *testing.T) {
	dir := t.TempDir()
	noID := writeFile(t, "name,updated_at\nx,2026-05-01T10:00:00Z\n")
	for _, c := range []struct {
		cfg  json.RawMessage
		want string
	}{
		{json.RawMessage(`{}`), "path is required"},
		{configFor(filepath.Join(dir, "missing.csv"), ""), "opening the contacts file: open "},
		{configFor(writeFile(t, ""), ""), "is empty: its first row must name the columns"},
		{configFor(noID, ""), "has no id column: its first row must name the columns"},
		{configFor(noID, `, "default_region": "Holland"`), `default_region "Holland" is not a region`},
		{configFor(noID, `, "checkpoint_every": -1`), "checkpoint_every"},
	} {
		_, err := New(hclog.NewNullLogger()).Check(context.Background(), contract.CheckRequest{Config: c.cfg})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Check(%s) = %v, want an error with %q", c.cfg, err, c.want)
		}
	}
	req := readRequest(configFor(writeFile(t, "id,updated_at\n"), ""), json.RawMessage(`[1]`))
	err := New(hclog.NewNullLogger()).Read(context.Background(), req, &recorder{})
	if err == nil || !strings.Contains(err.Error(), "reset the stream") {
		t.Errorf("Read with a foreign state: %v", err)
	}
}

// A read the host stops returns its context's error and emits no more.
func TestReadStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := &recorder{}
	err := New(hclog.NewNullLogger()).Read(ctx, readRequest(configFor(writeFile(t, awkward), ""), nil), rec)
	if !errors.Is(err, context.Canceled) || len(rec.records) != 0 || len(rec.checkpoints) != 0 {
		t.Errorf("Read = %v after emitting %v", err, rec.log)
	}
}

// display_name follows the canonical contact's rule: a whole name as
// written, else first and last name, else the company, else the first
// email. A whole name is not split into first and last name.
func TestDisplayName(t *testing.T) {
	path := writeFile(t, "id,updated_at,name,first_name,last_name,company,email\n"+
		"1,2026-05-01T10:00:00Z,Maria de la Cruz,,,,\n"+
		"2,2026-05-01T10:00:00Z,Nguyễn Văn An,An,Nguyễn,,\n"+
		"3,2026-05-01T10:00:00Z,,Ada,,Analytical Engines,\n"+
		"4,2026-05-01T10:00:00Z,,,,Analytical Engines,ada@example.com\n"+
		"5,2026-05-01T10:00:00Z,,,,,ada@example.com second@example.com\n")
	got := read(t, configFor(path, ""), nil).contacts(t)
	for _, w := range []struct{ id, display, first, last string }{
		{"1", "Maria de la Cruz", "", ""},
		{"2", "Nguyễn Văn An", "An", "Nguyễn"},
		{"3", "Ada", "Ada", ""},
		{"4", "Analytical Engines", "", ""},
		{"5", "ada@example.com", "", ""},
	} {
		c := got[w.id]
		if c.DisplayName != w.display || c.FirstName != w.first || c.LastName != w.last {
			t.Errorf("contact %s: display %q, first %q, last %q; want %q, %q, %q",
				w.id, c.DisplayName, c.FirstName, c.LastName, w.display, w.first, w.last)
		}
	}
}

// failingOutput refuses the records after the first few.
type failingOutput struct {
	recorder
	accept int
}

var errRefused = errors.New("refused")

func (o *failingOutput) Emit(ctx context.Context, r contract.Record) error {
	if len(o.records) == o.accept {
		return errRefused
	}
	return o.recorder.Emit(ctx, r)
}

// A read stops at the first error of its Output and returns it: nothing is
// emitted or checkpointed after it.
func TestReadStopsAtAnOutputError(t *testing.T) {
	out := &failingOutput{accept: 2}
	req := readRequest(configFor(writeFile(t, awkward), ""), nil)
	err := New(hclog.NewNullLogger()).Read(context.Background(), req, out)
	if !errors.Is(err, errRefused) {
		t.Fatalf("Read = %v, want the Output's error", err)
	}
	if want := []string{"record 2", "record 3"}; !slices.Equal(out.log, want) {
		t.Errorf("sent %v, want %v and nothing after the error", out.log, want)
	}
}
