package plugintest_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/config"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/plugintest"
)

// service is what the test connectors read and write: keyed entries, each
// stamped with a sequence number when last changed. The source reads it;
// the destination stores into it with generations.
type service struct {
	mu    sync.Mutex
	seq   int
	items map[string]*item
}

type item struct {
	name    string
	seq     int
	gen     uint64
	deleted bool
}

func newService(n int) *service {
	s := &service{items: map[string]*item{}}
	for i := range n {
		s.put(fmt.Sprintf("k%03d", i), fmt.Sprintf("name %d", i))
	}
	return s
}

func (s *service) put(key, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.items[key] = &item{name: name, seq: s.seq}
}

func (s *service) delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.items[key] = &item{seq: s.seq, deleted: true}
}

// since returns the keys changed after seq, in the order they changed, and
// the sequence number they run up to.
func (s *service) since(seq int) (keys []string, items []item, upTo int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, it := range s.items {
		if it.seq > seq {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(s.items[a].seq, s.items[b].seq) })
	for _, k := range keys {
		items = append(items, *s.items[k])
	}
	return keys, items, s.seq
}

// flaws of the test connectors, which the kit must catch; "" is none.
const (
	endOnly           = "end-only"            // checkpoints only at the end of a read
	noDeletes         = "no-deletes"          // reads no deletes, though the suite says it does
	ignoresCancel     = "ignores-cancel"      // a read goes on when its context is cancelled
	leaks             = "leaks"               // a read leaves a goroutine behind
	noSweep           = "no-sweep"            // a full-refresh-complete removes nothing
	destNoDelete      = "dest-no-delete"      // deletes are ignored
	destIgnoresCancel = "dest-ignores-cancel" // a write ends without error when cancelled
	urlShowsSecret    = "url-shows-secret"    // AuthorizeURL puts the client's secret in the URL
	urlDropsState     = "url-drops-state"     // AuthorizeURL leaves the state out
)

type memConfig struct {
	CheckpointEvery int    `config:"checkpoint_every" default:"1000" description:"Records between checkpoints."`
	Greeting        string `config:"greeting" default:"hello" description:"Not used."`
}

// trustsHost is a sound source that counts on the host to fill in its
// configuration's defaults, as the host does.
const trustsHost = "trusts-host"

type memSource struct {
	contract.UnimplementedSource
	svc  *service
	flaw string
}

// memKey is the field of the mem source's connect form.
type memKey struct {
	Key string `config:"key,required,sensitive" description:"The service's API key."`
}

func (s *memSource) Spec(context.Context) (contract.Spec, error) {
	return contract.Spec{
		Name:    "mem",
		Version: "1.0.0",
		Config:  config.MustAttributes[memConfig](),
		Connect: []contract.ConnectMethod{
			{Kind: contract.ConnectWeb, Title: "Connect with Mem"},
			{Kind: contract.ConnectForm, Title: "Use an API key", Fields: config.MustAttributes[memKey]()},
		},
	}, nil
}

func (s *memSource) AuthorizeURL(
	_ context.Context,
	req contract.AuthorizeURLRequest,
) (contract.AuthorizeURLResponse, error) {
	q := url.Values{"client_id": {req.Client.ID}, "redirect_uri": {req.RedirectURL}, "state": {req.State}}
	switch s.flaw {
	case urlShowsSecret:
		q.Set("client_secret", req.Client.Secret)
	case urlDropsState:
		q.Del("state")
	}
	return contract.AuthorizeURLResponse{URL: "https://mem.example/oauth/authorize?" + q.Encode()}, nil
}

func (s *memSource) config(raw json.RawMessage) (memConfig, error) {
	if s.flaw == trustsHost {
		var present map[string]any
		if err := json.Unmarshal(raw, &present); err != nil || present["greeting"] == nil {
			return memConfig{}, fmt.Errorf("greeting is missing from %s, though the host fills in its default", raw)
		}
	}
	c, err := config.Decode[memConfig](raw)
	if err == nil && c.CheckpointEvery < 1 {
		err = errors.New("checkpoint_every must be at least 1")
	}
	return c, err
}

func (s *memSource) Check(_ context.Context, req contract.CheckRequest) (contract.CheckResponse, error) {
	_, err := s.config(req.Config)
	return contract.CheckResponse{}, err
}

