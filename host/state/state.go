// Package state is where the host keeps what must outlive a run: the
// checkpoint of every pipeline's streams, the credentials of every source,
// each pipeline's run history, and which host runs a pipeline now.
//
// Store is the one interface the runner, the commands and the tests use.
// OpenFile opens the embedded bbolt implementation, the default for one
// host; package postgres implements it for several hosts sharing a
// database.
//
// # Claims and fencing
//
// A host runs a pipeline only while it holds the pipeline's claim: Claim
// hands out a fencing token, higher than any handed out for that pipeline
// before, and fails with ErrClaimed while another holder has it. Every
// write of a run (checkpoints, credentials, the run's history) carries the
// claim's Fence, and the store refuses, with ErrFenced, a write whose token
// is no longer the pipeline's current one: a host that was paused or cut
// off past its claim cannot overwrite what the host that took over wrote.
package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// KeepRuns is how many runs per pipeline the history keeps; older ones are
// dropped as new ones are saved.
const KeepRuns = 1000

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

// Store keeps checkpoints, credentials, run history and claims. Its methods
// are safe for use from several goroutines: the runner saves checkpoints
// from the destination's acknowledgements and credentials from the
// source's updates while the commands read. Each write is one transaction:
// a cancelled ctx abandons the call, and an abandoned write is wholly done
// or not at all.
//
// A caller runs a pipeline only under its claim: Claim, then every write of
// the run with the claim's Fence, then Release. ErrClaimed means another
// host runs the pipeline now; ErrFenced means this host's claim ended and
// the run must stop.
type Store interface {
	// Claim takes pipeline for host, which names the process (such as
	// "hostname:pid") in status and errors. It fails with an error
	// wrapping ErrClaimed while another claim on the pipeline is held.
	// The caller runs the pipeline with the claim's Fence and releases the
	// claim when done; Lost is closed if the store ends it first.
	Claim(ctx context.Context, pipeline, host string) (*Claim, error)
	// Holders returns the claims held now, by pipeline.
	Holders(ctx context.Context) (map[string]Holder, error)

	// Stream returns the state of a pipeline's stream, or the zero value
	// when the store has none.
	Stream(ctx context.Context, pipeline, stream string) (StreamState, error)
	// SaveStream stores the state of one of the fenced pipeline's
	// streams, replacing what was there.
	SaveStream(ctx context.Context, f Fence, stream string, st StreamState) error
	// ResetStream forgets a stream's checkpoint and any full refresh in
	// progress, so that its next run starts over with a full refresh. The
	// generation counter is kept: generations must never go backwards, or
	// a destination could not tell old entries from new ones.
	ResetStream(ctx context.Context, f Fence, stream string) error

	// Credentials returns the credentials stored for a source (a
	// reference such as "source.zoho.eu"), or nil when there are none.
	Credentials(ctx context.Context, source string) (json.RawMessage, error)
	// SaveCredentials stores a source's credentials, replacing what was
	// there; empty credentials remove them. A run saves them under its
	// claim's fence; commands outside a run (authorize, check, discover)
	// pass NoFence.
	SaveCredentials(ctx context.Context, f Fence, source string, c json.RawMessage) error

	// SaveRun stores r in the fenced pipeline's history (r.Pipeline must
	// be f.Pipeline). When r.ID is 0 it assigns the pipeline's next run
	// ID to r.ID; saving a run again with that ID updates it. Only the
	// newest KeepRuns runs per pipeline are kept.
	SaveRun(ctx context.Context, f Fence, r *Run) error
	// Runs returns up to limit of a pipeline's runs, newest first; limit
	// <= 0 returns every kept run.
	Runs(ctx context.Context, pipeline string, limit int) ([]Run, error)
	// Pipelines returns the names of the pipelines that have any run or
	// stream state, sorted bytewise.
	Pipelines(ctx context.Context) ([]string, error)
	// Streams returns the state of every stream of a pipeline that has
	// any, by stream name.
	Streams(ctx context.Context, pipeline string) (map[string]StreamState, error)
	// Sources returns the references of the sources that have stored
	// credentials, sorted.
	Sources(ctx context.Context) ([]string, error)
	// LastRuns returns, in one read, the newest run of every pipeline that
	// has one, without its Logs, with the failures in a row that led to
	// it: what a page of thousands of pipelines shows without a read per
	// pipeline.
	LastRuns(ctx context.Context) (map[string]Latest, error)

	// SetPaused pauses a pipeline, or resumes it. A pause is the
	// operator's, kept outside any run and any claim: every host sharing
	// the store reads it before it starts a run (Paused), and a run
	// underway finishes. Pausing a paused pipeline keeps its first time.
	SetPaused(ctx context.Context, pipeline string, paused bool) error
	// Paused returns the paused pipelines, each with when it was paused.
	Paused(ctx context.Context) (map[string]time.Time, error)

	// SaveChannel stores a pipeline's change-signal channel, by its key,
	// replacing what was there but the time of its last callback.
	SaveChannel(ctx context.Context, c Channel) error
	// DeleteChannel forgets a channel; an unknown key is not an error.
	DeleteChannel(ctx context.Context, key string) error
	// Channels returns every stored channel, secrets opened; a store
	// opened without the keys that sealed them leaves them empty.
	Channels(ctx context.Context) ([]Channel, error)
	// SetSignaled records that a verified callback of the channel with
	// key came at at; it returns the channel's pipeline, or "" when the
	// store no longer has the channel. A store that several hosts share
	// tells each of them (see postgres.Store.ListenSignals).
	SetSignaled(ctx context.Context, key string, at time.Time) (string, error)
	// LinkKeys returns the keys connect links are signed with, the same
	// on every host sharing the store: the first signs, each verifies.
	LinkKeys(ctx context.Context) ([][]byte, error)
	// LinkUsed returns when the connect link with id connected its
	// source, or the zero time when it has not.
	LinkUsed(ctx context.Context, id string) (time.Time, error)
	// ConnectWithLink stores a source's credentials as the connect link
	// with id connected it, and records the link used, in one
	// transaction: it fails with ErrLinkUsed, storing nothing, when the
	// link was used already. expires is when the link expires; its record
	// is kept LinkGrace longer.
	ConnectWithLink(ctx context.Context, id, source string, expires time.Time, c json.RawMessage) error

	// Close releases the store; claims still held are released.
	Close() error
}

