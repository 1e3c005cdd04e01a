package state

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Top-level buckets. Streams and runs hold one nested bucket per pipeline.
var (
	bucketStreams     = []byte("streams")
	bucketCredentials = []byte("credentials")
	bucketRuns        = []byte("runs")
	// bucketRunning indexes the runs saved as running, by pipeline and ID,
	// so that those of a host that died are found without reading every run.
	bucketRunning = []byte("running")
	// bucketClaims holds each pipeline's claim: its current fencing token
	// and holder.
	bucketClaims = []byte("claims")
	// bucketPaused holds the paused pipelines: when each was paused.
	bucketPaused = []byte("paused")
	// bucketChannels holds the pipelines' change-signal channels, by key.
	bucketChannels = []byte("channels")
	// bucketMeta holds keyFormat, the format of the file's values.
	bucketMeta = []byte("meta")
	keyFormat  = []byte("format")
)

// The formats of a state file's values. A file without a format of record
// is of format 1, which the next open converts.
const (
	formatPlain  = 1 // values are their JSON, unchecked
	formatFramed = 2 // values are framed with a checksum (frame.go)
)

// File is a Store in one bbolt file, for one host: the file is locked so
// that only one process uses it at a time, and claims are held by the
// process that has it open. Every write is its own transaction and is
// fsync'd before it returns, so a checkpoint that SaveStream accepted
// survives a crash.
type File struct {
	db   *bolt.DB
	path string
	keys *Keyring // nil: credentials are stored in plain

	mu   sync.Mutex
	held map[string]*Claim
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

// FileOptions tune OpenFile.
type FileOptions struct {
	// Fresh starts a new, empty state file where the one at the path is
	// missing though it was used before, empty or damaged; a damaged or
	// empty one is moved aside to PATH.damaged-TIME first. A readable state
	// file is opened as it is.
	Fresh bool
	// Log receives warnings, such as a file mode corrected; nil discards.
	Log hclog.Logger
	// Keys, when set, encrypts the credentials the file stores, as the
	// PostgreSQL store does; credentials stored in plain before are
	// encrypted at open. Without it credentials are stored in plain, and
	// encrypted ones cannot be read.
	Keys *Keyring
}

const whatToDo = "restore it from a backup (see `replicator state backup`), or start over with -fresh-state, " +
	"which moves it aside and forgets every checkpoint, stored credential and run"

// OpenFile opens the state file at path, creating it (mode 0600) and its folder
// (mode 0700) when missing. It fails after about a second when another
// process holds the file.
//
// A state file that is damaged, truncated or empty, or missing while the
// marker beside it (PATH.used) says it was used, is refused with an error
// that says what to do, unless opts.Fresh is set. Every page and every
// stored value is checked. Runs left "running" by a host that died are
// marked "crashed".
func OpenFile(path string, opts FileOptions) (*File, error) {
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
	s, err := openBolt(path, opts.Keys, log)
	if err != nil && errors.Is(err, ErrDamaged) && opts.Fresh {
		if err := moveAside(path, log); err != nil {
			return nil, err
		}
		s, err = openBolt(path, opts.Keys, log)
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
	return fmt.Errorf("%w: %s cannot be read (%w); %s", ErrDamaged, path, err, whatToDo)
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

// openBolt opens the file and checks every page and value of it. bbolt
// panics on a damaged page, and faults on one beyond the end of the file;
// both are turned into an error here.
func openBolt(path string, keys *Keyring, log hclog.Logger) (s *File, err error) {
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
	s = &File{db: db, path: path, keys: keys, held: map[string]*Claim{}}
	if err := checkPages(path); err != nil {
		db.Close()
		return nil, damaged(path, err)
	}
	if err := s.check(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.upgrade(); err != nil {
		db.Close()
		return nil, fmt.Errorf("converting state file %s to the format with checksums: %w", path, err)
	}
	if s.ident, err = os.Stat(path); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening state file %s: %w", path, err)
	}
	var sealed int
	err = s.update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketStreams, bucketCredentials, bucketRuns, bucketClaims, bucketPaused, bucketChannels} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if sealed, err = s.sealPlainCredentials(tx); err != nil {
			return err
		}
		if err := releaseAll(tx); err != nil {
			return err
		}
		return markCrashed(tx, nil)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("preparing state file %s: %w", path, err)
	}
	if sealed > 0 {
		log.Info("encrypted the credentials stored in plain", "path", path, "sources", sealed)
	}
	return s, nil
}

// check walks every page of the file, then checks every value: bbolt's
// check covers the structure of the pages, not what the values hold.
func (s *File) check() error {
	var problems []error
	note := func(err error) {
		if len(problems) < 3 {
			problems = append(problems, err)
		}
	}
	err := s.view(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			note(err)
		}
		if len(problems) > 0 {
			return nil // the values of damaged pages cannot be walked
		}
		format, err := readFormat(tx)
		if err != nil {
			return err
		}
		return eachValue(tx, func(what func() string, k, v []byte) ([]byte, error) {
			// A file of format 1 holds JSON, and framed values where a
			// conversion was cut short.
			if format == formatPlain && !framed(v) {
				if !json.Valid(v) {
					note(fmt.Errorf("%s: %w: it is not valid JSON", what(), errUnreadable))
				}
			} else if _, err := unframe(k, v); err != nil {
				note(fmt.Errorf("%s: %w", what(), err))
			}
			return nil, nil
		})
	})
	switch {
	case errors.Is(err, ErrDamaged):
		return err
	case err != nil:
		return fmt.Errorf("state file %s: %w", s.path, err)
	case len(problems) > 0:
		return damaged(s.path, errors.Join(problems...))
	}
	return nil
}

