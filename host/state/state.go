// Package state is the host's embedded store: one bbolt file holding the
// checkpoint of every pipeline's streams, the credentials of every source
// and each pipeline's run history.
//
// Every write is its own transaction and is fsync'd before it returns, so a
// checkpoint that SaveStream accepted survives a crash. A Store is safe for
// use from several goroutines; the file is locked so that only one process
// uses it at a time.
package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// KeepRuns is how many runs per pipeline the history keeps; older ones are
// dropped as new ones are saved.
const KeepRuns = 1000

// Top-level buckets. Streams and runs hold one nested bucket per pipeline.
var (
	bucketStreams     = []byte("streams")
	bucketCredentials = []byte("credentials")
	bucketRuns        = []byte("runs")
)

// Run outcomes.
const (
	OutcomeRunning     = "running"
	OutcomeSucceeded   = "succeeded"
	OutcomeFailed      = "failed"
	OutcomeInterrupted = "interrupted"
)

// Store is an open state file.
type Store struct {
	db   *bolt.DB
	path string
}

// Open opens the state file at path, creating it (mode 0600) and its folder
// (mode 0700) when missing. It fails after about a second when another
// process holds the file.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the folder of state file %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("state file %s is in use by another replicator process; stop it or use another state file", path)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrChecksum):
		return nil, fmt.Errorf("state file %s is not a readable replicator state file: %w", path, err)
	case err != nil:
		return nil, fmt.Errorf("opening state file %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketStreams, bucketCredentials, bucketRuns} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("preparing state file %s: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}

// Close releases the file and its lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing state file %s: %w", s.path, err)
	}
	return nil
}

// StreamState is what the store keeps for one stream of one pipeline.
type StreamState struct {
	// State is the last acknowledged checkpoint's state; nil means the
	// stream was never synced.
	State json.RawMessage `json:"state,omitempty"`
	// Generation is the last generation handed out for this stream.
	Generation uint64 `json:"generation,omitempty"`
	// FullRefresh is the generation of a full refresh in progress; 0 = none.
	FullRefresh uint64 `json:"full_refresh,omitempty"`
}

// Stream returns the state of a pipeline's stream, or the zero value when
// the store has none.
func (s *Store) Stream(pipeline, stream string) (StreamState, error) {
	var st StreamState
	err := s.db.View(func(tx *bolt.Tx) error {
		p := tx.Bucket(bucketStreams).Bucket([]byte(pipeline))
		if p == nil {
			return nil
		}
		v := p.Get([]byte(stream))
		if v == nil {
			return nil
		}
		return json.Unmarshal(v, &st)
	})
	if err != nil {
		return StreamState{}, fmt.Errorf("reading state of stream %q of pipeline %q: %w", stream, pipeline, err)
	}
	return st, nil
}

// SaveStream stores the state of a pipeline's stream, replacing what was there.
func (s *Store) SaveStream(pipeline, stream string, st StreamState) error {
	if err := names(pipeline, stream); err != nil {
		return err
	}
	v, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encoding state of stream %q of pipeline %q: %w", stream, pipeline, err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		p, err := tx.Bucket(bucketStreams).CreateBucketIfNotExists([]byte(pipeline))
		if err != nil {
			return err
		}
		return p.Put([]byte(stream), v)
	})
	if err != nil {
		return fmt.Errorf("saving state of stream %q of pipeline %q: %w", stream, pipeline, err)
	}
	return nil
}

// ResetStream forgets a stream's checkpoint and any full refresh in
// progress, so that its next run starts over with a full refresh. The
// generation counter is kept: generations must never go backwards, or a
// destination could not tell old entries from new ones.
func (s *Store) ResetStream(pipeline, stream string) error {
	if err := names(pipeline, stream); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		p := tx.Bucket(bucketStreams).Bucket([]byte(pipeline))
		if p == nil {
			return nil
		}
		v := p.Get([]byte(stream))
		if v == nil {
			return nil
		}
		var st StreamState
		if err := json.Unmarshal(v, &st); err != nil {
			return err
		}
		if st.Generation == 0 {
			return p.Delete([]byte(stream))
		}
		v, err := json.Marshal(StreamState{Generation: st.Generation})
		if err != nil {
			return err
		}
		return p.Put([]byte(stream), v)
	})
	if err != nil {
		return fmt.Errorf("resetting stream %q of pipeline %q: %w", stream, pipeline, err)
	}
	return nil
}

