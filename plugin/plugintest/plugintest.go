// Package plugintest is the conformance kit for connectors. A connector's
// own tests run a SourceSuite or DestinationSuite, which serve the
// connector over a real gRPC connection (go-plugin's test helpers) and
// check what every connector must do: a sound spec, a failing check for a
// bad configuration, a usable catalog, records that match their schemas,
// resuming from a checkpoint, and acknowledging only what is durable.
package plugintest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"google.golang.org/grpc"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/internal/wirev1"
)

// ConnectSource serves src on one end of a real gRPC connection and
// returns the client end, as the host would see it.
func ConnectSource(t testing.TB, src contract.Source) contract.Source {
	conn := connect(t, func(s *grpc.Server) { wirev1.RegisterSource(s, src) })
	return wirev1.NewSource(conn)
}

// ConnectDestination serves dst like ConnectSource serves a source.
func ConnectDestination(t testing.TB, dst contract.Destination) contract.Destination {
	conn := connect(t, func(s *grpc.Server) { wirev1.RegisterDestination(s, dst) })
	return wirev1.NewDestination(conn)
}

func connect(t testing.TB, register func(*grpc.Server)) *grpc.ClientConn {
	conn, server := goplugin.TestGRPCConn(t, register)
	t.Cleanup(func() {
		_ = conn.Close()
		server.Stop()
	})
	return conn
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
	seen := map[string]bool{}
	for _, a := range spec.Config {
		switch {
		case a.Name == "":
			t.Errorf("attribute without a name")
		case seen[a.Name]:
			t.Errorf("attribute %q declared twice", a.Name)
		}
		seen[a.Name] = true
		switch a.Type {
		case contract.TypeString, contract.TypeNumber, contract.TypeBool, contract.TypeStringList, contract.TypeStringMap:
		default:
			t.Errorf("attribute %q has unknown type %q", a.Name, a.Type)
		}
		if a.Default != nil {
			if a.Required {
				t.Errorf("attribute %q is required and has a default", a.Name)
			}
			if !json.Valid(a.Default) {
				t.Errorf("attribute %q has a default that is not JSON: %s", a.Name, a.Default)
			}
		}
		if a.Description == "" {
			t.Errorf("attribute %q has no description; users read it in `replicator validate` errors", a.Name)
		}
	}
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

// recorder is an Output that keeps what a source sent.
type recorder struct {
	records     []contract.Record
	checkpoints []recordedCheckpoint
	full        []contract.FullRefreshComplete
	creds       contract.Credentials
	counters    map[string]int64
}

type recordedCheckpoint struct {
	stream  string
	state   json.RawMessage
	records int // records emitted before it
}

func (r *recorder) Emit(_ context.Context, rec contract.Record) error {
	rec.Data = append(json.RawMessage(nil), rec.Data...)
	r.records = append(r.records, rec)
	return nil
}

func (r *recorder) Checkpoint(_ context.Context, stream string, state json.RawMessage) error {
	r.checkpoints = append(r.checkpoints, recordedCheckpoint{stream: stream, state: append(json.RawMessage(nil), state...), records: len(r.records)})
	return nil
}

func (r *recorder) FullRefreshComplete(_ context.Context, stream string, generation uint64) error {
	r.full = append(r.full, contract.FullRefreshComplete{Stream: stream, Generation: generation})
	return nil
}

func (r *recorder) UpdateCredentials(_ context.Context, c contract.Credentials) error {
	r.creds = append(contract.Credentials(nil), c...)
	return nil
}

func (r *recorder) Count(_ context.Context, name string, delta int64) error {
	if r.counters == nil {
		r.counters = map[string]int64{}
	}
	r.counters[name] += delta
	return nil
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
