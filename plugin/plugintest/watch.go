package plugintest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// signalWait is how long the kit waits for the service to call back
// after Signal.
const signalWait = 30 * time.Second

// watch checks Watch and Unwatch of a source whose spec has change
// signals, over gRPC as the host calls them.
func (s SourceSuite) watch(
	t *testing.T,
	src contract.Source,
	creds *json.RawMessage,
	cs contract.ChangeSignals,
	streams []contract.Stream,
) {
	w, ok := src.(contract.Watcher)
	if !ok {
		t.Fatal("the client of the source does not implement contract.Watcher")
	}
	cfg := s.WatchConfig
	if cfg == nil {
		cfg = s.Config
	}
	hooks := newHookServer(t)
	req := contract.WatchRequest{Config: cfg}
	for i, st := range streams {
		key, secret := randomToken(t), randomToken(t)
		req.Streams = append(req.Streams, st.Name)
		req.Channels = append(
			req.Channels,
			contract.Channel{ID: fmt.Sprintf("kit-%d-%s", i, key[:8]), URL: hooks.url(key), Secret: secret},
		)
	}
	ctx := context.Background()
	watch := func(what string) contract.WatchResponse {
		t.Helper()
		req.Credentials = *creds
		resp, err := w.Watch(ctx, req)
		if resp.Credentials != nil {
			*creds = resp.Credentials
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(resp.Channels) == 0 {
			t.Fatalf(
				"%s subscribed no channel; set SourceSuite.WatchConfig to a configuration under which the source watches",
				what,
			)
		}
		return resp
	}
	first := watch("Watch")
	unwatch := func(what string) {
		t.Helper()
		var end contract.UnwatchRequest
		end.Config, end.Credentials = cfg, *creds
		for _, c := range first.Channels {
			end.Channels = append(end.Channels, channelByID(req.Channels, c.ID))
		}
		resp, err := w.Unwatch(ctx, end)
		if resp.Credentials != nil {
			*creds = resp.Credentials
		}
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	defer func() {
		unwatch("Unwatch")
		unwatch("Unwatch of channels it ended")
	}()

	if s.Signal != nil {
		c := first.Channels[0]
		ch := channelByID(req.Channels, c.ID)
		s.Signal(t, c.Streams[0])
		body, err := hooks.wait(ch.URL, signalWait)
		if err != nil {
			t.Fatalf("after Signal(%s), channel %s: %v", c.Streams[0], c.ID, err)
		}
		if err := cs.Verify(body, ch.Secret); err != nil {
			t.Errorf(
				"the callback after Signal(%s) fails the host's check (%v): "+
					"the spec says the secret is in the body's field %q; body: %.300s",
				c.Streams[0],
				err,
				cs.SecretField,
				body,
			)
		}
	}

	again := watch("Watch again, as the host renews")
	ids := func(r contract.WatchResponse) []string {
		var out []string
		for _, c := range r.Channels {
			out = append(out, c.ID)
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(ids(first), ids(again)) {
		t.Errorf("Watch subscribed channels %v, and renewing them answered %v", ids(first), ids(again))
	}
	for i, c := range again.Channels {
		if prev := first.Channels[i]; c.ID == prev.ID && !prev.Expires.IsZero() && c.Expires.Before(prev.Expires) {
			t.Errorf("renewing channel %s moved its expiry back from %v to %v", c.ID, prev.Expires, c.Expires)
		}
	}
}

func channelByID(cs []contract.Channel, id string) contract.Channel {
	for _, c := range cs {
		if c.ID == id {
			return c
		}
	}
	return contract.Channel{}
}

// randomToken is 32 random bytes in base64url, as the host makes channel
// keys and secrets.
func randomToken(t *testing.T) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// hookServer stands in for the host's callback endpoint: it keeps the
// bodies posted to each channel's URL.
type hookServer struct {
	srv *httptest.Server

	mu     sync.Mutex
	bodies map[string][][]byte // by path
	posted chan struct{}
}

func newHookServer(t *testing.T) *hookServer {
	h := &hookServer{bodies: map[string][][]byte{}, posted: make(chan struct{}, 1)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, contract.MaxSignalBodyBytes+1))
		h.mu.Lock()
		h.bodies[r.URL.Path] = append(h.bodies[r.URL.Path], body)
		h.mu.Unlock()
		select {
		case h.posted <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookServer) url(key string) string { return h.srv.URL + "/hooks/" + key }

// wait returns the first body posted to url, waiting up to d for it.
func (h *hookServer) wait(url string, d time.Duration) ([]byte, error) {
	path := strings.TrimPrefix(url, h.srv.URL)
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		got := h.bodies[path]
		h.mu.Unlock()
		if len(got) > 0 {
			return got[0], nil
		}
		select {
		case <-h.posted:
		case <-deadline.C:
			return nil, fmt.Errorf("the service did not call back within %v", d)
		}
	}
}