// readFormat returns the format of the file's values. A format this
// replicator does not know is refused: it was written by a newer one.
func readFormat(tx *bolt.Tx) (int, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return formatPlain, nil
	}
	v, err := get(meta, keyFormat)
	switch {
	case err != nil:
		return 0, fmt.Errorf("the format of record: %w", err)
	case len(v) != 1:
		return 0, fmt.Errorf("the format of record: %w: it is %d bytes long", errUnreadable, len(v))
	case v[0] > formatFramed:
		return 0, fmt.Errorf("it was written by a newer replicator (format %d; this one reads formats up to %d): use that version or a newer one", v[0], formatFramed)
	}
	return int(v[0]), nil
}

// upgradeBatch bounds what one transaction of a conversion rewrites:
// bbolt keeps a transaction's writes in memory until it commits.
const upgradeBatch = 32 << 20

// upgrade converts a file of format 1, which check has found to hold JSON
// and framed values only, to format 2: it frames the values not framed
// yet, in transactions of about upgradeBatch bytes, then records format 2.
// A conversion cut short goes on at the next open. It is done once, at the
// first open by a replicator that frames values; older ones cannot read
// the file after.
func (s *File) upgrade() error {
	var format int
	var buckets []valueBucket
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		if format, err = readFormat(tx); err != nil || format == formatFramed {
			return err
		}
		buckets, err = valueBuckets(tx)
		return err
	})
	if err != nil || format == formatFramed {
		return err
	}
	for len(buckets) > 0 {
		err := s.update(func(tx *bolt.Tx) error {
			size := 0
			for len(buckets) > 0 && size < upgradeBatch {
				err := buckets[0].walk(tx, func(_ func() string, k, v []byte) ([]byte, error) {
					if framed(v) {
						return nil, nil
					}
					size += len(v)
					return frame(k, v), nil
				})
				if err != nil {
					return err
				}
				buckets = buckets[1:]
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return s.update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		return put(meta, keyFormat, []byte{formatFramed})
	})
}

// valueFunc is called with a stored value v, its key k and what says what
// the value is, for messages. A value it returns replaces the stored one.
type valueFunc func(what func() string, k, v []byte) ([]byte, error)

// valueBucket is a bucket of values: claims, credentials, or the streams
// or runs of one pipeline.
type valueBucket struct {
	top, pipeline []byte // pipeline is nil for a top-level bucket
	what          func(pipeline, k []byte) string
}

// valueBuckets lists the buckets of values.
func valueBuckets(tx *bolt.Tx) ([]valueBucket, error) {
	var out []valueBucket
	for _, b := range []struct {
		name   []byte
		nested bool // one bucket per pipeline
		what   func(pipeline, k []byte) string
	}{
		{bucketClaims, false, func(_, k []byte) string { return fmt.Sprintf("the claim of pipeline %q", k) }},
		{bucketCredentials, false, credentialsOf},
		{bucketPaused, false, func(_, k []byte) string { return fmt.Sprintf("the pause of pipeline %q", k) }},
		{bucketChannels, false, func(_, k []byte) string { return fmt.Sprintf("change-signal channel %q", k) }},
		{bucketLinks, false, func(_, k []byte) string { return fmt.Sprintf("the use of connect link %q", k) }},
		{bucketLinkKey, false, func(_, _ []byte) string { return "the key of connect links" }},
		{bucketStreams, true, func(p, k []byte) string { return fmt.Sprintf("stream %q of pipeline %q", k, p) }},
		{bucketRuns, true, func(p, k []byte) string { return fmt.Sprintf("run %d of pipeline %q", runID(k), p) }},
	} {
		top := tx.Bucket(b.name)
		switch {
		case top == nil:
		case !b.nested:
			out = append(out, valueBucket{top: b.name, what: b.what})
		default:
			err := top.ForEachBucket(func(p []byte) error {
				out = append(out, valueBucket{top: b.name, pipeline: slices.Clone(p), what: b.what})
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// walk calls fn with every value of the bucket in tx.
func (vb valueBucket) walk(tx *bolt.Tx, fn valueFunc) error {
	b := tx.Bucket(vb.top)
	if b != nil && vb.pipeline != nil {
		b = b.Bucket(vb.pipeline)
	}
	if b == nil {
		return nil
	}
	return walkBucket(b, vb.pipeline, vb.what, fn)
}

// eachValue calls fn with every value of the buckets of values.
func eachValue(tx *bolt.Tx, fn valueFunc) error {
	buckets, err := valueBuckets(tx)
	if err != nil {
		return err
	}
	for _, vb := range buckets {
		if err := vb.walk(tx, fn); err != nil {
			return err
		}
	}
	return nil
}

func credentialsOf(_, k []byte) string { return "the credentials of " + string(k) }

// walkBucket calls fn with every value of b, as eachValue does.
func walkBucket(b *bolt.Bucket, pipeline []byte, what func(pipeline, k []byte) string, fn valueFunc) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			continue // a nested bucket; the layout has none here
		}
		nv, err := fn(func() string { return what(pipeline, k) }, k, v)
		if err != nil {
			return err
		}
		if nv != nil {
			// A write moves the cursor's page under it; seek back.
			k = slices.Clone(k)
			if err := b.Put(k, nv); err != nil {
				return err
			}
			c.Seek(k)
		}
	}
	return nil
}

// get returns the payload stored under key, or nil when there is none.
func get(b *bolt.Bucket, key []byte) ([]byte, error) {
	v := b.Get(key)
	if v == nil {
		return nil, nil
	}
	return unframe(key, v)
}

// put stores payload under key, framed.
func put(b *bolt.Bucket, key, payload []byte) error {
	return b.Put(key, frame(key, payload))
}

// view and update run a transaction, turning bbolt's panic on a damaged
// page into an error.
func (s *File) view(fn func(*bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer s.recoverDamage(&err)
	return s.damage(s.db.View(fn))
}

func (s *File) update(fn func(*bolt.Tx) error) (err error) {
	if s.ident != nil {
		if err := s.checkIdentity(); err != nil {
			return err
		}
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer s.recoverDamage(&err)
	return s.damage(s.db.Update(fn))
}

func (s *File) recoverDamage(err *error) {
	if r := recover(); r != nil {
		*err = damaged(s.path, fmt.Errorf("a page is damaged: %v", r))
	}
}

// damage says what to do about an error that found a damaged value.
func (s *File) damage(err error) error {
	if errors.Is(err, errUnreadable) && !errors.Is(err, ErrDamaged) {
		return damaged(s.path, err)
	}
	return err
}

// checkIdentity fails when the state file was deleted or replaced since it
// was opened: writes would go to a file nobody will read again.
func (s *File) checkIdentity() error {
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
func (s *File) Close() error {
	s.mu.Lock()
	held := slices.Collect(maps.Values(s.held))
	s.mu.Unlock()
	for _, c := range held {
		_ = c.Release(context.Background()) // the next open releases it anyway
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing state file %s: %w", s.path, err)
	}
	return nil
}

// Backup writes a consistent copy of the state file to w while others may
// go on using it.
func (s *File) Backup(w io.Writer) error {
	err := s.view(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(w)
		return err
	})
	if err != nil {
		return fmt.Errorf("backing up state file %s: %w", s.path, err)
	}
	return nil
}

var _ Store = (*File)(nil)

// claimRecord is a pipeline's entry in the claims bucket.
type claimRecord struct {
	Token uint64    `json:"token"`
	Held  bool      `json:"held"`
	Host  string    `json:"host,omitempty"`
	Since time.Time `json:"since,omitzero"`
}

func getClaim(tx *bolt.Tx, pipeline string) (claimRecord, error) {
	var c claimRecord
	v, err := get(tx.Bucket(bucketClaims), []byte(pipeline))
	if err == nil && v != nil && json.Unmarshal(v, &c) != nil {
		err = fmt.Errorf("%w: it is not valid JSON", errUnreadable)
	}
	if err != nil {
		return claimRecord{}, fmt.Errorf("the claim of pipeline %q: %w", pipeline, err)
	}
	return c, nil
}

func putClaim(tx *bolt.Tx, pipeline string, c claimRecord) error {
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return put(tx.Bucket(bucketClaims), []byte(pipeline), v)
}

// fenced checks, inside a write, that f is the pipeline's current claim.
func fenced(tx *bolt.Tx, f Fence) (claimRecord, error) {
	c, err := getClaim(tx, f.Pipeline)
	if err != nil {
		return c, err
	}
	if !c.Held || c.Token != f.Token {
		cur := c.Token
		if !c.Held {
			cur = 0
		}
		return c, &FencedError{Fence: f, Current: cur}
	}
	return c, nil
}

// releaseAll marks every claim released: at open, no process holds any.
func releaseAll(tx *bolt.Tx) error {
	b := tx.Bucket(bucketClaims)
	var stale []string
	err := b.ForEach(func(k, v []byte) error {
		c, err := getClaim(tx, string(k))
		if err != nil {
			return err
		}
		if c.Held {
			stale = append(stale, string(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range stale {
		c, err := getClaim(tx, p)
		if err != nil {
			return err
		}
		c.Held, c.Host, c.Since = false, "", time.Time{}
		if err := putClaim(tx, p, c); err != nil {
			return err
		}
	}
	return nil
}

// Claim takes pipeline for host. Only this process has the file open, so
// the claim lasts until Release or Close.
func (s *File) Claim(ctx context.Context, pipeline, host string) (*Claim, error) {
	if pipeline == "" {
		return nil, errors.New("claiming a pipeline: the pipeline name is empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.held[pipeline]; ok {
		return nil, &ClaimedError{Pipeline: pipeline, Holder: Holder{Host: c.Host, Since: c.Since, Token: c.Token}}
	}
	var rec claimRecord
	err := s.update(func(tx *bolt.Tx) error {
		var err error
		if rec, err = getClaim(tx, pipeline); err != nil {
			return err
		}
		rec = claimRecord{Token: rec.Token + 1, Held: true, Host: host, Since: time.Now().UTC()}
		if err := putClaim(tx, pipeline, rec); err != nil {
			return err
		}
		// Whoever ran the pipeline before is gone: a run of theirs still
		// "running" never ends.
		return markCrashed(tx, []byte(pipeline))
	})
	if err != nil {
		return nil, fmt.Errorf("claiming pipeline %q: %w", pipeline, err)
	}
	f := Fence{Pipeline: pipeline, Token: rec.Token}
	var c *Claim
	c = NewClaim(f, host, rec.Since, func(ctx context.Context) error {
		return s.release(c)
	})
	s.held[pipeline] = c
	return c, nil
}

func (s *File) release(c *Claim) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[c.Pipeline] != c {
		return nil
	}
	delete(s.held, c.Pipeline)
	err := s.update(func(tx *bolt.Tx) error {
		rec, err := getClaim(tx, c.Pipeline)
		if err != nil || rec.Token != c.Token {
			return err
		}
		rec.Held, rec.Host, rec.Since = false, "", time.Time{}
		return putClaim(tx, c.Pipeline, rec)
	})
	if err != nil {
		return fmt.Errorf("releasing the claim on pipeline %q: %w", c.Pipeline, err)
	}
	return nil
}

// Holders returns the claims held now.
func (s *File) Holders(ctx context.Context) (map[string]Holder, error) {
	out := map[string]Holder{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketClaims).ForEach(func(k, _ []byte) error {
			c, err := getClaim(tx, string(k))
			if err != nil {
				return err
			}
			if c.Held {
				out[string(k)] = Holder{Host: c.Host, Since: c.Since, Token: c.Token}
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing claims: %w", err)
	}
	return out, nil
}

// Stream returns the state of a pipeline's stream.
func (s *File) Stream(ctx context.Context, pipeline, stream string) (StreamState, error) {
	var st StreamState
	err := s.view(func(tx *bolt.Tx) error {
		p := tx.Bucket(bucketStreams).Bucket([]byte(pipeline))
		if p == nil {
			return nil
		}
		v, err := get(p, []byte(stream))
		if err != nil || v == nil {
			return err
		}
		st, err = decodeStream(v)
		return err
	})
	if err != nil {
		return StreamState{}, fmt.Errorf("reading state of stream %q of pipeline %q: %w", stream, pipeline, err)
	}
	return st, nil
}

// SaveStream stores the state of a pipeline's stream.
func (s *File) SaveStream(ctx context.Context, f Fence, stream string, st StreamState) error {
	if err := CheckNames(f.Pipeline, stream); err != nil {
		return err
	}
	if NoCheckpoint(st.State) {
		st.State = nil
	}
	v, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encoding state of stream %q of pipeline %q: %w", stream, f.Pipeline, err)
	}
	err = s.update(func(tx *bolt.Tx) error {
		if _, err := fenced(tx, f); err != nil {
			return err
		}
		p, err := tx.Bucket(bucketStreams).CreateBucketIfNotExists([]byte(f.Pipeline))
		if err != nil {
			return err
		}
		return put(p, []byte(stream), v)
	})
	if err != nil {
		return fmt.Errorf("saving state of stream %q of pipeline %q: %w", stream, f.Pipeline, err)
	}
	return nil
}

// ResetStream forgets a stream's checkpoint, keeping its generation.
func (s *File) ResetStream(ctx context.Context, f Fence, stream string) error {
	if err := CheckNames(f.Pipeline, stream); err != nil {
		return err
	}
	err := s.update(func(tx *bolt.Tx) error {
		if _, err := fenced(tx, f); err != nil {
			return err
		}
		p := tx.Bucket(bucketStreams).Bucket([]byte(f.Pipeline))
		if p == nil {
			return nil
		}
		v, err := get(p, []byte(stream))
		if err != nil || v == nil {
			return err
		}
		st, err := decodeStream(v)
		if err != nil {
			return err
		}
		if st.Generation == 0 && st.FullRefreshed.IsZero() {
			return p.Delete([]byte(stream))
		}
		v, err = json.Marshal(StreamState{Generation: st.Generation, FullRefreshed: st.FullRefreshed})
		if err != nil {
			return err
		}
		return put(p, []byte(stream), v)
	})
	if err != nil {
		return fmt.Errorf("resetting stream %q of pipeline %q: %w", stream, f.Pipeline, err)
	}
	return nil
}

// Credentials returns the credentials stored for a source.
func (s *File) Credentials(ctx context.Context, source string) (json.RawMessage, error) {
	var c json.RawMessage
	err := s.view(func(tx *bolt.Tx) error {
		v, err := get(tx.Bucket(bucketCredentials), []byte(source))
		if err != nil || v == nil {
			return err
		}
		c, err = s.openCredentials(source, v) // a copy: v is only valid inside the transaction
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading credentials of %s: %w", source, err)
	}
	return c, nil
}

// openCredentials decodes a source's stored credentials, decrypting them
// when they were stored encrypted.
func (s *File) openCredentials(source string, v []byte) (json.RawMessage, error) {
	if !isSealed(v) {
		return decodeCredentials(v)
	}
	if s.keys == nil {
		return nil, fmt.Errorf("stored credentials of %s are encrypted with key %s, and no encryption_key is configured: "+
			"set the state block's encryption_key to that key", source, sealedKeyID(v))
	}
	plain, err := s.keys.Open(source, v)
	if err != nil {
		return nil, err
	}
	return decodeCredentials(plain)
}

// sealPlainCredentials encrypts the credentials stored in plain, when the
// file has keys; it returns how many it encrypted.
func (s *File) sealPlainCredentials(tx *bolt.Tx) (n int, err error) {
	if s.keys == nil {
		return 0, nil
	}
	err = walkBucket(tx.Bucket(bucketCredentials), nil, credentialsOf, func(what func() string, k, v []byte) ([]byte, error) {
		payload, err := unframe(k, v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what(), err)
		}
		if isSealed(payload) {
			return nil, nil
		}
		sealed, err := s.keys.Seal(string(k), payload)
		if err != nil {
			return nil, err
		}
		n++
		return frame(k, sealed), nil
	})
	return n, err
}

// SaveCredentials stores a source's credentials.
func (s *File) SaveCredentials(ctx context.Context, f Fence, source string, c json.RawMessage) error {
	if source == "" {
		return errors.New("saving credentials: the source reference is empty")
	}
	if len(c) > 0 && !json.Valid(c) {
		return fmt.Errorf("saving credentials of %s: they are not valid JSON", source)
	}
	v := []byte(c)
	if len(c) > 0 && s.keys != nil {
		var err error
		if v, err = s.keys.Seal(source, c); err != nil {
			return err
		}
	}
	err := s.update(func(tx *bolt.Tx) error {
		if f != NoFence {
			if _, err := fenced(tx, f); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketCredentials)
		if len(v) == 0 {
			return b.Delete([]byte(source))
		}
		return put(b, []byte(source), v)
	})
	if err != nil {
		return fmt.Errorf("saving credentials of %s: %w", source, err)
	}
	return nil
}

// SaveRun stores r in its pipeline's history.
func (s *File) SaveRun(ctx context.Context, f Fence, r *Run) error {
	if err := CheckRun(f, r); err != nil {
		return err
	}
	id := r.ID
	var host string
	err := s.update(func(tx *bolt.Tx) error {
		c, err := fenced(tx, f)
		if err != nil {
			return err
		}
		host = c.Host
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
		run.ID, run.Host, run.Fence = id, host, f.Token
		v, err := json.Marshal(run)
		if err != nil {
			return err
		}
		if err := put(b, runKey(id), v); err != nil {
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
	r.ID, r.Host, r.Fence = id, host, f.Token
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

// Runs returns up to limit of a pipeline's runs, newest first.
func (s *File) Runs(ctx context.Context, pipeline string, limit int) ([]Run, error) {
	var runs []Run
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuns).Bucket([]byte(pipeline))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(runs) < limit); k, v = c.Prev() {
			r, err := getRun(k, v)
			if err != nil {
				return err
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

// Pipelines returns the names of the pipelines that have any run or stream
// state, sorted.
func (s *File) Pipelines(ctx context.Context) ([]string, error) {
	var names []string
	err := s.view(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketRuns, bucketStreams} {
			err := tx.Bucket(b).ForEachBucket(func(k []byte) error {
				names = append(names, string(k))
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing pipelines: %w", err)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// Streams returns the state of every stream of a pipeline.
func (s *File) Streams(ctx context.Context, pipeline string) (map[string]StreamState, error) {
	out := map[string]StreamState{}
	err := s.view(func(tx *bolt.Tx) error {
		p := tx.Bucket(bucketStreams).Bucket([]byte(pipeline))
		if p == nil {
			return nil
		}
		return p.ForEach(func(k, v []byte) error {
			st, err := decodeStored(k, v, decodeStream)
			if err != nil {
				return fmt.Errorf("stream %q: %w", k, err)
			}
			out[string(k)] = st
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading streams of pipeline %q: %w", pipeline, err)
	}
	return out, nil
}

// Sources returns the sources that have stored credentials.
func (s *File) Sources(ctx context.Context) ([]string, error) {
	var out []string
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCredentials).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing sources with credentials: %w", err)
	}
	return out, nil
}

// LastRuns returns the newest run of every pipeline, walking each one's
// runs back only as far as its failures in a row go.
func (s *File) LastRuns(ctx context.Context) (map[string]Latest, error) {
	out := map[string]Latest{}
	err := s.view(func(tx *bolt.Tx) error {
		runs := tx.Bucket(bucketRuns)
		return runs.ForEachBucket(func(p []byte) error {
			var l Latest
			c := runs.Bucket(p).Cursor()
			for k, v := c.Last(); k != nil; k, v = c.Prev() {
				// Of the runs before the newest, only their outcome and
				// start count: a long streak is not decoded whole.
				decode := decodeRunBrief
				if l.Run.ID == 0 {
					decode = decodeRunWithoutLogs
				}
				r, err := decodeStored(k, v, decode)
				if err != nil {
					return fmt.Errorf("pipeline %q: run %d: %w", p, runID(k), err)
				}
				if !l.Older(r) {
					break
				}
			}
			if l.Run.ID != 0 {
				out[string(p)] = l
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading the last runs: %w", err)
	}
	return out, nil
}

// pauseRecord is a pipeline's entry in the paused bucket.
type pauseRecord struct {
	Since time.Time `json:"since"`
}

// SetPaused pauses or resumes a pipeline.
func (s *File) SetPaused(ctx context.Context, pipeline string, paused bool) error {
	if pipeline == "" {
		return errors.New("pausing: the pipeline name is empty")
	}
	v, err := json.Marshal(pauseRecord{Since: time.Now().UTC()})
	if err != nil {
		return err
	}
	err = s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPaused)
		switch {
		case !paused:
			return b.Delete([]byte(pipeline))
		case b.Get([]byte(pipeline)) != nil:
			return nil
		}
		return put(b, []byte(pipeline), v)
	})
	if err != nil {
		return fmt.Errorf("%s pipeline %q: %w", pauseVerb(paused), pipeline, err)
	}
	return nil
}

func pauseVerb(paused bool) string {
	if paused {
		return "pausing"
	}
	return "resuming"
}

// Paused returns the paused pipelines.
func (s *File) Paused(ctx context.Context) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPaused).ForEach(func(k, v []byte) error {
			p, err := decodeStored(k, v, decodePause)
			if err != nil {
				return fmt.Errorf("the pause of pipeline %q: %w", k, err)
			}
			out[string(k)] = p.Since
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading the paused pipelines: %w", err)
	}
	return out, nil
}

// runningKey is pipeline, a zero byte, then the run ID.
func runningKey(pipeline string, id uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(pipeline), 0), id)
}

// markCrashed marks the runs of pipeline (nil: every pipeline) still
// "running" as crashed, when nobody can be running them. A file from
// before the index existed is searched in full once.
func markCrashed(tx *bolt.Tx, pipeline []byte) error {
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
				r, err := getRun(k, v)
				if err != nil {
					return fmt.Errorf("pipeline %q: %w", p, err)
				}
				if r.Outcome == OutcomeRunning {
					found = append(found, ref{slices.Clone(p), slices.Clone(k)})
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
	} else {
		prefix := []byte(nil)
		if pipeline != nil {
			prefix = append(slices.Clone(pipeline), 0)
		}
		c := index.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if i := len(k) - 9; i >= 0 && k[i] == 0 {
				found = append(found, ref{slices.Clone(k[:i]), slices.Clone(k[i+1:])})
			}
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
		r, err := getRun(f.id, v)
		if err != nil {
			return fmt.Errorf("pipeline %q: %w", f.pipeline, err)
		}
		if r.Outcome != OutcomeRunning {
			continue
		}
		r.Outcome, r.Error = OutcomeCrashed, CrashedError
		nv, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if err := put(b, f.id, nv); err != nil {
			return err
		}
	}
	return nil
}

func runKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, id)
}

// runID is the ID of a run's key; 0 for a key of another length, which
// only damage makes.
func runID(k []byte) uint64 {
	if len(k) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(k)
}

// getRun decodes the run stored as v under key k.
func getRun(k, v []byte) (Run, error) {
	r, err := decodeStored(k, v, decodeRun)
	if err != nil {
		return Run{}, fmt.Errorf("run %d: %w", runID(k), err)
	}
	return r, nil
}

// decodeStored checks and decodes the value v stored under key k.
func decodeStored[T any](k, v []byte, decode func([]byte) (T, error)) (T, error) {
	payload, err := unframe(k, v)
	if err != nil {
		var zero T
		return zero, err
	}
	return decode(payload)
}
