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
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
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
	// bucketRunning indexes the runs saved as running, by pipeline and ID,
	// so that those of a host that died are found without reading every run.
	bucketRunning = []byte("running")
)

// Run outcomes.
const (
	OutcomeRunning     = "running"
	OutcomeSucceeded   = "succeeded"
	OutcomeFailed      = "failed"
	OutcomeInterrupted = "interrupted"
	// OutcomeCrashed is a run that was running when its host died.
	OutcomeCrashed = "crashed"
)

// CrashedError is the error recorded on a crashed run.
const CrashedError = "the host stopped during the run (killed, crashed or lost power); the next run resumes from the last stored checkpoint"

// Store is an open state file.
type Store struct {
	db   *bolt.DB
	path string
	// ident is the file as opened: a write finding another file (or none)
	// at path fails, since what it wrote would be lost.
	ident os.FileInfo
}

// MarkerSuffix names the file beside a state file that records that the
// state file was used: with it present, a missing or empty state file is
// refused rather than silently recreated.
const MarkerSuffix = ".used"

// ErrDamaged is wrapped by the errors of a state file that cannot be read.
var ErrDamaged = errors.New("state file is damaged")

var (
	errNotBolt   = errors.New("it is not a bbolt file or both of its headers are damaged")
	errTruncated = errors.New("it is truncated")
)

// Options tune Open.
type Options struct {
	// Fresh starts a new, empty state file where the one at the path is
	// missing though it was used before, empty or damaged; a damaged or
	// empty one is moved aside to PATH.damaged-TIME first. A readable state
	// file is opened as it is.
	Fresh bool
	// Log receives warnings, such as a file mode corrected; nil discards.
	Log hclog.Logger
}

const whatToDo = "restore it from a backup (see `replicator state backup`), or start over with -fresh-state, " +
	"which moves it aside and forgets every checkpoint, stored credential and run"

// Open opens the state file at path, creating it (mode 0600) and its folder
// (mode 0700) when missing. It fails after about a second when another
// process holds the file.
//
// A state file that is damaged, truncated or empty, or missing while the
// marker beside it (PATH.used) says it was used, is refused with an error
// that says what to do, unless opts.Fresh is set. A runs left "running" by
// a host that died is marked "crashed".
func Open(path string, opts Options) (*Store, error) {
	log := opts.Log
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the folder of state file %s: %w", path, err)
	}
	marker := path + MarkerSuffix
	_, err := os.Stat(marker)
	used := err == nil
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if used && !opts.Fresh {
			return nil, fmt.Errorf("state file %s is missing, but %s says it was used before; "+
				"restore it from a backup, or start over with -fresh-state, which forgets every checkpoint, stored credential and run", path, marker)
		}
	case err != nil:
		return nil, fmt.Errorf("opening state file %s: %w", path, err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("state file %s is not a regular file", path)
	case fi.Size() == 0:
		if !opts.Fresh {
			return nil, fmt.Errorf("%w: %s is empty (0 bytes); %s", ErrDamaged, path, whatToDo)
		}
		if err := moveAside(path, log); err != nil {
			return nil, err
		}
	default:
		if err := checkFile(path); err != nil {
			if !opts.Fresh {
				return nil, damaged(path, err)
			}
			if err := moveAside(path, log); err != nil {
				return nil, err
			}
		} else if m := fi.Mode().Perm(); m&0o077 != 0 {
			// It holds credentials: nobody but its owner may read it.
			if err := os.Chmod(path, 0o600); err != nil {
				return nil, fmt.Errorf("state file %s has mode %v, readable by others, and setting it to 0600 failed: %w", path, m, err)
			}
			log.Warn("state file was readable by others; its mode is now 0600", "path", path, "was", m.String())
		}
	}
	s, err := openBolt(path)
	if err != nil && errors.Is(err, ErrDamaged) && opts.Fresh {
		if err := moveAside(path, log); err != nil {
			return nil, err
		}
		s, err = openBolt(path)
	}
	if err != nil {
		return nil, err
	}
	if !used {
		note := "This file records that the state file beside it is in use. While it exists, replicator refuses\n" +
			"to start over when the state file is missing or empty; -fresh-state overrides that.\n"
		if err := os.WriteFile(marker, []byte(note), 0o600); err != nil {
			s.db.Close()
			return nil, fmt.Errorf("writing %s: %w", marker, err)
		}
	}
	return s, nil
}

func damaged(path string, err error) error {
	return fmt.Errorf("%w: %s cannot be read (%v); %s", ErrDamaged, path, err, whatToDo)
}

// moveAside renames a damaged state file so that a new one can be started
// without losing what might still be recovered from it.
func moveAside(path string, log hclog.Logger) error {
	to := path + ".damaged-" + time.Now().UTC().Format("20060102T150405Z")
	if err := os.Rename(path, to); err != nil {
		return fmt.Errorf("moving damaged state file %s aside: %w", path, err)
	}
	log.Warn("starting a new state file; the old one was moved aside", "path", path, "old", to)
	return nil
}

// openBolt opens the file and checks every page of it. bbolt panics on a
// damaged page, and faults on one beyond the end of the file; both are
// turned into an error here.
func openBolt(path string) (s *Store, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, damaged(path, fmt.Errorf("%v", r))
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("state file %s is in use by another replicator process; stop it or use another state file", path)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrChecksum):
		return nil, damaged(path, err)
	case err != nil:
		return nil, fmt.Errorf("opening state file %s: %w", path, err)
	}
	s = &Store{db: db, path: path}
	if err := s.check(); err != nil {
		db.Close()
		return nil, err
	}
	if s.ident, err = os.Stat(path); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening state file %s: %w", path, err)
	}
	err = s.update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketStreams, bucketCredentials, bucketRuns} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return markCrashed(tx)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("preparing state file %s: %w", path, err)
	}
	return s, nil
}

