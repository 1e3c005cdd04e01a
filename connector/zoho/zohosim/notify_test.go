package zohosim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is a notify_url on loopback that keeps the callbacks it gets.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" ||
			json.Unmarshal(b, &body) != nil {
			t.Errorf("callback %s %s %q", r.Method, r.Header.Get("Content-Type"), b)
		}
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, body)
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) reset() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.bodies = nil
}

func (rc *receiver) got() []map[string]any {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.bodies)
}

// ids lists each callback's operation and first id, in arrival order.
func (rc *receiver) ops() []string {
	var out []string
	for _, b := range rc.got() {
		ids, _ := b["ids"].([]any)
		out = append(out, b["operation"].(string)+" "+ids[0].(string))
	}
	return out
}

var notifyScopes = append(slices.Clone(allScopes), "ZohoCRM.notifications.ALL")

// watchBody is {"watch":[items...]}.
func watchBody(items ...map[string]any) map[string]any {
	return map[string]any{"watch": items}
}

type watchAnswer struct {
	Watch []struct {
		Code    string         `json:"code"`
		Status  string         `json:"status"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	} `json:"watch"`
}

func (f *fixture) watch(method, token string, body any) (int, watchAnswer, []byte) {
	f.t.Helper()
	resp, b := f.call(method, "/crm/v8/actions/watch", token, body)
	var a watchAnswer
	if len(b) > 0 {
		a = decode[watchAnswer](f.t, b)
	}
	return resp.StatusCode, a, b
}

func TestWatchCallbacksForEachChange(t *testing.T) {
	f := newFixture(t, Options{Contacts: 10, Accounts: 3})
	tok := f.login(notifyScopes...).AccessToken
	rc := newReceiver(t)
	expiry := f.clock.Now().Add(72 * time.Hour)
	status, a, raw := f.watch("POST", tok, watchBody(map[string]any{
		"channel_id": 1000000068001, "events": []string{"Contacts.all", "Accounts.edit"},
		"notify_url": rc.srv.URL + "/hook?k=secret-key&x=1", "token": "tok-1",
		"channel_expiry": expiry.Format(time.RFC3339),
	}))
	if status != http.StatusCreated || len(a.Watch) != 1 || a.Watch[0].Code != "SUCCESS" {
		t.Fatalf("enable: HTTP %d %s", status, raw)
	}
	events, _ := a.Watch[0].Details["events"].([]any)
	if len(events) != 2 {
		t.Fatalf("enable answered events %v, want one per module", events)
	}
	first := events[0].(map[string]any)
	if first["resource_name"] != "Contacts" || first["channel_id"] != "1000000068001" ||
		!strings.HasSuffix(first["resource_uri"].(string), "/crm/v2/Contacts") {
		t.Errorf("event %v", first)
	}
	if got, err := time.Parse(time.RFC3339, first["channel_expiry"].(string)); err != nil || !got.Equal(expiry) {
		t.Errorf("channel_expiry %v, want %v", first["channel_expiry"], expiry)
	}

	id := f.sim.Create("Contacts", map[string]any{"Last_Name": "Jansen", "Phone": "020 123 4567"})
	if err := f.sim.Update("Contacts", id, map[string]any{"Title": "CEO"}); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.Delete("Contacts", id); err != nil {
		t.Fatal(err)
	}
	acc := f.sim.Create("Accounts", map[string]any{"Account_Name": "Noord B.V."}) // create is not watched on Accounts
	if err := f.sim.Update("Accounts", acc, map[string]any{"Phone": "+31 20 000 0000"}); err != nil {
		t.Fatal(err)
	}
	f.sim.WaitCallbacks()
	got := rc.got()
	if len(got) != 4 {
		t.Fatalf("%d callbacks, want insert, update and delete of the contact and the account's edit: %v", len(got), got)
	}
	want := map[string]string{OpInsert: "Contacts", OpUpdate: "Contacts", OpDelete: "Contacts"}
	for _, b := range got {
		op, module := b["operation"].(string), b["module"].(string)
		if module == "Accounts" {
			if op != OpUpdate || b["ids"].([]any)[0] != acc {
				t.Errorf("account callback %v", b)
			}
			continue
		}
		if want[op] != module || b["ids"].([]any)[0] != id {
			t.Errorf("callback %v", b)
		}
		delete(want, op)
		if b["token"] != "tok-1" || b["channel_id"] != "1000000068001" {
			t.Errorf("callback token %v channel %v", b["token"], b["channel_id"])
		}
		if qp, _ := b["query_params"].(map[string]any); qp["k"] != "secret-key" || qp["x"] != "1" {
			t.Errorf("query_params %v", b["query_params"])
		}
		if st, _ := b["server_time"].(float64); int64(st) != f.clock.Now().UnixMilli() {
			t.Errorf("server_time %v, want %d", b["server_time"], f.clock.Now().UnixMilli())
		}
		if !strings.HasSuffix(b["resource_uri"].(string), "/crm/v2/Contacts") {
			t.Errorf("resource_uri %v", b["resource_uri"])
		}
		if af, ok := b["affected_fields"].([]any); !ok || len(af) != 0 {
			t.Errorf("affected_fields %v", b["affected_fields"])
		}
	}
	if len(want) != 0 {
		t.Errorf("no callback for %v", want)
	}

	// Disable: the channel ends, and a second disable finds nothing.
	resp, body := f.call("DELETE", "/crm/v8/actions/watch?channel_ids=1000000068001", tok, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"SUCCESS"`) {
		t.Fatalf("disable: HTTP %d %s", resp.StatusCode, body)
	}
	resp, body = f.call("DELETE", "/crm/v8/actions/watch?channel_ids=1000000068001", tok, nil)
	if a := decode[watchAnswer](t, body); resp.StatusCode != http.StatusBadRequest || a.Watch[0].Code != "NOT_SUBSCRIBED" {
		t.Fatalf("second disable: HTTP %d %s", resp.StatusCode, body)
	}
	f.sim.Create("Contacts", map[string]any{"Last_Name": "Later"})
	f.sim.WaitCallbacks()
	if n := len(rc.got()); n != 4 {
		t.Errorf("%d callbacks after the channel was disabled", n-4)
	}
}