func (s *memSource) Discover(_ context.Context, req contract.DiscoverRequest) (contract.DiscoverResponse, error) {
	if _, err := s.config(req.Config); err != nil {
		return contract.DiscoverResponse{}, err
	}
	return contract.DiscoverResponse{Catalog: contract.Catalog{Streams: []contract.Stream{memStream}}}, nil
}

var memStream = contract.Stream{
	Name: "items",
	Schema: json.RawMessage(`{
		"type": "object",
		"required": ["id", "name"],
		"properties": {"id": {"type": "string"}, "name": {"type": "string"}},
		"additionalProperties": false
	}`),
	PrimaryKey:  []string{"id"},
	CursorField: []string{"seq"},
	Modes:       []contract.SyncMode{contract.FullRefresh, contract.Incremental},
}

func (s *memSource) Read(ctx context.Context, req contract.ReadRequest, out contract.Output) error {
	c, err := s.config(req.Config)
	if err != nil {
		return err
	}
	if s.flaw == leaks {
		go func() { select {} }()
	}
	for _, rs := range req.Streams {
		var st struct{ Seq int }
		if rs.State != nil {
			if err := json.Unmarshal(rs.State, &st); err != nil {
				return fmt.Errorf("state %s: %w", rs.State, err)
			}
		}
		full := rs.State == nil
		keys, items, upTo := s.svc.since(st.Seq)
		emitted := 0
		for i, k := range keys {
			r := contract.Record{Stream: rs.Name, Key: k}
			switch {
			case items[i].deleted && (full || s.flaw == noDeletes):
				continue
			case items[i].deleted:
				r.Op = contract.Delete
			default:
				r.Data, _ = json.Marshal(map[string]string{"id": k, "name": items[i].name})
			}
			if err := out.Emit(ctx, r); err != nil {
				if s.flaw == ignoresCancel {
					continue
				}
				return fmt.Errorf("emitting %s: %w", k, err)
			}
			emitted++
			if emitted%c.CheckpointEvery == 0 && s.flaw != endOnly {
				err := out.Checkpoint(ctx, rs.Name, fmt.Appendf(nil, `{"seq":%d}`, items[i].seq))
				if err != nil && s.flaw != ignoresCancel {
					return err
				}
			}
		}
		if full {
			if err := out.FullRefreshComplete(ctx, rs.Name, rs.Generation); err != nil && s.flaw != ignoresCancel {
				return err
			}
		}
		if err := out.Checkpoint(ctx, rs.Name, fmt.Appendf(nil, `{"seq":%d}`, upTo)); err != nil &&
			s.flaw != ignoresCancel {
			return err
		}
	}
	return nil
}

func sourceSuite(flaw string) plugintest.SourceSuite {
	svc := newService(50)
	return plugintest.SourceSuite{
		New:       func(hclog.Logger) contract.Source { return &memSource{svc: svc, flaw: flaw} },
		Config:    json.RawMessage(`{"checkpoint_every":10}`),
		BadConfig: json.RawMessage(`{"checkpoint_every":0}`),
		Change: func(t *testing.T, _ string, keys []string) plugintest.Changes {
			svc.put(keys[3], "renamed")
			svc.put("new", "added")
			svc.delete(keys[4])
			return plugintest.Changes{Upserted: []string{keys[3], "new"}, Deleted: []string{keys[4]}}
		},
		Deletes: true,
	}
}

type memDestination struct {
	svc  *service
	flaw string
}

func (d *memDestination) Spec(context.Context) (contract.Spec, error) {
	return contract.Spec{Name: "mem", Version: "1.0.0"}, nil
}

func (d *memDestination) Check(_ context.Context, req contract.CheckRequest) (contract.CheckResponse, error) {
	if string(req.Config) != `{}` {
		return contract.CheckResponse{}, errors.New("mem takes no configuration")
	}
	return contract.CheckResponse{}, nil
}

