package zoho

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// hooks stands in for the host's callback endpoint.
type hooks struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
}

func newHooks(t *testing.T) *hooks {
	h := &hooks{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hooks) got() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.bodies)
}

var notifyScopes = append(slices.Clone(allScopes), scopeNotifications)

func channel(id, url string) contract.Channel {
	return contract.Channel{ID: id, URL: url, Secret: strings.Repeat(id[:1], 43)}
}

func (h *harness) watch(changes map[string]any, streams []string,
	chs ...contract.Channel) (contract.WatchResponse, error) {
	h.t.Helper()
	if changes == nil {
		changes = map[string]any{"notifications": true}
	}
	resp, err := h.src.Watch(context.Background(),
		contract.WatchRequest{Config: h.config(changes), Credentials: h.creds, Streams: streams, Channels: chs})
	if resp.Credentials != nil {
		h.creds = resp.Credentials
	}
	if err == nil {
		err = contract.CheckWatchResponse(contract.WatchRequest{Streams: streams, Channels: chs}, resp)
	}
	return resp, err
}

func (h *harness) unwatch(chs ...contract.Channel) error {
	h.t.Helper()
	resp, err := h.src.Unwatch(context.Background(),
		contract.UnwatchRequest{Config: h.config(nil), Credentials: h.creds, Channels: chs})
	if resp.Credentials != nil {
		h.creds = resp.Credentials
	}
	return err
}

// One Zoho channel watches both modules, with the host's secret as its
// token; Zoho's callbacks pass the host's check; renewing replaces the
// channel and moves its expiry; Unwatch ends it, twice without an error.
func TestWatchSubscribesOneChannelForBothModules(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 10, Accounts: 3})
	h.authorize(notifyScopes...)
	hk := newHooks(t)
	a, b := channel("a-chan", hk.srv.URL+"/hooks/v1/ka?x=1"), channel("b-chan", hk.srv.URL+"/hooks/v1/kb")
	before := h.sim.Credits()
	resp, err := h.watch(nil, []string{"contacts", "accounts"}, a, b)
	if err != nil {
		t.Fatal(err)
	}
	week := h.clock.Now().Add(7*24*time.Hour - time.Hour)
	if len(resp.Channels) != 1 || resp.Channels[0].ID != a.ID ||
		!slices.Equal(resp.Channels[0].Streams, []string{"contacts", "accounts"}) ||
		!resp.Channels[0].Expires.Equal(week) {
		t.Fatalf("answer %+v, want channel %s for both streams until %v", resp.Channels, a.ID, week)
	}
	if spent := h.sim.Credits() - before; spent != 1 {
		t.Errorf("subscribing cost %d credits", spent)
	}
	chs := h.sim.Channels()
	if len(chs) != 1 || chs[0].ID != strconv.FormatInt(zohoChannelID(a.ID), 10) || chs[0].Token != a.Secret ||
		chs[0].NotifyURL != a.URL ||
		!slices.Equal(chs[0].Events, []string{"Accounts.all", "Contacts.all"}) {
		t.Fatalf("Zoho's channels %+v", chs)
	}

	id := h.sim.Create("Contacts", map[string]any{"Last_Name": "Gemeld"})
	h.sim.WaitCallbacks()
	got := hk.got()
	if len(got) != 1 {
		t.Fatalf("%d callbacks", len(got))
	}
	if err := changeSignals.Verify(got[0], a.Secret); err != nil {
		t.Errorf("Zoho's callback fails the host's check: %v\n%s", err, got[0])
	}
	if !strings.Contains(string(got[0]), id) {
		t.Errorf("callback %s does not name %s", got[0], id)
	}

	// Renewal five days on: one call, the expiry a week on again.
	h.clock.Add(5 * 24 * time.Hour)
	h.authorize(notifyScopes...) // the access token has long expired
	before = h.sim.Credits()
	resp, err = h.watch(nil, []string{"contacts", "accounts"}, a)
	if err != nil {
		t.Fatal(err)
	}
	if want := h.clock.Now().Add(7*24*time.Hour - time.Hour); !resp.Channels[0].Expires.Equal(want) ||
		h.sim.Channels()[0].Expiry.Unix() != want.Unix() {
		t.Errorf("renewed until %v (Zoho: %v), want %v", resp.Channels[0].Expires, h.sim.Channels()[0].Expiry, want)
	}
	if spent := h.sim.Credits() - before; spent != 1 {
		t.Errorf("renewing cost %d credits", spent)
	}

	// A new secret, and contacts only: the channel follows.
	a2 := a
	a2.Secret = strings.Repeat("z", 50)
	if _, err := h.watch(nil, []string{"contacts"}, a2); err != nil {
		t.Fatal(err)
	}
	if chs := h.sim.Channels(); len(chs) != 1 || chs[0].Token != a2.Secret ||
		!slices.Equal(chs[0].Events, []string{"Contacts.all"}) {
		t.Errorf("after rotating the secret and dropping accounts: %+v", chs)
	}

	// Zoho forgot the channel (it expired): Watch enables it again.
	h.sim.ExpireChannels()
	if _, err := h.watch(nil, []string{"contacts", "accounts"}, a); err != nil {
		t.Fatal(err)
	}
	if chs := h.sim.Channels(); len(chs) != 1 || chs[0].Token != a.Secret {
		t.Errorf("after expiry, Watch left %+v", chs)
	}

	if err := h.unwatch(a); err != nil {
		t.Fatal(err)
	}
	if chs := h.sim.Channels(); len(chs) != 0 {
		t.Errorf("after Unwatch: %+v", chs)
	}
	if err := h.unwatch(a); err != nil {
		t.Errorf("a second Unwatch: %v", err)
	}
}