func TestWatchRefusals(t *testing.T) {
	f := newFixture(t, Options{Contacts: 3, Accounts: 1})
	tok := f.login(notifyScopes...).AccessToken
	good := func(changes map[string]any) map[string]any {
		it := map[string]any{
			"channel_id": 42,
			"events":     []string{"Contacts.all"},
			"notify_url": "https://example.com/hook",
			"token":      "t",
		}
		for k, v := range changes {
			if v == nil {
				delete(it, k)
			} else {
				it[k] = v
			}
		}
		return it
	}
	for _, tc := range []struct {
		name   string
		item   map[string]any
		code   string
		apiKey string
	}{
		{"token of 51 characters", good(map[string]any{"token": strings.Repeat("x", 51)}), "INVALID_DATA", "token"},
		{"no channel_id", good(map[string]any{"channel_id": nil}), "MANDATORY_NOT_FOUND", "channel_id"},
		{"no events", good(map[string]any{"events": nil}), "MANDATORY_NOT_FOUND", "events"},
		{"no notify_url", good(map[string]any{"notify_url": nil}), "MANDATORY_NOT_FOUND", "notify_url"},
		{"channel_id as text", good(map[string]any{"channel_id": "42"}), "INVALID_DATA", "channel_id"},
		{"unknown module", good(map[string]any{"events": []string{"Leads.all"}}), "INVALID_DATA", "events"},
		{"unknown event", good(map[string]any{"events": []string{"Contacts.update"}}), "INVALID_DATA", "events"},
		{"notify_url not a URL", good(map[string]any{"notify_url": "hook"}), "INVALID_DATA", "notify_url"},
		{"expiry in the past", good(map[string]any{"channel_expiry": "2020-01-01T00:00:00Z"}), "INVALID_DATA",
			"channel_expiry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, a, raw := f.watch("POST", tok, watchBody(tc.item))
			if status != http.StatusBadRequest || len(a.Watch) != 1 || a.Watch[0].Code != tc.code ||
				a.Watch[0].Details["api_name"] != tc.apiKey {
				t.Errorf("HTTP %d %s, want 400 %s on %s", status, raw, tc.code, tc.apiKey)
			}
		})
	}
	// Token of exactly 50 characters is taken; with a bad item beside it
	// the answer is 202 with an answer per item, and a credit is spent.
	before := f.sim.Credits()
	status, a, raw := f.watch(
		"POST",
		tok,
		watchBody(good(map[string]any{"token": strings.Repeat("x", 50)}),
			good(map[string]any{"channel_id": 43, "token": strings.Repeat("x", 51)})),
	)
	if status != http.StatusAccepted || len(a.Watch) != 2 || a.Watch[0].Code != "SUCCESS" ||
		a.Watch[1].Code != "INVALID_DATA" {
		t.Fatalf("HTTP %d %s", status, raw)
	}
	if spent := f.sim.Credits() - before; spent != 1 {
		t.Errorf("%d credits for an enable", spent)
	}
	if ch := f.sim.Channels(); len(ch) != 1 || ch[0].ID != "42" {
		t.Errorf("channels %+v", ch)
	}
	if status, _, raw := f.watch("POST", tok, map[string]any{}); status != http.StatusBadRequest ||
		!strings.Contains(string(raw), "MANDATORY_NOT_FOUND") {
		t.Errorf("no watch array: HTTP %d %s", status, raw)
	}
	resp, body := f.call("DELETE", "/crm/v8/actions/watch", tok, nil)
	wantError(t, resp, body, http.StatusBadRequest, "REQUIRED_PARAM_MISSING")
	if status, a, raw := f.watch(
		"PATCH", tok, watchBody(good(map[string]any{"channel_id": 99})),
	); status != http.StatusBadRequest ||
		a.Watch[0].Code != "NOT_SUBSCRIBED" {
		t.Errorf("update of an unknown channel: HTTP %d %s", status, raw)
	}
	if status, a, raw := f.watch(
		"PUT", tok, watchBody(good(map[string]any{"channel_id": 99})),
	); status != http.StatusBadRequest ||
		a.Watch[0].Code != "NOT_SUBSCRIBED" {
		t.Errorf("replace of an unknown channel: HTTP %d %s", status, raw)
	}
}