func (d *memDestination) Write(ctx context.Context, req contract.WriteRequest, in contract.Input) error {
	gens := map[string]uint64{}
	for _, ws := range req.Streams {
		gens[ws.Name] = ws.Generation
	}
	for {
		m, err := in.Next(ctx)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil && d.flaw == destIgnoresCancel:
			return nil
		case err != nil:
			return fmt.Errorf("receiving records: %w", err)
		}
		d.svc.mu.Lock()
		for _, r := range m.Records {
			switch {
			case r.Op == contract.Delete && d.flaw != destNoDelete:
				delete(d.svc.items, r.Key)
			case r.Op == contract.Upsert:
				d.svc.items[r.Key] = &item{gen: gens[r.Stream]}
			}
		}
		if f := m.FullRefreshComplete; f != nil && d.flaw != noSweep {
			for k, it := range d.svc.items {
				if it.gen < f.Generation {
					delete(d.svc.items, k)
				}
			}
		}
		d.svc.mu.Unlock()
		var id uint64
		switch {
		case m.Checkpoint != nil:
			id = m.Checkpoint.ID
		case m.FullRefreshComplete != nil:
			id = m.FullRefreshComplete.ID
		default:
			continue
		}
		if err := in.Ack(ctx, id); err != nil {
			return fmt.Errorf("acknowledging %d: %w", id, err)
		}
	}
}

func destinationSuite(flaw string) plugintest.DestinationSuite {
	svc := &service{items: map[string]*item{}}
	return plugintest.DestinationSuite{
		New:       func(hclog.Logger) contract.Destination { return &memDestination{svc: svc, flaw: flaw} },
		Config:    json.RawMessage(`{}`),
		BadConfig: json.RawMessage(`{"colour":"blue"}`),
		Stream:    memStream,
		Record: func(i int) contract.Record {
			k := "k" + strconv.Itoa(i)
			return contract.Record{
				Stream: "items",
				Key:    k,
				Data:   json.RawMessage(fmt.Sprintf(`{"id":%q,"name":"n"}`, k)),
			}
		},
		Count: 200,
		Stored: func(*testing.T) (map[string]bool, error) {
			svc.mu.Lock()
			defer svc.mu.Unlock()
			keys := map[string]bool{}
			for k := range svc.items {
				keys[k] = true
			}
			return keys, nil
		},
	}
}

func TestKitPassesASoundSource(t *testing.T) {
	sourceSuite("").Run(t)
}

// The kit hands a connector its configuration with the Spec's defaults
// filled in, as the host does.
func TestKitAppliesSpecDefaults(t *testing.T) {
	sourceSuite(trustsHost).Run(t)
}

func TestKitPassesASoundDestination(t *testing.T) {
	destinationSuite("").Run(t)
}

// TestKitCatches runs the suites against flawed connectors in a child
// process, where their failures are the outcome looked for, and checks
// that each fails in the check named for it, saying why.
func TestKitCatches(t *testing.T) {
	for _, tt := range []struct{ flaw, check, want string }{
		{endOnly, "read_items/resume_from_a_checkpoint", "configure the source so a read of 50 records checkpoints " +
			"at least twice: set SourceSuite.Config to a configuration with a smaller checkpoint interval or page " +
			"size (this source's attributes: checkpoint_every, greeting)"},
		{noDeletes, "read_items/delete_in_an_incremental_read", "did not emit a delete of record k004, which was deleted"},
		{ignoresCancel, "a_cancelled_read_returns_context.Canceled",
			"Read returned <nil> after its context was cancelled; want an error that wraps context.Canceled"},
		{leaks, "no_goroutine_left_behind", "the connector left goroutines behind"},
		{noSweep, "full_refresh_complete_sweeps_older_generations",
			"after a full refresh of generation 2 that wrote records 100 to 220, record 20 (key k20) is still stored"},
		{destNoDelete, "deletes_remove_entries", "after deletes of records 0 to 19, record 0 (key k0) is still stored"},
		{destIgnoresCancel, "a_cancelled_write_returns_context.Canceled",
			"Write returned <nil> after its context was cancelled"},
		{urlShowsSecret, "connect", "which shows the client's secret to the browser"},
		{urlDropsState, "connect", "which does not carry the state"},
		{wrongField, "watch", `fails the host's check (the callback does not carry the channel's secret): ` +
			`the spec says the secret is in the body's field "token"`},
		{unwatchFails, "watch", "Unwatch of channels it ended: channel kit-0-"},
	} {
		t.Run(tt.flaw, func(t *testing.T) {
			out, err := runChild(tt.flaw)
			if err == nil {
				t.Fatalf("the kit passed a connector with flaw %q:\n%s", tt.flaw, out)
			}
			if !strings.Contains(out, tt.want) {
				t.Fatalf("the kit failed a connector with flaw %q without saying %q:\n%s", tt.flaw, tt.want, out)
			}
			if fail := "--- FAIL: TestFlawed/" + tt.check + " "; !strings.Contains(out, fail) {
				t.Fatalf(
					"the kit failed a connector with flaw %q, but not in its check %s:\n%s",
					tt.flaw,
					tt.check,
					out,
				)
			}
		})
	}
}

