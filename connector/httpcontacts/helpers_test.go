package httpcontacts

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/connector/httpcontacts/apisim"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/plugintest"
)

const token = "s3cret"

// clock is the time of the stand-in API and the source alike, which tests
// move past the source's lag instead of waiting for it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// api is the stand-in API on loopback.
type api struct {
	sim   *apisim.Server
	url   string
	clock *clock
}

func newAPI(t *testing.T) *api {
	t.Helper()
	c := &clock{t: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)}
	sim := apisim.New(apisim.Options{Token: token, Now: c.now})
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(ts.Close)
	return &api{sim: sim, url: ts.URL, clock: c}
}

// config is the source's configuration for the API, with token.
func (a *api) config(token string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"api_url": a.url, "token": token})
	return b
}

// person adds a contact with a name and a phone number.
func (a *api) person(first, last, number, country string) apisim.Contact {
	return a.sim.Put(apisim.Contact{
		FirstName: first, LastName: last, Country: country,
		Phones: []apisim.Phone{{Label: "work", Number: number}},
	})
}

// source is a source on the API's clock.
func (a *api) source(log hclog.Logger) *Source {
	s := New(log)
	s.now = a.clock.now
	return s
}

// read reads the contacts stream from state and returns what it sent.
func read(t *testing.T, src contract.Source, cfg, state json.RawMessage) *plugintest.Recorder {
	t.Helper()
	rec := &plugintest.Recorder{}
	streams := []contract.ReadStream{{Name: "contacts", State: state, Generation: 3}}
	req := contract.ReadRequest{Config: cfg, Streams: streams}
	if err := src.Read(context.Background(), req, rec); err != nil {
		t.Fatalf("Read: %v", err)
	}
	return rec
}

// last is the state of the last checkpoint rec holds.
func last(t *testing.T, rec *plugintest.Recorder) json.RawMessage {
	t.Helper()
	cps := rec.Checkpoints()
	if len(cps) == 0 {
		t.Fatal("no checkpoint")
	}
	return cps[len(cps)-1].State
}

func quiet() hclog.Logger { return hclog.NewNullLogger() }
