// Package postgres is the state store of several hosts sharing one
// PostgreSQL database.
//
// A claim is a session-level advisory lock on the pipeline, held on one of
// a few long-lived sessions the host keeps for its claims (ClaimSessions),
// whose session PostgreSQL ends after TakeoverAfter without a word from
// the holder (idle_session_timeout); the holder speaks on each several
// times within that bound. A host that dies, is paused or is cut off loses
// the session and with it the locks, and the next host to claim one of
// its pipelines increments the pipeline's fencing token. Every write
// checks, in its own transaction and under a share lock on the pipeline's
// row, that its token is the current one and that the lock is still held,
// so a stale host's writes are refused. No clock is compared across hosts.
//
// A host also counts on a claim only for three quarters of the bound
// after its session last answered (Claim.Check): a host that was paused
// and comes back knows its claims may have been taken over before the
// database tells it, and ends their runs before they write to their
// destinations again.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/replicatorhq/replicator/host/state"
)

// DefaultTakeoverAfter bounds how long a pipeline stays with a host that
// stopped answering before another host may claim it; it is the state
// block's default.
const DefaultTakeoverAfter = 48 * time.Second

// lockNamespace is the first key of every advisory lock this package takes
// ("RPLC"); the second is the pipeline's id, or 0 for migrations.
const lockNamespace int32 = 0x52504c43

//go:embed migrations/*.sql
var migrations embed.FS

// Options say how to reach the database and how to keep credentials.
type Options struct {
	// URL is a libpq connection string or URL.
	URL string
	// Keys encrypts credentials. Without them the store reads and writes
	// everything but credentials, which stay sealed: for commands that
	// only read the history.
	Keys *state.Keyring
	// TakeoverAfter is how long after its holder's last word a claim is
	// given up; zero means DefaultTakeoverAfter.
	TakeoverAfter time.Duration
	// Log receives warnings; nil discards.
	Log hclog.Logger
}

// Store is a state.Store in a PostgreSQL database.
type Store struct {
	pool  *pgxpool.Pool
	conn  *pgx.ConnConfig // for the claim sessions
	keys  *state.Keyring
	bound time.Duration
	log   hclog.Logger
	where string // the database, for messages, without its password
	// epoch is the origin of the sessions' renewal times, read on the
	// monotonic clock.
	epoch time.Time

	opening  sync.Mutex // one claim session opens at a time
	mu       sync.Mutex
	sessions []*session       // open and not lost
	held     map[int32]*claim // by pipeline id; nil while being claimed
	closed   bool
}

var _ state.Store = (*Store)(nil)

// Open connects to the database and applies the migrations it lacks.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.TakeoverAfter == 0 {
		opts.TakeoverAfter = DefaultTakeoverAfter
	}
	if opts.TakeoverAfter < time.Second {
		return nil, fmt.Errorf("takeover_after %s is below one second", opts.TakeoverAfter)
	}
	if opts.Log == nil {
		opts.Log = hclog.NewNullLogger()
	}
	where := Redacted(opts.URL)
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("the state block's postgres URL %s cannot be read: %w", where, err)
	}
	// A host paused in the middle of a write's transaction would hold its
	// row locks for as long as it is paused, and the host that takes its
	// pipelines over would wait for them: PostgreSQL ends such a
	// transaction, and its session, after the takeover bound, as it ends
	// the claims of a silent host.
	cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt(opts.TakeoverAfter.Milliseconds(), 10)
	s := &Store{conn: cfg.ConnConfig.Copy(), keys: opts.Keys, bound: opts.TakeoverAfter, log: opts.Log, where: where,
		epoch: time.Now(), held: map[int32]*claim{}}
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("connecting to the state database %s: %w", where, err)
	}
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		if unreachable(err) {
			err = &UnreachableError{Err: err}
		}
		return nil, fmt.Errorf("connecting to the state database %s: %w", where, err)
	}
	if err := migrate(ctx, s.pool); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("preparing the state database %s: %w", where, err)
	}
	return s, nil
}

// ErrUnreachable is wrapped by Open's error when the database could not
// be reached: down, starting up, refusing connections, or not answering in
// time. Trying again later may succeed, unlike with a wrong password or
// URL.
var ErrUnreachable = errors.New("the state database cannot be reached")

// UnreachableError is a database that could not be reached.
type UnreachableError struct{ Err error }

