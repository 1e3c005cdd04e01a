// Package generator is a source that produces a fixed number of
// deterministic records per stream. It needs no service, so it serves to
// measure the pipeline's throughput and to test resuming after a crash.
//
// Two settings exist only as test aids: fail_after ends the whole connector
// process with exit status 3 once that many records were emitted in a read
// (records still buffered on their way to the host are lost, as in a real
// crash), and delay_ms pauses after each checkpoint so that a test can stop
// a run between checkpoints.
package generator

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/config"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// Version is the generator's own version.
const Version = "1.0.0"

// failExitCode is the process status fail_after ends with.
const failExitCode = 3

// Source is the generator source. Create it with New.
type Source struct {
	contract.UnimplementedSource
	log hclog.Logger
	// exit ends the process for fail_after; tests replace it.
	exit func(code int)
}

// New returns a generator source logging to log.
func New(log hclog.Logger) *Source {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Source{log: log, exit: os.Exit}
}

// settings is the generator's configuration, declared once: the Spec's
// attributes and the decoding both come from it.
type settings struct {
	Count           int64    `config:"count" default:"1000" description:"Records per stream."`
	RecordSize      int      `config:"record_size" default:"300" description:"Approximate size in bytes of each record's JSON data (at least 40; records never shrink below their fixed fields)."`
	Streams         []string `config:"streams" default:"[\"items\"]" description:"Names of the streams to offer."`
	CheckpointEvery int64    `config:"checkpoint_every" default:"10000" description:"Records between checkpoints."`
	FailAfter       int64    `config:"fail_after" default:"0" description:"Test aid: the connector process exits with status 3 once it has emitted this many records in a read; 0 never."`
	DelayMS         int64    `config:"delay_ms" default:"0" description:"Test aid: milliseconds to pause after each checkpoint."`
}

// Spec describes the generator's configuration.
func (s *Source) Spec(context.Context) (contract.Spec, error) {
	return contract.Spec{
		Name:        "generator",
		Version:     Version,
		Description: "Produces a fixed number of deterministic records per stream, for benchmarks and tests.",
		Config:      config.MustAttributes[settings](),
	}, nil
}

// maxWhole is the largest number the generator takes: beyond 2^53 a JSON
// number no longer holds every whole number.
const maxWhole = 1 << 53

// parseConfig decodes and checks raw; its errors name the attribute to fix.
func parseConfig(raw json.RawMessage) (settings, error) {
	c, err := config.Decode[settings](raw)
	if err != nil {
		return settings{}, fmt.Errorf("generator config: %w", err)
	}
	for _, n := range []struct {
		name string
		v    int64
		min  int64
	}{
		{"count", c.Count, 0},
		{"record_size", int64(c.RecordSize), 40},
		{"checkpoint_every", c.CheckpointEvery, 1},
		{"fail_after", c.FailAfter, 0},
		{"delay_ms", c.DelayMS, 0},
	} {
		if n.v < n.min {
			return settings{}, fmt.Errorf("generator config: %s must be at least %d, got %d", n.name, n.min, n.v)
		}
		if n.v > maxWhole {
			return settings{}, fmt.Errorf("generator config: %s must be at most 2^53, got %d", n.name, n.v)
		}
	}
	if c.RecordSize > contract.MaxRecordBytes {
		return settings{}, fmt.Errorf("generator config: record_size must be at most %d, got %d",
			contract.MaxRecordBytes, c.RecordSize)
	}
	if len(c.Streams) == 0 {
		return settings{}, fmt.Errorf("generator config: streams must name at least one stream")
	}
	for i, name := range c.Streams {
		if name == "" {
			return settings{}, fmt.Errorf("generator config: streams[%d] is empty; give every stream a name", i)
		}
		if slices.Contains(c.Streams[:i], name) {
			return settings{}, fmt.Errorf("generator config: streams lists %q twice", name)
		}
	}
	return c, nil
}

// delay is the pause after each checkpoint.
func (c settings) delay() time.Duration { return time.Duration(c.DelayMS) * time.Millisecond }

// Check validates the configuration and that every requested stream is
// one the configuration offers.
func (s *Source) Check(_ context.Context, req contract.CheckRequest) (contract.CheckResponse, error) {
	c, err := parseConfig(req.Config)
	if err != nil {
		return contract.CheckResponse{}, err
	}
	for _, st := range req.Streams {
		if err := c.hasStream(st.Name); err != nil {
			return contract.CheckResponse{}, err
		}
	}
	return contract.CheckResponse{
		Message: fmt.Sprintf("generator ready: %d records in each of %d streams", c.Count, len(c.Streams)),
	}, nil
}

