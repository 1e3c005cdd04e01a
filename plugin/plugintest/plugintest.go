// Package plugintest is the conformance kit for connectors. A connector's
// own tests run a SourceSuite or DestinationSuite, which serve the
// connector over a real gRPC connection (go-plugin's test helpers) and
// check what every connector must do: a sound spec and ways to connect it,
// a failing check for a bad configuration, a usable catalog, records that
// match their schemas, checkpoints inside a read and resuming from one
// with no gap and no restart, incremental reads that carry what changed,
// acknowledging only what is durable, deletes and full-refresh sweeps,
// returning promptly when cancelled, and no goroutine left behind.
//
// Each check is a subtest named for what it proves, so go test -v lists
// what ran, and -run picks one (TestConformance/read_contacts/change). A
// check that cannot run, such as the checks after a change when the suite
// has no Change hook, is skipped with the reason.
//
// A suite's checks share the connector and its service, one after the
// other: do not run a suite in parallel with other tests of the package,
// whose goroutines its leak check would see.
//
// Recorder is a contract.Output for a connector's own unit tests.
package plugintest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.uber.org/goleak"

	"google.golang.org/grpc"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/internal/wirev1"
)

// ConnectSource serves src on one end of a real gRPC connection and
// returns the client end, as the host would see it. The connection closes
// when t ends.
func ConnectSource(t testing.TB, src contract.Source) contract.Source {
	c, _ := connectSource(t, src)
	return c
}

// ConnectDestination serves dst like ConnectSource serves a source.
func ConnectDestination(t testing.TB, dst contract.Destination) contract.Destination {
	c, _ := connectDestination(t, dst)
	return c
}

// connectSource is ConnectSource that also returns a function closing the
// connection at once, for the leak check to run after it.
func connectSource(t testing.TB, src contract.Source) (contract.Source, func()) {
	conn, disconnect := connect(t, func(s *grpc.Server) { wirev1.RegisterSource(s, src) })
	return wirev1.NewSource(conn), disconnect
}

func connectDestination(t testing.TB, dst contract.Destination) (contract.Destination, func()) {
	conn, disconnect := connect(t, func(s *grpc.Server) { wirev1.RegisterDestination(s, dst) })
	return wirev1.NewDestination(conn), disconnect
}

func connect(t testing.TB, register func(*grpc.Server)) (*grpc.ClientConn, func()) {
	conn, server := goplugin.TestGRPCConn(t, register)
	var once sync.Once
	disconnect := func() {
		once.Do(func() {
			_ = conn.Close()
			server.Stop()
		})
	}
	t.Cleanup(disconnect)
	return conn, disconnect
}

// hangAfter is how long a cancelled call may take to return before the
// kit calls it hung. It only catches a call that never returns; a
// connector is expected to return within moments.
const hangAfter = time.Minute

// leakRounds is how many times the leak check looks before it fails.
const leakRounds = 10

// goroutines is the leak check of a suite: it leaves out the goroutines
// that ran before the suite started its connector.
type goroutines struct{ opts []goleak.Option }

func watchGoroutines() goroutines {
	return goroutines{opts: []goleak.Option{
		goleak.IgnoreCurrent(),
		// Keep-alive connections of HTTP clients and servers outlive the
		// request that opened them by design: a connector's client keeps
		// idle connections for its next call, and a test's loopback
		// simulator serves them until it is closed after the suite.
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*conn).serve"),
	}}
}

// check fails t if goroutines are left that were not there when the
// suite began; the suite calls it once its connection is closed.
func (g goroutines) check(t *testing.T) {
	// goleak waits about half a second for goroutines on their way out; a
	// machine busy with other tests can take longer to end the gRPC
	// server's, so a few rounds are allowed.
	err := goleak.Find(g.opts...)
	for range leakRounds - 1 {
		if err == nil {
			break
		}
		err = goleak.Find(g.opts...)
	}
	if err != nil {
		t.Errorf("the connector left goroutines behind: every goroutine a call starts must end "+
			"before the call returns, also when its context is cancelled\n%v", err)
	}
}

func logger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "connector", Level: hclog.Info, Output: testWriter{t}})
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// checkSpec checks what the host relies on in a spec.
func checkSpec(t *testing.T, spec contract.Spec) {
	t.Helper()
	if spec.Name == "" || spec.Version == "" {
		t.Errorf("spec needs a name and a version, got %q %q", spec.Name, spec.Version)
	}
	checkAttributes(t, "attribute", spec.Config)
	if spec.ChangeSignals != nil {
		if err := spec.ChangeSignals.Validate(); err != nil {
			t.Errorf("spec: %v", err)
		}
	}
}