func (e *UnreachableError) Error() string        { return e.Err.Error() }
func (e *UnreachableError) Unwrap() error        { return e.Err }
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// unreachable says whether a connection attempt failed for want of a
// server that answers, rather than for what was asked of it: an error the
// server sent is one of the latter unless it says it cannot take
// connections yet (starting up, shutting down, too many connections).
func unreachable(err error) bool {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return errors.Is(err, context.DeadlineExceeded)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return true
	}
	// Class 57: operator intervention (cannot connect now, admin or crash
	// shutdown); class 53: insufficient resources (too many connections).
	return strings.HasPrefix(pe.Code, "57") || strings.HasPrefix(pe.Code, "53")
}

var passwordParam = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// Redacted is a connection string fit to print: the password is replaced.
func Redacted(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	return passwordParam.ReplaceAllString(dsn, "${1}xxxxx")
}

// migrate applies the embedded migrations the database lacks, in one
// transaction under an advisory lock, so hosts starting together apply
// each once.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, lockNamespace); err != nil {
			return fmt.Errorf("waiting for other hosts' migrations: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("creating schema_migrations: %w", err)
		}
		rows, _ := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		applied, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return fmt.Errorf("reading schema_migrations: %w", err)
		}
		latest := int32(0)
		for _, f := range files {
			v, err := version(f)
			if err != nil {
				return err
			}
			latest = max(latest, v)
			if slices.Contains(applied, v) {
				continue
			}
			body, err := migrations.ReadFile(f)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("applying migration %s: %w", f, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, v, strings.TrimPrefix(f, "migrations/")); err != nil {
				return err
			}
		}
		for _, v := range applied {
			if v > latest {
				return fmt.Errorf("the database has schema version %d, newer than this replicator knows (%d); upgrade replicator on this host", v, latest)
			}
		}
		return nil
	})
}

func version(file string) (int32, error) {
	base := strings.TrimPrefix(file, "migrations/")
	n, _, _ := strings.Cut(base, "_")
	v, err := strconv.ParseInt(n, 10, 32)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("migration %s is not named NNNN_what.sql", base)
	}
	return int32(v), nil
}

// lockHeld is true when the pipeline row p's holder session still holds
// its advisory lock; the query passes lockNamespace as $ns.
const lockHeld = `p.holder_pid IS NOT NULL AND EXISTS (SELECT 1 FROM pg_locks l
	WHERE l.locktype = 'advisory' AND l.classid::bigint = $ns AND l.objid::bigint = p.id
	AND l.objsubid = 2 AND l.pid = p.holder_pid AND l.granted)`

func withNS(sql, n string) string { return strings.ReplaceAll(sql, "$ns", n) }

// fenced checks, inside a write's transaction, that f is the pipeline's
// current claim, and keeps it so until the transaction ends: a claim takes
// the row's update lock, which waits for this share lock.
func fenced(ctx context.Context, tx pgx.Tx, f state.Fence) (host string, err error) {
	var fence int64
	var held bool
	var h *string
	err = tx.QueryRow(ctx, withNS(`SELECT p.fence, `+lockHeld+`, p.holder FROM pipelines p WHERE p.name = $1 FOR SHARE OF p`, "$2"), f.Pipeline, lockNamespace).Scan(&fence, &held, &h)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", &state.FencedError{Fence: f}
	}
	if err != nil {
		return "", err
	}
	if !held {
		return "", &state.FencedError{Fence: f, Current: 0}
	}
	if uint64(fence) != f.Token {
		return "", &state.FencedError{Fence: f, Current: uint64(fence)}
	}
	if h != nil {
		host = *h
	}
	return host, nil
}

// Holders returns the claims held now.
func (s *Store) Holders(ctx context.Context) (map[string]state.Holder, error) {
	rows, _ := s.pool.Query(ctx, withNS(`SELECT p.name, p.holder, p.since, p.fence FROM pipelines p WHERE `+lockHeld, "$1"), lockNamespace)
	out := map[string]state.Holder{}
	var name string
	var host *string
	var since *time.Time
	var fence int64
	_, err := pgx.ForEachRow(rows, []any{&name, &host, &since, &fence}, func() error {
		h := state.Holder{Token: uint64(fence)}
		if host != nil {
			h.Host = *host
		}
		if since != nil {
			h.Since = *since
		}
		out[name] = h
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing claims: %w", err)
	}
	return out, nil
}

func toInt64(what string, v uint64) (int64, error) {
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("%s %d is too large to store", what, v)
	}
	return int64(v), nil
}