// Fence is what a write carries to show it comes from the current claim
// on its pipeline.
type Fence struct {
	Pipeline string
	Token    uint64
}

// NoFence marks a credentials write made outside any run.
var NoFence = Fence{}

// Holder is who holds a pipeline's claim.
type Holder struct {
	Host  string
	Since time.Time
	Token uint64
}

// Claim is a held claim on a pipeline.
type Claim struct {
	Fence
	Host     string
	Since    time.Time
	release  func(context.Context) error
	lease    func() error
	lost     chan struct{}
	loseOnce sync.Once
	lostWhy  error
	done     sync.Once
}

// NewClaim is for implementations of Store: release gives the claim up.
func NewClaim(f Fence, host string, since time.Time, release func(context.Context) error) *Claim {
	return &Claim{Fence: f, Host: host, Since: since, release: release, lost: make(chan struct{})}
}

// Lose is for implementations of Store: it records why the claim ended
// and closes Lost.
func (c *Claim) Lose(why error) {
	c.loseOnce.Do(func() {
		c.lostWhy = why
		close(c.lost)
	})
}

// SetLease is for implementations of Store whose claims end on their own
// unless renewed in time, such as with the database session that holds
// them: lease returns nil while the claim can still be counted on, and
// else why not. It is called before anything a run writes leaves the
// host, so it must be cheap: a look at a clock, not a call to a server.
// Set it before handing the claim out.
func (c *Claim) SetLease(lease func() error) { c.lease = lease }

// Check returns nil while the claim is held and its lease, if it has one,
// has not run out; else it loses the claim, if the store has not already,
// and returns why. A caller checks before it lets anything more of the
// run go out to a destination: a host that was paused may come back
// after another host took the pipeline over and before the store noticed,
// and what it wrote then would land after what its successor wrote.
func (c *Claim) Check() error {
	if err := c.Err(); err != nil {
		return err
	}
	if c.lease != nil {
		if err := c.lease(); err != nil {
			c.Lose(err)
			return c.Err()
		}
	}
	return nil
}