// The kit names each check as a subtest, and says which it skipped and
// why.
func TestKitNamesItsChecks(t *testing.T) {
	for _, tt := range []struct {
		suite   string
		passed  []string
		skipped map[string]string // check: the reason given
	}{
		{sound, []string{
			"spec", "check_rejects_a_bad_config", "discover", "check_accepts_the_config",
			"read_items/full_read", "read_items/resume_from_a_checkpoint", "read_items/resume_with_nothing_changed",
			"read_items/change", "read_items/delete_in_an_incremental_read", "read_items/full_read_after_change",
			"a_cancelled_read_returns_context.Canceled", "no_goroutine_left_behind",
		}, nil},
		{withoutChange, []string{"read_items/resume_from_a_checkpoint", "no_goroutine_left_behind"}, map[string]string{
			"read_items/change":                        "SourceSuite.Change is not set",
			"read_items/delete_in_an_incremental_read": "SourceSuite.Change is not set",
			"read_items/full_read_after_change":        "SourceSuite.Change is not set",
		}},
		{withoutDeletes, []string{"read_items/change", "read_items/full_read_after_change"}, map[string]string{
			"read_items/delete_in_an_incremental_read": "SourceSuite.Deletes is not set",
		}},
		{soundDestination, []string{
			"spec", "check_rejects_a_bad_config", "check_accepts_the_config", "acknowledges_only_what_is_durable",
			"deletes_remove_entries", "full_refresh_complete_sweeps_older_generations",
			"a_cancelled_write_returns_context.Canceled", "no_goroutine_left_behind",
		}, nil},
	} {
		t.Run(tt.suite, func(t *testing.T) {
			out, err := runChild(tt.suite)
			if err != nil {
				t.Fatalf("the kit failed a sound connector: %v\n%s", err, out)
			}
			for _, check := range tt.passed {
				if !strings.Contains(out, "--- PASS: TestFlawed/"+check+" ") {
					t.Errorf("no check %s passed:\n%s", check, out)
				}
			}
			for check, why := range tt.skipped {
				name := "TestFlawed/" + check
				_, after, found := strings.Cut(out, "=== RUN   "+name+"\n")
				said, _, _ := strings.Cut(after, "--- SKIP: "+name+" ")
				if !found || !strings.Contains(said, why) {
					t.Errorf("check %s was not skipped saying %q:\n%s", check, why, out)
				}
			}
		})
	}
}

// Suites of sound connectors, run as children by TestKitNamesItsChecks.
const (
	sound            = "sound"
	withoutChange    = "without-change"  // a suite without a Change hook
	withoutDeletes   = "without-deletes" // a suite whose source reports no deletions
	soundDestination = "sound-destination"
)

// runChild runs TestFlawed in a child process with the suite for flaw,
// verbosely, and returns its output.
func runChild(flaw string) (string, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestFlawed$", "-test.v")
	cmd.Env = append(os.Environ(), "PLUGINTEST_FLAW="+flaw)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestFlawed is the child of TestKitCatches and TestKitNamesItsChecks.
func TestFlawed(t *testing.T) {
	flaw := os.Getenv("PLUGINTEST_FLAW")
	switch flaw {
	case "":
		t.Skip("runs only as the child process of TestKitCatches")
	case sound:
		sourceSuite("").Run(t)
	case withoutChange:
		s := sourceSuite("")
		s.Change = nil
		s.Run(t)
	case withoutDeletes:
		s := sourceSuite(noDeletes)
		s.Deletes = false
		s.Run(t)
	case soundDestination:
		destinationSuite("").Run(t)
	case noSweep, destNoDelete, destIgnoresCancel:
		destinationSuite(flaw).Run(t)
	case wrongField, unwatchFails:
		watchingSuite(flaw).Run(t)
	default:
		sourceSuite(flaw).Run(t)
	}
}
