package zohosim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The Notification API (actions/watch), as Zoho documents it
// (zoho.com/crm/developer/docs/api/v8/notifications/overview.html and the
// enable, update-info and disable pages; crm-oas v8.0 notifications.json).
const (
	maxWatchToken      = 50                 // characters of a channel's token
	maxChannelLife     = 7 * 24 * time.Hour // the latest channel_expiry Zoho takes
	defaultChannelLife = time.Hour          // what a missing or too late channel_expiry gives
	maxWatchPerPage    = 200
	// callbackTimeout bounds one delivery; Zoho does not document its own.
	callbackTimeout = 10 * time.Second
)

// Operations a callback reports: Zoho's words there differ from the
// events a channel subscribes to.
const (
	OpInsert = "insert"
	OpUpdate = "update"
	OpDelete = "delete"
)

// opEvent is the event word a channel subscribes to for each operation.
var opEvent = map[string]string{OpInsert: "create", OpUpdate: "edit", OpDelete: "delete"}

// channel is one subscription of the org, keyed by its channel_id.
type channel struct {
	id        int64
	events    []string // "Contacts.all", "Accounts.edit", module names as the org spells them
	notifyURL string
	token     string
	expiry    time.Time
	// affected and related are kept and listed; the simulator sends the
	// same callbacks whatever they say (see Callback).
	affected bool
	related  bool
}

// watches reports whether c subscribes to op on module.
func (c *channel) watches(module, op string) bool {
	return slices.Contains(c.events, module+".all") || slices.Contains(c.events, module+"."+opEvent[op])
}

// modules lists the modules c has events on, in the org's module order.
func (c *channel) modules(s *Server) []*module {
	var out []*module
	for _, m := range s.order {
		if slices.ContainsFunc(c.events, func(e string) bool { return strings.HasPrefix(e, m.apiName+".") }) {
			out = append(out, m)
		}
	}
	return out
}

// NotifyFaults make callback delivery as unreliable as Zoho's may be: its
// retries, ordering and duplicates are not documented, so a client must
// live with callbacks that come late, twice, out of order or never.
type NotifyFaults struct {
	// Delay holds every callback this long before it is sent.
	Delay time.Duration
	// Drop loses the next Drop callbacks.
	Drop int
	// Duplicate sends each of the next Duplicate callbacks twice.
	Duplicate int
	// Reorder holds the next Reorder callbacks and sends them newest first
	// once all are held, or when the faults are cleared.
	Reorder int
}

// Callback is one callback the org made, for tests to look at.
type Callback struct {
	ChannelID string   `json:"channel_id"`
	Module    string   `json:"module"`
	Operation string   `json:"operation"`
	IDs       []string `json:"ids"`
	URL       string   `json:"url"`
	// Status is the HTTP status the notify_url answered, 0 when it did not
	// answer (Err says why) or the callback was dropped.
	Status  int    `json:"status"`
	Err     string `json:"error,omitempty"`
	Dropped bool   `json:"dropped,omitempty"`
}

// notifier keeps the org's channels and delivers their callbacks. Its
// lock is taken after Server.mu, never before.
type notifier struct {
	client *http.Client

	mu       sync.Mutex
	channels map[int64]*channel
	faults   NotifyFaults
	held     []delivery
	sent     []Callback
	inflight sync.WaitGroup
}

func newNotifier(client *http.Client) *notifier {
	if client == nil {
		client = &http.Client{Timeout: callbackTimeout}
	}
	return &notifier{client: client, channels: map[int64]*channel{}}
}

// delivery is one callback on its way.
type delivery struct {
	url   string
	body  []byte
	delay time.Duration
	log   Callback
}

// activeLocked returns the channel with id unless it has expired; an
// expired channel is forgotten, as Zoho stops it.
func (n *notifier) activeLocked(id int64, now time.Time) (*channel, bool) {
	c, ok := n.channels[id]
	if ok && !now.Before(c.expiry) {
		delete(n.channels, id)
		return nil, false
	}
	return c, ok
}