func TestWatchChannelExpiry(t *testing.T) {
	f := newFixture(t, Options{Contacts: 3, Accounts: 1})
	tok := f.login(notifyScopes...).AccessToken
	rc := newReceiver(t)
	now := f.clock.Now()
	for _, tc := range []struct {
		id     int
		expiry any
		want   time.Time
	}{
		{1, nil, now.Add(time.Hour)},
		{2, now.Add(7 * 24 * time.Hour).Format(time.RFC3339), now.Add(7 * 24 * time.Hour)},
		{3, now.Add(7*24*time.Hour + time.Second).Format(time.RFC3339), now.Add(time.Hour)},
		{4, now.Add(30 * time.Minute).Format(time.RFC3339), now.Add(30 * time.Minute)},
	} {
		it := map[string]any{"channel_id": tc.id, "events": []string{"Contacts.create"}, "notify_url": rc.srv.URL}
		if tc.expiry != nil {
			it["channel_expiry"] = tc.expiry
		}
		if status, _, raw := f.watch("POST", tok, watchBody(it)); status != http.StatusCreated {
			t.Fatalf("enable %d: HTTP %d %s", tc.id, status, raw)
		}
		chs := f.sim.Channels()
		if got := chs[len(chs)-1].Expiry; !got.Equal(tc.want) {
			t.Errorf("channel %d with channel_expiry %v expires %v, want %v", tc.id, tc.expiry, got, tc.want)
		}
	}

	// After an hour and a minute only channel 2 is left: it alone is
	// listed, it alone calls back, and the others are not subscribed.
	f.clock.Advance(61 * time.Minute)
	tok = f.login(notifyScopes...).AccessToken
	f.sim.Create("Contacts", map[string]any{"Last_Name": "Laat"})
	f.sim.WaitCallbacks()
	if got := f.sim.Callbacks(); len(got) != 1 || got[0].ChannelID != "2" {
		t.Errorf("callbacks %+v, want one from channel 2", got)
	}
	resp, body := f.call("GET", "/crm/v8/actions/watch", tok, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("list: HTTP %d %s", resp.StatusCode, body)
	}
	list := decode[struct {
		Watch []map[string]any `json:"watch"`
		Info  map[string]any   `json:"info"`
	}](t, body)
	if len(list.Watch) != 1 || list.Watch[0]["channel_id"] != "2" || list.Info["more_records"] != false {
		t.Errorf("list %s", body)
	}
	status, a, raw := f.watch("PATCH",
		tok, watchBody(map[string]any{"channel_id": 1, "events": []string{"Contacts.create"}}))
	if status != http.StatusBadRequest || a.Watch[0].Code != "NOT_SUBSCRIBED" {
		t.Errorf("update of an expired channel: HTTP %d %s", status, raw)
	}
	// Renewal by update moves the expiry.
	later := f.clock.Now().Add(6 * 24 * time.Hour).Format(time.RFC3339)
	if status, _, raw := f.watch(
		"PATCH", tok,
		watchBody(map[string]any{"channel_id": 2, "events": []string{"Contacts.create"}, "channel_expiry": later}),
	); status != http.StatusOK {
		t.Fatalf("renew: HTTP %d %s", status, raw)
	}
	if chs := f.sim.Channels(); chs[0].Expiry.Format(time.RFC3339) != later {
		t.Errorf("renewed channel expires %v, want %s", chs[0].Expiry, later)
	}
	f.sim.ExpireChannels()
	if resp, _ := f.call("GET", "/crm/v8/actions/watch", tok, nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("list after every channel expired: HTTP %d, want 204", resp.StatusCode)
	}
}