// Lost is closed when the store ended the claim before Release, such as
// when the database ended the session holding it, or when Check found its
// lease run out. Writes under the claim are refused from then on; the
// caller should stop the run.
func (c *Claim) Lost() <-chan struct{} { return c.lost }

// Err says why the claim was lost, or nil while it is held.
func (c *Claim) Err() error {
	select {
	case <-c.lost:
		return c.lostWhy
	default:
		return nil
	}
}

// Release gives the claim up; later writes under its fence are refused.
// Releasing twice is a no-op.
func (c *Claim) Release(ctx context.Context) error {
	var err error
	c.done.Do(func() { err = c.release(ctx) })
	return err
}

// ErrClaimed is wrapped by Claim's error when another holder has the
// pipeline.
var ErrClaimed = errors.New("pipeline is claimed by another host")

// ClaimedError says who holds a pipeline.
type ClaimedError struct {
	Pipeline string
	Holder
}

func (e *ClaimedError) Error() string {
	if e.Host == "" {
		return fmt.Sprintf("pipeline %q is running elsewhere; try again when that run has finished", e.Pipeline)
	}
	return fmt.Sprintf("pipeline %q is running on %s since %s; try again when that run has finished",
		e.Pipeline, e.Host, e.Since.Local().Format("2006-01-02 15:04:05"))
}

func (e *ClaimedError) Is(target error) bool { return target == ErrClaimed }

// ErrFenced is wrapped by the error of a write whose claim is no longer
// the pipeline's current one.
var ErrFenced = errors.New("write refused: this host no longer holds the pipeline's claim")

// FencedError is a write refused for its stale fence.
type FencedError struct {
	Fence
	Current uint64 // the pipeline's current token; 0 when nobody holds it
}

func (e *FencedError) Error() string {
	if e.Current == 0 {
		return fmt.Sprintf("write refused: the claim on pipeline %q (fence %d) is no longer held; the run was stopped or its claim released, and nothing it would have written is stored",
			e.Pipeline, e.Token)
	}
	return fmt.Sprintf("write refused: the claim on pipeline %q (fence %d) was taken over by another host (fence %d), so this host's writes are refused; the pipeline goes on there from its last checkpoint",
		e.Pipeline, e.Token, e.Current)
}

func (e *FencedError) Is(target error) bool { return target == ErrFenced }

// StreamState is what the store keeps for one stream of one pipeline.
type StreamState struct {
	// State is the last acknowledged checkpoint's state; nil means the
	// stream was never synced. A state that is empty or JSON null is no
	// checkpoint either: stores save it as none and read it back as nil.
	State json.RawMessage `json:"state,omitempty"`
	// Generation is the last generation handed out for this stream.
	Generation uint64 `json:"generation,omitempty"`
	// FullRefresh is the generation of a full refresh in progress; 0 = none.
	FullRefresh uint64 `json:"full_refresh,omitempty"`
	// FullRefreshed is when the stream's last full refresh completed: when
	// the destination acknowledged its sweep. Zero when none is known. A
	// reset keeps it, since a reset completes nothing.
	FullRefreshed time.Time `json:"full_refreshed,omitzero"`
}

// NoCheckpoint reports whether a checkpoint's state is none: nil, empty or
// JSON null. A source handed null would start over without the full
// refresh of a stream never synced, and entries deleted meanwhile would
// survive, so null is kept as no checkpoint.
func NoCheckpoint(st json.RawMessage) bool {
	return len(st) == 0 || bytes.Equal(bytes.TrimSpace(st), jsonNull)
}

var jsonNull = []byte("null")