// changed sends the callbacks of a change to records of module m: op is
// OpInsert, OpUpdate or OpDelete. Called with s.mu held.
func (s *Server) changed(m *module, op string, ids ...string) {
	n := s.notify
	now := s.now()
	n.mu.Lock()
	defer n.mu.Unlock()
	keys := make([]int64, 0, len(n.channels))
	for id := range n.channels {
		keys = append(keys, id)
	}
	slices.Sort(keys)
	for _, id := range keys {
		c, ok := n.activeLocked(id, now)
		if !ok || !c.watches(m.apiName, op) {
			continue
		}
		body, err := json.Marshal(map[string]any{
			"server_time":     now.UnixMilli(),
			"query_params":    queryParams(c.notifyURL),
			"module":          m.apiName,
			"resource_uri":    "https://" + s.apiHost + "/crm/v2/" + m.apiName,
			"ids":             ids,
			"affected_fields": []any{},
			"operation":       op,
			"channel_id":      strconv.FormatInt(c.id, 10),
			"token":           c.token,
		})
		if err != nil {
			continue // plain maps of strings always encode
		}
		d := delivery{url: c.notifyURL, body: body, delay: n.faults.Delay,
			log: Callback{ChannelID: strconv.FormatInt(c.id, 10), Module: m.apiName, Operation: op, IDs: ids, URL: c.notifyURL}}
		n.queueLocked(d)
	}
}

// queueLocked applies the faults to d and starts its delivery.
func (n *notifier) queueLocked(d delivery) {
	f := &n.faults
	switch {
	case f.Drop > 0:
		f.Drop--
		d.log.Dropped = true
		n.sent = append(n.sent, d.log)
		return
	case f.Reorder > 0:
		f.Reorder--
		n.held = append(n.held, d)
		if f.Reorder == 0 {
			n.releaseLocked()
		}
		return
	}
	times := 1
	if f.Duplicate > 0 {
		f.Duplicate--
		times = 2
	}
	for range times {
		n.startLocked(d)
	}
}

// releaseLocked sends the held callbacks newest first, one after the
// other, so that they arrive in that order.
func (n *notifier) releaseLocked() {
	if len(n.held) == 0 {
		return
	}
	held := n.held
	n.held = nil
	n.inflight.Add(1)
	go func() {
		defer n.inflight.Done()
		for i := len(held) - 1; i >= 0; i-- {
			n.deliver(held[i])
		}
	}()
}

func (n *notifier) startLocked(d delivery) {
	n.inflight.Add(1)
	go func() {
		defer n.inflight.Done()
		n.deliver(d)
	}()
}

// deliver sends one callback after its delay and notes how it went.
func (n *notifier) deliver(d delivery) {
	if d.delay > 0 {
		time.Sleep(d.delay)
	}
	resp, err := n.client.Post(d.url, "application/json", bytes.NewReader(d.body))
	if err != nil {
		d.log.Err = err.Error()
	} else {
		d.log.Status = resp.StatusCode
		resp.Body.Close()
	}
	n.mu.Lock()
	n.sent = append(n.sent, d.log)
	n.mu.Unlock()
}

// callbackURL reports whether v is an http or https URL with a host.
func callbackURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// queryParams are notify_url's query parameters, which Zoho echoes in
// every callback; a parameter given twice echoes its first value.
func queryParams(notifyURL string) map[string]string {
	out := map[string]string{}
	u, err := url.Parse(notifyURL)
	if err != nil {
		return out
	}
	for k, vs := range u.Query() {
		out[k] = vs[0]
	}
	return out
}

// SetNotifyFaults replaces the faults of callback delivery. Callbacks held
// for reordering are sent at once when f holds none to reorder.
func (s *Server) SetNotifyFaults(f NotifyFaults) {
	n := s.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults = f
	if f.Reorder <= 0 {
		n.releaseLocked()
	}
}

// WaitCallbacks waits until every callback that is not held for
// reordering has been delivered or has failed.
func (s *Server) WaitCallbacks() { s.notify.inflight.Wait() }

// Callbacks returns the callbacks made so far: delivered, failed and
// dropped, in the order they ended.
func (s *Server) Callbacks() []Callback {
	n := s.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.sent)
}

// Channel is a subscription as tests see it.
type Channel struct {
	ID        string    `json:"channel_id"`
	Events    []string  `json:"events"`
	NotifyURL string    `json:"notify_url"`
	Token     string    `json:"token"`
	Expiry    time.Time `json:"channel_expiry"`
}

