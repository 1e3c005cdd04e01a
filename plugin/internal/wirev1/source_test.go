package wirev1

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// lyingSource sends one record batch as given, whatever it claims.
type lyingSource struct {
	UnimplementedSourceServer
	batch *RecordBatch
}

func (s *lyingSource) Read(_ *ReadRequest, stream grpc.ServerStreamingServer[ReadMessage]) error {
	return stream.Send(&ReadMessage{Message: &ReadMessage_Records{Records: s.batch}})
}

type discard struct{}

func (discard) Emit(context.Context, contract.Record) error                   { return nil }
func (discard) Checkpoint(context.Context, string, json.RawMessage) error     { return nil }
func (discard) FullRefreshComplete(context.Context, string, uint64) error     { return nil }
func (discard) UpdateCredentials(context.Context, contract.Credentials) error { return nil }
func (discard) Count(context.Context, string, int64) error                    { return nil }

// A plugin that sends a lying batch over the wire fails the read with an
// error; the host neither allocates what it claims nor panics.
func TestReadRefusesALyingBatch(t *testing.T) {
	for name, b := range map[string]*RecordBatch{
		"count 2^32-1": {Count: 1<<32 - 1, Streams: []string{"s"}, Packed: []byte{0, 1, 'k', 0, 0, 0}},
		"key length 2^64-1": {Count: 1, Streams: []string{"s"}, Packed: []byte{
			0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0,
		}},
	} {
		t.Run(name, func(t *testing.T) {
			conn, server := goplugin.TestGRPCConn(t, func(s *grpc.Server) { RegisterSourceServer(s, &lyingSource{batch: b}) })
			defer server.Stop()
			defer conn.Close()
			err := NewSource(conn).Read(context.Background(), contract.ReadRequest{}, discard{})
			if err == nil || !strings.Contains(err.Error(), "plugin sent a bad record batch") {
				t.Fatalf("Read = %v", err)
			}
		})
	}
}

// bigSource emits one record with size bytes of data.
type bigSource struct {
	contract.UnimplementedSource
	size int
}

func (bigSource) Spec(context.Context) (contract.Spec, error) { return contract.Spec{}, nil }
func (bigSource) Check(context.Context, contract.CheckRequest) (contract.CheckResponse, error) {
	return contract.CheckResponse{}, nil
}
func (bigSource) Discover(context.Context, contract.DiscoverRequest) (contract.DiscoverResponse, error) {
	return contract.DiscoverResponse{}, nil
}
func (s bigSource) Read(ctx context.Context, _ contract.ReadRequest, out contract.Output) error {
	return out.Emit(ctx, contract.Record{Stream: "s", Key: "big", Data: make(json.RawMessage, s.size)})
}

// A record over the limit fails on the plugin's side with an error that
// says what the limit is, not with gRPC's message size error.
func TestEmitRefusesARecordOverTheLimit(t *testing.T) {
	conn, server := goplugin.TestGRPCConn(t, func(s *grpc.Server) {
		RegisterSource(s, bigSource{size: contract.MaxRecordBytes + 1})
	})
	defer server.Stop()
	defer conn.Close()
	err := NewSource(conn).Read(context.Background(), contract.ReadRequest{}, discard{})
	want := `record "big" of stream "s" carries 67108865 bytes of data; a record may carry at most 67108864`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Read = %v", err)
	}
}