func (c settings) hasStream(name string) error {
	if !slices.Contains(c.Streams, name) {
		return fmt.Errorf("stream %q is not offered by this generator; its streams attribute lists %s",
			name, strings.Join(quoteAll(c.Streams), ", "))
	}
	return nil
}

func quoteAll(names []string) []string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return q
}

// recordSchema is the JSON Schema of every stream's records.
const recordSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "properties": {
    "id": {"type": "integer", "minimum": 0},
    "name": {"type": "string"},
    "payload": {"type": "string"},
    "updated_at": {"type": "string", "format": "date-time"}
  },
  "required": ["id", "name", "payload", "updated_at"],
  "additionalProperties": false
}`

// Discover lists the configured streams.
func (s *Source) Discover(_ context.Context, req contract.DiscoverRequest) (contract.DiscoverResponse, error) {
	c, err := parseConfig(req.Config)
	if err != nil {
		return contract.DiscoverResponse{}, err
	}
	var cat contract.Catalog
	for _, name := range c.Streams {
		cat.Streams = append(cat.Streams, contract.Stream{
			Name:        name,
			Schema:      json.RawMessage(recordSchema),
			PrimaryKey:  []string{"id"},
			CursorField: []string{"id"},
			Modes:       []contract.SyncMode{contract.FullRefresh, contract.Incremental},
		})
	}
	return contract.DiscoverResponse{Catalog: cat}, nil
}

// position is where a stream starts: the index of the next record and
// whether a full refresh is under way. Its checkpoint state is
// {"next":N}, with "full_refresh":true added while a full refresh has not
// reached its end, so that a refresh resumed after a crash still reports
// its completion.
type position struct {
	Next        *int64 `json:"next"`
	FullRefresh bool   `json:"full_refresh,omitempty"`
}

func parseState(stream string, raw json.RawMessage) (position, error) {
	var p position
	if err := json.Unmarshal(raw, &p); err != nil || p.Next == nil || *p.Next < 0 {
		return position{}, fmt.Errorf(
			"stream %q: state %s is not a generator checkpoint like {\"next\": 123}; reset the stream to start over",
			stream, raw)
	}
	return p, nil
}

// Read emits the requested streams one after another. A stream given state
// resumes at its "next" index; one without state starts at 0. A full
// refresh (a stream started without state, or resumed from a checkpoint
// taken during one) reports FullRefreshComplete with the stream's
// generation after its last record.
func (s *Source) Read(ctx context.Context, req contract.ReadRequest, out contract.Output) error {
	c, err := parseConfig(req.Config)
	if err != nil {
		return err
	}
	starts := make([]position, len(req.Streams))
	for i, rs := range req.Streams {
		if err := c.hasStream(rs.Name); err != nil {
			return err
		}
		if rs.State != nil {
			if starts[i], err = parseState(rs.Name, rs.State); err != nil {
				return err
			}
		}
	}
	r := reader{cfg: c, out: out, exit: s.exit, log: s.log}
	for i, rs := range req.Streams {
		start, refresh := int64(0), true
		if rs.State != nil {
			start, refresh = *starts[i].Next, starts[i].FullRefresh
			s.log.Info(fmt.Sprintf("resuming at %d", start), "stream", rs.Name, "full_refresh", refresh)
		} else {
			s.log.Info("starting full refresh", "stream", rs.Name, "generation", rs.Generation)
		}
		if err := r.stream(ctx, rs, start, refresh); err != nil {
			return err
		}
	}
	return nil
}

const (
	// ctxEvery is how many records pass between checks of ctx.
	ctxEvery = 1024
	// chunkSize is the size of the blocks records' Data are built in.
	chunkSize = 256 << 10
	// alphabet fills payloads; none of it needs escaping in JSON.
	alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)

// epoch is the updated_at of record 0 (2026-01-01T00:00:00Z in Unix
// seconds); record i is i seconds later.
const epoch = 1767225600

// reader holds what one Read shares across its streams.
type reader struct {
	cfg     settings
	out     contract.Output
	exit    func(int)
	log     hclog.Logger
	emitted int64  // records emitted in this Read, for fail_after
	chunk   []byte // the block records are built in; its length is what is used
}

// The fixed parts of a record's JSON; payload and updated_at keep constant
// widths apart from the payload itself, so its length can be computed.
const (
	partID      = `{"id":`
	partName    = `,"name":"`
	partPayload = `","payload":"`
	partUpdated = `","updated_at":"`
	partEnd     = `"}`
	timeWidth   = len("2006-01-02T15:04:05Z")
	tailWidth   = len(partPayload) + len(partUpdated) + timeWidth + len(partEnd)
)

