// Package contract holds the plain Go side of the connector protocol: the
// Source and Destination interfaces, the record model and the control
// messages that travel with records. Connector authors implement these
// interfaces and hand them to plugin.ServeSource or plugin.ServeDestination;
// the host calls the same interfaces through a gRPC client, so nothing here
// knows about protobuf or processes.
package contract

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// ErrUnsupported is returned by a connector method the connector does not
// offer, such as Authorize on a source that needs no credentials.
var ErrUnsupported = errors.New("not supported by this connector")

// Spec describes a connector and the configuration its HCL block takes.
type Spec struct {
	Name        string // connector type, e.g. "zoho"
	Version     string // the connector's own version, e.g. "1.2.0"
	Description string
	Config      []Attribute
	// Grant says, for the user, what the source's Authorize takes, such as
	// "a grant code from the Self Client in the Zoho API console"; empty
	// for a connector that needs no authorization. The console offers an
	// Authorize form for sources that set it.
	Grant string
	// Connect lists the ways a customer connects the source from a connect
	// page, in the order the page offers them; see ConnectKind. Empty for
	// a source connected only as Grant says. Added in SDK 1.2.
	Connect []ConnectMethod
	// ChangeSignals, when set, says that the source can have its service
	// call the host back when records change (it implements Watcher).
	// Added in SDK 1.2; see watch.go.
	ChangeSignals *ChangeSignals
}

// AttrType is the type of a configuration attribute.
type AttrType string

// The attribute types a connector's configuration can use.
const (
	TypeString     AttrType = "string"
	TypeNumber     AttrType = "number"
	TypeBool       AttrType = "bool"
	TypeStringList AttrType = "list(string)"
	TypeStringMap  AttrType = "map(string)"
)

// Attribute is one configuration attribute of a connector's HCL block.
type Attribute struct {
	Name        string
	Type        AttrType
	Required    bool
	Sensitive   bool            // never printed or logged by the host
	Default     json.RawMessage // JSON value used when the attribute is absent; nil for none
	Description string
}

// Attribute returns the attribute named name and whether the spec has it.
func (s Spec) Attribute(name string) (Attribute, bool) {
	for _, a := range s.Config {
		if a.Name == name {
			return a, true
		}
	}
	return Attribute{}, false
}

// SyncMode says how a stream is read.
type SyncMode string

// Sync modes a stream may support.
const (
	// FullRefresh reads every record each time the stream has no state.
	FullRefresh SyncMode = "full_refresh"
	// Incremental reads only what changed since the state it is given.
	Incremental SyncMode = "incremental"
)

// Catalog lists the streams a source can read.
type Catalog struct {
	Streams []Stream
}

// Stream returns the stream named name and whether the catalog has it.
func (c Catalog) Stream(name string) (Stream, bool) {
	for _, s := range c.Streams {
		if s.Name == name {
			return s, true
		}
	}
	return Stream{}, false
}

// Stream describes one stream of records.
type Stream struct {
	Name        string
	Schema      json.RawMessage // JSON Schema of a record's Data
	PrimaryKey  []string        // field names making up Record.Key
	CursorField []string        // field that orders increments; empty if none
	Modes       []SyncMode
}

// Op is what a record asks of the destination.
type Op uint8

// Record operations.
const (
	Upsert Op = iota // create or replace the entry with the record's key
	Delete           // remove the entry with the record's key
)

func (o Op) String() string {
	if o == Delete {
		return "delete"
	}
	return "upsert"
}

// MaxRecordBytes is the most data one record may carry. The protocol's
// message limit leaves room for a record this large beside a full batch.
const MaxRecordBytes = 64 << 20

// Record is one change to one entry of a stream.
type Record struct {
	Stream     string
	Key        string
	Op         Op
	Data       json.RawMessage // JSON object; empty for deletes
	SourceTime time.Time       // when the source last changed the entry; zero if unknown
}

// Checkpoint carries a stream's opaque state. Once a destination has
// acknowledged a checkpoint, the host persists State and a later run of the
// stream starts from it. ID is assigned by the host and is zero on the
// source side.
type Checkpoint struct {
	ID     uint64
	Stream string
	State  json.RawMessage
}

// FullRefreshComplete says that every record of Stream that exists in the
// source has been sent with Generation: the destination removes the
// stream's entries written in older generations. ID is assigned by the host.
type FullRefreshComplete struct {
	ID         uint64
	Stream     string
	Generation uint64
}

// Message is one item of the stream a destination reads: exactly one field
// is set.
type Message struct {
	Records             []Record
	Checkpoint          *Checkpoint
	FullRefreshComplete *FullRefreshComplete
}

// Credentials are what a source stores between runs (refresh tokens, cached
// access tokens). The host keeps them encrypted at rest only as far as its
// state file is protected, never logs them, and hands them back on every call.
type Credentials = json.RawMessage

// AuthorizeRequest asks a source to turn a one-time grant into credentials.
type AuthorizeRequest struct {
	Config json.RawMessage
	// Grant is what the operator pasted (a grant code, a token), when
	// Connect is empty.
	Grant string
	// Connect is the way of Spec.Connect that Params come from; empty
	// for Grant. Added in SDK 1.2, as are the fields below.
	Connect ConnectKind
	// Params are, for ConnectWeb, the query parameters of the request
	// that came back to RedirectURL, once the host has checked its state;
	// for ConnectForm, the fields the customer filled in, by name.
	Params map[string]string
	// RedirectURL is, for ConnectWeb, the one AuthorizeURL was given:
	// services want the code exchange to name it again.
	RedirectURL string
	// Client is the provider's OAuth client for this kind of source, from
	// the host's configuration; nil when the host has none.
	Client *OAuthClient
}

