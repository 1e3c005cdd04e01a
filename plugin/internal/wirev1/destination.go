package wirev1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"google.golang.org/grpc"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// RegisterDestination serves impl as the Destination service on s.
func RegisterDestination(s *grpc.Server, impl contract.Destination) {
	RegisterDestinationServer(s, &destinationServer{impl: impl})
}

type destinationServer struct {
	UnimplementedDestinationServer
	impl contract.Destination
}

func (s *destinationServer) Spec(ctx context.Context, _ *SpecRequest) (*SpecResponse, error) {
	spec, err := s.impl.Spec(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return specToWire(spec), nil
}

func (s *destinationServer) Check(ctx context.Context, req *CheckRequest) (*CheckResponse, error) {
	resp, err := s.impl.Check(ctx, checkFromWire(req))
	if err != nil {
		return nil, toStatus(err)
	}
	return &CheckResponse{Message: resp.Message, Credentials: resp.Credentials}, nil
}

func (s *destinationServer) Write(stream grpc.BidiStreamingServer[WriteMessage, WriteReply]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	open := first.GetOpen()
	if open == nil {
		return toStatus(errors.New("write stream must start with an open message"))
	}
	req := contract.WriteRequest{Config: nilIfEmpty(open.GetConfigJson())}
	for _, ws := range open.GetStreams() {
		req.Streams = append(req.Streams,
			contract.WriteStream{Stream: streamFromWire(ws.GetStream()), Generation: ws.GetGeneration()})
	}
	return toStatus(s.impl.Write(stream.Context(), req, &writeReceiver{stream: stream}))
}

// writeReceiver is the Input a destination reads inside the plugin.
type writeReceiver struct {
	stream grpc.BidiStreamingServer[WriteMessage, WriteReply]
	sendMu sync.Mutex // Ack and Count may come from several goroutines
}

func (in *writeReceiver) Next(ctx context.Context) (contract.Message, error) {
	m, err := in.stream.Recv()
	if errors.Is(err, io.EOF) {
		return contract.Message{}, io.EOF
	}
	if err != nil {
		return contract.Message{}, fmt.Errorf("receive from host: %w", err)
	}
	switch m := m.GetMessage().(type) {
	case *WriteMessage_Records:
		records, err := batchFromWire(m.Records)
		if err != nil {
			return contract.Message{}, fmt.Errorf("host sent a bad record batch: %w", err)
		}
		return contract.Message{Records: records}, nil
	case *WriteMessage_Checkpoint:
		c := m.Checkpoint
		cp := &contract.Checkpoint{ID: c.GetId(), Stream: c.GetStream(), State: nilIfEmpty(c.GetState())}
		return contract.Message{Checkpoint: cp}, nil
	case *WriteMessage_FullRefreshComplete:
		f := m.FullRefreshComplete
		fr := &contract.FullRefreshComplete{ID: f.GetId(), Stream: f.GetStream(), Generation: f.GetGeneration()}
		return contract.Message{FullRefreshComplete: fr}, nil
	default:
		return contract.Message{}, fmt.Errorf("host sent an unexpected write message %T", m)
	}
}

func (in *writeReceiver) send(r *WriteReply) error {
	in.sendMu.Lock()
	defer in.sendMu.Unlock()
	if err := in.stream.Send(r); err != nil {
		return fmt.Errorf("send to host: %w", err)
	}
	return nil
}

func (in *writeReceiver) Ack(_ context.Context, id uint64) error {
	return in.send(&WriteReply{Message: &WriteReply_Ack{Ack: id}})
}

func (in *writeReceiver) Count(_ context.Context, name string, delta int64) error {
	return in.send(&WriteReply{Message: &WriteReply_Counter{Counter: &Counter{Name: name, Delta: delta}}})
}

// NewDestination returns a contract.Destination that calls a plugin over conn.
func NewDestination(conn grpc.ClientConnInterface) contract.Destination {
	return &remoteDestination{c: NewDestinationClient(conn)}
}

type remoteDestination struct{ c DestinationClient }

func (c *remoteDestination) Spec(ctx context.Context) (contract.Spec, error) {
	resp, err := c.c.Spec(ctx, &SpecRequest{})
	if err != nil {
		return contract.Spec{}, fromStatus(ctx, err)
	}
	return specFromWire(resp), nil
}

func (c *remoteDestination) Check(ctx context.Context, req contract.CheckRequest) (contract.CheckResponse, error) {
	resp, err := c.c.Check(ctx, checkToWire(req))
	if err != nil {
		return contract.CheckResponse{}, fromStatus(ctx, err)
	}
	return contract.CheckResponse{Message: resp.GetMessage(), Credentials: nilIfEmpty(resp.GetCredentials())}, nil
}

// Write sends in's messages to the plugin from the calling goroutine and
// hands acknowledgements back to in from a second one.
func (c *remoteDestination) Write(ctx context.Context, req contract.WriteRequest, in contract.Input) error {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.c.Write(ctx)
	if err != nil {
		return fromStatus(parent, err)
	}
	open := &WriteOpen{ConfigJson: req.Config}
	for _, s := range req.Streams {
		open.Streams = append(open.Streams, &WriteStream{Stream: streamToWire(s.Stream), Generation: s.Generation})
	}
	if err := stream.Send(&WriteMessage{Message: &WriteMessage_Open{Open: open}}); err != nil {
		return fromStatus(parent, stream.RecvMsg(new(WriteReply)))
	}

	replies := make(chan error, 1)
	go func() {
		replies <- receiveReplies(ctx, stream, in)
		cancel() // a finished or failed plugin stops the sender too
	}()

	sendErr := sendAll(ctx, stream, in)
	if sendErr == nil {
		sendErr = stream.CloseSend()
	}
	recvErr := <-replies
	switch {
	case recvErr != nil:
		return fromStatus(parent, recvErr)
	case sendErr != nil && parent.Err() == nil && !errors.Is(sendErr, context.Canceled):
		return sendErr
	default:
		return parent.Err()
	}
}

func sendAll(ctx context.Context, stream grpc.BidiStreamingClient[WriteMessage, WriteReply], in contract.Input) error {
	var scratch []byte // reused for each batch's packed records
	for {
		m, err := in.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var w *WriteMessage
		switch {
		case m.Records != nil:
			records := batchToWire(m.Records, scratch)
			scratch = records.Packed // Send below encodes it before the next use
			w = &WriteMessage{Message: &WriteMessage_Records{Records: records}}
		case m.Checkpoint != nil:
			cp := m.Checkpoint
			wcp := &Checkpoint{Id: cp.ID, Stream: cp.Stream, State: cp.State}
			w = &WriteMessage{Message: &WriteMessage_Checkpoint{Checkpoint: wcp}}
		case m.FullRefreshComplete != nil:
			f := m.FullRefreshComplete
			wf := &FullRefreshComplete{Id: f.ID, Stream: f.Stream, Generation: f.Generation}
			w = &WriteMessage{Message: &WriteMessage_FullRefreshComplete{FullRefreshComplete: wf}}
		default:
			continue
		}
		if err := stream.Send(w); err != nil {
			// The plugin ended the stream; its reason arrives on Recv.
			return nil //nolint:nilerr // the reason is reported by Recv, not here
		}
	}
}

func receiveReplies(
	ctx context.Context, stream grpc.BidiStreamingClient[WriteMessage, WriteReply], in contract.Input,
) error {
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch r := r.GetMessage().(type) {
		case *WriteReply_Ack:
			err = in.Ack(ctx, r.Ack)
		case *WriteReply_Counter:
			err = in.Count(ctx, r.Counter.GetName(), r.Counter.GetDelta())
		}
		if err != nil {
			return err
		}
	}
}
