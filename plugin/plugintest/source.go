package plugintest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// SourceSuite checks a source connector.
type SourceSuite struct {
	// New builds the connector, as its main passes to plugin.ServeSource.
	New func(hclog.Logger) contract.Source
	// Config is a working configuration (the JSON the host decodes from
	// HCL); the kit fills in the spec's defaults, as the host does. Under it, a full read of each stream must checkpoint at least
	// once before its end, so that the kit can resume from there: give the
	// service enough records, or the source a small page or checkpoint
	// interval.
	Config json.RawMessage
	// BadConfig is a configuration Check must reject.
	BadConfig json.RawMessage
	// Credentials returns stored credentials for Config, or nil if the
	// source needs none. It is called once.
	Credentials func(t *testing.T) json.RawMessage
	// Streams to read; nil reads every discovered stream.
	Streams []string
	// Change, when set, changes the service's data of a stream between
	// reads, to test incremental reads: it changes or adds some entries,
	// deletes some, and returns their keys. keys are those of the records
	// a full read of the stream emitted, in order, to pick entries from.
	// After the full read, the kit calls it once and then reads from the
	// last checkpoint: every changed or added entry must come again as an
	// upsert, and a full read must no longer hold the deleted ones.
	Change func(t *testing.T, stream string, keys []string) Changes
	// Deletes says that the source reports deleted entries: an incremental
	// read after Change must carry a delete for each deleted key. Without
	// it, deleted entries only have to be gone from the next full read.
	Deletes bool
	// WatchConfig is, for a source whose spec has ChangeSignals, a
	// configuration under which Watch subscribes (Config when nil). The
	// kit offers a channel per stream, with callback URLs on a loopback
	// server of its own, and checks that Watch subscribes some of them,
	// that a second Watch renews the same channels, and that Unwatch ends
	// them, twice without an error.
	WatchConfig json.RawMessage
	// Signal, when set, changes the service's data of stream while it is
	// watched, so that the service calls back; the kit then waits for a
	// callback on the stream's channel and verifies it as the host does
	// (ChangeSignals.Verify).
	Signal func(t *testing.T, stream string)
}

// Changes lists the keys of the entries a SourceSuite's Change hook
// changed in the service.
type Changes struct {
	Upserted []string // changed or added
	Deleted  []string
}

// Run runs every check as a subtest of t.
func (s SourceSuite) Run(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	src := ConnectSource(t, s.New(logger(t)))
	var creds json.RawMessage
	if s.Credentials != nil {
		creds = s.Credentials(t)
	}

	var spec contract.Spec
	t.Run("spec", func(t *testing.T) {
		var err error
		spec, err = src.Spec(ctx)
		if err != nil {
			t.Fatalf("Spec: %v", err)
		}
		checkSpec(t, spec)
		s.Config, s.BadConfig = withDefaults(spec, s.Config), withDefaults(spec, s.BadConfig)
	})

	if len(spec.Connect) > 0 {
		t.Run("connect", func(t *testing.T) {
			checkConnect(ctx, t, src, spec, s.Config)
		})
	}

	t.Run("check rejects a bad config", func(t *testing.T) {
		_, err := src.Check(ctx, contract.CheckRequest{Config: s.BadConfig, Credentials: creds})
		if err == nil {
			t.Fatal("Check accepted the bad config")
		}
		if err.Error() == "" {
			t.Fatal("Check failed without saying why")
		}
	})

	var catalog contract.Catalog
	t.Run("discover", func(t *testing.T) {
		resp, err := src.Discover(ctx, contract.DiscoverRequest{Config: s.Config, Credentials: creds})
		if err != nil {
			t.Fatalf("Discover: %v", err)
		}
		if resp.Credentials != nil {
			creds = resp.Credentials
		}
		catalog = resp.Catalog
		if len(catalog.Streams) == 0 {
			t.Fatal("catalog has no streams")
		}
		for _, st := range catalog.Streams {
			if st.Name == "" || len(st.PrimaryKey) == 0 || len(st.Modes) == 0 {
				t.Errorf("stream %q needs a name, a primary key and modes: %+v", st.Name, st)
			}
			compileSchema(t, st)
		}
	})
	if t.Failed() {
		return
	}
	streams := s.streams(t, catalog)

	t.Run("check accepts the config", func(t *testing.T) {
		resp, err := src.Check(ctx, contract.CheckRequest{Config: s.Config, Credentials: creds, Streams: streams})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if resp.Credentials != nil {
			creds = resp.Credentials
		}
	})

	for _, st := range streams {
		t.Run("read "+st.Name, func(t *testing.T) {
			s.readStream(t, src, &creds, st, spec)
		})
	}

	t.Run("a cancelled read returns context.Canceled", func(t *testing.T) {
		s.cancelledRead(t, creds, streams[0].Name)
	})

	if spec.ChangeSignals != nil {
		t.Run("watch", func(t *testing.T) {
			s.watch(t, src, &creds, *spec.ChangeSignals, streams)
		})
	}
}

