//go:build unix

package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
	"github.com/replicatorhq/replicator/internal/logbuf"
	"github.com/replicatorhq/replicator/internal/promtool"
)

// callbackDelay is how long zohosim holds each callback when the tests
// fault its delivery.
const callbackDelay = 3 * time.Second

// notifyToken is the console's token in the notification tests, for
// /metrics.
const notifyToken = "notify-test-console-token-0123456789"

// notifyFixture is a crmFixture whose Zoho source has notifications on,
// with `replicator run` reached by Zoho at a public URL: a proxy on
// loopback in front of the host's listener, as a TLS-terminating proxy
// would be.
type notifyFixture struct {
	*crmFixture
	public *httptest.Server
	target atomic.Pointer[url.URL]
	hosts  []*notifyHost
	log    *logbuf.Buffer // the first host's
	base   string         // the first host's own listener
}

// notifyHost is one `replicator run`.
type notifyHost struct {
	cmd  *exec.Cmd
	log  *logbuf.Buffer
	base string
	url  *url.URL
}

// newNotifyFixture starts the simulators, authorizes the source with the
// notification scope and starts `replicator run`, whose pipeline polls at
// interval besides.
func newNotifyFixture(t *testing.T, interval string) *notifyFixture {
	t.Helper()
	f := setUpNotify(t, interval, "")
	f.start()
	f.waitFor("the pipeline's channel subscribed at Zoho", func() bool { return len(f.sim.Channels()) == 1 })
	return f
}

// setUpNotify is newNotifyFixture without a host started, with more of
// the configuration in extra.
func setUpNotify(t *testing.T, interval, extra string) *notifyFixture {
	t.Helper()
	f := &notifyFixture{crmFixture: newCRMFixture(t, zohosim.Options{
		// The org's clock is the host's: with notifications the source
		// reads past its window's end, so the run a callback wakes reads
		// the change made a second before.
		Contacts: 20, Accounts: 5, Seed: 11,
	})}
	f.public = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := f.target.Load()
		if target == nil {
			http.Error(w, "the host is not up yet", http.StatusBadGateway)
			return
		}
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	}))
	t.Cleanup(f.public.Close)
	t.Setenv("REPLICATOR_CONSOLE_TOKEN", notifyToken)
	f.w.write("replicator.hcl", fmt.Sprintf(`
host {
  listen        = "127.0.0.1:0"
  console_token = env("REPLICATOR_CONSOLE_TOKEN")
  public_url    = %q
}

source "zoho" "crm" {
  domain        = %q
  client_id     = %q
  client_secret = env("ZOHO_CLIENT_SECRET")
  accounts_url  = "%s/accounts/{dc}"
  api_url       = %q
  notifications = true
}

destination "roger365" "phonebook" {
  api_url        = %q
  api_key        = env("ROGER365_API_KEY")
  replicator_id  = %q
  default_region = "NL"
}

pipeline %q {
  source      = source.zoho.crm
  destination = destination.roger365.phonebook
  streams     = ["contacts", "accounts"]
  interval    = %q
}
%s`, f.public.URL, f.sim.DC(), f.sim.ClientID(), f.zohoURL, f.zohoURL, f.rogerURL, crmReplicator, crmPipeline, interval, extra))
	f.w.mustRun("init")
	cmd := f.w.command(t.Context(), "authorize", "zoho.crm")
	cmd.Stdin = strings.NewReader(f.sim.IssueGrantCode(append(zohoScopes, "ZohoCRM.notifications.ALL")...) + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("authorize: %v\n%s", err, out)
	}
	return f
}

// start starts a host; the first one started is where the public URL
// leads.
func (f *notifyFixture) start() *notifyHost {
	f.t.Helper()
	h := &notifyHost{}
	h.cmd, h.log = f.w.startRun()
	h.base = consoleURL(f.t, h.log)
	var err error
	if h.url, err = url.Parse(h.base); err != nil {
		f.t.Fatal(err)
	}
	if len(f.hosts) == 0 {
		f.log, f.base = h.log, h.base
		f.target.Store(h.url)
	}
	f.hosts = append(f.hosts, h)
	return h
}

