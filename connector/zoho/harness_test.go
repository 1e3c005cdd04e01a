package zoho

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
	"github.com/replicatorhq/replicator/internal/logbuf"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// allScopes is what a full grant holds.
var allScopes = []string{
	"ZohoCRM.modules.contacts.READ", "ZohoCRM.modules.accounts.READ", "ZohoCRM.bulk.READ",
	"ZohoCRM.coql.READ", "ZohoCRM.settings.fields.READ", "ZohoCRM.org.READ",
}

// clock is a settable clock shared by the simulator and the source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is a simulated org on loopback and a source pointed at it.
type harness struct {
	t     *testing.T
	sim   *zohosim.Server
	url   string
	clock *clock
	src   *Source
	cfg   map[string]any
	creds json.RawMessage
}

func testTuning() tuning {
	t := defaultTuning()
	// Timeouts stay the defaults: a large Bulk Read download
	// (TestFullSyncMethodByCount's 15,000 contacts) takes seconds on a
	// loaded machine, and no test but the one that sets its own waits for
	// a timeout.
	t.retryBase = time.Millisecond
	t.retryMax = 20 * time.Millisecond
	t.retryElapsed = 10 * time.Second
	t.pollBase = 2 * time.Millisecond
	t.pollMax = 10 * time.Millisecond
	t.mintWait = 0
	// Most tests exercise Bulk Read on small orgs; TestFullSyncMethodByCount
	// checks the choice by record count.
	t.bulkFrom = 1
	return t
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "zoho", Level: hclog.Info, Output: testWriter{t}})
}

// warnings sends src's log to a buffer and returns a function that lists
// the warnings logged so far.
func warnings(src *Source) func() []string {
	var logs logbuf.Buffer
	src.log = hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: &logs})
	return func() []string {
		var out []string
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "[WARN]") {
				out = append(out, line)
			}
		}
		return out
	}
}

func newHarness(t *testing.T, opts zohosim.Options) *harness {
	t.Helper()
	return newHarnessWith(t, opts, nil)
}