// check walks every page of the file.
func (s *Store) check() error {
	var problems []error
	err := s.view(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			if len(problems) < 3 {
				problems = append(problems, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return damaged(s.path, errors.Join(problems...))
	}
	return nil
}

// view and update run a transaction, turning bbolt's panic on a damaged
// page into an error.
func (s *Store) view(fn func(*bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer s.recoverDamage(&err)
	return s.db.View(fn)
}

func (s *Store) update(fn func(*bolt.Tx) error) (err error) {
	if s.ident != nil {
		if err := s.checkIdentity(); err != nil {
			return err
		}
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer s.recoverDamage(&err)
	return s.db.Update(fn)
}

func (s *Store) recoverDamage(err *error) {
	if r := recover(); r != nil {
		*err = damaged(s.path, fmt.Errorf("%v", r))
	}
}

// checkIdentity fails when the state file was deleted or replaced since it
// was opened: writes would go to a file nobody will read again.
func (s *Store) checkIdentity() error {
	fi, err := os.Stat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("state file %s was deleted while in use; what this run stored is lost with it. Restore the file from a backup or start over with -fresh-state", s.path)
	case err != nil:
		return fmt.Errorf("checking state file %s: %w", s.path, err)
	case !os.SameFile(fi, s.ident):
		return fmt.Errorf("state file %s was replaced by another file while in use; stop every replicator process using it before restoring a backup", s.path)
	}
	return nil
}

// Close releases the file and its lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing state file %s: %w", s.path, err)
	}
	return nil
}

// Backup writes a consistent copy of the state file to w while others may
// go on using it.
func (s *Store) Backup(w io.Writer) error {
	err := s.view(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(w)
		return err
	})
	if err != nil {
		return fmt.Errorf("backing up state file %s: %w", s.path, err)
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
	err := s.view(func(tx *bolt.Tx) error {
		p := tx.Bucket(bucketStreams).Bucket([]byte(pipeline))
		if p == nil {
			return nil
		}
		v := p.Get([]byte(stream))
		if v == nil {
			return nil
		}
		var err error
		st, err = decodeStream(v)
		return err
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
	err = s.update(func(tx *bolt.Tx) error {
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
	err := s.update(func(tx *bolt.Tx) error {
		p := tx.Bucket(bucketStreams).Bucket([]byte(pipeline))
		if p == nil {
			return nil
		}
		v := p.Get([]byte(stream))
		if v == nil {
			return nil
		}
		st, err := decodeStream(v)
		if err != nil {
			return err
		}
		if st.Generation == 0 {
			return p.Delete([]byte(stream))
		}
		v, err = json.Marshal(StreamState{Generation: st.Generation})
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
	err := s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketCredentials).Get([]byte(source)); v != nil {
			var err error
			c, err = decodeCredentials(v) // a copy: v is only valid inside the transaction
			return err
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
	err := s.update(func(tx *bolt.Tx) error {
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
	err := s.update(func(tx *bolt.Tx) error {
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
		running, err := tx.CreateBucketIfNotExists(bucketRunning)
		if err != nil {
			return err
		}
		rk := runningKey(run.Pipeline, id)
		if run.Outcome == OutcomeRunning {
			err = running.Put(rk, nil)
		} else {
			err = running.Delete(rk)
		}
		if err != nil {
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
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuns).Bucket([]byte(pipeline))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(runs) < limit); k, v = c.Prev() {
			r, err := decodeRun(v)
			if err != nil {
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
	err := s.view(func(tx *bolt.Tx) error {
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

// runningKey is pipeline, a zero byte, then the run ID.
func runningKey(pipeline string, id uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(pipeline), 0), id)
}

// markCrashed marks the runs still "running" as crashed: only one process
// opens the file, so none of them is underway. A file from before the
// index existed is searched in full once.
func markCrashed(tx *bolt.Tx) error {
	runs := tx.Bucket(bucketRuns)
	index := tx.Bucket(bucketRunning)
	type ref struct {
		pipeline []byte
		id       []byte
	}
	var found []ref
	if index == nil {
		var err error
		if index, err = tx.CreateBucket(bucketRunning); err != nil {
			return err
		}
		err = runs.ForEachBucket(func(p []byte) error {
			return runs.Bucket(p).ForEach(func(k, v []byte) error {
				var r struct{ Outcome string }
				if json.Unmarshal(v, &r) == nil && r.Outcome == OutcomeRunning {
					found = append(found, ref{slices.Clone(p), slices.Clone(k)})
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
	} else {
		err := index.ForEach(func(k, _ []byte) error {
			if i := len(k) - 9; i >= 0 && k[i] == 0 {
				found = append(found, ref{slices.Clone(k[:i]), slices.Clone(k[i+1:])})
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, f := range found {
		if err := index.Delete(append(append(slices.Clone(f.pipeline), 0), f.id...)); err != nil {
			return err
		}
		b := runs.Bucket(f.pipeline)
		if b == nil {
			continue
		}
		v := b.Get(f.id)
		if v == nil {
			continue // trimmed since
		}
		r, err := decodeRun(v)
		if err != nil {
			return fmt.Errorf("decoding run %d of pipeline %q: %w", binary.BigEndian.Uint64(f.id), f.pipeline, err)
		}
		if r.Outcome != OutcomeRunning {
			continue
		}
		r.Outcome, r.Error = OutcomeCrashed, CrashedError
		nv, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if err := b.Put(f.id, nv); err != nil {
			return err
		}
	}
	return nil
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