// Run is one run of a pipeline in the history.
type Run struct {
	ID       uint64           `json:"id"` // per-pipeline sequence, from 1
	Pipeline string           `json:"pipeline"`
	Host     string           `json:"host,omitempty"`  // the claim's holder
	Fence    uint64           `json:"fence,omitempty"` // the claim's token
	Started  time.Time        `json:"started"`
	Ended    time.Time        `json:"ended,omitzero"`
	Read     int64            `json:"read"`
	Written  int64            `json:"written"`
	Outcome  string           `json:"outcome"` // one of the Outcome constants
	Error    string           `json:"error,omitempty"`
	Counters map[string]int64 `json:"counters,omitempty"`
	Resumed  []string         `json:"resumed,omitempty"` // streams that started from a checkpoint
	// Logs are the last lines each plugin logged during the run, bounded
	// by TrimLog, whatever their level: the reason of a failure is often
	// in the lines before it.
	Logs []PluginLog `json:"logs,omitempty"`
	// Backoff is, on a failed run, what it means for the pipeline's next
	// run; the zero value on others, and on failed runs that were the
	// host's fault, which do not count.
	Backoff Backoff `json:"backoff,omitzero"`
}

// Backoff is what a failed run counts for its pipeline's failure backoff,
// kept in the history so that every host sharing it holds the pipeline
// back alike.
type Backoff struct {
	// Config is a digest of the pipeline's configuration the run ran
	// with: failures of another configuration do not count.
	Config string `json:"config,omitempty"`
	// Failures counts the failures in a row of this configuration, this
	// one included, since the last success or the last run an operator
	// asked for (which counts as the first).
	Failures int `json:"failures,omitempty"`
	// Asked says an operator asked for the run (Sync now, resume).
	Asked bool `json:"asked,omitempty"`
	// Until is when the pipeline's next run is due at the earliest; zero
	// when it is due one interval on, as without failures.
	Until time.Time `json:"until,omitzero"`
}

// PluginLog is the last lines one plugin of a run logged, oldest first.
type PluginLog struct {
	Plugin string   `json:"plugin"` // "source" or "destination"
	Lines  []string `json:"lines"`
}

// Bounds on the plugin lines a run keeps: a run record is read with every
// page of the console and kept KeepRuns times per pipeline, so at most
// MaxLogBytes of each plugin, in up to MaxLogLines lines of at most
// MaxLogLineBytes.
const (
	MaxLogLines     = 20
	MaxLogLineBytes = 1 << 10
	MaxLogBytes     = 4 << 10
)

// TrimLog returns the newest of lines that fit the bounds on a run's
// plugin lines, oldest first; a longer line is cut, with a note saying so.
func TrimLog(lines []string) []string {
	var out []string
	size := 0
	for i := len(lines) - 1; i >= 0 && len(out) < MaxLogLines; i-- {
		l := lines[i]
		if len(l) > MaxLogLineBytes {
			l = strings.ToValidUTF8(l[:MaxLogLineBytes], "") + " … (cut)"
		}
		if size+len(l) > MaxLogBytes {
			break
		}
		size += len(l)
		out = append(out, l)
	}
	slices.Reverse(out)
	return out
}

// Latest is a pipeline's newest run, with the failures in a row that led
// to it.
type Latest struct {
	Run Run
	// Failures counts the runs that failed or crashed since the last one
	// that succeeded (or since the first run); runs interrupted or still
	// running neither count nor end the streak. 0 when the pipeline is not
	// failing.
	Failures int
	// FailingSince is when the first of those failures started; zero when
	// Failures is 0.
	FailingSince time.Time
}

// Older adds the next older run of a pipeline to l, as a store walks its
// runs newest first, and reports whether an older run could still change
// l: it cannot once a run that succeeded is reached.
func (l *Latest) Older(r Run) bool {
	if l.Run.ID == 0 {
		l.Run = r
	}
	switch r.Outcome {
	case OutcomeFailed, OutcomeCrashed:
		l.Failures++
		l.FailingSince = r.Started
	case OutcomeSucceeded:
		return false
	}
	return true
}

// CheckNames reports an empty pipeline or stream name.
func CheckNames(pipeline, stream string) error {
	switch {
	case pipeline == "":
		return errors.New("the pipeline name is empty")
	case stream == "":
		return fmt.Errorf("pipeline %q: the stream name is empty", pipeline)
	}
	return nil
}

// CheckRun reports a run that cannot be saved under f.
func CheckRun(f Fence, r *Run) error {
	switch {
	case r.Pipeline == "":
		return errors.New("saving run: the run has no pipeline name")
	case r.Pipeline != f.Pipeline:
		return fmt.Errorf("saving run of pipeline %q under the claim on pipeline %q", r.Pipeline, f.Pipeline)
	}
	return nil
}