// newHarnessWith puts wrap, when not nil, in front of the simulator.
func newHarnessWith(t *testing.T, opts zohosim.Options, wrap func(http.Handler) http.Handler) *harness {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	opts.Now = clk.Now
	if opts.BulkStepDelay == 0 {
		opts.BulkStepDelay = 2 * time.Millisecond
	}
	sim, err := zohosim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	handler := sim.Handler()
	if wrap != nil {
		handler = wrap(handler)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	h := &harness{
		t: t, sim: sim, url: srv.URL, clock: clk,
		cfg: map[string]any{
			"domain":         sim.DC(),
			"client_id":      sim.ClientID(),
			"client_secret":  sim.ClientSecret(),
			"accounts_url":   srv.URL + "/accounts/{dc}",
			"api_url":        srv.URL,
			"default_region": "NL",
		},
	}
	h.src = newSource(h)
	return h
}

// newSource returns a source on the harness's clock, as a new plugin
// process of a run would be.
func newSource(h *harness) *Source {
	src := New(testLogger(h.t))
	src.now = h.clock.Now
	src.tune = testTuning()
	return src
}

// config returns the configuration with changes applied; a nil value
// removes an attribute.
func (h *harness) config(changes map[string]any) json.RawMessage {
	c := maps.Clone(h.cfg)
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

// authorize runs Authorize with a fresh grant code for scopes and keeps
// the credentials.
func (h *harness) authorize(scopes ...string) contract.AuthorizeResponse {
	h.t.Helper()
	resp, err := h.src.Authorize(context.Background(),
		contract.AuthorizeRequest{Config: h.config(nil), Grant: h.sim.IssueGrantCode(scopes...)})
	if err != nil {
		h.t.Fatalf("Authorize: %v", err)
	}
	h.creds = resp.Credentials
	return resp
}

// memOut is an in-memory contract.Output.
type memOut struct {
	records     []contract.Record
	checkpoints []memCheckpoint
	full        []contract.FullRefreshComplete
	creds       []json.RawMessage
	counts      map[string]int64
	// onCheckpoint, when set, runs after each checkpoint is kept.
	onCheckpoint func(n int)
	// onEmit, when set, runs after each record is kept.
	onEmit func(n int)
}

type memCheckpoint struct {
	stream  string
	state   json.RawMessage
	records int // records emitted before it
}

func (o *memOut) Emit(_ context.Context, r contract.Record) error {
	o.records = append(o.records, r)
	if o.onEmit != nil {
		o.onEmit(len(o.records))
	}
	return nil
}

func (o *memOut) Checkpoint(_ context.Context, stream string, state json.RawMessage) error {
	o.checkpoints = append(o.checkpoints, memCheckpoint{stream, slices.Clone(state), len(o.records)})
	if o.onCheckpoint != nil {
		o.onCheckpoint(len(o.checkpoints))
	}
	return nil
}

func (o *memOut) FullRefreshComplete(_ context.Context, stream string, generation uint64) error {
	o.full = append(o.full, contract.FullRefreshComplete{Stream: stream, Generation: generation})
	return nil
}

func (o *memOut) UpdateCredentials(_ context.Context, c contract.Credentials) error {
	o.creds = append(o.creds, slices.Clone(c))
	return nil
}

func (o *memOut) Count(_ context.Context, name string, delta int64) error {
	if o.counts == nil {
		o.counts = map[string]int64{}
	}
	o.counts[name] += delta
	return nil
}

// lastState returns the stream's last checkpoint state.
func (o *memOut) lastState(stream string) json.RawMessage {
	for i := len(o.checkpoints) - 1; i >= 0; i-- {
		if o.checkpoints[i].stream == stream {
			return o.checkpoints[i].state
		}
	}
	return nil
}

func (o *memOut) keys(op contract.Op) []string {
	var ks []string
	for _, r := range o.records {
		if r.Op == op {
			ks = append(ks, r.Key)
		}
	}
	return ks
}

// read runs Read with config changes and keeps the newest credentials.
func (h *harness) read(ctx context.Context, changes map[string]any, streams ...contract.ReadStream) (*memOut, error) {
	h.t.Helper()
	out := &memOut{}
	err := h.readInto(ctx, out, changes, streams...)
	return out, err
}

func (h *harness) readInto(ctx context.Context, out *memOut, changes map[string]any,
	streams ...contract.ReadStream) error {
	err := h.src.Read(ctx, contract.ReadRequest{Config: h.config(changes), Credentials: h.creds, Streams: streams}, out)
	if n := len(out.creds); n > 0 {
		h.creds = out.creds[n-1]
	}
	return err
}

// mustRead is read that fails the test on error.
func (h *harness) mustRead(streams ...contract.ReadStream) *memOut {
	h.t.Helper()
	out, err := h.read(context.Background(), nil, streams...)
	if err != nil {
		h.t.Fatalf("Read: %v", err)
	}
	return out
}

// catalog discovers the streams.
func (h *harness) catalog() contract.Catalog {
	h.t.Helper()
	resp, err := h.src.Discover(context.Background(),
		contract.DiscoverRequest{Config: h.config(nil), Credentials: h.creds})
	if err != nil {
		h.t.Fatalf("Discover: %v", err)
	}
	if resp.Credentials != nil {
		h.creds = resp.Credentials
	}
	return resp.Catalog
}

// validator checks records against a stream's discovered schema.
func validator(t *testing.T, st contract.Stream) func(json.RawMessage) error {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(st.Schema)))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("s.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("s.json")
	if err != nil {
		t.Fatal(err)
	}
	return func(data json.RawMessage) error {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(string(data)))
		if err != nil {
			return err
		}
		return sch.Validate(v)
	}
}

func simIDs(sim *zohosim.Server, module string) []string {
	var ids []string
	for id := range sim.Records(module) {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