// Channels returns the channels that have not expired, by id.
func (s *Server) Channels() []Channel {
	var out []Channel
	for _, c := range s.notify.active(s.now()) {
		out = append(out,
			Channel{ID: strconv.FormatInt(c.id, 10), Events: c.events, NotifyURL: c.notifyURL, Token: c.token, Expiry: c.expiry})
	}
	return out
}

// active returns copies of the channels that have not expired, by id.
func (n *notifier) active(now time.Time) []channel {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []channel
	for id := range n.channels {
		if c, ok := n.activeLocked(id, now); ok {
			cp := *c
			cp.events = slices.Clone(c.events)
			out = append(out, cp)
		}
	}
	slices.SortFunc(out, func(a, b channel) int { return cmp.Compare(a.id, b.id) })
	return out
}

// ExpireChannels ends every channel now, as their channel_expiry would.
func (s *Server) ExpireChannels() {
	n := s.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.channels)
}

func (s *Server) notifyRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /crm/v8/actions/watch", s.api("watch/enable", s.handleWatchEnable))
	mux.HandleFunc("GET /crm/v8/actions/watch", s.api("watch/list", s.handleWatchList))
	mux.HandleFunc("PUT /crm/v8/actions/watch", s.api("watch/replace", s.handleWatchReplace))
	mux.HandleFunc("PATCH /crm/v8/actions/watch", s.api("watch/update", s.handleWatchUpdate))
	mux.HandleFunc("DELETE /crm/v8/actions/watch", s.api("watch/disable", s.handleWatchDisable))

	mux.HandleFunc("GET /admin/notifications", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"channels": s.Channels(), "callbacks": s.Callbacks()})
	})
	mux.HandleFunc("POST /admin/notifications/faults", s.adminNotifyFaults)
	mux.HandleFunc("DELETE /admin/notifications/faults", func(w http.ResponseWriter, r *http.Request) {
		s.SetNotifyFaults(NotifyFaults{})
		writeJSON(w, http.StatusOK, map[string]string{"status": "cleared"})
	})
	mux.HandleFunc("POST /admin/notifications/expire", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireChannels()
		writeJSON(w, http.StatusOK, map[string]string{"status": "expired"})
	})
}

func (s *Server) adminNotifyFaults(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Delay     string `json:"delay"`
		Drop      int    `json:"drop"`
		Duplicate int    `json:"duplicate"`
		Reorder   int    `json:"reorder"`
	}
	if err := decodeBody(w, r, &body); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	f := NotifyFaults{Drop: body.Drop, Duplicate: body.Duplicate, Reorder: body.Reorder}
	if body.Delay != "" {
		d, err := time.ParseDuration(body.Delay)
		if err != nil || d < 0 {
			adminError(w, http.StatusBadRequest, fmt.Errorf("delay takes a duration like \"2s\", not %q", body.Delay))
			return
		}
		f.Delay = d
	}
	s.SetNotifyFaults(f)
	writeJSON(w, http.StatusOK, body)
}

// needAny checks that the token has one of scopes, and answers 401
// OAUTH_SCOPE_MISMATCH naming them all otherwise: the Notification API
// takes ZohoCRM.notifications.ALL or the finer scope of each call.
func (c *apiCall) needAny(scopes ...string) bool {
	for _, sc := range scopes {
		if len(missingScopes(c.tok.refresh.scopes, sc)) == 0 {
			return true
		}
	}
	writeError(c.w, http.StatusUnauthorized, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL",
		map[string]any{"scope": strings.Join(scopes, " ")})
	return false
}

// Notification scopes (crm-oas v8.0 notifications.json; the v7 enable page
// lists WRITE and CREATE for enabling).
const (
	scopeNotifyAll    = "ZohoCRM.notifications.ALL"
	scopeNotifyRead   = "ZohoCRM.notifications.READ"
	scopeNotifyCreate = "ZohoCRM.notifications.CREATE"
	scopeNotifyUpdate = "ZohoCRM.notifications.UPDATE"
	scopeNotifyWrite  = "ZohoCRM.notifications.WRITE"
	scopeNotifyDelete = "ZohoCRM.notifications.DELETE"
)

// watchItem is one entry of a request's "watch" array, its keys kept raw
// so that a missing key and a wrong type can be told apart.
type watchItem map[string]json.RawMessage

// itemResult is one entry of an answer's "watch" array.
type itemResult map[string]any