// waitFor waits, up to a minute, until cond holds.
func (f *notifyFixture) waitFor(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			var logs strings.Builder
			for i, h := range f.hosts {
				fmt.Fprintf(&logs, "\nhost %d:\n%s", i+1, h.log.String())
			}
			f.t.Fatalf("%s: not within a minute%s", what, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// contact makes a contact in Zoho with a number of its own, and returns
// its id and the number in E.164.
func (f *notifyFixture) contact(n int) (id, number string) {
	f.t.Helper()
	number = fmt.Sprintf("+3120555%04d", n)
	id, err := f.sim.CreateRecord("Contacts", map[string]any{
		"First_Name": "Nora", "Last_Name": fmt.Sprintf("Notified%d", n), "Phone": number, "Mailing_Country": "Netherlands",
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return id, number
}

// shows reports whether a lookup of number shows record id with a name
// containing name.
func (f *notifyFixture) shows(number, id, name string) bool {
	got, ok := f.resolvesTo(number, id)
	return ok && strings.Contains(got, name)
}

// metric returns the value of a series of the first host's /metrics.
func (f *notifyFixture) metric(series string) string {
	f.t.Helper()
	return f.metricOf(f.hosts[0], series)
}

// metricOf returns the value of a series of h's /metrics.
func (f *notifyFixture) metricOf(h *notifyHost, series string) string {
	f.t.Helper()
	for line := range strings.SplitSeq(scrapeMetrics(f.t, h.base, notifyToken), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// TestNotificationsWakeThePipeline: with an hourly interval, a contact
// created, changed and deleted in Zoho is found, changed and gone in the
// phonebook seconds later, woken by Zoho's callbacks; forged callbacks
// are refused and wake nothing.
func TestNotificationsWakeThePipeline(t *testing.T) {
	f := newNotifyFixture(t, "1h")
	id, number := f.contact(1)
	f.waitFor("the new contact found by its number", func() bool { return f.shows(number, id, "Notified1") })
	if err := f.sim.Update("Contacts", id, map[string]any{"Last_Name": "Renamed"}); err != nil {
		t.Fatal(err)
	}
	f.waitFor("the contact's new name shown", func() bool { return f.shows(number, id, "Renamed") })
	if err := f.sim.Delete("Contacts", id); err != nil {
		t.Fatal(err)
	}
	f.waitFor("the deleted contact gone", func() bool { _, ok := f.resolvesTo(number, id); return !ok })
	// The woken runs used the plugins the first run started, kept warm.
	for _, kind := range []string{"source", "destination"} {
		series := `replicator_plugin_starts_total{kind="` + kind + `",pipeline="crm-phonebook"}`
		if got := f.metric(series); got != "1" {
			t.Errorf("%s = %s, want 1: the woken runs started their plugins again", series, got)
		}
	}

	// Forged callbacks: a wrong token, an unknown channel, a body over
	// the bound, a GET. None wakes the pipeline.
	ch := f.sim.Channels()[0]
	woke := f.metric(`replicator_callbacks_total{outcome="woke"}`)
	runs := strings.Count(f.log.String(), "run finished")
	for _, c := range []struct {
		method, url, body string
		status            int
	}{
		{"POST", ch.NotifyURL, `{"token":"not-the-channel-secret-not-the-channel-secret","module":"Contacts"}`, http.StatusUnauthorized},
		{"POST", ch.NotifyURL, `{"module":"Contacts"}`, http.StatusUnauthorized},
		{"POST", f.public.URL + "/hooks/no-such-channel", `{"token":"` + ch.Token + `"}`, http.StatusNotFound},
		{"POST", ch.NotifyURL, `{"token":"` + ch.Token + `","pad":"` + strings.Repeat("x", 300<<10) + `"}`, http.StatusRequestEntityTooLarge},
		{"GET", ch.NotifyURL, "", http.StatusMethodNotAllowed},
	} {
		req, _ := http.NewRequest(c.method, c.url, bytes.NewReader([]byte(c.body)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %s with %.60s: %d, want %d", c.method, c.url, c.body, resp.StatusCode, c.status)
		}
	}
	if got := f.metric(`replicator_callbacks_total{outcome="woke"}`); got != woke {
		t.Errorf("woke callbacks %s after forged ones, want %s still", got, woke)
	}
	promtool.CheckMetrics(t, scrapeMetrics(t, f.base, notifyToken))
	for outcome, want := range map[string]string{"forged": "2", "unknown_channel": "1", "too_large": "1", "wrong_method": "1"} {
		if got := f.metric(`replicator_callbacks_total{outcome="` + outcome + `"}`); got != want {
			t.Errorf("callbacks %s: %s, want %s", outcome, got, want)
		}
	}
	// A genuine change after them runs the pipeline once more; a forged
	// callback that woke it would have made a run of its own or been
	// folded into this one, never fewer.
	id2, number2 := f.contact(2)
	f.waitFor("a later contact found", func() bool { return f.shows(number2, id2, "Notified2") })
	waitLog(t, f.log, "run finished", runs+1)
	if strings.Contains(f.log.String(), ch.Token) {
		t.Error("the host's log holds the channel's secret")
	}
}

// TestNotificationsConvergeThroughFaults: callbacks held, duplicated,
// reordered and lost still leave the phonebook as Zoho is; the lost ones
// through the interval's poll.
func TestNotificationsConvergeThroughFaults(t *testing.T) {
	f := newNotifyFixture(t, "5s")
	f.sim.SetNotifyFaults(zohosim.NotifyFaults{Delay: callbackDelay, Duplicate: 3, Reorder: 3, Drop: 2})
	ids, numbers := map[int]string{}, map[int]string{}
	for n := range 6 {
		ids[n], numbers[n] = f.contact(100 + n)
	}
	for n := range 6 {
		f.waitFor("contact "+ids[n]+" found", func() bool { return f.shows(numbers[n], ids[n], fmt.Sprint("Notified", 100+n)) })
	}
	f.sim.SetNotifyFaults(zohosim.NotifyFaults{Delay: callbackDelay, Drop: 1, Duplicate: 1})
	for n := range 3 {
		if err := f.sim.Update("Contacts", ids[n], map[string]any{"Last_Name": fmt.Sprint("Changed", n)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.sim.Delete("Contacts", ids[5]); err != nil {
		t.Fatal(err)
	}
	for n := range 3 {
		f.waitFor("contact "+ids[n]+" renamed", func() bool { return f.shows(numbers[n], ids[n], fmt.Sprint("Changed", n)) })
	}
	f.waitFor("contact "+ids[5]+" gone", func() bool { _, ok := f.resolvesTo(numbers[5], ids[5]); return !ok })
	dropped := 0
	for _, c := range f.sim.Callbacks() {
		if c.Dropped {
			dropped++
		}
	}
	if dropped != 3 {
		t.Errorf("%d callbacks dropped, want 3", dropped)
	}
}

// TestNotificationsRenewAChannelZohoDropped: a channel Zoho no longer
// has (expired while the host was away) is subscribed again once a poll
// finds changes no callback announced.
func TestNotificationsRenewAChannelZohoDropped(t *testing.T) {
	f := newNotifyFixture(t, "3s")
	f.sim.ExpireChannels()
	id, number := f.contact(200)
	f.waitFor("the contact found by the poll", func() bool { return f.shows(number, id, "Notified200") })
	f.waitFor("the channel subscribed again", func() bool { return len(f.sim.Channels()) == 1 })
}

// TestNotificationsFleetWakeThroughTheDatabase: two hosts share a
// PostgreSQL store; Zoho's callback lands on the host that did not run
// the pipeline, and the pipeline still runs at once, and once.
func TestNotificationsFleetWakeThroughTheDatabase(t *testing.T) {
	_, db := fleetDatabase(t)
	f := setUpNotify(t, "1h", fmt.Sprintf(`
state {
  postgres       = env("FLEET_DATABASE_URL")
  encryption_key = %q
  takeover_after = "2s"
}
`, fleetKey))
	a := f.start()
	ctx := t.Context()
	// The channel is stored once Zoho has it, and the second host reads
	// the stored channels once it reaches the database: a callback before
	// either would be refused as for an unknown channel.
	f.waitFor("the pipeline's channel stored", func() bool { chs, err := db.Channels(ctx); return err == nil && len(chs) == 1 })
	b := f.start()
	waitLog(t, b.log, "running pipelines", 1)
	runs, err := db.Runs(ctx, crmPipeline, 0)
	if err != nil || len(runs) != 1 || !strings.HasSuffix(runs[0].Host, fmt.Sprintf(":%d", a.cmd.Process.Pid)) {
		t.Fatalf("runs before the change: %+v, %v; want one, by the first host", runs, err)
	}
	// Zoho's callbacks now reach the second host.
	f.target.Store(b.url)
	changed := time.Now()
	id, number := f.contact(300)
	f.waitFor("the contact found", func() bool { return f.shows(number, id, "Notified300") })
	if got := f.metricOf(b, `replicator_callbacks_total{outcome="woke"}`); got != "1" {
		t.Errorf("callbacks the second host took: %s, want 1", got)
	}
	// status says the notifications are live, and when the last callback
	// came.
	if out := f.w.mustRun("status").stdout; !regexp.MustCompile(
		`Pipeline crm-phonebook: notifications live until \S+ \S+; last callback \S+ \S+\.`).MatchString(out) {
		t.Errorf("status does not show the live notifications:\n%s", out)
	}
	for _, h := range f.hosts {
		stop(t, h.cmd, h.log)
	}
	runs, err = db.Runs(ctx, crmPipeline, 0)
	if err != nil {
		t.Fatal(err)
	}
	woken := 0
	for _, r := range runs {
		if r.Started.After(changed) {
			woken++
		}
	}
	if woken != 1 {
		t.Errorf("%d runs after the change, want 1: %+v", woken, runs)
	}
}