// streamColumns are the columns of a stream's row that scanStream reads.
const streamColumns = `state, generation, full_refresh, full_refreshed`

// scanStream reads a row selected as streamColumns into a StreamState.
// Columns selected before them are scanned into dest, in order.
func scanStream(row pgx.Row, dest ...any) (state.StreamState, error) {
	var raw []byte
	var gen, full int64
	var refreshed *time.Time
	if err := row.Scan(append(dest, &raw, &gen, &full, &refreshed)...); err != nil {
		return state.StreamState{}, err
	}
	st := state.StreamState{Generation: uint64(gen), FullRefresh: uint64(full)}
	// A null saved as bytes, as it once was, is no checkpoint either.
	if !state.NoCheckpoint(raw) {
		st.State = json.RawMessage(slices.Clone(raw)) // rows reuse their buffers
	}
	if refreshed != nil {
		st.FullRefreshed = *refreshed
	}
	return st, nil
}

// Stream returns the state of a pipeline's stream.
func (s *Store) Stream(ctx context.Context, pipeline, stream string) (state.StreamState, error) {
	st, err := scanStream(s.pool.QueryRow(ctx, `SELECT `+streamColumns+` FROM streams WHERE pipeline = $1 AND stream = $2`, pipeline, stream))
	if errors.Is(err, pgx.ErrNoRows) {
		return state.StreamState{}, nil
	}
	if err != nil {
		return state.StreamState{}, fmt.Errorf("reading state of stream %q of pipeline %q: %w", stream, pipeline, err)
	}
	return st, nil
}

// SaveStream stores the state of a pipeline's stream.
func (s *Store) SaveStream(ctx context.Context, f state.Fence, stream string, st state.StreamState) error {
	if err := state.CheckNames(f.Pipeline, stream); err != nil {
		return err
	}
	err := s.saveStream(ctx, f, stream, st)
	if err != nil {
		return fmt.Errorf("saving state of stream %q of pipeline %q: %w", stream, f.Pipeline, err)
	}
	return nil
}