func itemError(code, key, message string) itemResult {
	details := map[string]any{}
	if key != "" {
		details["api_name"] = key
	}
	return itemResult{"code": code, "details": details, "message": message, "status": "error"}
}

func (r itemResult) failed() bool { return r["status"] == "error" }

// watchItems reads {"watch":[...]}; false means the 400 is written.
func (c *apiCall) watchItems() ([]watchItem, bool) {
	var body struct {
		Watch []watchItem `json:"watch"`
	}
	if err := decodeBody(c.w, c.r, &body); err != nil {
		writeError(c.w, http.StatusBadRequest, "INVALID_DATA", "the request body must be JSON: "+err.Error(), nil)
		return nil, false
	}
	if len(body.Watch) == 0 {
		writeError(c.w, http.StatusBadRequest, "MANDATORY_NOT_FOUND", "required field not found",
			map[string]any{"api_name": "watch"})
		return nil, false
	}
	return body.Watch, true
}

// answerItems writes the per-item results: 200 (201 for enable) when all
// succeeded, 202 when some did, 400 when none did. A call with any success
// costs a credit.
func (c *apiCall) answerItems(results []itemResult, okStatus int) {
	failed := 0
	for _, r := range results {
		if r.failed() {
			failed++
		}
	}
	body := map[string]any{"watch": results}
	switch failed {
	case 0:
		c.ok(okStatus, body, 1)
	case len(results):
		writeJSON(c.w, http.StatusBadRequest, body)
	default:
		c.ok(http.StatusAccepted, body, 1)
	}
}

// channelID reads an item's channel_id: a JSON integer, as Zoho's
// examples send it.
func (it watchItem) channelID() (int64, *itemResult) {
	raw, ok := it["channel_id"]
	if !ok {
		e := itemError("MANDATORY_NOT_FOUND", "channel_id", "required field not found")
		return 0, &e
	}
	// A JSON number, not a string holding one.
	id, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	if err != nil || id <= 0 {
		e := itemError("INVALID_DATA", "channel_id", "channel_id must be a positive number")
		return 0, &e
	}
	return id, nil
}

// apply sets c's keys from it. full says that the keys enable and replace
// require must be there; keys left out then take their defaults, while an
// update leaves them as they were.
func (s *Server) apply(c *channel, it watchItem, full bool) *itemResult {
	fail := func(code, key, msg string) *itemResult { e := itemError(code, key, msg); return &e }
	now := s.now()
	for _, key := range []string{"events", "notify_url"} {
		if _, ok := it[key]; !ok && full {
			return fail("MANDATORY_NOT_FOUND", key, "required field not found")
		}
	}
	if raw, ok := it["events"]; ok {
		var events []string
		if json.Unmarshal(raw, &events) != nil || len(events) == 0 {
			return fail("INVALID_DATA", "events", "events must be a list such as [\"Contacts.all\"]")
		}
		var canon []string
		for _, e := range events {
			name, verb, _ := strings.Cut(e, ".")
			m, known := s.moduleByName(name)
			if !known || !slices.Contains([]string{"create", "edit", "delete", "all"}, verb) {
				return fail("INVALID_DATA",
					"events", fmt.Sprintf("%q is not an event: use {Module}.create, .edit, .delete or .all", e))
			}
			canon = append(canon, m.apiName+"."+verb)
		}
		var del bool
		if raw, ok := it["_delete_events"]; ok && json.Unmarshal(raw, &del) != nil {
			return fail("INVALID_DATA", "_delete_events", "_delete_events must be true or false")
		}
		switch {
		case del:
			c.events = slices.DeleteFunc(c.events, func(e string) bool { return slices.Contains(canon, e) })
		case full:
			c.events = canon
		default:
			c.events = append(c.events, canon...)
		}
		slices.Sort(c.events)
		c.events = slices.Compact(c.events)
	}
	if raw, ok := it["notify_url"]; ok {
		var v string
		if json.Unmarshal(raw, &v) != nil || !callbackURL(v) {
			return fail("INVALID_DATA", "notify_url", "notify_url must be an http or https URL")
		}
		c.notifyURL = v
	}
	if raw, ok := it["token"]; ok {
		var v string
		if json.Unmarshal(raw, &v) != nil || utf8.RuneCountInString(v) > maxWatchToken {
			return fail("INVALID_DATA", "token", fmt.Sprintf("token must be a string of at most %d characters", maxWatchToken))
		}
		c.token = v
	} else if full {
		c.token = ""
	}
	if raw, ok := it["channel_expiry"]; ok {
		var v string
		t, err := time.Time{}, json.Unmarshal(raw, &v)
		if err == nil {
			t, err = time.Parse(time.RFC3339, v)
		}
		if err != nil || !t.After(now) {
			return fail("INVALID_DATA",
				"channel_expiry", "channel_expiry must be a future ISO 8601 date-time such as 2026-12-08T10:00:00+01:00")
		}
		if t.After(now.Add(maxChannelLife)) {
			// More than a week ahead gives an hour, as a missing one does.
			t = now.Add(defaultChannelLife)
		}
		c.expiry = t
	} else if full {
		c.expiry = now.Add(defaultChannelLife)
	}
	flags := map[string]*bool{"return_affected_field_values": &c.affected, "notify_on_related_action": &c.related}
	for key, dst := range flags {
		if raw, ok := it[key]; ok {
			if json.Unmarshal(raw, dst) != nil {
				return fail("INVALID_DATA", key, key+" must be true or false")
			}
		} else if full {
			*dst = key == "notify_on_related_action" // which defaults to true
		}
	}
	c.expiry = c.expiry.Truncate(time.Second)
	return nil
}