// generation is the generation of the suite's first full read; later reads
// count up from it.
const generation = 7

func (s SourceSuite) readStream(t *testing.T, src contract.Source, creds *json.RawMessage, st contract.Stream, spec contract.Spec) {
	sch := compileSchema(t, st)
	checkRecords := func(what string, recs []contract.Record) {
		t.Helper()
		for i, r := range recs {
			if r.Stream != st.Name {
				t.Fatalf("%s: record %d is of stream %q, asked for %q", what, i, r.Stream, st.Name)
			}
			if r.Key == "" {
				t.Fatalf("%s: record %d has no key", what, i)
			}
			if r.Op == contract.Upsert {
				if err := validate(sch, r.Data); err != nil {
					t.Fatalf("%s: record %d (key %s) does not match the discovered schema: %v", what, i, r.Key, err)
				}
			}
		}
	}

	full := s.read(t, src, creds, contract.ReadStream{Name: st.Name, Generation: generation})
	records, checkpoints := full.Records(), full.Checkpoints()
	checkRecords("a full read", records)
	if len(checkpoints) == 0 {
		t.Fatal("a full read emitted no checkpoint")
	}
	if fr := full.FullRefreshCompletes(); len(fr) != 1 || fr[0].Generation != generation || fr[0].Stream != st.Name {
		t.Fatalf("a read without state must end with one full-refresh-complete of generation %d, got %+v", generation, fr)
	}

	// Resume from a checkpoint inside the read: the records after it come
	// again, and not all of those before it.
	var mids []Checkpoint
	for _, c := range checkpoints {
		if c.After > 0 && c.After < len(records) {
			mids = append(mids, c)
		}
	}
	if len(records) < 2 {
		t.Fatalf("a full read of stream %s emitted %d records; the kit needs at least 2 to resume between them: give the suite's service more data", st.Name, len(records))
	}
	if len(mids) == 0 {
		t.Fatalf("a full read of stream %s emitted %d records with no checkpoint between its first and its last, so resuming in the middle of a read cannot be tested: "+
			"configure the source so a read of %d records checkpoints at least twice: set SourceSuite.Config to a configuration with a smaller checkpoint interval or page size "+
			"(this source's attributes: %s), or give the service more records", st.Name, len(records), len(records), attributeNames(spec))
	}
	mid := mids[len(mids)/2]
	resumed := s.read(t, src, creds, contract.ReadStream{Name: st.Name, State: mid.State, Generation: generation + 1})
	checkRecords("a read resumed from a checkpoint", resumed.Records())
	have := keySet(resumed.Records(), contract.Upsert)
	for _, r := range records[mid.After:] {
		if !have[r.Key] {
			t.Fatalf("resumed from the checkpoint after %d of %d records (state %s), the read skipped record %s that came after it", mid.After, len(records), mid.State, r.Key)
		}
	}
	again := 0
	for _, r := range records[:mid.After] {
		if have[r.Key] {
			again++
		}
	}
	if again == mid.After {
		t.Fatalf("resumed from the checkpoint after %d of %d records (state %s), the read started over: it emitted every record before the checkpoint again", mid.After, len(records), mid.State)
	}

	last := checkpoints[len(checkpoints)-1]
	unchanged := s.read(t, src, creds, contract.ReadStream{Name: st.Name, State: last.State, Generation: generation + 2})
	for _, r := range unchanged.Records() {
		if r.Op == contract.Upsert {
			t.Fatalf("resumed from the last checkpoint of an unchanged source, the read emitted record %s again", r.Key)
		}
	}
	if s.Change == nil {
		return
	}

	keys := make([]string, len(records))
	for i, r := range records {
		keys[i] = r.Key
	}
	ch := s.Change(t, st.Name, keys)
	if len(ch.Upserted)+len(ch.Deleted) == 0 {
		t.Fatal("SourceSuite.Change returned no keys; return the keys of the entries it changed, added and deleted")
	}
	incr := s.read(t, src, creds, contract.ReadStream{Name: st.Name, State: last.State, Generation: generation + 3})
	incrRecords := incr.Records()
	checkRecords("an incremental read after Change", incrRecords)
	upserts, deletes := keySet(incrRecords, contract.Upsert), keySet(incrRecords, contract.Delete)
	for _, k := range ch.Upserted {
		if !upserts[k] {
			t.Errorf("after Change, an incremental read from the last checkpoint (state %s) did not emit record %s, which was changed or added", last.State, k)
		}
	}
	if s.Deletes {
		for _, k := range ch.Deleted {
			if !deletes[k] {
				t.Errorf("after Change, an incremental read from the last checkpoint (state %s) did not emit a delete of record %s, which was deleted; the suite says the source reports deletions (SourceSuite.Deletes)", last.State, k)
			}
		}
	}
	if len(upserts) >= len(records) && len(ch.Upserted) < len(records) {
		t.Errorf("after Change of %d records, an incremental read emitted %d, as many as the full read (%d): it should emit what changed, not start over", len(ch.Upserted), len(upserts), len(records))
	}
	if len(ch.Deleted) > 0 {
		fresh := s.read(t, src, creds, contract.ReadStream{Name: st.Name, Generation: generation + 4})
		now := keySet(fresh.Records(), contract.Upsert)
		for _, k := range ch.Deleted {
			if now[k] {
				t.Errorf("after Change, a full read still emitted record %s, which was deleted", k)
			}
		}
		for _, k := range ch.Upserted {
			if !now[k] {
				t.Errorf("after Change, a full read did not emit record %s, which was changed or added", k)
			}
		}
	}
}

