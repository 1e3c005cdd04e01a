package wirev1

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// RegisterSource serves impl as the Source service on s.
func RegisterSource(s *grpc.Server, impl contract.Source) {
	RegisterSourceServer(s, &sourceServer{impl: impl})
}

type sourceServer struct {
	UnimplementedSourceServer
	impl contract.Source
}

func (s *sourceServer) Spec(ctx context.Context, _ *SpecRequest) (*SpecResponse, error) {
	spec, err := s.impl.Spec(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return specToWire(spec), nil
}

func (s *sourceServer) Authorize(ctx context.Context, req *AuthorizeRequest) (*AuthorizeResponse, error) {
	resp, err := s.impl.Authorize(ctx, authorizeFromWire(req))
	if err != nil {
		return nil, toStatus(err)
	}
	return &AuthorizeResponse{Credentials: resp.Credentials, Message: resp.Message}, nil
}

func (s *sourceServer) Check(ctx context.Context, req *CheckRequest) (*CheckResponse, error) {
	resp, err := s.impl.Check(ctx, checkFromWire(req))
	if err != nil {
		return nil, toStatus(err)
	}
	return &CheckResponse{Message: resp.Message, Credentials: resp.Credentials}, nil
}

func (s *sourceServer) Discover(ctx context.Context, req *DiscoverRequest) (*DiscoverResponse, error) {
	resp, err := s.impl.Discover(ctx, contract.DiscoverRequest{
		Config:      nilIfEmpty(req.GetConfigJson()),
		Credentials: nilIfEmpty(req.GetCredentials()),
		Client:      clientFromWire(req.GetClient()),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &DiscoverResponse{Streams: streamsToWire(resp.Catalog.Streams), Credentials: resp.Credentials}, nil
}

func (s *sourceServer) Read(req *ReadRequest, stream grpc.ServerStreamingServer[ReadMessage]) error {
	r := contract.ReadRequest{
		Config:      nilIfEmpty(req.GetConfigJson()),
		Credentials: nilIfEmpty(req.GetCredentials()),
		Client:      clientFromWire(req.GetClient()),
	}
	for _, rs := range req.GetStreams() {
		st := contract.ReadStream{Name: rs.GetName(), Generation: rs.GetGeneration()}
		if rs.GetHasState() {
			st.State = rs.GetState()
		}
		r.Streams = append(r.Streams, st)
	}
	out := &readSender{stream: stream}
	if err := s.impl.Read(stream.Context(), r, out); err != nil {
		return toStatus(err)
	}
	return toStatus(out.flush())
}

func checkFromWire(req *CheckRequest) contract.CheckRequest {
	return contract.CheckRequest{
		Config:      nilIfEmpty(req.GetConfigJson()),
		Credentials: nilIfEmpty(req.GetCredentials()),
		Streams:     streamsFromWire(req.GetStreams()),
		Client:      clientFromWire(req.GetClient()),
	}
}

// readSender is the Output a source writes to inside the plugin: it batches
// records by count and bytes and sends control messages in order.
type readSender struct {
	stream  grpc.ServerStreamingServer[ReadMessage]
	batch   []contract.Record
	bytes   int
	scratch []byte // reused for each batch's packed records
}

func (o *readSender) Emit(_ context.Context, r contract.Record) error {
	if len(r.Data) > contract.MaxRecordBytes {
		return fmt.Errorf("record %q of stream %q carries %d bytes of data; a record may carry at most %d",
			r.Key, r.Stream, len(r.Data), contract.MaxRecordBytes)
	}
	o.batch = append(o.batch, r)
	o.bytes += len(r.Data) + len(r.Key) + len(r.Stream) + 16
	if len(o.batch) >= MaxBatchRecords || o.bytes >= MaxBatchBytes {
		return o.flush()
	}
	return nil
}

func (o *readSender) flush() error {
	if len(o.batch) == 0 {
		return nil
	}
	records := batchToWire(o.batch, o.scratch)
	err := o.stream.Send(&ReadMessage{Message: &ReadMessage_Records{Records: records}})
	// Send has encoded the message, so its buffer can take the next batch.
	o.scratch = records.Packed
	// The message holds a copy of the records, so the slice is reused.
	o.batch, o.bytes = o.batch[:0], 0
	if err != nil {
		return fmt.Errorf("send records to host: %w", err)
	}
	return nil
}

func (o *readSender) control(m *ReadMessage) error {
	if err := o.flush(); err != nil {
		return err
	}
	if err := o.stream.Send(m); err != nil {
		return fmt.Errorf("send to host: %w", err)
	}
	return nil
}

func (o *readSender) Checkpoint(_ context.Context, stream string, state json.RawMessage) error {
	return o.control(
		&ReadMessage{Message: &ReadMessage_Checkpoint{Checkpoint: &Checkpoint{Stream: stream, State: state}}},
	)
}

func (o *readSender) FullRefreshComplete(_ context.Context, stream string, generation uint64) error {
	f := &FullRefreshComplete{Stream: stream, Generation: generation}
	return o.control(&ReadMessage{Message: &ReadMessage_FullRefreshComplete{FullRefreshComplete: f}})
}

func (o *readSender) UpdateCredentials(_ context.Context, c contract.Credentials) error {
	return o.control(&ReadMessage{Message: &ReadMessage_Credentials{Credentials: c}})
}

func (o *readSender) Count(_ context.Context, name string, delta int64) error {
	return o.control(&ReadMessage{Message: &ReadMessage_Counter{Counter: &Counter{Name: name, Delta: delta}}})
}

// NewSource returns a contract.Source that calls a plugin over conn.
func NewSource(conn grpc.ClientConnInterface) contract.Source {
	return &remoteSource{c: NewSourceClient(conn)}
}

type remoteSource struct{ c SourceClient }

func (c *remoteSource) Spec(ctx context.Context) (contract.Spec, error) {
	resp, err := c.c.Spec(ctx, &SpecRequest{})
	if err != nil {
		return contract.Spec{}, fromStatus(ctx, err)
	}
	return specFromWire(resp), nil
}

func (c *remoteSource) Authorize(
	ctx context.Context,
	req contract.AuthorizeRequest,
) (contract.AuthorizeResponse, error) {
	resp, err := c.c.Authorize(ctx, authorizeToWire(req))
	if err != nil {
		return contract.AuthorizeResponse{}, fromStatus(ctx, err)
	}
	return contract.AuthorizeResponse{Credentials: nilIfEmpty(resp.GetCredentials()), Message: resp.GetMessage()}, nil
}

func (c *remoteSource) Check(ctx context.Context, req contract.CheckRequest) (contract.CheckResponse, error) {
	resp, err := c.c.Check(ctx, checkToWire(req))
	if err != nil {
		return contract.CheckResponse{}, fromStatus(ctx, err)
	}
	return contract.CheckResponse{Message: resp.GetMessage(), Credentials: nilIfEmpty(resp.GetCredentials())}, nil
}

func checkToWire(req contract.CheckRequest) *CheckRequest {
	return &CheckRequest{
		ConfigJson:  req.Config,
		Credentials: req.Credentials,
		Streams:     streamsToWire(req.Streams),
		Client:      clientToWire(req.Client),
	}
}

func (c *remoteSource) Discover(ctx context.Context, req contract.DiscoverRequest) (contract.DiscoverResponse, error) {
	resp, err := c.c.Discover(
		ctx,
		&DiscoverRequest{ConfigJson: req.Config, Credentials: req.Credentials, Client: clientToWire(req.Client)},
	)
	if err != nil {
		return contract.DiscoverResponse{}, fromStatus(ctx, err)
	}
	return contract.DiscoverResponse{
		Catalog:     contract.Catalog{Streams: streamsFromWire(resp.GetStreams())},
		Credentials: nilIfEmpty(resp.GetCredentials()),
	}, nil
}

func (c *remoteSource) Read(ctx context.Context, req contract.ReadRequest, out contract.Output) error {
	w := &ReadRequest{ConfigJson: req.Config, Credentials: req.Credentials, Client: clientToWire(req.Client)}
	for _, s := range req.Streams {
		rs := &ReadStream{Name: s.Name, State: s.State, HasState: s.State != nil, Generation: s.Generation}
		w.Streams = append(w.Streams, rs)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.c.Read(ctx, w)
	if err != nil {
		return fromStatus(ctx, err)
	}
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fromStatus(ctx, err)
		}
		if err := deliver(ctx, m, out); err != nil {
			return err
		}
	}
}

// deliver hands one message from the plugin to out.
func deliver(ctx context.Context, m *ReadMessage, out contract.Output) error {
	switch m := m.GetMessage().(type) {
	case *ReadMessage_Records:
		records, err := batchFromWire(m.Records)
		if err != nil {
			return fmt.Errorf("plugin sent a bad record batch: %w", err)
		}
		if bo, ok := out.(contract.BatchOutput); ok {
			return bo.EmitBatch(ctx, records)
		}
		for _, r := range records {
			if err := out.Emit(ctx, r); err != nil {
				return err
			}
		}
		return nil
	case *ReadMessage_Checkpoint:
		return out.Checkpoint(ctx, m.Checkpoint.GetStream(), nilIfEmpty(m.Checkpoint.GetState()))
	case *ReadMessage_FullRefreshComplete:
		return out.FullRefreshComplete(ctx, m.FullRefreshComplete.GetStream(), m.FullRefreshComplete.GetGeneration())
	case *ReadMessage_Credentials:
		return out.UpdateCredentials(ctx, nilIfEmpty(m.Credentials))
	case *ReadMessage_Counter:
		return out.Count(ctx, m.Counter.GetName(), m.Counter.GetDelta())
	default:
		return fmt.Errorf("plugin sent an unknown read message %T: is it built for a newer protocol?", m)
	}
}
