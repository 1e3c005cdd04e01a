// Package statetest is the conformance suite every state.Store passes: the
// bbolt file and PostgreSQL run the same tests.
package statetest

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/state"
)

// Open returns a new, empty store for one test, closed by the test's
// cleanup.
type Open func(t *testing.T) state.Store

// Run runs every conformance test against stores made by open.
func Run(t *testing.T, open Open) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, state.Store)
	}{
		{"StreamRoundTrip", streamRoundTrip},
		{"ResetStreamKeepsGeneration", resetStreamKeepsGeneration},
		{"NullCheckpointIsNone", nullCheckpointIsNone},
		{"CredentialsRoundTrip", credentialsRoundTrip},
		{"Runs", runs},
		{"RunsTrimmed", runsTrimmed},
		{"ClaimExcludes", claimExcludes},
		{"StaleFenceRefused", staleFenceRefused},
		{"RunningRunCrashedAtClaim", runningRunCrashedAtClaim},
		{"Listing", listing},
		{"LastRuns", lastRuns},
		{"Paused", paused},
		{"Channels", channels},
		{"PluginLogsKept", pluginLogsKept},
		{"CopyFromFile", copyFromFile},
		{"ConnectLinks", connectLinks},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

var ctx = context.Background()

// refreshed is a last full refresh's time as both stores keep it: to the
// microsecond, which is PostgreSQL's precision.
var refreshed = time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.UTC)

// sameStream compares stream states, their checkpoints as JSON and their
// times as instants.
func sameStream(got, want state.StreamState) bool {
	return got.Generation == want.Generation && got.FullRefresh == want.FullRefresh &&
		got.FullRefreshed.Equal(want.FullRefreshed) && sameJSON(got.State, want.State)
}

func claim(t *testing.T, s state.Store, pipeline string) *state.Claim {
	t.Helper()
	c, err := s.Claim(ctx, pipeline, "test-host")
	if err != nil {
		t.Fatalf("claiming %s: %v", pipeline, err)
	}
	t.Cleanup(func() { _ = c.Release(ctx) })
	return c
}

func streamRoundTrip(t *testing.T, s state.Store) {
	got, err := s.Stream(ctx, "p", "contacts")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, state.StreamState{}) {
		t.Fatalf("absent stream: %+v, want zero value", got)
	}
	p := claim(t, s, "p")
	for _, want := range []state.StreamState{
		{State: json.RawMessage(`{"next":12345}`), Generation: 3},
		{State: json.RawMessage(`{"since":"2026-01-02T03:04:05Z","page":["a","b"]}`), Generation: 4, FullRefresh: 4},
		{State: json.RawMessage(`{"next":1}`), Generation: 5, FullRefreshed: refreshed},
		{State: json.RawMessage(`{"next":2}`), Generation: 6, FullRefresh: 6, FullRefreshed: refreshed.Add(-24 * time.Hour)},
		{Generation: 7},
	} {
		if err := s.SaveStream(ctx, p.Fence, "contacts", want); err != nil {
			t.Fatal(err)
		}
		got, err := s.Stream(ctx, "p", "contacts")
		if err != nil {
			t.Fatal(err)
		}
		if !sameStream(got, want) {
			t.Errorf("got %+v (state %s), want %+v (state %s)", got, got.State, want, want.State)
		}
	}
	// Streams of another pipeline and other streams stay apart.
	if got, _ := s.Stream(ctx, "q", "contacts"); got.Generation != 0 {
		t.Errorf("pipeline q sees pipeline p's stream: %+v", got)
	}
	if got, _ := s.Stream(ctx, "p", "accounts"); got.Generation != 0 {
		t.Errorf("stream accounts sees stream contacts: %+v", got)
	}
	if err := s.SaveStream(ctx, state.Fence{Token: p.Token}, "x", state.StreamState{}); err == nil {
		t.Error("empty pipeline name accepted")
	}
	if err := s.SaveStream(ctx, p.Fence, "x", state.StreamState{State: json.RawMessage(`{bad`)}); err == nil {
		t.Error("invalid JSON state accepted")
	}
}