// Zoho's channel ids are numbers below 2^53, derived from the host's
// channel id, the same every time.
func TestZohoChannelID(t *testing.T) {
	seen := map[int64]string{}
	for i := range 10000 {
		id := "p" + strconv.Itoa(i)
		n := zohoChannelID(id)
		if n < channelIDBase || n >= 1<<53 || n != zohoChannelID(id) {
			t.Fatalf("%s: %d", id, n)
		}
		if other, ok := seen[n]; ok {
			t.Fatalf("%s and %s share %d", id, other, n)
		}
		seen[n] = id
	}
}

// With notifications off, Watch subscribes nothing and spends nothing;
// without the scope, Watch and check say what to grant.
func TestWatchOffAndWithoutTheScope(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 5, Accounts: 2})
	h.authorize(allScopes...)
	hk := newHooks(t)
	a := channel("a-chan", hk.srv.URL+"/hooks/v1/ka")
	before := h.sim.Credits()
	resp, err := h.watch(map[string]any{}, []string{"contacts"}, a)
	if err != nil || len(resp.Channels) != 0 || h.sim.Credits() != before {
		t.Errorf("with notifications off: %+v, %v, %d credits", resp, err, h.sim.Credits()-before)
	}
	_, err = h.watch(nil, []string{"contacts"}, a)
	if err == nil || !strings.Contains(err.Error(), "OAUTH_SCOPE_MISMATCH") ||
		!strings.Contains(err.Error(), "notifications need the scope ZohoCRM.notifications.ALL in the grant") {
		t.Errorf("Watch without the scope: %v", err)
	}
	_, err = h.src.Check(context.Background(),
		contract.CheckRequest{Config: h.config(map[string]any{"notifications": true}), Credentials: h.creds})
	if err == nil || !strings.Contains(err.Error(), "notifications need ZohoCRM.notifications.ALL") {
		t.Errorf("check without the scope: %v", err)
	}
	if _, err := h.watch(nil, []string{"leads"}, a); err == nil || !strings.Contains(err.Error(), `no stream "leads"`) {
		t.Errorf("Watch of an unknown stream: %v", err)
	}

	// The finer scopes do as well as ALL.
	h.authorize(
		append(slices.Clone(allScopes),
			"ZohoCRM.notifications.CREATE", "ZohoCRM.notifications.UPDATE", "ZohoCRM.notifications.DELETE")...)
	if _, err := h.watch(nil, []string{"contacts"}, a); err != nil {
		t.Errorf("Watch with CREATE, UPDATE and DELETE: %v", err)
	}
	resp2, err := h.src.Check(context.Background(),
		contract.CheckRequest{Config: h.config(map[string]any{"notifications": true}), Credentials: h.creds})
	if err != nil || !strings.Contains(resp2.Message, "notifications: the grant allows them") {
		t.Errorf("check with the finer scopes: %+v, %v", resp2, err)
	}
	if err := h.unwatch(a); err != nil {
		t.Errorf("Unwatch with DELETE: %v", err)
	}
}

// Zoho's refusal of the callback URL says to check the host's public_url.
func TestWatchRefusedURL(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 5, Accounts: 2})
	h.authorize(notifyScopes...)
	// The SDK lets only https through to a source, or http to loopback;
	// Zoho (and the simulator) refuse what is not a URL.
	_, err := h.watch(nil, []string{"contacts"},
		contract.Channel{ID: "c", URL: "https://", Secret: strings.Repeat("s", 43)})
	if err == nil || !strings.Contains(err.Error(), "check the host's public_url") {
		t.Errorf("Watch with a URL Zoho refuses: %v", err)
	}
}