// AuthorizeResponse carries the credentials to store and a message for the user.
type AuthorizeResponse struct {
	Credentials Credentials
	Message     string // e.g. the scopes granted and the streams they allow
}

// CheckRequest asks a connector whether it can work with this configuration.
type CheckRequest struct {
	Config      json.RawMessage
	Credentials Credentials  // sources only
	Streams     []Stream     // the streams the pipeline uses; destinations check their schemas
	Client      *OAuthClient // sources only; as in ReadRequest
}

// CheckResponse reports a successful check.
type CheckResponse struct {
	Message     string
	Credentials Credentials // updated credentials to store; nil if unchanged
}

// DiscoverRequest asks a source for its catalog.
type DiscoverRequest struct {
	Config      json.RawMessage
	Credentials Credentials
	Client      *OAuthClient // as in ReadRequest
}

// DiscoverResponse is a source's catalog.
type DiscoverResponse struct {
	Catalog     Catalog
	Credentials Credentials // updated credentials to store; nil if unchanged
}

// ReadRequest asks a source for records of some of its streams.
type ReadRequest struct {
	Config      json.RawMessage
	Credentials Credentials
	Streams     []ReadStream
	// Client is the provider's OAuth client for this kind of source, from
	// the host's configuration, which credentials made through ConnectWeb
	// need to refresh their tokens; nil when the host has none. Added in
	// SDK 1.2.
	Client *OAuthClient
}

// ReadStream is one stream to read and where to start.
type ReadStream struct {
	Name string
	// State is the last acknowledged checkpoint's state; nil means start
	// from the beginning with a full refresh.
	State json.RawMessage
	// Generation is the generation this run writes; a source reports it in
	// FullRefreshComplete.
	Generation uint64
}

// WriteRequest opens a destination's write for a run.
type WriteRequest struct {
	Config  json.RawMessage
	Streams []WriteStream
}

// WriteStream is one stream a destination receives.
type WriteStream struct {
	Stream
	Generation uint64 // the generation records of this run carry
}

// Source reads records from a service. A source customers connect
// themselves also implements WebAuthorizer, Revoker or both.
//
// The host calls at most one method at a time per process; a cancelled
// context means the host is stopping the call and the method should return
// promptly. Errors are shown to the user, so they say what to fix. A source
// that can watch its service for changes also implements Watcher.
type Source interface {
	Spec(ctx context.Context) (Spec, error)
	// Authorize exchanges a one-time grant for long-lived credentials:
	// the Grant an operator pasted, or what a connect page collected (see
	// ConnectKind). The host stores the credentials and shows the message.
	Authorize(ctx context.Context, req AuthorizeRequest) (AuthorizeResponse, error)
	// Check proves the configuration and credentials work for req.Streams.
	Check(ctx context.Context, req CheckRequest) (CheckResponse, error)
	Discover(ctx context.Context, req DiscoverRequest) (DiscoverResponse, error)
	// Read sends the requested streams' records to out, with a checkpoint
	// whenever a later run could resume there. It returns nil when all
	// streams are read, or ctx.Err() when the host stopped it.
	Read(ctx context.Context, req ReadRequest, out Output) error
}

// Output receives what a source reads. Its methods are called from one
// goroutine at a time. Records are batched underneath; a checkpoint or
// full-refresh-complete follows every record emitted before it.
type Output interface {
	Emit(ctx context.Context, r Record) error
	Checkpoint(ctx context.Context, stream string, state json.RawMessage) error
	FullRefreshComplete(ctx context.Context, stream string, generation uint64) error
	// UpdateCredentials hands the host credentials to store at once, such as
	// a fresh access token; they replace the stored ones.
	UpdateCredentials(ctx context.Context, c Credentials) error
	// Count adds delta to a named counter of the run ("api_credits",
	// "skipped_without_phone"); the host shows counters in the run history.
	// Names are bounded: see MaxCounters.
	Count(ctx context.Context, name string, delta int64) error
}

// BatchOutput is an Output that also takes many records in one call. The
// host's Output implements it, and the gRPC client hands it each batch as
// it arrives instead of calling Emit once per record. The callee may keep
// the slice.
type BatchOutput interface {
	Output
	EmitBatch(ctx context.Context, rs []Record) error
}

// Destination writes records to a service.
//
// As for Source, the host calls one method at a time per process, and a
// cancelled context means stop.
type Destination interface {
	Spec(ctx context.Context) (Spec, error)
	// Check proves the configuration works and that the destination accepts
	// req.Streams, naming any stream it cannot take and why.
	Check(ctx context.Context, req CheckRequest) (CheckResponse, error)
	// Write consumes in until Next returns io.EOF, and calls in.Ack for a
	// checkpoint or full-refresh-complete once it and every record before it
	// is durable in the service. It returns after the last Ack.
	Write(ctx context.Context, req WriteRequest, in Input) error
}

// Input is what a destination reads. Next and Ack may be called from
// different goroutines.
type Input interface {
	// Next returns the next message, or io.EOF when the run has no more.
	Next(ctx context.Context) (Message, error)
	// Ack acknowledges the checkpoint or full-refresh-complete with this ID
	// and every one before it. IDs must be acknowledged in order.
	Ack(ctx context.Context, id uint64) error
	// Count adds delta to a named counter of the run; see MaxCounters.
	Count(ctx context.Context, name string, delta int64) error
}