// Credentials returns the credentials stored for a source (a reference such
// as "source.zoho.eu"), or nil when there are none.
func (s *Store) Credentials(source string) (json.RawMessage, error) {
	var c json.RawMessage
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketCredentials).Get([]byte(source)); v != nil {
			c = slices.Clone(v) // v is only valid inside the transaction
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading credentials of %s: %w", source, err)
	}
	return c, nil
}

// SaveCredentials stores a source's credentials, replacing what was there.
// Empty credentials remove the stored ones.
func (s *Store) SaveCredentials(source string, c json.RawMessage) error {
	if source == "" {
		return errors.New("saving credentials: the source reference is empty")
	}
	if len(c) > 0 && !json.Valid(c) {
		return fmt.Errorf("saving credentials of %s: they are not valid JSON", source)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCredentials)
		if len(c) == 0 {
			return b.Delete([]byte(source))
		}
		return b.Put([]byte(source), c)
	})
	if err != nil {
		return fmt.Errorf("saving credentials of %s: %w", source, err)
	}
	return nil
}

// Run is one run of a pipeline in the history.
type Run struct {
	ID       uint64           `json:"id"` // per-pipeline sequence, from 1
	Pipeline string           `json:"pipeline"`
	Started  time.Time        `json:"started"`
	Ended    time.Time        `json:"ended,omitzero"`
	Read     int64            `json:"read"`
	Written  int64            `json:"written"`
	Outcome  string           `json:"outcome"` // one of the Outcome constants
	Error    string           `json:"error,omitempty"`
	Counters map[string]int64 `json:"counters,omitempty"`
	Resumed  []string         `json:"resumed,omitempty"` // streams that started from a checkpoint
}

// SaveRun stores r in its pipeline's history. When r.ID is 0 it assigns the
// pipeline's next run ID to r.ID; saving a run again with that ID updates
// it. Only the newest KeepRuns runs per pipeline are kept.
func (s *Store) SaveRun(r *Run) error {
	if r.Pipeline == "" {
		return errors.New("saving run: the run has no pipeline name")
	}
	id := r.ID
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketRuns).CreateBucketIfNotExists([]byte(r.Pipeline))
		if err != nil {
			return err
		}
		if id == 0 {
			if id, err = b.NextSequence(); err != nil {
				return err
			}
		} else if id > b.Sequence() {
			if err := b.SetSequence(id); err != nil {
				return err
			}
		}
		run := *r
		run.ID = id
		v, err := json.Marshal(run)
		if err != nil {
			return err
		}
		if err := b.Put(runKey(id), v); err != nil {
			return err
		}
		return trimRuns(b)
	})
	if err != nil {
		return fmt.Errorf("saving run of pipeline %q: %w", r.Pipeline, err)
	}
	// Only now: a failed transaction must not leave r looking saved.
	r.ID = id
	return nil
}

// trimRuns drops runs older than the newest KeepRuns. IDs come from the
// bucket's sequence, so "newest" is "highest ID".
func trimRuns(b *bolt.Bucket) error {
	newest := b.Sequence()
	if newest <= KeepRuns {
		return nil
	}
	oldestKept := newest - KeepRuns + 1
	var drop [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) < oldestKept; k, _ = c.Next() {
		drop = append(drop, slices.Clone(k))
	}
	// Deleting while the cursor walks can skip keys, so delete afterwards.
	for _, k := range drop {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Runs returns up to limit of a pipeline's runs, newest first; limit <= 0
// returns every kept run.
func (s *Store) Runs(pipeline string, limit int) ([]Run, error) {
	var runs []Run
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuns).Bucket([]byte(pipeline))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(runs) < limit); k, v = c.Prev() {
			var r Run
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decoding run %d: %w", binary.BigEndian.Uint64(k), err)
			}
			runs = append(runs, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading runs of pipeline %q: %w", pipeline, err)
	}
	return runs, nil
}

// Pipelines returns the names of the pipelines that have any run, sorted.
func (s *Store) Pipelines() ([]string, error) {
	var names []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRuns).ForEachBucket(func(k []byte) error {
			names = append(names, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing pipelines: %w", err)
	}
	slices.Sort(names) // bolt orders bytewise already; this keeps the promise explicit
	return names, nil
}

func runKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, id)
}

func names(pipeline, stream string) error {
	switch {
	case pipeline == "":
		return errors.New("the pipeline name is empty")
	case stream == "":
		return fmt.Errorf("pipeline %q: the stream name is empty", pipeline)
	}
	return nil
}
