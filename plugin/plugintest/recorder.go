package plugintest

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sync"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// Recorder is a contract.Output that keeps everything a source sends it,
// for a connector's own unit tests: call the source's Read with a Recorder
// and look at what it holds. It copies what it is given, so a source may
// reuse its buffers, and it is safe for concurrent use. The zero value is
// ready to use.
type Recorder struct {
	mu          sync.Mutex
	records     []contract.Record
	checkpoints []Checkpoint
	full        []contract.FullRefreshComplete
	creds       contract.Credentials
	counters    map[string]int64
}

// Checkpoint is a checkpoint a Recorder received.
type Checkpoint struct {
	Stream string
	State  json.RawMessage
	// After is how many records (of every stream) were emitted before it.
	After int
}

var _ contract.Output = (*Recorder)(nil)

// Emit records r.
func (r *Recorder) Emit(_ context.Context, rec contract.Record) error {
	rec.Data = append(json.RawMessage(nil), rec.Data...)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
	return nil
}

// Checkpoint records a checkpoint of stream.
func (r *Recorder) Checkpoint(_ context.Context, stream string, state json.RawMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	state = append(json.RawMessage(nil), state...)
	r.checkpoints = append(r.checkpoints, Checkpoint{Stream: stream, State: state, After: len(r.records)})
	return nil
}

// FullRefreshComplete records a full-refresh-complete.
func (r *Recorder) FullRefreshComplete(_ context.Context, stream string, generation uint64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.full = append(r.full, contract.FullRefreshComplete{Stream: stream, Generation: generation})
	return nil
}

// UpdateCredentials keeps c, replacing credentials received before.
func (r *Recorder) UpdateCredentials(_ context.Context, c contract.Credentials) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.creds = append(contract.Credentials(nil), c...)
	return nil
}

// Count adds delta to the counter name.
func (r *Recorder) Count(_ context.Context, name string, delta int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counters == nil {
		r.counters = map[string]int64{}
	}
	r.counters[name] += delta
	return nil
}

// Records returns the records emitted so far, in order.
func (r *Recorder) Records() []contract.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.records)
}

// Checkpoints returns the checkpoints received so far, in order.
func (r *Recorder) Checkpoints() []Checkpoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.checkpoints)
}

// FullRefreshCompletes returns the full-refresh-completes received so far,
// in order. Their IDs are zero: the host assigns them.
func (r *Recorder) FullRefreshCompletes() []contract.FullRefreshComplete {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.full)
}

// Credentials returns the last credentials received, or nil.
func (r *Recorder) Credentials() contract.Credentials {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.creds
}

// Counters returns the counters' totals.
func (r *Recorder) Counters() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.counters)
}