func (s *Store) saveStream(ctx context.Context, f state.Fence, stream string, st state.StreamState) error {
	var raw []byte // NULL: no checkpoint
	if !state.NoCheckpoint(st.State) {
		if !json.Valid(st.State) {
			return errors.New("the state is not valid JSON")
		}
		raw = st.State
	}
	gen, err := toInt64("generation", st.Generation)
	if err != nil {
		return err
	}
	full, err := toInt64("full refresh generation", st.FullRefresh)
	if err != nil {
		return err
	}
	var refreshed *time.Time
	if !st.FullRefreshed.IsZero() {
		refreshed = &st.FullRefreshed
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := fenced(ctx, tx, f); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO streams (pipeline, stream, state, generation, full_refresh, full_refreshed) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (pipeline, stream) DO UPDATE SET state = EXCLUDED.state, generation = EXCLUDED.generation,
				full_refresh = EXCLUDED.full_refresh, full_refreshed = EXCLUDED.full_refreshed`,
			f.Pipeline, stream, raw, gen, full, refreshed)
		return err
	})
}

// ResetStream forgets a stream's checkpoint, keeping its generation.
func (s *Store) ResetStream(ctx context.Context, f state.Fence, stream string) error {
	if err := state.CheckNames(f.Pipeline, stream); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := fenced(ctx, tx, f); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM streams WHERE pipeline = $1 AND stream = $2 AND generation = 0 AND full_refreshed IS NULL`, f.Pipeline, stream); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE streams SET state = NULL, full_refresh = 0 WHERE pipeline = $1 AND stream = $2`, f.Pipeline, stream)
		return err
	})
	if err != nil {
		return fmt.Errorf("resetting stream %q of pipeline %q: %w", stream, f.Pipeline, err)
	}
	return nil
}

// errNoKeys is the error of a credentials call on a store opened without
// keys.
var errNoKeys = errors.New("the state block's postgres needs encryption_key: credentials are stored encrypted")

// Credentials returns the credentials stored for a source, decrypted.
func (s *Store) Credentials(ctx context.Context, source string) (json.RawMessage, error) {
	if s.keys == nil {
		return nil, fmt.Errorf("reading credentials of %s: %w", source, errNoKeys)
	}
	var sealed []byte
	err := s.pool.QueryRow(ctx, `SELECT sealed FROM credentials WHERE source = $1`, source).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading credentials of %s: %w", source, err)
	}
	plain, err := s.keys.Open(source, sealed)
	if err != nil {
		return nil, err
	}
	if !json.Valid(plain) {
		return nil, fmt.Errorf("stored credentials of %s are not valid JSON", source)
	}
	return plain, nil
}

// SaveCredentials encrypts and stores a source's credentials.
func (s *Store) SaveCredentials(ctx context.Context, f state.Fence, source string, c json.RawMessage) error {
	if source == "" {
		return errors.New("saving credentials: the source reference is empty")
	}
	if len(c) > 0 && !json.Valid(c) {
		return fmt.Errorf("saving credentials of %s: they are not valid JSON", source)
	}
	if s.keys == nil {
		return fmt.Errorf("saving credentials of %s: %w", source, errNoKeys)
	}
	var sealed []byte
	if len(c) > 0 {
		var err error
		if sealed, err = s.keys.Seal(source, c); err != nil {
			return err
		}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if f != state.NoFence {
			if _, err := fenced(ctx, tx, f); err != nil {
				return err
			}
		}
		if sealed == nil {
			_, err := tx.Exec(ctx, `DELETE FROM credentials WHERE source = $1`, source)
			return err
		}
		return putSealed(ctx, tx, source, sealed)
	})
	if err != nil {
		return fmt.Errorf("saving credentials of %s: %w", source, err)
	}
	return nil
}

// putSealed stores a source's sealed credentials, replacing what was there.
func putSealed(ctx context.Context, tx pgx.Tx, source string, sealed []byte) error {
	_, err := tx.Exec(ctx, `INSERT INTO credentials (source, sealed) VALUES ($1, $2)
		ON CONFLICT (source) DO UPDATE SET sealed = EXCLUDED.sealed`, source, sealed)
	return err
}

// SaveRun stores r in its pipeline's history.
func (s *Store) SaveRun(ctx context.Context, f state.Fence, r *state.Run) error {
	if err := state.CheckRun(f, r); err != nil {
		return err
	}
	id, err := toInt64("run ID", r.ID)
	if err != nil {
		return err
	}
	var host string
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if host, err = fenced(ctx, tx, f); err != nil {
			return err
		}
		var seq int64
		if id == 0 {
			err = tx.QueryRow(ctx, `UPDATE pipelines SET run_seq = run_seq + 1 WHERE name = $1 RETURNING run_seq`, r.Pipeline).Scan(&seq)
			id = seq
		} else {
			err = tx.QueryRow(ctx, `UPDATE pipelines SET run_seq = GREATEST(run_seq, $2) WHERE name = $1 RETURNING run_seq`, r.Pipeline, id).Scan(&seq)
		}
		if err != nil {
			return err
		}
		run := *r
		run.ID, run.Host, run.Fence = uint64(id), host, f.Token
		v, err := json.Marshal(run)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO runs (pipeline, id, outcome, run) VALUES ($1, $2, $3, $4)
			ON CONFLICT (pipeline, id) DO UPDATE SET outcome = EXCLUDED.outcome, run = EXCLUDED.run`, r.Pipeline, id, run.Outcome, string(v))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM runs WHERE pipeline = $1 AND id <= $2`, r.Pipeline, seq-state.KeepRuns)
		return err
	})
	if err != nil {
		return fmt.Errorf("saving run of pipeline %q: %w", r.Pipeline, err)
	}
	r.ID, r.Host, r.Fence = uint64(id), host, f.Token
	return nil
}

// Runs returns up to limit of a pipeline's runs, newest first.
func (s *Store) Runs(ctx context.Context, pipeline string, limit int) ([]state.Run, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, _ := s.pool.Query(ctx, `SELECT id, run::text FROM runs WHERE pipeline = $1 ORDER BY id DESC LIMIT $2`, pipeline, lim)
	var runs []state.Run
	var id int64
	var v string
	_, err := pgx.ForEachRow(rows, []any{&id, &v}, func() error {
		r, err := state.DecodeRun([]byte(v))
		if err != nil {
			return fmt.Errorf("decoding run %d: %w", id, err)
		}
		runs = append(runs, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading runs of pipeline %q: %w", pipeline, err)
	}
	return runs, nil
}

// Pipelines returns the names of the pipelines that have any run or
// stream state, sorted bytewise as the file store sorts them.
func (s *Store) Pipelines(ctx context.Context) ([]string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT pipeline COLLATE "C" FROM runs UNION SELECT pipeline COLLATE "C" FROM streams ORDER BY 1`)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("listing pipelines: %w", err)
	}
	return names, nil
}