func TestWatchUpdateAndReplace(t *testing.T) {
	f := newFixture(t, Options{Contacts: 3, Accounts: 1})
	tok := f.login(notifyScopes...).AccessToken
	item := map[string]any{
		"channel_id": 7,
		"events":     []string{"Contacts.create"},
		"notify_url": "https://example.com/a",
		"token":      "one",
	}
	if status, _, raw := f.watch("POST", tok, watchBody(item)); status != http.StatusCreated {
		t.Fatalf("enable: HTTP %d %s", status, raw)
	}
	ch := func() Channel {
		t.Helper()
		chs := f.sim.Channels()
		if len(chs) != 1 {
			t.Fatalf("channels %+v", chs)
		}
		return chs[0]
	}
	// PATCH adds events and changes only the keys given.
	status, _, raw := f.watch("PATCH",
		tok,
		watchBody(map[string]any{"channel_id": 7, "events": []string{"Accounts.all", "contacts.delete"}, "token": "two"}))
	if status != http.StatusOK {
		t.Fatalf("update: HTTP %d %s", status, raw)
	}
	if c := ch(); !slices.Equal(c.Events, []string{"Accounts.all", "Contacts.create", "Contacts.delete"}) ||
		c.Token != "two" ||
		c.NotifyURL != "https://example.com/a" {
		t.Errorf("after update: %+v", c)
	}
	// _delete_events removes them.
	if status, _, raw := f.watch(
		"PATCH", tok,
		watchBody(map[string]any{"channel_id": 7, "events": []string{"Contacts.create"}, "_delete_events": true}),
	); status != http.StatusOK {
		t.Fatalf("delete events: HTTP %d %s", status, raw)
	}
	if c := ch(); !slices.Equal(c.Events, []string{"Accounts.all", "Contacts.delete"}) {
		t.Errorf("after _delete_events: %v", c.Events)
	}
	// PUT replaces: the token left out is gone.
	if status, _, raw := f.watch("PUT", tok, watchBody(map[string]any{
		"channel_id": 7, "events": []string{"Contacts.edit"}, "notify_url": "https://example.com/b",
	})); status != http.StatusOK {
		t.Fatalf("replace: HTTP %d %s", status, raw)
	}
	if c := ch(); !slices.Equal(c.Events, []string{"Contacts.edit"}) || c.Token != "" ||
		c.NotifyURL != "https://example.com/b" {
		t.Errorf("after replace: %+v", c)
	}
	// Removing the last event ends the channel.
	if status, _, raw := f.watch(
		"PATCH", tok, watchBody(map[string]any{"channel_id": 7, "events": []string{"Contacts.edit"}, "_delete_events": true}),
	); status != http.StatusOK {
		t.Fatalf("delete the last event: HTTP %d %s", status, raw)
	}
	if chs := f.sim.Channels(); len(chs) != 0 {
		t.Errorf("channels %+v after their last event went", chs)
	}
	// Filters of the list.
	for id, events := range map[int][]string{1: {"Contacts.all"}, 2: {"Accounts.all", "Contacts.edit"}} {
		status, _, raw := f.watch("POST",
			tok, watchBody(map[string]any{"channel_id": id, "events": events, "notify_url": "https://example.com/c"}))
		if status != http.StatusCreated {
			t.Fatalf("enable: HTTP %d %s", status, raw)
		}
	}
	for query, want := range map[string]int{
		"": 3, "?module=Accounts": 1, "?channel_id=2": 2, "?per_page=2": 2, "?per_page=2&page=2": 1, "?channel_id=9": 0,
	} {
		resp, body := f.call("GET", "/crm/v8/actions/watch"+query, tok, nil)
		n := 0
		if resp.StatusCode == http.StatusOK {
			n = len(decode[watchAnswer](t, body).Watch)
		} else if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("list%s: HTTP %d %s", query, resp.StatusCode, body)
		}
		if n != want {
			t.Errorf("list%s: %d entries, want %d", query, n, want)
		}
	}
}