// checkAttributes checks attributes as the host reads them: a
// configuration's, or a connect form's fields (what says which).
func checkAttributes(t *testing.T, what string, attrs []contract.Attribute) {
	t.Helper()
	seen := map[string]bool{}
	for _, a := range attrs {
		switch {
		case a.Name == "":
			t.Errorf("%s without a name", what)
		case seen[a.Name]:
			t.Errorf("%s %q declared twice", what, a.Name)
		}
		seen[a.Name] = true
		switch a.Type {
		case contract.TypeString,
			contract.TypeNumber,
			contract.TypeBool,
			contract.TypeStringList,
			contract.TypeStringMap:
		default:
			t.Errorf("%s %q has unknown type %q", what, a.Name, a.Type)
		}
		if a.Default != nil {
			if a.Required {
				t.Errorf("%s %q is required and has a default", what, a.Name)
			}
			if !json.Valid(a.Default) {
				t.Errorf("%s %q has a default that is not JSON: %s", what, a.Name, a.Default)
			}
		}
		if a.Description == "" {
			t.Errorf(
				"%s %q has no description; users read it in `replicator validate` errors and on connect pages",
				what,
				a.Name,
			)
		}
	}
}

// withDefaults adds to a configuration the spec's defaults of the
// attributes it lacks, as the host does before a plugin sees its
// configuration. A configuration that is not a JSON object is left as it
// is, for the connector to reject.
func withDefaults(spec contract.Spec, raw json.RawMessage) json.RawMessage {
	values := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &values); err != nil || values == nil {
			return raw
		}
	}
	added := false
	for _, a := range spec.Config {
		if _, ok := values[a.Name]; !ok && a.Default != nil {
			values[a.Name] = a.Default
			added = true
		}
	}
	if !added {
		return raw
	}
	out, err := json.Marshal(values)
	if err != nil {
		return raw
	}
	return out
}

// compileSchema compiles a stream's JSON Schema.
func compileSchema(t *testing.T, s contract.Stream) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(s.Schema)))
	if err != nil {
		t.Fatalf("stream %s: schema is not JSON: %v", s.Name, err)
	}
	c := jsonschema.NewCompiler()
	url := "stream-" + s.Name + ".json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatalf("stream %s: %v", s.Name, err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("stream %s: schema does not compile: %v", s.Name, err)
	}
	return sch
}

func validate(sch *jsonschema.Schema, data json.RawMessage) error {
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(string(data)))
	if err != nil {
		return fmt.Errorf("data is not JSON: %w", err)
	}
	return sch.Validate(v)
}

// feeder is an Input that hands a destination a fixed list of messages and
// checks each acknowledgement.
type feeder struct {
	msgs  []contract.Message
	next  int
	onAck func(id uint64) error

	mu    sync.Mutex
	acked []uint64
	count map[string]int64
}

func (f *feeder) Next(ctx context.Context) (contract.Message, error) {
	if err := ctx.Err(); err != nil {
		return contract.Message{}, err
	}
	if f.next == len(f.msgs) {
		return contract.Message{}, io.EOF
	}
	m := f.msgs[f.next]
	f.next++
	return m, nil
}

func (f *feeder) Ack(_ context.Context, id uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.acked); n > 0 && id <= f.acked[n-1] {
		return fmt.Errorf("ack %d after ack %d: acknowledgements must go forward", id, f.acked[n-1])
	}
	f.acked = append(f.acked, id)
	if f.onAck != nil {
		return f.onAck(id)
	}
	return nil
}

func (f *feeder) Count(_ context.Context, name string, delta int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.count == nil {
		f.count = map[string]int64{}
	}
	f.count[name] += delta
	return nil
}

// returnsWhenCancelled waits for a connector's call (Read or Write), whose
// error comes on done, to return once ctx is cancelled: with an error that
// wraps context.Canceled, within hangAfter. early says what is wrong when
// the call returned before ctx was cancelled.
func returnsWhenCancelled(
	t *testing.T, ctx context.Context, done <-chan error, call, connector string, early func(error) string,
) {
	t.Helper()
	timer := time.NewTimer(hangAfter)
	defer timer.Stop()
	select {
	case err := <-done:
		if ctx.Err() == nil {
			t.Fatal(early(err))
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s returned %v after its context was cancelled; want an error that wraps context.Canceled "+
				"(return ctx.Err(), or wrap errors with %%w)", call, err)
		}
	case <-timer.C:
		t.Fatalf("%s did not return within %v of its context being cancelled; a %s must pass its context "+
			"to every call that waits and return once it is done", call, hangAfter, connector)
	}
}
