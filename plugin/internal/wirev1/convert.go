package wirev1

import (
	"context"
	"encoding/json"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// Batch limits: a record batch is sent once it holds MaxBatchRecords records
// or MaxBatchBytes bytes of data, whichever comes first. Both stay well under
// gRPC's default 4 MiB message limit unless one record is itself larger.
const (
	MaxBatchRecords = 2048
	MaxBatchBytes   = 1 << 20
)

// MaxMessageBytes is the largest gRPC message either side accepts: a batch
// may exceed MaxBatchBytes by one record, and one record may carry up to
// contract.MaxRecordBytes of data.
const MaxMessageBytes = contract.MaxRecordBytes + 2*MaxBatchBytes

func specToWire(s contract.Spec) *SpecResponse {
	return &SpecResponse{
		Name: s.Name, Version: s.Version, Description: s.Description, Grant: s.Grant,
		Config: attributesToWire(s.Config), Connect: connectMethodsToWire(s.Connect),
		ChangeSignals: changeSignalsToWire(s.ChangeSignals),
	}
}

func specFromWire(s *SpecResponse) contract.Spec {
	return contract.Spec{
		Name: s.GetName(), Version: s.GetVersion(), Description: s.GetDescription(), Grant: s.GetGrant(),
		Config: attributesFromWire(s.GetConfig()), Connect: connectMethodsFromWire(s.GetConnect()),
		ChangeSignals: changeSignalsFromWire(s.GetChangeSignals()),
	}
}

func attributesToWire(as []contract.Attribute) []*Attribute {
	var out []*Attribute
	for _, a := range as {
		out = append(out, &Attribute{
			Name: a.Name, Type: string(a.Type), Required: a.Required, Sensitive: a.Sensitive,
			DefaultJson: a.Default, Description: a.Description,
		})
	}
	return out
}

func attributesFromWire(as []*Attribute) []contract.Attribute {
	var out []contract.Attribute
	for _, a := range as {
		out = append(out, contract.Attribute{
			Name: a.GetName(), Type: contract.AttrType(a.GetType()), Required: a.GetRequired(),
			Sensitive: a.GetSensitive(), Default: nilIfEmpty(a.GetDefaultJson()), Description: a.GetDescription(),
		})
	}
	return out
}

func streamsToWire(ss []contract.Stream) []*Stream {
	out := make([]*Stream, 0, len(ss))
	for _, s := range ss {
		out = append(out, streamToWire(s))
	}
	return out
}

func streamToWire(s contract.Stream) *Stream {
	w := &Stream{Name: s.Name, SchemaJson: s.Schema, PrimaryKey: s.PrimaryKey, CursorField: s.CursorField}
	for _, m := range s.Modes {
		w.Modes = append(w.Modes, string(m))
	}
	return w
}

func streamsFromWire(ss []*Stream) []contract.Stream {
	out := make([]contract.Stream, 0, len(ss))
	for _, s := range ss {
		out = append(out, streamFromWire(s))
	}
	return out
}

func streamFromWire(s *Stream) contract.Stream {
	c := contract.Stream{
		Name:        s.GetName(),
		Schema:      nilIfEmpty(s.GetSchemaJson()),
		PrimaryKey:  s.GetPrimaryKey(),
		CursorField: s.GetCursorField(),
	}
	for _, m := range s.GetModes() {
		c.Modes = append(c.Modes, contract.SyncMode(m))
	}
	return c
}

func nilIfEmpty(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return b
}

// toStatus turns a connector's error into a gRPC status that keeps its text.
func toStatus(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, contract.ErrUnsupported):
		return status.Error(codes.Unimplemented, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	default:
		return status.Error(codes.Unknown, err.Error())
	}
}

// fromStatus turns a gRPC error back into a plain error with the
// connector's text; ctx tells a host-side cancellation from a plugin fault.
func fromStatus(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Unimplemented:
		return &remoteError{msg: st.Message(), is: contract.ErrUnsupported}
	case codes.Canceled:
		return &remoteError{msg: st.Message(), is: context.Canceled}
	case codes.DeadlineExceeded:
		return &remoteError{msg: st.Message(), is: context.DeadlineExceeded}
	case codes.Unavailable:
		return &ConnectionError{Err: errors.New(st.Message())}
	default:
		return &remoteError{msg: st.Message()}
	}
}

// remoteError is an error the plugin returned, carried by text.
type remoteError struct {
	msg string
	is  error
}

func (e *remoteError) Error() string        { return e.msg }
func (e *remoteError) Is(target error) bool { return e.is != nil && target == e.is }

// ConnectionError reports that the plugin went away mid-call: it crashed or
// was killed. The host adds the plugin's last log lines.
type ConnectionError struct{ Err error }

func (e *ConnectionError) Error() string { return "connection to plugin lost: " + e.Err.Error() }
func (e *ConnectionError) Unwrap() error { return e.Err }
