package plugintest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// SourceSuite checks a source connector.
type SourceSuite struct {
	// New builds the connector, as its main passes to plugin.ServeSource.
	New func(hclog.Logger) contract.Source
	// Config is a working configuration (the JSON the host decodes from
	// HCL); the kit fills in the spec's defaults, as the host does. Under
	// it, a full read of each stream must checkpoint at least once before
	// its end, so that the kit can resume from there: give the service
	// enough records, or the source a small page or checkpoint interval.
	Config json.RawMessage
	// BadConfig is a configuration Check must reject.
	BadConfig json.RawMessage
	// Credentials returns stored credentials for Config, or nil if the
	// source needs none. It is called once, before the kit starts the
	// connector.
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
	//
	// That read follows as soon as Change returns; nothing waits in
	// between. A source that stays behind the service's clock on purpose
	// (a lag window, so that late commits are not skipped) must be able to
	// see the changes by then: let Change move the test's clock past the
	// window, as the Zoho connector's test does, or give Config no window.
	//
	// Without Change, the checks of reads after a change are skipped, and
	// say so.
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

// Run runs every check as a subtest of t, named for what it proves, in the
// order the package documentation lists them. A check that cannot run (no
// Change hook, a source that reports no deletes, an earlier check it
// builds on did not pass) is skipped with the reason, which go test -v
// prints.
func (s SourceSuite) Run(t *testing.T) {
	var creds json.RawMessage
	if s.Credentials != nil {
		creds = s.Credentials(t)
	}
	leaks := watchGoroutines()
	src, disconnect := connectSource(t, s.New(logger(t)))
	r := &sourceRun{suite: s, src: src, creds: creds}
	r.run(t)
	disconnect()
	t.Run("no goroutine left behind", leaks.check)
}

// sourceRun is one run of a SourceSuite: what its checks learn and hand
// on to the next ones, which run one after the other.
type sourceRun struct {
	suite   SourceSuite
	src     contract.Source // over gRPC
	creds   json.RawMessage // the latest the source handed back
	spec    contract.Spec
	streams []contract.Stream // to read; nil until discover passed
}

func (r *sourceRun) run(t *testing.T) {
	t.Run("spec", r.checkSpec)
	if len(r.spec.Connect) > 0 {
		t.Run("connect", func(t *testing.T) {
			checkConnect(context.Background(), t, r.src, r.spec, r.suite.Config)
		})
	}
	t.Run("check rejects a bad config", r.checkRejects)
	t.Run("discover", r.discover)
	if len(r.streams) == 0 {
		t.Log("the checks of Check and Read did not run: discover did not pass")
		return
	}
	t.Run("check accepts the config", r.checkAccepts)
	for _, st := range r.streams {
		t.Run("read "+st.Name, func(t *testing.T) { r.readStream(t, st) })
	}
	t.Run("a cancelled read returns context.Canceled", func(t *testing.T) {
		r.cancelledRead(t, r.streams[0].Name)
	})
	if r.spec.ChangeSignals != nil {
		t.Run("watch", func(t *testing.T) {
			r.suite.watch(t, r.src, &r.creds, *r.spec.ChangeSignals, r.streams)
		})
	}
}

func (r *sourceRun) checkSpec(t *testing.T) {
	spec, err := r.src.Spec(context.Background())
	if err != nil {
		t.Fatalf("Spec: %v", err)
	}
	checkSpec(t, spec)
	r.spec = spec
	r.suite.Config = withDefaults(spec, r.suite.Config)
	r.suite.BadConfig = withDefaults(spec, r.suite.BadConfig)
}

func (r *sourceRun) checkRejects(t *testing.T) {
	req := contract.CheckRequest{Config: r.suite.BadConfig, Credentials: r.creds}
	_, err := r.src.Check(context.Background(), req)
	if err == nil {
		t.Fatal("Check accepted the bad config")
	}
	if err.Error() == "" {
		t.Fatal("Check failed without saying why")
	}
}

func (r *sourceRun) discover(t *testing.T) {
	req := contract.DiscoverRequest{Config: r.suite.Config, Credentials: r.creds}
	resp, err := r.src.Discover(context.Background(), req)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	if resp.Credentials != nil {
		r.creds = resp.Credentials
	}
	catalog := resp.Catalog
	if len(catalog.Streams) == 0 {
		t.Fatal("catalog has no streams")
	}
	for _, st := range catalog.Streams {
		if st.Name == "" || len(st.PrimaryKey) == 0 || len(st.Modes) == 0 {
			t.Errorf("stream %q needs a name, a primary key and modes: %+v", st.Name, st)
		}
		compileSchema(t, st)
	}
	if t.Failed() {
		return
	}
	r.streams = r.suite.streams(t, catalog)
}

func (r *sourceRun) checkAccepts(t *testing.T) {
	req := contract.CheckRequest{Config: r.suite.Config, Credentials: r.creds, Streams: r.streams}
	resp, err := r.src.Check(context.Background(), req)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if resp.Credentials != nil {
		r.creds = resp.Credentials
	}
}

// generation is the generation of the suite's first full read; later reads
// count up from it.
const generation = 7

// streamChecks are the checks of reading one stream. Each builds on what
// the ones before it found.
type streamChecks struct {
	*sourceRun
	stream contract.Stream
	schema *jsonschema.Schema

	records     []contract.Record // of the full read; nil until it passed
	checkpoints []Checkpoint
	changes     *Changes          // what Change did; nil until it was called
	afterChange []contract.Record // of the read after Change; nil until it passed
}

func (r *sourceRun) readStream(t *testing.T, st contract.Stream) {
	c := &streamChecks{sourceRun: r, stream: st, schema: compileSchema(t, st)}
	t.Run("full read", c.fullRead)
	t.Run("resume from a checkpoint", c.resume)
	t.Run("resume with nothing changed", c.resumeUnchanged)
	t.Run("change", c.change)
	t.Run("delete in an incremental read", c.deleteIncremental)
	t.Run("full read after change", c.fullReadAfterChange)
}

// A read without state emits records of the stream that match its schema,
// checkpoints, and ends with one full-refresh-complete.
func (c *streamChecks) fullRead(t *testing.T) {
	full := c.read(t, contract.ReadStream{Name: c.stream.Name, Generation: generation})
	records, checkpoints := full.Records(), full.Checkpoints()
	c.checkRecords(t, "a full read", records)
	if len(checkpoints) == 0 {
		t.Fatal("a full read emitted no checkpoint")
	}
	fr := full.FullRefreshCompletes()
	if len(fr) != 1 || fr[0].Generation != generation || fr[0].Stream != c.stream.Name {
		t.Fatalf("a read without state must end with one full-refresh-complete of generation %d, got %+v",
			generation, fr)
	}
	c.records, c.checkpoints = records, checkpoints
}

// needFullRead skips t when the full read did not pass, or did not run.
func (c *streamChecks) needFullRead(t *testing.T) {
	t.Helper()
	if c.records == nil {
		t.Skip("this check starts from the records and checkpoints of the full read, which did not pass or did not run")
	}
}

// Resumed from a checkpoint inside the read, the records after it come
// again, and not all of those before it.
func (c *streamChecks) resume(t *testing.T) {
	c.needFullRead(t)
	records := c.records
	if len(records) < 2 {
		t.Fatalf("a full read of stream %s emitted %d records; the kit needs at least 2 to resume between them: "+
			"give the suite's service more data", c.stream.Name, len(records))
	}
	var mids []Checkpoint
	for _, cp := range c.checkpoints {
		if cp.After > 0 && cp.After < len(records) {
			mids = append(mids, cp)
		}
	}
	if len(mids) == 0 {
		t.Fatalf("a full read of stream %s emitted %d records with no checkpoint between its first and its last, "+
			"so resuming in the middle of a read cannot be tested: configure the source so a read of %d records "+
			"checkpoints at least twice: set SourceSuite.Config to a configuration with a smaller checkpoint "+
			"interval or page size (this source's attributes: %s), or give the service more records",
			c.stream.Name, len(records), len(records), attributeNames(c.spec))
	}
	mid := mids[len(mids)/2]
	rs := contract.ReadStream{Name: c.stream.Name, State: mid.State, Generation: generation + 1}
	resumed := c.read(t, rs).Records()
	c.checkRecords(t, "a read resumed from a checkpoint", resumed)
	have := keySet(resumed, contract.Upsert)
	for _, rec := range records[mid.After:] {
		if !have[rec.Key] {
			t.Fatalf("resumed from the checkpoint after %d of %d records (state %s), "+
				"the read skipped record %s that came after it", mid.After, len(records), mid.State, rec.Key)
		}
	}
	again := 0
	for _, rec := range records[:mid.After] {
		if have[rec.Key] {
			again++
		}
	}
	if again == mid.After {
		t.Fatalf("resumed from the checkpoint after %d of %d records (state %s), the read started over: "+
			"it emitted every record before the checkpoint again", mid.After, len(records), mid.State)
	}
}

// lastState is the state of the full read's last checkpoint.
func (c *streamChecks) lastState() json.RawMessage {
	return c.checkpoints[len(c.checkpoints)-1].State
}

// Resumed from the last checkpoint of an unchanged source, a read emits no
// upserts.
func (c *streamChecks) resumeUnchanged(t *testing.T) {
	c.needFullRead(t)
	rs := contract.ReadStream{Name: c.stream.Name, State: c.lastState(), Generation: generation + 2}
	for _, rec := range c.read(t, rs).Records() {
		if rec.Op == contract.Upsert {
			t.Fatalf("resumed from the last checkpoint of an unchanged source, the read emitted record %s again", rec.Key)
		}
	}
}

const skipNoChange = "SourceSuite.Change is not set, so reads after the service changed are not checked"

// After Change, a read from the last checkpoint emits every changed and
// added entry, and fewer records than a full read.
func (c *streamChecks) change(t *testing.T) {
	if c.suite.Change == nil {
		t.Skip(skipNoChange)
	}
	c.needFullRead(t)
	keys := make([]string, len(c.records))
	for i, rec := range c.records {
		keys[i] = rec.Key
	}
	ch := c.suite.Change(t, c.stream.Name, keys)
	c.changes = &ch
	if len(ch.Upserted)+len(ch.Deleted) == 0 {
		t.Fatal("SourceSuite.Change returned no keys; return the keys of the entries it changed, added and deleted")
	}
	rs := contract.ReadStream{Name: c.stream.Name, State: c.lastState(), Generation: generation + 3}
	records := c.read(t, rs).Records()
	c.checkRecords(t, "an incremental read after Change", records)
	c.afterChange = records
	upserts := keySet(records, contract.Upsert)
	for _, k := range ch.Upserted {
		if !upserts[k] {
			t.Errorf("after Change, an incremental read from the last checkpoint (state %s) did not emit record %s, "+
				"which was changed or added", c.lastState(), k)
		}
	}
	if len(upserts) >= len(c.records) && len(ch.Upserted) < len(c.records) {
		t.Errorf("after Change of %d records, an incremental read emitted %d, as many as the full read (%d): "+
			"it should emit what changed, not start over", len(ch.Upserted), len(upserts), len(c.records))
	}
}

// With Deletes, the read after Change carries a delete of every deleted
// entry.
func (c *streamChecks) deleteIncremental(t *testing.T) {
	switch {
	case c.suite.Change == nil:
		t.Skip(skipNoChange)
	case !c.suite.Deletes:
		t.Skip("SourceSuite.Deletes is not set: the source does not report deletions, " +
			"so deleted entries need only be gone from the next full read (full read after change)")
	case c.afterChange == nil:
		t.Skip("this check looks at the read after Change, which did not pass or did not run (change)")
	case len(c.changes.Deleted) == 0:
		t.Skip("SourceSuite.Change deleted nothing")
	}
	deletes := keySet(c.afterChange, contract.Delete)
	for _, k := range c.changes.Deleted {
		if !deletes[k] {
			t.Errorf("after Change, an incremental read from the last checkpoint (state %s) did not emit a delete "+
				"of record %s, which was deleted; the suite says the source reports deletions (SourceSuite.Deletes)",
				c.lastState(), k)
		}
	}
}

// After Change, a new full read holds the changed and added entries and
// none of the deleted ones.
func (c *streamChecks) fullReadAfterChange(t *testing.T) {
	if c.suite.Change == nil {
		t.Skip(skipNoChange)
	}
	if c.changes == nil {
		t.Skip("SourceSuite.Change was not called (change did not get that far or did not run)")
	}
	fresh := c.read(t, contract.ReadStream{Name: c.stream.Name, Generation: generation + 4})
	now := keySet(fresh.Records(), contract.Upsert)
	for _, k := range c.changes.Deleted {
		if now[k] {
			t.Errorf("after Change, a full read still emitted record %s, which was deleted", k)
		}
	}
	for _, k := range c.changes.Upserted {
		if !now[k] {
			t.Errorf("after Change, a full read did not emit record %s, which was changed or added", k)
		}
	}
}

// checkRecords fails t unless every record is of the stream, has a key
// and, when an upsert, data that matches the stream's schema.
func (c *streamChecks) checkRecords(t *testing.T, what string, recs []contract.Record) {
	t.Helper()
	for i, rec := range recs {
		if rec.Stream != c.stream.Name {
			t.Fatalf("%s: record %d is of stream %q, asked for %q", what, i, rec.Stream, c.stream.Name)
		}
		if rec.Key == "" {
			t.Fatalf("%s: record %d has no key", what, i)
		}
		if rec.Op != contract.Upsert {
			continue
		}
		if err := validate(c.schema, rec.Data); err != nil {
			t.Fatalf("%s: record %d (key %s) does not match the discovered schema: %v", what, i, rec.Key, err)
		}
	}
}

// cancelledRead reads a stream with a context that is cancelled at the
// first record, calling the connector directly so that it is the
// connector, not the gRPC client, that must notice.
func (r *sourceRun) cancelledRead(t *testing.T, stream string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelAtFirstRecord{cancel: cancel}
	done := make(chan error, 1)
	src := r.suite.New(logger(t))
	req := contract.ReadRequest{
		Config:      r.suite.Config,
		Credentials: r.creds,
		Streams:     []contract.ReadStream{{Name: stream, Generation: generation}},
	}
	go func() { done <- src.Read(ctx, req, out) }()
	returnsWhenCancelled(t, ctx, done, "Read", "source", func(err error) string {
		return fmt.Sprintf("the read of stream %s ended (%v) before it emitted a record, so it could not be cancelled",
			stream, err)
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

// streams returns the catalog's streams the suite reads, failing t for a
// name the catalog lacks.
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
func (r *sourceRun) read(t *testing.T, rs contract.ReadStream) *Recorder {
	t.Helper()
	rec := &Recorder{}
	req := contract.ReadRequest{Config: r.suite.Config, Credentials: r.creds, Streams: []contract.ReadStream{rs}}
	if err := r.src.Read(context.Background(), req, rec); err != nil {
		t.Fatalf("Read %s: %v", rs.Name, err)
	}
	if c := rec.Credentials(); c != nil {
		r.creds = c
	}
	return rec
}