func TestWatchScopes(t *testing.T) {
	f := newFixture(t, Options{Contacts: 3, Accounts: 1})
	item := watchBody(
		map[string]any{"channel_id": 5, "events": []string{"Contacts.all"}, "notify_url": "https://example.com/h"})
	none := f.login().AccessToken
	status, _, raw := f.watch("POST", none, item)
	if status != http.StatusUnauthorized || !strings.Contains(string(raw), "OAUTH_SCOPE_MISMATCH") {
		t.Fatalf("enable without a notification scope: HTTP %d %s", status, raw)
	}
	read := f.login("ZohoCRM.notifications.READ").AccessToken
	if resp, _ := f.call("GET", "/crm/v8/actions/watch", read, nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("list with READ: HTTP %d", resp.StatusCode)
	}
	if status, _, _ := f.watch("POST", read, item); status != http.StatusUnauthorized {
		t.Errorf("enable with READ only: HTTP %d", status)
	}
	create := f.login("ZohoCRM.notifications.CREATE").AccessToken
	if status, _, raw := f.watch("POST", create, item); status != http.StatusCreated {
		t.Errorf("enable with CREATE: HTTP %d %s", status, raw)
	}
	if status, _, _ := f.watch("PATCH", create, item); status != http.StatusUnauthorized {
		t.Errorf("update with CREATE only: HTTP %d", status)
	}
	write := f.login("ZohoCRM.notifications.WRITE").AccessToken
	if status, _, raw := f.watch("PATCH", write, item); status != http.StatusOK {
		t.Errorf("update with WRITE: HTTP %d %s", status, raw)
	}
	resp, _ := f.call("DELETE", "/crm/v8/actions/watch?channel_ids=5", write, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("disable with WRITE: HTTP %d", resp.StatusCode)
	}
	all := f.login("ZohoCRM.notifications.ALL").AccessToken
	if resp, body := f.call("DELETE", "/crm/v8/actions/watch?channel_ids=5", all, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("disable with ALL: HTTP %d %s", resp.StatusCode, body)
	}
}

