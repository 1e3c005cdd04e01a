package notify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// Endpoint serves the callbacks of the channels in Channels, at
// PathPrefix followed by a channel's key. It is public: a callback proves
// itself with its channel's key and secret, nothing else. Each is checked
// in the order contract.ChangeSignals gives and answered at once; the
// verified ones are handed to Signal afterwards, one at a time.
type Endpoint struct {
	Channels *Channels
	// Signal is called with each verified callback's channel and when it
	// came, from one goroutine, after the callback was answered.
	Signal func(ctx context.Context, ch state.Channel, at time.Time)
	// Outcome counts each callback's outcome (metrics); may be nil.
	Outcome func(outcome string)
	Log     hclog.Logger

	once    sync.Once
	pending chan signal
}

type signal struct {
	ch state.Channel
	at time.Time
}

// maxPending bounds the verified callbacks waiting for Signal. One beyond
// it is answered and counted but wakes nothing: the pipeline's interval
// catches it, as it catches a callback the service lost.
const maxPending = 1024

func (e *Endpoint) init() {
	e.once.Do(func() {
		e.pending = make(chan signal, maxPending)
		if e.Log == nil {
			e.Log = hclog.NewNullLogger()
		}
	})
}

// Run hands verified callbacks to Signal until ctx ends.
func (e *Endpoint) Run(ctx context.Context) {
	e.init()
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-e.pending:
			e.Signal(ctx, s.ch, s.at)
		}
	}
}

// ServeHTTP checks a callback and answers it. Nothing of the callback
// (its key, secret or body) is logged.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.init()
	key := r.PathValue("key")
	ch, ok := e.Channels.Lookup(r.Context(), key)
	if !ok {
		e.answer(w, http.StatusNotFound, OutcomeUnknown)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		e.answer(w, http.StatusMethodNotAllowed, OutcomeMethod)
		return
	}
	signals := contract.ChangeSignals{SecretField: ch.SecretField, MaxBodyBytes: ch.MaxBodyBytes}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(signals.BodyLimit())+1))
	if err != nil {
		e.answer(w, http.StatusBadRequest, OutcomeForged)
		return
	}
	switch err := signals.Verify(body, ch.Secret); {
	case errors.Is(err, contract.ErrSignalTooLarge):
		e.answer(w, http.StatusRequestEntityTooLarge, OutcomeTooLarge)
		return
	case err != nil:
		e.answer(w, http.StatusUnauthorized, OutcomeForged)
		return
	}
	e.answer(w, http.StatusNoContent, OutcomeWoke)
	select {
	case e.pending <- signal{ch: ch, at: time.Now()}:
	default:
		e.Log.Warn("too many callbacks waiting; this one wakes nothing, and the pipeline's interval catches its change",
			"pipeline", ch.Pipeline)
	}
}

func (e *Endpoint) answer(w http.ResponseWriter, status int, outcome string) {
	if e.Outcome != nil {
		e.Outcome(outcome)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
}