func (r *reader) stream(ctx context.Context, rs contract.ReadStream, start int64, refresh bool) error {
	// Everything that depends only on the stream is prepared once.
	name, err := json.Marshal(rs.Name + " #")
	if err != nil {
		return fmt.Errorf("stream %q: encoding its name: %w", rs.Name, err)
	}
	mid := append([]byte(partName), name[1:len(name)-1]...) // without the quotes
	h := fnv.New32a()
	h.Write([]byte(rs.Name))
	seed := int64(h.Sum32() % uint32(len(alphabet)))
	filler := strings.Repeat(alphabet, r.cfg.RecordSize/len(alphabet)+2)
	// An upper bound of a record's length: the fixed fields with two
	// indexes of at most 19 digits, plus a payload of at most record_size.
	maxLen := len(partID) + 19 + len(mid) + 19 + tailWidth + r.cfg.RecordSize

	i := start
	for ; i < r.cfg.Count; i++ {
		if (i-start)%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		// Records are built straight into a shared block rather than
		// allocated one by one: each Data is capped at its own end and a
		// block is never written below its length again, so records stay
		// independent while costing no allocation each.
		if cap(r.chunk)-len(r.chunk) < maxLen {
			r.chunk = make([]byte, 0, max(chunkSize, maxLen))
		}
		at := len(r.chunk)
		b := append(r.chunk, partID...)
		b = strconv.AppendInt(b, i, 10)
		b = append(b, mid...)
		b = strconv.AppendInt(b, i, 10)
		n := max(r.cfg.RecordSize-(len(b)-at)-tailWidth, 0)
		off := int((seed + i) % int64(len(alphabet)))
		b = append(b, partPayload...)
		b = append(b, filler[off:off+n]...)
		b = append(b, partUpdated...)
		b = time.Unix(epoch+i, 0).UTC().AppendFormat(b, time.RFC3339)
		b = append(b, partEnd...)
		r.chunk = b
		data := b[at:len(b):len(b)]

		err := r.out.Emit(ctx, contract.Record{
			Stream: rs.Name,
			Key:    strconv.FormatInt(i, 10),
			Op:     contract.Upsert,
			Data:   data,
		})
		if err != nil {
			return fmt.Errorf("stream %q: emitting record %d: %w", rs.Name, i, err)
		}
		r.emitted++
		if r.cfg.FailAfter > 0 && r.emitted == r.cfg.FailAfter {
			r.log.Warn("fail_after reached; exiting with status 3 as configured", "records", r.emitted)
			r.exit(failExitCode)
			return fmt.Errorf("generator stopped by fail_after after %d records", r.emitted)
		}
		if next := i + 1; next%r.cfg.CheckpointEvery == 0 && next < r.cfg.Count {
			if err := r.checkpoint(ctx, rs.Name, next, refresh); err != nil {
				return err
			}
		}
	}
	// FullRefreshComplete goes before the last checkpoint: if the run dies
	// between the two, the stream resumes from an earlier checkpoint rather
	// than from the end with the refresh never reported.
	if refresh {
		if err := r.out.FullRefreshComplete(ctx, rs.Name, rs.Generation); err != nil {
			return fmt.Errorf("stream %q: reporting full refresh complete: %w", rs.Name, err)
		}
	}
	return r.checkpoint(ctx, rs.Name, i, false)
}

func (r *reader) checkpoint(ctx context.Context, stream string, next int64, refresh bool) error {
	st := strconv.AppendInt([]byte(`{"next":`), next, 10)
	if refresh {
		st = append(st, `,"full_refresh":true`...)
	}
	st = append(st, '}')
	if err := r.out.Checkpoint(ctx, stream, st); err != nil {
		return fmt.Errorf("stream %q: checkpoint at %d: %w", stream, next, err)
	}
	if r.cfg.DelayMS > 0 {
		t := time.NewTimer(r.cfg.delay())
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