// success is an item's answer: the channel's events by module.
func (s *Server) success(c *channel, message string) itemResult {
	var events []any
	for _, m := range c.modules(s) {
		events = append(events, map[string]any{
			"channel_expiry": s.formatTime(c.expiry.UnixNano()),
			"resource_uri":   "https://" + s.apiHost + "/crm/v2/" + m.apiName,
			"resource_id":    strconv.FormatInt(moduleIDBase+s.moduleIndex(m), 10),
			"resource_name":  m.apiName,
			"channel_id":     strconv.FormatInt(c.id, 10),
		})
	}
	return itemResult{
		"code":    "SUCCESS",
		"details": map[string]any{"events": events},
		"message": message,
		"status":  "success",
	}
}

func notSubscribed() itemResult {
	return itemError("NOT_SUBSCRIBED", "channel_id", "the given channel is not subscribed")
}

// handleWatchEnable subscribes channels. Enabling a channel_id that is
// already subscribed replaces it: Zoho does not say what it does then.
func (s *Server) handleWatchEnable(c *apiCall) {
	if !c.needAny(scopeNotifyCreate, scopeNotifyWrite) {
		return
	}
	s.writeWatch(c, http.StatusCreated, func(n *notifier, id int64, it watchItem) itemResult {
		return s.put(n, id, it, "Successfully subscribed for actions-watch of the given module")
	})
}

// put makes channel id from it alone, as enable and replace do.
func (s *Server) put(n *notifier, id int64, it watchItem, message string) itemResult {
	ch := &channel{id: id}
	if e := s.apply(ch, it, true); e != nil {
		return *e
	}
	n.channels[id] = ch
	return s.success(ch, message)
}

// handleWatchReplace replaces subscribed channels: keys left out are
// removed.
func (s *Server) handleWatchReplace(c *apiCall) {
	if !c.needAny(scopeNotifyUpdate, scopeNotifyWrite) {
		return
	}
	s.writeWatch(c, http.StatusOK, func(n *notifier, id int64, it watchItem) itemResult {
		if _, ok := n.activeLocked(id, s.now()); !ok {
			return notSubscribed()
		}
		return s.put(n, id, it, "Successfully updated the subscribe details")
	})
}

// handleWatchUpdate changes the keys given, adds the events given, or with
// "_delete_events": true removes them; a channel left without events ends.
func (s *Server) handleWatchUpdate(c *apiCall) {
	if !c.needAny(scopeNotifyUpdate, scopeNotifyWrite) {
		return
	}
	s.writeWatch(c, http.StatusOK, func(n *notifier, id int64, it watchItem) itemResult {
		old, ok := n.activeLocked(id, s.now())
		if !ok {
			return notSubscribed()
		}
		if _, ok := it["events"]; !ok {
			return itemError("MANDATORY_NOT_FOUND", "events", "required field not found")
		}
		ch := *old
		ch.events = slices.Clone(old.events)
		if e := s.apply(&ch, it, false); e != nil {
			return *e
		}
		res := s.success(&ch, "Successfully updated the subscribe details")
		if len(ch.events) == 0 {
			delete(n.channels, id)
		} else {
			n.channels[id] = &ch
		}
		return res
	})
}

