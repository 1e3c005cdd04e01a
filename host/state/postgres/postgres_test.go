package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/host/state/postgres/pgtest"
	"github.com/replicatorhq/replicator/host/state/statetest"
)

// server is the package's throwaway PostgreSQL; each test makes its own
// database in it.
var server *pgtest.Server

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	s, err := pgtest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting PostgreSQL for the tests:", err)
		return 1
	}
	defer s.Remove()
	server = s
	return m.Run()
}

const testKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func keys(t *testing.T, current, previous string) *state.Keyring {
	t.Helper()
	k, err := state.NewKeyring(current, previous)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newDatabase(t *testing.T) string {
	t.Helper()
	url, err := server.NewDatabase(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return url
}

func open(t *testing.T, url string, opts Options) *Store {
	t.Helper()
	opts.URL = url
	if opts.Keys == nil {
		opts.Keys = keys(t, testKey, "")
	}
	s, err := Open(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPostgresConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) state.Store {
		return open(t, newDatabase(t), Options{})
	})
}

// Two hosts share a database. The first host's claim is lost when its
// session is ended (as PostgreSQL does after idle_session_timeout when the
// host is paused or cut off); the second claims with a higher token, and
// every write the first host still tries is refused, overwriting nothing.
func TestPostgresStaleHostIsFenced(t *testing.T) {
	ctx := t.Context()
	url := newDatabase(t)
	// Host A pings its session every second, so its loss shows soon.
	hostA, hostB := open(t, url, Options{TakeoverAfter: 4 * time.Second}), open(t, url, Options{})

	a, err := hostA.Claim(ctx, "tenant-1", "host-a:1")
	if err != nil {
		t.Fatal(err)
	}
	runA := &state.Run{Pipeline: "tenant-1", Outcome: state.OutcomeRunning}
	if err := hostA.SaveRun(ctx, a.Fence, runA); err != nil {
		t.Fatal(err)
	}
	if err := hostA.SaveStream(ctx, a.Fence, "contacts", state.StreamState{State: json.RawMessage(`{"page":1}`), Generation: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := hostB.Claim(ctx, "tenant-1", "host-b:2"); !errors.Is(err, state.ErrClaimed) || !strings.Contains(err.Error(), "host-a:1") {
		t.Fatalf("claim while host A holds it: %v", err)
	}

	// Host A's claim session ends.
	db := dbConn(t, url)
	if _, err := db.Exec(ctx, `SELECT pg_terminate_backend(holder_pid) FROM pipelines WHERE name = 'tenant-1'`); err != nil {
		t.Fatal(err)
	}
	b := claimEventually(t, hostB, "tenant-1", "host-b:2")
	if b.Token <= a.Token {
		t.Fatalf("host B's token %d is not above host A's %d", b.Token, a.Token)
	}
	select {
	case <-a.Lost():
	case <-time.After(time.Minute):
		t.Fatal("host A's claim was not reported lost")
	}
	if err := a.Err(); err == nil || !strings.Contains(err.Error(), "another host may take it over") {
		t.Errorf("host A's loss: %v", err)
	}

	// Host B works, and host A comes back and tries to go on.
	runB := statetest.StaleWritesRefused(t, hostB, b.Fence, hostA, a.Fence, runA.ID)
	// Its crashed predecessor's run is marked so.
	runs, err := hostB.Runs(ctx, "tenant-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].ID != runB.ID || runs[0].Outcome != state.OutcomeRunning || runs[0].Host != "host-b:2" ||
		runs[1].Outcome != state.OutcomeCrashed || runs[1].Fence != a.Token {
		t.Errorf("runs after takeover: %+v", runs)
	}
	h, err := hostA.Holders(ctx)
	if err != nil || h["tenant-1"].Host != "host-b:2" || h["tenant-1"].Token != b.Token {
		t.Errorf("holders seen by host A: %+v, %v", h, err)
	}
	// Releasing a lost claim is quiet.
	if err := a.Release(ctx); err != nil {
		t.Errorf("releasing the lost claim: %v", err)
	}
}

// claimEventually claims a pipeline whose previous holder's session is
// being ended: the lock goes when the server has finished ending it.
func claimEventually(t *testing.T, s *Store, pipeline, host string) *state.Claim {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := s.Claim(t.Context(), pipeline, host)
		if err == nil {
			t.Cleanup(func() { _ = c.Release(context.Background()) })
			return c
		}
		if !errors.Is(err, state.ErrClaimed) || time.Now().After(deadline) {
			t.Fatalf("claiming %s: %v", pipeline, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func dbConn(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// onlySession returns the store's one claim session.
func onlySession(t *testing.T, s *Store) *session {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sessions) != 1 {
		t.Fatalf("%d claim sessions, want 1", len(s.sessions))
	}
	return s.sessions[0]
}

// A holder that stops talking to its session (paused, cut off) stops
// counting on its claim once three quarters of the takeover bound have
// passed since the session last answered, before PostgreSQL's
// idle_session_timeout ends the session and another host may take the
// pipeline over.
func TestPostgresSilentHolderLosesItsClaimFirst(t *testing.T) {
	ctx := t.Context()
	url := newDatabase(t)
	s := open(t, url, Options{TakeoverAfter: 2 * time.Second})
	c, err := s.Claim(ctx, "p", "host-a")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Release(ctx) }()
	if err := c.Check(); err != nil {
		t.Fatalf("a fresh claim: %v", err)
	}
	var timeout, inTx string
	db := dbConn(t, url)
	// The settings of the holder's session, from the holder's connection;
	// then its lock is held so that the pings wait, as a paused host's
	// would.
	sess := onlySession(t, s)
	sess.mu.Lock()
	locked := true
	defer func() {
		if locked {
			sess.mu.Unlock()
		}
	}()
	err = sess.conn.QueryRow(ctx, `SELECT current_setting('idle_session_timeout'), current_setting('idle_in_transaction_session_timeout')`).Scan(&timeout, &inTx)
	if err != nil {
		t.Fatal(err)
	}
	if timeout != "2s" || inTx != "2s" {
		t.Errorf("claim session timeouts %q and %q, want 2s", timeout, inTx)
	}
	select {
	case <-c.Lost():
	case <-time.After(time.Minute):
		t.Fatal("the claim was not reported lost")
	}
	if err := c.Check(); err == nil || !strings.Contains(err.Error(), "last heard from the database") {
		t.Fatalf("the silent holder's claim: %v; want it lost for its lease", err)
	}
	// Silent: the server ends the session on its own.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = (SELECT holder_pid FROM pipelines WHERE name = 'p')`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("PostgreSQL did not end the silent holder's session")
		}
	}
	sess.mu.Unlock()
	locked = false
	s2 := open(t, url, Options{})
	c2, err := s2.Claim(ctx, "p", "host-b")
	if err != nil {
		t.Fatalf("claim after the silent holder's session ended: %v", err)
	}
	defer func() { _ = c2.Release(ctx) }()
	if err := s.SaveStream(ctx, c.Fence, "x", state.StreamState{Generation: 1}); !errors.Is(err, state.ErrFenced) {
		t.Errorf("write by the silent holder: %v", err)
	}
	// The holder claims again on a new session.
	c3, err := s.Claim(ctx, "q", "host-a")
	if err != nil {
		t.Fatalf("claiming after the session was lost: %v", err)
	}
	_ = c3.Release(ctx)
}

// A host's claims share its few claim sessions: claiming and releasing
// many pipelines opens no session per claim.
func TestPostgresClaimsShareSessions(t *testing.T) {
	ctx := t.Context()
	url := newDatabase(t)
	s := open(t, url, Options{})
	db := dbConn(t, url)
	pids := map[int32]bool{}
	for round := range 5 {
		var held []*state.Claim
		for i := range 10 {
			c, err := s.Claim(ctx, fmt.Sprintf("p%d", i), "host-a")
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			held = append(held, c)
		}
		rows, _ := db.Query(ctx, `SELECT holder_pid FROM pipelines WHERE holder_pid IS NOT NULL`)
		got, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 10 {
			t.Fatalf("round %d: %d pipelines have a holder, want 10", round, len(got))
		}
		for _, pid := range got {
			pids[pid] = true
		}
		for _, c := range held {
			if err := c.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(pids) > ClaimSessions {
		t.Errorf("50 claims were held by %d sessions, want at most %d", len(pids), ClaimSessions)
	}
	// Released, the locks are gone, and another host takes the pipelines.
	other := open(t, url, Options{})
	for i := range 10 {
		c, err := other.Claim(ctx, fmt.Sprintf("p%d", i), "host-b")
		if err != nil {
			t.Fatalf("claim after release: %v", err)
		}
		_ = c.Release(ctx)
	}
}

// A claim session that is lost takes every claim on it with it, and only
// those: the host's other claims and new ones go on.
func TestPostgresLostSessionLosesItsClaims(t *testing.T) {
	ctx := t.Context()
	url := newDatabase(t)
	s := open(t, url, Options{})
	claims := map[string]*state.Claim{}
	for i := range 6 {
		name := fmt.Sprintf("p%d", i)
		c, err := s.Claim(ctx, name, "host-a")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Release(ctx) }()
		claims[name] = c
	}
	db := dbConn(t, url)
	var victim int32
	if err := db.QueryRow(ctx, `SELECT holder_pid FROM pipelines WHERE name = 'p0'`).Scan(&victim); err != nil {
		t.Fatal(err)
	}
	rows, _ := db.Query(ctx, `SELECT name FROM pipelines WHERE holder_pid = $1`, victim)
	onVictim, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(onVictim) == len(claims) {
		t.Fatalf("all %d claims share one session; want them spread over %d", len(claims), ClaimSessions)
	}
	if _, err := db.Exec(ctx, `SELECT pg_terminate_backend($1)`, victim); err != nil {
		t.Fatal(err)
	}
	for _, name := range onVictim {
		select {
		case <-claims[name].Lost():
		case <-time.After(time.Minute):
			t.Fatalf("the claim on %s was not lost with its session", name)
		}
		if err := s.SaveStream(ctx, claims[name].Fence, "x", state.StreamState{Generation: 1}); !errors.Is(err, state.ErrFenced) {
			t.Errorf("write under the lost claim on %s: %v", name, err)
		}
	}
	for name, c := range claims {
		if slices.Contains(onVictim, name) {
			continue
		}
		if err := c.Check(); err != nil {
			t.Errorf("the claim on %s, on the other session: %v", name, err)
		}
		if err := s.SaveStream(ctx, c.Fence, "x", state.StreamState{Generation: 1}); err != nil {
			t.Errorf("write under the claim on %s, on the other session: %v", name, err)
		}
	}
	c, err := s.Claim(ctx, "p-new", "host-a")
	if err != nil {
		t.Fatalf("claim after a session was lost: %v", err)
	}
	_ = c.Release(ctx)
}

func TestPostgresMigrations(t *testing.T) {
	ctx := t.Context()
	url := newDatabase(t)
	// Hosts starting at once on a fresh database.
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(ctx, Options{URL: url, Keys: keys(t, testKey, "")})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	db := dbConn(t, url)
	applied := func() (n int, at time.Time) {
		if err := db.QueryRow(ctx, `SELECT count(*), max(applied_at) FROM schema_migrations`).Scan(&n, &at); err != nil {
			t.Fatal(err)
		}
		return n, at
	}
	n, at := applied()
	files, _ := migrations.ReadDir("migrations")
	if n != len(files) {
		t.Fatalf("%d migrations recorded, want %d", n, len(files))
	}
	// Re-opening changes nothing.
	open(t, url, Options{})
	if n2, at2 := applied(); n2 != n || !at2.Equal(at) {
		t.Errorf("re-open applied migrations again: %d at %v, before %d at %v", n2, at2, n, at)
	}
	// A database migrated by a newer replicator is refused.
	if _, err := db.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')`); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, Options{URL: url, Keys: keys(t, testKey, "")})
	if err == nil || !strings.Contains(err.Error(), "schema version 9999, newer than this replicator knows") {
		t.Errorf("open of a newer schema: %v", err)
	}
}

// A checkpoint of JSON null is saved as no checkpoint (NULL); one stored
// as the bytes null, as saving it once did, reads as none too.
func TestPostgresNullCheckpointStoredBefore(t *testing.T) {
	ctx := t.Context()
	url := newDatabase(t)
	s := open(t, url, Options{})
	c, err := s.Claim(ctx, "p", "test-host")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Release(ctx) }()
	if err := s.SaveStream(ctx, c.Fence, "c", state.StreamState{State: json.RawMessage(`null`), Generation: 3}); err != nil {
		t.Fatal(err)
	}
	db := dbConn(t, url)
	var isNull bool
	if err := db.QueryRow(ctx, `SELECT state IS NULL FROM streams WHERE pipeline = 'p' AND stream = 'c'`).Scan(&isNull); err != nil || !isNull {
		t.Errorf("a null checkpoint is stored as bytes (state IS NULL: %v, %v)", isNull, err)
	}
	if _, err := db.Exec(ctx, `UPDATE streams SET state = convert_to(' null', 'UTF8') WHERE pipeline = 'p' AND stream = 'c'`); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Stream(ctx, "p", "c"); err != nil || st.State != nil || st.Generation != 3 {
		t.Errorf("Stream of a stored null: %+v (state %q), %v", st, st.State, err)
	}
	if all, err := s.Streams(ctx, "p"); err != nil || all["c"].State != nil || all["c"].Generation != 3 {
		t.Errorf("Streams of a stored null: %+v, %v", all, err)
	}
}

func TestPostgresCredentialsEncrypted(t *testing.T) {
	ctx := t.Context()
	url := newDatabase(t)
	s := open(t, url, Options{})
	secret := json.RawMessage(`{"refresh_token":"very-secret-token"}`)
	if err := s.SaveCredentials(ctx, state.NoFence, "source.zoho.eu", secret); err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	if err := dbConn(t, url).QueryRow(ctx, `SELECT sealed FROM credentials`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), "very-secret-token") {
		t.Fatal("the credentials are stored in the clear")
	}
	// Rotation: a new key, the old one as previous.
	newKey := strings.Repeat("fe", 32)
	rotated := open(t, url, Options{Keys: keys(t, newKey, testKey)})
	if c, err := rotated.Credentials(ctx, "source.zoho.eu"); err != nil || string(c) != string(secret) {
		t.Fatalf("reading with the previous key: %s, %v", c, err)
	}
	// Without the old key they do not open, and the error says which key.
	wrong := open(t, url, Options{Keys: keys(t, newKey, "")})
	if _, err := wrong.Credentials(ctx, "source.zoho.eu"); err == nil || !strings.Contains(err.Error(), "neither encryption_key") {
		t.Errorf("reading without the key they were stored with: %v", err)
	}
	// Without a key the history reads, and the credentials stay sealed.
	keyless, err := Open(ctx, Options{URL: url})
	if err != nil {
		t.Fatalf("open without a key: %v", err)
	}
	defer keyless.Close()
	if _, err := keyless.Runs(ctx, "p", 1); err != nil {
		t.Errorf("reading the history without a key: %v", err)
	}
	if c, err := keyless.Credentials(ctx, "source.zoho.eu"); err == nil || c != nil || !strings.Contains(err.Error(), "needs encryption_key") {
		t.Errorf("reading credentials without a key: %s, %v", c, err)
	}
	if err := keyless.SaveCredentials(ctx, state.NoFence, "source.zoho.eu", secret); err == nil || !strings.Contains(err.Error(), "needs encryption_key") {
		t.Errorf("saving credentials without a key: %v", err)
	}
}

func TestPostgresRedacted(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://app:hunter2@db.example:5432/replicator?sslmode=require": "postgres://app:xxxxx@db.example:5432/replicator?sslmode=require",
		"postgres://db.example/replicator?password=hunter2&user=app":        "postgres://db.example/replicator?password=xxxxx&user=app",
		"host=db user=app password=hunter2 dbname=r":                        "host=db user=app password=xxxxx dbname=r",
		"host=db password='hun ter2' dbname=r":                              "host=db password=xxxxx dbname=r",
	} {
		if got := Redacted(in); got != want {
			t.Errorf("Redacted(%q) = %q, want %q", in, got, want)
		}
	}
	_, err := Open(t.Context(), Options{URL: "postgres://app:hunter2@127.0.0.1:1/x?connect_timeout=1", Keys: keys(t, testKey, "")})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error of an unreachable database: %v", err)
	}
}

// TestPostgresSignalsReachEveryHost: a callback one host records is told
// to the others listening, named by its pipeline.
func TestPostgresSignalsReachEveryHost(t *testing.T) {
	ctx := t.Context()
	url := newDatabase(t)
	open := func() *Store {
		s, err := Open(ctx, Options{URL: url, Keys: keys(t, testKey, "")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	got := make(chan string, 1)
	listening, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- b.ListenSignals(listening, func(p string) { got <- p }) }()
	ch := state.Channel{Key: "k", ID: "c", Pipeline: "tenant-1", URL: "https://h.example/hooks/k",
		Secret: "a-secret-of-enough-length", SecretField: "token", Streams: []string{"contacts"}, Watched: time.Now()}
	if err := a.SaveChannel(ctx, ch); err != nil {
		t.Fatal(err)
	}
	// LISTEN may not be in place yet: signal until b hears one.
	for {
		if _, err := a.SetSignaled(ctx, "k", time.Now()); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-got:
			if p != "tenant-1" {
				t.Fatalf("signal for %q, want tenant-1", p)
			}
			stop()
			if err := <-done; err != nil {
				t.Errorf("listening ended with %v, want nil once stopped", err)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}