func TestCallbackFaults(t *testing.T) {
	f := newFixture(t, Options{Contacts: 3, Accounts: 1})
	tok := f.login(notifyScopes...).AccessToken
	rc := newReceiver(t)
	status, _, raw := f.watch(
		"POST",
		tok,
		watchBody(
			map[string]any{"channel_id": 1, "events": []string{"Contacts.all"}, "notify_url": rc.srv.URL, "token": "t"}),
	)
	if status != http.StatusCreated {
		t.Fatalf("enable: HTTP %d %s", status, raw)
	}
	create := func(name string) string {
		id := f.sim.Create("Contacts", map[string]any{"Last_Name": name})
		if id == "" {
			t.Fatal("create refused")
		}
		return id
	}
	admin := func(method string, body any) {
		t.Helper()
		if resp, b := f.call(method, "/admin/notifications/faults", "", body); resp.StatusCode != http.StatusOK {
			t.Fatalf("admin faults: HTTP %d %s", resp.StatusCode, b)
		}
	}

	admin("POST", map[string]any{"drop": 1, "duplicate": 1})
	dropped, doubled := create("Dropped"), create("Doubled")
	f.sim.WaitCallbacks()
	if got := rc.ops(); !slices.Equal(got, []string{"insert " + doubled, "insert " + doubled}) {
		t.Errorf("with one dropped and one duplicated: %v", got)
	}
	if log := f.sim.Callbacks(); len(log) != 3 || !log[0].Dropped || log[0].IDs[0] != dropped || log[1].Status != 200 {
		t.Errorf("callback log %+v", log)
	}

	// Three held, then sent newest first.
	rc.reset()
	admin("POST", map[string]any{"reorder": 3})
	a, b := create("A"), create("B")
	f.sim.WaitCallbacks()
	if n := len(rc.got()); n != 0 {
		t.Fatalf("%d callbacks arrived while held", n)
	}
	c := create("C")
	f.sim.WaitCallbacks()
	if got := rc.ops(); !slices.Equal(got, []string{"insert " + c, "insert " + b, "insert " + a}) {
		t.Errorf("reordered callbacks %v, want newest first", got)
	}
	// Held ones go out when the faults are cleared.
	rc.reset()
	admin("POST", map[string]any{"reorder": 5})
	d := create("D")
	admin("DELETE", nil)
	f.sim.WaitCallbacks()
	if got := rc.ops(); !slices.Equal(got, []string{"insert " + d}) {
		t.Errorf("after clearing the faults: %v", got)
	}

	// A delay holds each callback at least that long.
	rc.reset()
	admin("POST", map[string]any{"delay": "50ms"})
	start := time.Now()
	create("E")
	f.sim.WaitCallbacks()
	if took := time.Since(start); took < 50*time.Millisecond || len(rc.got()) != 1 {
		t.Errorf("delayed callback: %d after %v", len(rc.got()), took)
	}
	resp, _ := f.call("POST", "/admin/notifications/faults", "", map[string]any{"delay": "soon"})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad delay: HTTP %d", resp.StatusCode)
	}

	// The admin API lists channels and callbacks, and expires channels.
	resp, body := f.call("GET", "/admin/notifications", "", nil)
	var list struct {
		Channels  []Channel  `json:"channels"`
		Callbacks []Callback `json:"callbacks"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &list) != nil || len(list.Channels) != 1 ||
		len(list.Callbacks) != 8 {
		t.Errorf("admin list: HTTP %d %s", resp.StatusCode, body)
	}
	if resp, _ := f.call("POST", "/admin/notifications/expire", "", nil); resp.StatusCode != 200 ||
		len(f.sim.Channels()) != 0 {
		t.Errorf("expire: HTTP %d, %d channels left", resp.StatusCode, len(f.sim.Channels()))
	}
}