func resetStreamKeepsGeneration(t *testing.T, s state.Store) {
	p := claim(t, s, "p")
	if err := s.ResetStream(ctx, p.Fence, "never-saved"); err != nil {
		t.Fatalf("resetting an absent stream: %v", err)
	}
	// A reset forgets the checkpoint and the full refresh in progress; the
	// last completed full refresh stays what it was.
	if err := s.SaveStream(ctx, p.Fence, "c", state.StreamState{State: json.RawMessage(`{"next":7}`), Generation: 9, FullRefresh: 9, FullRefreshed: refreshed}); err != nil {
		t.Fatal(err)
	}
	if err := s.ResetStream(ctx, p.Fence, "c"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Stream(ctx, "p", "c")
	if err != nil {
		t.Fatal(err)
	}
	if want := (state.StreamState{Generation: 9, FullRefreshed: refreshed}); !sameStream(got, want) {
		t.Errorf("after reset: %+v, want %+v", got, want)
	}
}

// nullCheckpointIsNone: a checkpoint whose state is JSON null, or empty,
// is no checkpoint. It reads back as a nil State, which StreamState says
// is a stream never synced, so that the next run starts it with a full
// refresh rather than resuming from null; the rest of the stream's state
// is kept as saved.
func nullCheckpointIsNone(t *testing.T, s state.Store) {
	p := claim(t, s, "p")
	want := state.StreamState{Generation: 5, FullRefresh: 5, FullRefreshed: refreshed}
	for _, none := range []string{`null`, " null\n", ``} {
		// It replaces a checkpoint stored before it.
		if err := s.SaveStream(ctx, p.Fence, "c", state.StreamState{State: json.RawMessage(`{"next":4}`), Generation: 4}); err != nil {
			t.Fatal(err)
		}
		st := want
		st.State = json.RawMessage(none)
		if err := s.SaveStream(ctx, p.Fence, "c", st); err != nil {
			t.Fatalf("saving state %q: %v", none, err)
		}
		got, err := s.Stream(ctx, "p", "c")
		if err != nil {
			t.Fatal(err)
		}
		if got.State != nil || !sameStream(got, want) {
			t.Errorf("saved with state %q, Stream reads %+v (state %q), want %+v", none, got, got.State, want)
		}
		all, err := s.Streams(ctx, "p")
		if err != nil {
			t.Fatal(err)
		}
		if got := all["c"]; got.State != nil || !sameStream(got, want) {
			t.Errorf("saved with state %q, Streams reads %+v (state %q), want %+v", none, got, got.State, want)
		}
	}
}

func credentialsRoundTrip(t *testing.T, s state.Store) {
	if c, err := s.Credentials(ctx, "source.zoho.eu"); err != nil || c != nil {
		t.Fatalf("absent credentials: %s, %v", c, err)
	}
	want := json.RawMessage(`{"refresh_token":"r","access_token":"a","expires":"2026-01-01T00:00:00Z"}`)
	if err := s.SaveCredentials(ctx, state.NoFence, "source.zoho.eu", want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Credentials(ctx, "source.zoho.eu")
	if err != nil {
		t.Fatal(err)
	}
	if !sameJSON(got, want) {
		t.Errorf("got %s, want %s", got, want)
	}
	if c, _ := s.Credentials(ctx, "source.zoho.us"); c != nil {
		t.Errorf("another source sees the credentials: %s", c)
	}
	if err := s.SaveCredentials(ctx, state.NoFence, "source.zoho.eu", json.RawMessage(`{oops`)); err == nil {
		t.Error("invalid JSON credentials accepted")
	}
	// A run saves them under its claim.
	p := claim(t, s, "p")
	rotated := json.RawMessage(`{"refresh_token":"r2"}`)
	if err := s.SaveCredentials(ctx, p.Fence, "source.zoho.eu", rotated); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Credentials(ctx, "source.zoho.eu"); !sameJSON(got, rotated) {
		t.Errorf("credentials saved under a claim: %s", got)
	}
	if err := s.SaveCredentials(ctx, state.NoFence, "source.zoho.eu", nil); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Credentials(ctx, "source.zoho.eu"); c != nil {
		t.Errorf("credentials survive saving nil: %s", c)
	}
}

func runs(t *testing.T, s state.Store) {
	zoho, another := claim(t, s, "zoho"), claim(t, s, "another")
	start := time.Date(2026, 3, 4, 5, 6, 7, 890000, time.UTC) // microseconds: what every backend keeps
	r1 := &state.Run{Pipeline: "zoho", Started: start, Outcome: state.OutcomeRunning}
	if err := s.SaveRun(ctx, zoho.Fence, r1); err != nil {
		t.Fatal(err)
	}
	if r1.ID != 1 || r1.Fence != zoho.Token || r1.Host != "test-host" {
		t.Fatalf("first run: ID %d fence %d host %q, want 1, %d, test-host", r1.ID, r1.Fence, r1.Host, zoho.Token)
	}
	// Saving again updates the same run.
	r1.Ended = start.Add(time.Minute)
	r1.Outcome = state.OutcomeSucceeded
	r1.Read, r1.Written = 10, 9
	r1.Counters = map[string]int64{"api_credits": 4}
	r1.Resumed = []string{"contacts"}
	if err := s.SaveRun(ctx, zoho.Fence, r1); err != nil {
		t.Fatal(err)
	}
	r2 := &state.Run{Pipeline: "zoho", Started: start.Add(time.Hour), Outcome: state.OutcomeFailed, Error: "boom"}
	if err := s.SaveRun(ctx, zoho.Fence, r2); err != nil {
		t.Fatal(err)
	}
	other := &state.Run{Pipeline: "another", Started: start, Outcome: state.OutcomeInterrupted}
	if err := s.SaveRun(ctx, another.Fence, other); err != nil {
		t.Fatal(err)
	}
	if r2.ID != 2 || other.ID != 1 {
		t.Errorf("IDs %d and %d, want 2 and 1 (per-pipeline sequences)", r2.ID, other.ID)
	}
	got, err := s.Runs(ctx, "zoho", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d runs, want 2", len(got))
	}
	if !sameRun(got[0], *r2) || !sameRun(got[1], *r1) {
		t.Errorf("runs newest first:\n got %+v\nwant %+v, %+v", got, *r2, *r1)
	}
	if got, _ := s.Runs(ctx, "zoho", 1); len(got) != 1 || got[0].ID != 2 {
		t.Errorf("limit 1: %+v", got)
	}
	if got, _ := s.Runs(ctx, "nobody", 5); len(got) != 0 {
		t.Errorf("unknown pipeline has runs: %+v", got)
	}
	p, err := s.Pipelines(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"another", "zoho"}; !reflect.DeepEqual(p, want) {
		t.Errorf("pipelines %q, want %q", p, want)
	}
	if err := s.SaveRun(ctx, zoho.Fence, &state.Run{}); err == nil {
		t.Error("run without pipeline accepted")
	}
	if err := s.SaveRun(ctx, zoho.Fence, &state.Run{Pipeline: "another"}); err == nil {
		t.Error("run of another pipeline accepted under zoho's claim")
	}
}

func runsTrimmed(t *testing.T, s state.Store) {
	p := claim(t, s, "p")
	const total = state.KeepRuns + 25
	for i := range total {
		r := &state.Run{Pipeline: "p", Started: time.Unix(int64(i), 0).UTC(), Outcome: state.OutcomeSucceeded}
		if err := s.SaveRun(ctx, p.Fence, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Runs(ctx, "p", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != state.KeepRuns {
		t.Fatalf("%d runs kept, want %d", len(got), state.KeepRuns)
	}
	if got[0].ID != total || got[len(got)-1].ID != total-state.KeepRuns+1 {
		t.Errorf("kept IDs %d..%d, want %d..%d", got[len(got)-1].ID, got[0].ID, total-state.KeepRuns+1, total)
	}
	for i := 1; i < len(got); i++ {
		if got[i].ID != got[i-1].ID-1 {
			t.Fatalf("runs out of order at %d: %d after %d", i, got[i].ID, got[i-1].ID)
		}
	}
}

func claimExcludes(t *testing.T, s state.Store) {
	c1, err := s.Claim(ctx, "p", "host-a")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Claim(ctx, "p", "host-b")
	var ce *state.ClaimedError
	if !errors.Is(err, state.ErrClaimed) || !errors.As(err, &ce) || ce.Host != "host-a" {
		t.Fatalf("second claim of a held pipeline: %v", err)
	}
	h, err := s.Holders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := h["p"]; got.Host != "host-a" || got.Token != c1.Token || len(h) != 1 {
		t.Errorf("holders %+v, want p held by host-a with token %d", h, c1.Token)
	}
	// Another pipeline is free.
	q := claim(t, s, "q")
	if q.Pipeline != "q" {
		t.Errorf("claim of q: %+v", q.Fence)
	}
	if err := c1.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c1.Release(ctx); err != nil {
		t.Errorf("second release: %v", err)
	}
	if h, _ := s.Holders(ctx); len(h) != 1 {
		t.Errorf("holders after release: %+v", h)
	}
	c2 := claim(t, s, "p")
	if c2.Token <= c1.Token {
		t.Errorf("token after a new claim %d, not above %d", c2.Token, c1.Token)
	}
}

// staleFenceRefused: once a claim is released and taken again, writes
// under the old fence are refused and change nothing.
func staleFenceRefused(t *testing.T, s state.Store) {
	old, err := s.Claim(ctx, "p", "host-a")
	if err != nil {
		t.Fatal(err)
	}
	oldRun := &state.Run{Pipeline: "p", Outcome: state.OutcomeRunning}
	if err := s.SaveRun(ctx, old.Fence, oldRun); err != nil {
		t.Fatal(err)
	}
	if err := old.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// Released and nobody holds it: refused.
	err = s.SaveStream(ctx, old.Fence, "c", state.StreamState{Generation: 1})
	if !errors.Is(err, state.ErrFenced) {
		t.Fatalf("write under a released claim: %v", err)
	}

	cur := claim(t, s, "p")
	newRun := StaleWritesRefused(t, s, cur.Fence, s, old.Fence, oldRun.ID)
	runs, err := s.Runs(ctx, "p", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[1].ID != oldRun.ID {
		t.Errorf("runs after stale writes: %+v, want the stale holder's run %d after the current one %d", runs, oldRun.ID, newRun.ID)
	}
}

// StaleWritesRefused has the current holder of a pipeline's claim, with
// fence cur, save a stream's state, a source's credentials and a run in
// store. Then a stale holder, with the fence of an earlier claim on the
// pipeline and its own store on the same data (stale, which may be store),
// tries every write of a run, among them saving the run staleRun and the
// current holder's run: each must be refused with a FencedError naming
// cur's token, and what the current holder saved must stand. It returns
// the current holder's run.
func StaleWritesRefused(t *testing.T, store state.Store, cur state.Fence, stale state.Store, old state.Fence, staleRun uint64) *state.Run {
	t.Helper()
	want := state.StreamState{State: json.RawMessage(`{"n":2}`), Generation: 2}
	if err := store.SaveStream(ctx, cur, "c", want); err != nil {
		t.Fatal(err)
	}
	if err := store.SaveCredentials(ctx, cur, "source.a.b", json.RawMessage(`{"t":"new"}`)); err != nil {
		t.Fatal(err)
	}
	newRun := &state.Run{Pipeline: cur.Pipeline, Outcome: state.OutcomeRunning}
	if err := store.SaveRun(ctx, cur, newRun); err != nil {
		t.Fatal(err)
	}

	for what, err := range map[string]error{
		"SaveStream":                 stale.SaveStream(ctx, old, "c", state.StreamState{State: json.RawMessage(`{"n":1}`), Generation: 1}),
		"ResetStream":                stale.ResetStream(ctx, old, "c"),
		"SaveCredentials":            stale.SaveCredentials(ctx, old, "source.a.b", json.RawMessage(`{"t":"old"}`)),
		"SaveRun":                    stale.SaveRun(ctx, old, &state.Run{ID: staleRun, Pipeline: old.Pipeline, Outcome: state.OutcomeSucceeded}),
		"SaveRun of the current one": stale.SaveRun(ctx, old, &state.Run{ID: newRun.ID, Pipeline: old.Pipeline, Outcome: state.OutcomeFailed}),
	} {
		var fe *state.FencedError
		if !errors.Is(err, state.ErrFenced) || !errors.As(err, &fe) || fe.Current != cur.Token ||
			!strings.Contains(err.Error(), "taken over by another host") {
			t.Errorf("%s under a stale fence: %v", what, err)
		}
	}
	if got, err := store.Stream(ctx, cur.Pipeline, "c"); err != nil || !sameStream(got, want) {
		t.Errorf("stream after a stale holder's writes: %+v (state %s), %v", got, got.State, err)
	}
	if got, _ := store.Credentials(ctx, "source.a.b"); !sameJSON(got, json.RawMessage(`{"t":"new"}`)) {
		t.Errorf("credentials after a stale holder's writes: %s", got)
	}
	runs, err := store.Runs(ctx, cur.Pipeline, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) == 0 || runs[0].ID != newRun.ID || runs[0].Outcome != state.OutcomeRunning || runs[0].Fence != cur.Token {
		t.Errorf("runs after a stale holder's writes: %+v", runs)
	}
	return newRun
}

func runningRunCrashedAtClaim(t *testing.T, s state.Store) {
	c, err := s.Claim(ctx, "p", "host-a")
	if err != nil {
		t.Fatal(err)
	}
	r := &state.Run{Pipeline: "p", Outcome: state.OutcomeRunning, Read: 5}
	if err := s.SaveRun(ctx, c.Fence, r); err != nil {
		t.Fatal(err)
	}
	// The holder goes away without ending its run.
	if err := c.Release(ctx); err != nil {
		t.Fatal(err)
	}
	claim(t, s, "p")
	runs, err := s.Runs(ctx, "p", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Outcome != state.OutcomeCrashed || runs[0].Error != state.CrashedError || runs[0].Read != 5 {
		t.Errorf("run left running: %+v", runs)
	}
}

func sameJSON(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

func sameRun(a, b state.Run) bool {
	a.Started, a.Ended = a.Started.UTC(), a.Ended.UTC()
	b.Started, b.Ended = b.Started.UTC(), b.Ended.UTC()
	return reflect.DeepEqual(a, b)
}

func listing(t *testing.T, s state.Store) {
	p := claim(t, s, "p")
	for _, name := range []string{"b", "a"} {
		if err := s.SaveStream(ctx, p.Fence, name, state.StreamState{State: json.RawMessage(`{"at":"` + name + `"}`), Generation: 3, FullRefreshed: refreshed}); err != nil {
			t.Fatal(err)
		}
	}
	for _, src := range []string{"source.z.z", "source.a.a"} {
		if err := s.SaveCredentials(ctx, state.NoFence, src, json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.Pipelines(ctx); err != nil || !reflect.DeepEqual(got, []string{"p"}) {
		t.Errorf("pipelines of a store with streams and no runs: %q, %v", got, err)
	}
	streams, err := s.Streams(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if len(streams) != 2 || !sameJSON(streams["a"].State, json.RawMessage(`{"at":"a"}`)) || streams["b"].Generation != 3 || !streams["b"].FullRefreshed.Equal(refreshed) {
		t.Errorf("streams %+v", streams)
	}
	if got, _ := s.Streams(ctx, "nobody"); len(got) != 0 {
		t.Errorf("streams of an unknown pipeline: %+v", got)
	}
	if got, err := s.Sources(ctx); err != nil || !reflect.DeepEqual(got, []string{"source.a.a", "source.z.z"}) {
		t.Errorf("sources %q, %v", got, err)
	}
}

// copyFromFile copies a state file into the store, as `replicator state
// copy` does when moving to several hosts.
func copyFromFile(t *testing.T, to state.Store) {
	from, err := state.OpenFile(filepath.Join(t.TempDir(), "from.db"), state.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer from.Close()
	p := claim(t, from, "p")
	st := state.StreamState{State: json.RawMessage(`{"next":9}`), Generation: 4, FullRefresh: 4, FullRefreshed: refreshed}
	if err := from.SaveStream(ctx, p.Fence, "contacts", st); err != nil {
		t.Fatal(err)
	}
	for _, outcome := range []string{state.OutcomeSucceeded, state.OutcomeFailed, state.OutcomeRunning} {
		if err := from.SaveRun(ctx, p.Fence, &state.Run{Pipeline: "p", Outcome: outcome, Read: 3}); err != nil {
			t.Fatal(err)
		}
	}
	if err := from.SaveCredentials(ctx, state.NoFence, "source.zoho.eu", json.RawMessage(`{"refresh_token":"r"}`)); err != nil {
		t.Fatal(err)
	}
	if err := from.SetPaused(ctx, "p", true); err != nil {
		t.Fatal(err)
	}
	if err := p.Release(ctx); err != nil {
		t.Fatal(err)
	}

	n, err := state.Copy(ctx, from, to, "copier")
	if err != nil {
		t.Fatal(err)
	}
	if n != (state.Copied{Pipelines: 1, Streams: 1, Runs: 3, Credentials: 1, Paused: 1}) {
		t.Errorf("copied %+v", n)
	}
	if got, _ := to.Stream(ctx, "p", "contacts"); !sameStream(got, st) {
		t.Errorf("copied stream %+v", got)
	}
	if c, _ := to.Credentials(ctx, "source.zoho.eu"); !sameJSON(c, json.RawMessage(`{"refresh_token":"r"}`)) {
		t.Errorf("copied credentials %s", c)
	}
	runs, err := to.Runs(ctx, "p", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 || runs[0].ID != 3 || runs[0].Outcome != state.OutcomeCrashed || runs[2].Outcome != state.OutcomeSucceeded {
		t.Errorf("copied runs %+v", runs)
	}
	if paused, _ := to.Paused(ctx); len(paused) != 1 || paused["p"].IsZero() {
		t.Errorf("copied pauses %v, want p", paused)
	}
	// The next run there goes on with the next ID.
	c := claim(t, to, "p")
	next := &state.Run{Pipeline: "p", Outcome: state.OutcomeRunning}
	if err := to.SaveRun(ctx, c.Fence, next); err != nil || next.ID != 4 {
		t.Errorf("run after the copy: ID %d, %v", next.ID, err)
	}
}

// lastRuns: the newest run of every pipeline in one read, with its
// failures in a row since its last success; runs interrupted or running
// in between neither count nor end the streak.
func lastRuns(t *testing.T, s state.Store) {
	start := time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.UTC)
	save := func(c *state.Claim, outcomes ...string) {
		t.Helper()
		for i, o := range outcomes {
			r := &state.Run{Pipeline: c.Pipeline, Started: start.Add(time.Duration(i) * time.Minute), Outcome: o, Error: "e" + o}
			if err := s.SaveRun(ctx, c.Fence, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	save(claim(t, s, "ok"), state.OutcomeFailed, state.OutcomeSucceeded)
	save(claim(t, s, "failing"), state.OutcomeFailed, state.OutcomeSucceeded, state.OutcomeFailed,
		state.OutcomeInterrupted, state.OutcomeCrashed, state.OutcomeRunning)
	save(claim(t, s, "never-ok"), state.OutcomeFailed, state.OutcomeFailed)
	// The newest run comes without its plugin lines.
	logged := claim(t, s, "logged")
	if err := s.SaveRun(ctx, logged.Fence, &state.Run{Pipeline: "logged", Started: start, Outcome: state.OutcomeSucceeded, Error: "e" + state.OutcomeSucceeded,
		Logs: []state.PluginLog{{Plugin: "source", Lines: []string{"[INFO] hello"}}}}); err != nil {
		t.Fatal(err)
	}
	claim(t, s, "no-runs")

	got, err := s.LastRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("last runs of %d pipelines, want 4 (none for a pipeline without runs): %+v", len(got), got)
	}
	for name, want := range map[string]struct {
		id       uint64
		outcome  string
		failures int
		since    time.Time
	}{
		"ok":       {2, state.OutcomeSucceeded, 0, time.Time{}},
		"failing":  {6, state.OutcomeRunning, 2, start.Add(2 * time.Minute)},
		"never-ok": {2, state.OutcomeFailed, 2, start},
		"logged":   {1, state.OutcomeSucceeded, 0, time.Time{}},
	} {
		l := got[name]
		if l.Run.ID != want.id || l.Run.Outcome != want.outcome || l.Run.Pipeline != name || l.Run.Error != "e"+want.outcome ||
			l.Failures != want.failures || !l.FailingSince.Equal(want.since) || l.Run.Logs != nil {
			t.Errorf("%s: run %d %s (%q, lines %v), %d failures since %s; want run %d %s without lines, %d failures since %s",
				name, l.Run.ID, l.Run.Outcome, l.Run.Error, l.Run.Logs, l.Failures, l.FailingSince, want.id, want.outcome, want.failures, want.since)
		}
	}
}

// paused: a pause is kept, outside any claim, until resumed; pausing
// again keeps its first time.
func paused(t *testing.T, s state.Store) {
	if got, err := s.Paused(ctx); err != nil || len(got) != 0 {
		t.Fatalf("paused pipelines of a new store: %v, %v", got, err)
	}
	before := time.Now().Add(-time.Second)
	for _, p := range []string{"a", "b"} {
		if err := s.SetPaused(ctx, p, true); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Paused(ctx)
	if err != nil {
		t.Fatal(err)
	}
	since := got["a"]
	if len(got) != 2 || since.Before(before) || since.After(time.Now().Add(time.Second)) {
		t.Fatalf("paused %v, want a and b, paused now", got)
	}
	// Held by another host or not, a pipeline can be paused.
	claim(t, s, "b")
	if err := s.SetPaused(ctx, "a", true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPaused(ctx, "b", false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPaused(ctx, "never-paused", false); err != nil {
		t.Errorf("resuming a pipeline that is not paused: %v", err)
	}
	got, err = s.Paused(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got["a"].Equal(since) {
		t.Errorf("after pausing a again and resuming b: %v, want a since %s", got, since)
	}
	if err := s.SetPaused(ctx, "", true); err == nil {
		t.Error("a pipeline without a name was paused")
	}
}

// pluginLogsKept: a run's plugin lines are kept with it.
func pluginLogsKept(t *testing.T, s state.Store) {
	c := claim(t, s, "p")
	r := &state.Run{Pipeline: "p", Outcome: state.OutcomeFailed, Logs: []state.PluginLog{
		{Plugin: "source", Lines: []string{"[INFO] starting", "[ERROR] boom: key=\"v\" ünïcode"}},
		{Plugin: "destination", Lines: []string{"[WARN] slow"}},
	}}
	if err := s.SaveRun(ctx, c.Fence, r); err != nil {
		t.Fatal(err)
	}
	got, err := s.Runs(ctx, "p", 1)
	if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0].Logs, r.Logs) {
		t.Errorf("the run's plugin lines read back as %+v (%v), want %+v", got, err, r.Logs)
	}
}

// channels: a channel is kept with its secret until deleted, a save keeps
// the time of its last callback, and a callback of an unknown key names
// no pipeline.
func channels(t *testing.T, s state.Store) {
	if got, err := s.Channels(ctx); err != nil || len(got) != 0 {
		t.Fatalf("channels of a new store: %v, %v", got, err)
	}
	watched := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	c := state.Channel{
		Key: "k1", ID: "c1", Pipeline: "p", URL: "https://h.example/hooks/k1", Secret: "s3cr3t-s3cr3t-s3cr3t-s3cr3t",
		SecretField: "token", MaxBodyBytes: 1024, Streams: []string{"contacts", "accounts"},
		Expires: watched.Add(time.Hour), Watched: watched,
	}
	other := state.Channel{Key: "k2", ID: "c2", Pipeline: "q", URL: "https://h.example/hooks/k2", Secret: "other-secret-other-secret",
		SecretField: "token", Streams: []string{"contacts"}, Watched: watched}
	for _, ch := range []state.Channel{c, other} {
		if err := s.SaveChannel(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	signaled := watched.Add(time.Minute)
	if p, err := s.SetSignaled(ctx, "k1", signaled); err != nil || p != "p" {
		t.Fatalf("a callback of k1: %q, %v; want pipeline p", p, err)
	}
	if p, err := s.SetSignaled(ctx, "unknown", signaled); err != nil || p != "" {
		t.Fatalf("a callback of an unknown key: %q, %v; want no pipeline", p, err)
	}
	// A renewal keeps the last callback's time.
	c.Expires, c.Watched = c.Expires.Add(time.Hour), c.Watched.Add(time.Hour)
	if err := s.SaveChannel(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.Channels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := c
	want.Signaled = signaled
	if len(got) != 2 || !sameChannel(got[0], want) && !sameChannel(got[1], want) {
		t.Fatalf("channels %+v, want %+v among two", got, want)
	}
	if err := s.DeleteChannel(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteChannel(ctx, "k2"); err != nil {
		t.Errorf("forgetting a channel twice: %v", err)
	}
	if got, err := s.Channels(ctx); err != nil || len(got) != 1 || got[0].Key != "k1" {
		t.Errorf("channels after forgetting k2: %+v, %v; want k1", got, err)
	}
	if err := s.SaveChannel(ctx, state.Channel{Key: "k3", Pipeline: "p", Watched: watched}); err == nil {
		t.Error("a channel without an id or secret was saved")
	}
}

func sameChannel(a, b state.Channel) bool {
	return a.Key == b.Key && a.ID == b.ID && a.Pipeline == b.Pipeline && a.URL == b.URL && a.Secret == b.Secret &&
		a.SecretField == b.SecretField && a.MaxBodyBytes == b.MaxBodyBytes && reflect.DeepEqual(a.Streams, b.Streams) &&
		a.Expires.Equal(b.Expires) && a.Watched.Equal(b.Watched) && a.Signaled.Equal(b.Signaled)
}

// connectLinks: the links' keys are stable, a link connects its source
// once, and a second use stores nothing.
func connectLinks(t *testing.T, s state.Store) {
	keys, err := s.LinkKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 || len(keys[0]) != state.LinkKeySize {
		t.Fatalf("LinkKeys = %d keys, want the first of %d bytes", len(keys), state.LinkKeySize)
	}
	again, err := s.LinkKeys(ctx)
	if err != nil || !reflect.DeepEqual(again, keys) {
		t.Fatalf("LinkKeys changed between calls: %v", err)
	}
	if used, err := s.LinkUsed(ctx, "link-1"); err != nil || !used.IsZero() {
		t.Fatalf("LinkUsed of a new link = %v, %v; want zero", used, err)
	}
	expires := time.Now().Add(time.Hour)
	first := json.RawMessage(`{"refresh_token":"first"}`)
	if err := s.ConnectWithLink(ctx, "link-1", "source.zoho.crm", expires, first); err != nil {
		t.Fatal(err)
	}
	if used, err := s.LinkUsed(ctx, "link-1"); err != nil || used.IsZero() || time.Since(used) > time.Minute {
		t.Fatalf("LinkUsed after connecting = %v, %v", used, err)
	}
	if c, err := s.Credentials(ctx, "source.zoho.crm"); err != nil || !sameJSON(c, first) {
		t.Fatalf("credentials after connecting = %s, %v", c, err)
	}
	err = s.ConnectWithLink(ctx, "link-1", "source.zoho.crm", expires, json.RawMessage(`{"refresh_token":"second"}`))
	if !errors.Is(err, state.ErrLinkUsed) {
		t.Fatalf("second use of a link: %v, want ErrLinkUsed", err)
	}
	if c, err := s.Credentials(ctx, "source.zoho.crm"); err != nil || !sameJSON(c, first) {
		t.Fatalf("a second use of the link changed the credentials: %s, %v", c, err)
	}
	// Another link reconnects the source.
	second := json.RawMessage(`{"refresh_token":"second"}`)
	if err := s.ConnectWithLink(ctx, "link-2", "source.zoho.crm", expires, second); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Credentials(ctx, "source.zoho.crm"); err != nil || !sameJSON(c, second) {
		t.Fatalf("credentials after reconnecting = %s, %v", c, err)
	}
}
