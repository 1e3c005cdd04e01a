package notify_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/notify"
	"github.com/replicatorhq/replicator/host/state"
)

const secret = "the-channel-secret-of-enough-length"

// endpoint serves an Endpoint whose one channel is in a state file, and
// returns its URL, the woken pipelines and how often the store was read.
func endpoint(t *testing.T) (string, <-chan string, *atomic.Int32) {
	t.Helper()
	store, err := state.OpenFile(filepath.Join(t.TempDir(), "state.db"), state.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ch := state.Channel{Key: "key1", ID: "id1", Pipeline: "tenant", URL: "https://h.example/hooks/key1", Secret: secret,
		SecretField: "token", MaxBodyBytes: 1024, Streams: []string{"contacts"}, Watched: time.Now()}
	if err := store.SaveChannel(t.Context(), ch); err != nil {
		t.Fatal(err)
	}
	var loads atomic.Int32
	woken := make(chan string, 10)
	e := &notify.Endpoint{
		Channels: &notify.Channels{Load: func(ctx context.Context) ([]state.Channel, error) {
			loads.Add(1)
			return store.Channels(ctx)
		}},
		Signal: func(_ context.Context, ch state.Channel, _ time.Time) { woken <- ch.Pipeline },
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go e.Run(ctx)
	mux := http.NewServeMux()
	mux.Handle(notify.PathPrefix+"{key}", e)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + notify.PathPrefix, woken, &loads
}

func TestEndpointWakesOnlyOnAVerifiedCallback(t *testing.T) {
	base, woken, loads := endpoint(t)
	for _, c := range []struct {
		name, method, key, body string
		status                  int
	}{
		{"unknown channel", "POST", "nokey", `{"token":"` + secret + `"}`, http.StatusNotFound},
		{"not a POST", "GET", "key1", "", http.StatusMethodNotAllowed},
		{"body over the bound", "POST", "key1", `{"token":"` + secret + `","x":"` + strings.Repeat("x", 1024) + `"}`, http.StatusRequestEntityTooLarge},
		{"wrong secret", "POST", "key1", `{"token":"` + strings.ToUpper(secret) + `"}`, http.StatusUnauthorized},
		{"no secret", "POST", "key1", `{"module":"Contacts"}`, http.StatusUnauthorized},
		{"not JSON", "POST", "key1", secret, http.StatusUnauthorized},
		{"secret in a number", "POST", "key1", `{"token":1}`, http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest(c.method, base+c.key, strings.NewReader(c.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.status)
		}
	}
	resp, err := http.Post(base+"key1", "application/json", strings.NewReader(`{"token":"`+secret+`","module":"Contacts"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("a verified callback: %d, want 204", resp.StatusCode)
	}
	// Signal is called in order: had a refused callback woken anything,
	// it would come first.
	if got := <-woken; got != "tenant" {
		t.Fatalf("woke %q, want tenant", got)
	}
	// Unknown keys read the store at most once per RefreshEvery.
	if n := loads.Load(); n != 1 {
		t.Errorf("the store was read %d times, want once", n)
	}
}