// cancelledRead reads a stream with a context that is cancelled at the
// first record, calling the connector directly so that it is the
// connector, not the gRPC client, that must notice.
func (s SourceSuite) cancelledRead(t *testing.T, creds json.RawMessage, stream string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelAtFirstRecord{cancel: cancel}
	done := make(chan error, 1)
	src := s.New(logger(t))
	go func() {
		done <- src.Read(ctx, contract.ReadRequest{Config: s.Config, Credentials: creds, Streams: []contract.ReadStream{{Name: stream, Generation: generation}}}, out)
	}()
	returnsWhenCancelled(t, ctx, done, "Read", "source", func(err error) string {
		return fmt.Sprintf("the read of stream %s ended (%v) before it emitted a record, so it could not be cancelled", stream, err)
	})
}

// cancelAtFirstRecord is an Output that cancels the read at its first
// record and then, as the host's Output does, refuses everything with the
// context's error.
type cancelAtFirstRecord struct {
	Recorder
	cancel context.CancelFunc
}

func (o *cancelAtFirstRecord) Emit(ctx context.Context, r contract.Record) error {
	o.cancel()
	return ctx.Err()
}

func (o *cancelAtFirstRecord) Checkpoint(ctx context.Context, stream string, state json.RawMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return o.Recorder.Checkpoint(ctx, stream, state)
}

func (o *cancelAtFirstRecord) FullRefreshComplete(ctx context.Context, stream string, gen uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return o.Recorder.FullRefreshComplete(ctx, stream, gen)
}

func (o *cancelAtFirstRecord) UpdateCredentials(ctx context.Context, c contract.Credentials) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return o.Recorder.UpdateCredentials(ctx, c)
}

func (o *cancelAtFirstRecord) Count(ctx context.Context, name string, delta int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return o.Recorder.Count(ctx, name, delta)
}

func keySet(recs []contract.Record, op contract.Op) map[string]bool {
	keys := map[string]bool{}
	for _, r := range recs {
		if r.Op == op {
			keys[r.Key] = true
		}
	}
	return keys
}

func attributeNames(spec contract.Spec) string {
	if len(spec.Config) == 0 {
		return "none"
	}
	names := make([]string, len(spec.Config))
	for i, a := range spec.Config {
		names[i] = a.Name
	}
	return strings.Join(names, ", ")
}

func (s SourceSuite) streams(t *testing.T, cat contract.Catalog) []contract.Stream {
	if s.Streams == nil {
		return cat.Streams
	}
	var out []contract.Stream
	for _, name := range s.Streams {
		st, ok := cat.Stream(name)
		if !ok {
			t.Fatalf("the catalog has no stream %q", name)
		}
		out = append(out, st)
	}
	return out
}

// read reads one stream over gRPC and keeps any credentials it updated.
func (s SourceSuite) read(t *testing.T, src contract.Source, creds *json.RawMessage, rs contract.ReadStream) *Recorder {
	t.Helper()
	rec := &Recorder{}
	err := src.Read(context.Background(), contract.ReadRequest{Config: s.Config, Credentials: *creds, Streams: []contract.ReadStream{rs}}, rec)
	if err != nil {
		t.Fatalf("Read %s: %v", rs.Name, err)
	}
	if c := rec.Credentials(); c != nil {
		*creds = c
	}
	return rec
}