// writeWatch runs fn for each item of an enable, replace or update, under
// the notifier's lock, and answers.
func (s *Server) writeWatch(c *apiCall, okStatus int, fn func(n *notifier, id int64, it watchItem) itemResult) {
	items, ok := c.watchItems()
	if !ok {
		return
	}
	n := s.notify
	results := make([]itemResult, 0, len(items))
	n.mu.Lock()
	for _, it := range items {
		id, e := it.channelID()
		if e != nil {
			results = append(results, *e)
			continue
		}
		results = append(results, fn(n, id, it))
	}
	n.mu.Unlock()
	c.answerItems(results, okStatus)
}

// handleWatchDisable ends the channels of ?channel_ids=1,2.
func (s *Server) handleWatchDisable(c *apiCall) {
	if !c.need(scopeNotifyDelete) {
		return
	}
	param := c.r.URL.Query().Get("channel_ids")
	if param == "" {
		writeError(c.w, http.StatusBadRequest, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
			map[string]any{"param_name": "channel_ids"})
		return
	}
	n := s.notify
	var results []itemResult
	n.mu.Lock()
	for _, p := range strings.Split(param, ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		ch, ok := n.activeLocked(id, s.now())
		if err != nil || !ok {
			results = append(results, notSubscribed())
			continue
		}
		delete(n.channels, id)
		results = append(results, s.success(ch, "Successfully unsubscribed from actions-watch of the given module"))
	}
	n.mu.Unlock()
	c.answerItems(results, http.StatusOK)
}

// handleWatchList lists subscriptions, an entry per channel and module,
// filtered by channel_id and module and paged by page and per_page; none
// is 204.
func (s *Server) handleWatchList(c *apiCall) {
	if !c.needAny(scopeNotifyRead) {
		return
	}
	q := c.r.URL.Query()
	var onlyID int64
	if v := q.Get("channel_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			badParam(c.w, "channel_id", "channel_id must be a number")
			return
		}
		onlyID = id
	}
	var onlyModule *module
	if v := q.Get("module"); v != "" {
		m, ok := s.moduleByName(v)
		if !ok {
			writeError(c.w, http.StatusBadRequest, "INVALID_MODULE", "the module name given seems to be invalid",
				map[string]any{"param_name": "module"})
			return
		}
		onlyModule = m
	}
	page, ok := c.page()
	if !ok {
		return
	}
	perPage, ok := intParam(c.r, "per_page", maxWatchPerPage, 1, maxWatchPerPage)
	if !ok {
		badParam(c.w, "per_page", "per_page must be between 1 and 200")
		return
	}
	var entries []any
	for _, ch := range s.notify.active(s.now()) {
		if onlyID != 0 && ch.id != onlyID {
			continue
		}
		for _, m := range ch.modules(s) {
			if onlyModule != nil && m != onlyModule {
				continue
			}
			var events []string
			for _, e := range ch.events {
				if strings.HasPrefix(e, m.apiName+".") {
					events = append(events, e)
				}
			}
			entries = append(entries, map[string]any{
				"channel_id":                   strconv.FormatInt(ch.id, 10),
				"events":                       events,
				"notify_url":                   ch.notifyURL,
				"token":                        ch.token,
				"channel_expiry":               s.formatTime(ch.expiry.UnixNano()),
				"resource_uri":                 "https://" + s.apiHost + "/crm/v2/" + m.apiName,
				"resource_id":                  strconv.FormatInt(moduleIDBase+s.moduleIndex(m), 10),
				"resource_name":                m.apiName,
				"return_affected_field_values": ch.affected,
				"notify_on_related_action":     ch.related,
			})
		}
	}
	from := (page - 1) * perPage
	if from >= len(entries) {
		c.empty(http.StatusNoContent, 1)
		return
	}
	to := min(from+perPage, len(entries))
	c.ok(http.StatusOK, map[string]any{"watch": entries[from:to], "info": map[string]any{
		"per_page": perPage, "page": page, "count": to - from, "more_records": to < len(entries),
	}}, 1)
}