// Streams returns the state of every stream of a pipeline.
func (s *Store) Streams(ctx context.Context, pipeline string) (map[string]state.StreamState, error) {
	out, err := s.streams(ctx, pipeline)
	if err != nil {
		return nil, fmt.Errorf("reading streams of pipeline %q: %w", pipeline, err)
	}
	return out, nil
}

func (s *Store) streams(ctx context.Context, pipeline string) (map[string]state.StreamState, error) {
	rows, err := s.pool.Query(ctx, `SELECT stream, `+streamColumns+` FROM streams WHERE pipeline = $1`, pipeline)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]state.StreamState{}
	for rows.Next() {
		var name string
		st, err := scanStream(rows, &name)
		if err != nil {
			return nil, err
		}
		out[name] = st
	}
	return out, rows.Err()
}

// Sources returns the sources that have stored credentials.
func (s *Store) Sources(ctx context.Context) ([]string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT source FROM credentials ORDER BY source COLLATE "C"`)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("listing sources with credentials: %w", err)
	}
	return out, nil
}

// lastRuns selects every pipeline's newest run without its plugin lines,
// and its failures since its last success: the count, and the start of
// the first as stored. Each part is an index scan of one pipeline's runs
// from its newest.
const lastRuns = `
SELECT p.name, l.id, l.run::text, f.failures, f.first
FROM pipelines p
CROSS JOIN LATERAL (SELECT id, run - 'logs' AS run FROM runs WHERE pipeline = p.name ORDER BY id DESC LIMIT 1) l
CROSS JOIN LATERAL (
    SELECT count(*) AS failures, (array_agg(r.run->>'started' ORDER BY r.id))[1] AS first
    FROM runs r
    WHERE r.pipeline = p.name AND r.outcome IN ('failed', 'crashed')
      AND r.id > COALESCE((SELECT max(id) FROM runs s WHERE s.pipeline = p.name AND s.outcome = 'succeeded'), 0)
) f`

// LastRuns returns the newest run of every pipeline.
func (s *Store) LastRuns(ctx context.Context) (map[string]state.Latest, error) {
	rows, _ := s.pool.Query(ctx, lastRuns)
	out := map[string]state.Latest{}
	var name, v string
	var id, failures int64
	var first *string
	_, err := pgx.ForEachRow(rows, []any{&name, &id, &v, &failures, &first}, func() error {
		r, err := state.DecodeRun([]byte(v))
		if err != nil {
			return fmt.Errorf("decoding run %d of pipeline %q: %w", id, name, err)
		}
		l := state.Latest{Run: r, Failures: int(failures)}
		if first != nil {
			if l.FailingSince, err = time.Parse(time.RFC3339Nano, *first); err != nil {
				return fmt.Errorf("reading the start of a failed run of pipeline %q: %w", name, err)
			}
		}
		out[name] = l
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the last runs: %w", err)
	}
	return out, nil
}

// SetPaused pauses or resumes a pipeline.
func (s *Store) SetPaused(ctx context.Context, pipeline string, paused bool) error {
	if pipeline == "" {
		return errors.New("pausing: the pipeline name is empty")
	}
	verb, sql := "pausing", `INSERT INTO paused (pipeline) VALUES ($1) ON CONFLICT (pipeline) DO NOTHING`
	if !paused {
		verb, sql = "resuming", `DELETE FROM paused WHERE pipeline = $1`
	}
	if _, err := s.pool.Exec(ctx, sql, pipeline); err != nil {
		return fmt.Errorf("%s pipeline %q: %w", verb, pipeline, err)
	}
	return nil
}

// Paused returns the paused pipelines.
func (s *Store) Paused(ctx context.Context) (map[string]time.Time, error) {
	rows, _ := s.pool.Query(ctx, `SELECT pipeline, since FROM paused`)
	out := map[string]time.Time{}
	var name string
	var since time.Time
	_, err := pgx.ForEachRow(rows, []any{&name, &since}, func() error {
		out[name] = since
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the paused pipelines: %w", err)
	}
	return out, nil
}
