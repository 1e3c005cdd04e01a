package zoho

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// Zoho's Notification API (actions/watch) calls the host back when
// records of a watched module are created, edited or deleted. The source
// subscribes one channel for all its streams' modules, with the host's
// secret as the token Zoho echoes in every callback.

// changeSignals is what the spec tells the host of Zoho's callbacks: the
// secret is echoed in "token". A callback lists the ids of the records of
// one action; Zoho does not bound them, and a mass update of thousands of
// records fits 256 KiB.
var changeSignals = contract.ChangeSignals{SecretField: "token", MaxBodyBytes: 256 << 10}

const (
	// watchLife is how far ahead a channel's expiry is set: Zoho takes at
	// most a week, and turns anything later into an hour, so an hour is
	// left for a clock ahead of Zoho's.
	watchLife = 7*24*time.Hour - time.Hour
	// channelIDBase is the least Zoho channel id the source makes; Zoho's
	// own examples are 13-digit numbers.
	channelIDBase = 1_000_000_000_000
	// channelIDSpan keeps ids below 2^53, which any JSON reader on the way
	// holds exactly.
	channelIDSpan = 1<<53 - channelIDBase
)

// Notification scopes: ALL, or the finer ones of each call.
const (
	scopeNotifications = "ZohoCRM.notifications.ALL"
	scopeNotifyCreate  = "ZohoCRM.notifications.CREATE"
	scopeNotifyUpdate  = "ZohoCRM.notifications.UPDATE"
	scopeNotifyWrite   = "ZohoCRM.notifications.WRITE"
	scopeNotifyDelete  = "ZohoCRM.notifications.DELETE"
)

// notifyScopesMissing reports whether the grant lacks what Watch and
// Unwatch need: ZohoCRM.notifications.ALL, or CREATE (or WRITE), UPDATE
// (or WRITE) and DELETE. known is false when the grant did not list its
// scopes.
func notifyScopesMissing(cr credentials) (missing, known bool) {
	has := func(scopes ...string) bool {
		return slices.ContainsFunc(scopes, func(sc string) bool { ok, _ := cr.hasScope(sc); return ok })
	}
	if _, known := cr.hasScope(scopeNotifications); !known {
		return false, false
	}
	finer := has(scopeNotifyCreate, scopeNotifyWrite) && has(scopeNotifyUpdate, scopeNotifyWrite) && has(scopeNotifyDelete)
	return !has(scopeNotifications) && !finer, true
}

// zohoChannelID is the Zoho channel id of the host's channel, derived
// from the host's id rather than kept in the credentials: renewals reach
// the same channel, and Unwatch finds it even after the credentials were
// replaced by a new authorization. The host's ids are unique across hosts
// and pipelines, and the span leaves a clash between two of an org's
// channels a chance of one in billions.
func zohoChannelID(id string) int64 {
	sum := sha256.Sum256([]byte(id))
	return channelIDBase + int64(binary.BigEndian.Uint64(sum[:8])%channelIDSpan)
}

// watchItem is one channel of a request to actions/watch.
type watchItem struct {
	ChannelID     int64    `json:"channel_id"`
	Events        []string `json:"events"`
	NotifyURL     string   `json:"notify_url"`
	Token         string   `json:"token"`
	ChannelExpiry string   `json:"channel_expiry"`
	// Record values are read again by the run the callback wakes, and a
	// related record's change (a note, a task) changes no phone number.
	AffectedValues bool `json:"return_affected_field_values"`
	Related        bool `json:"notify_on_related_action"`
}

// watchAnswer is Zoho's answer to actions/watch, an entry per channel.
type watchAnswer struct {
	Watch []struct {
		Code    string `json:"code"`
		Status  string `json:"status"`
		Message string `json:"message"`
		Details struct {
			Events []struct {
				ChannelExpiry string `json:"channel_expiry"`
			} `json:"events"`
		} `json:"details"`
	} `json:"watch"`
}

// Watch subscribes one channel to changes of the requested streams'
// modules, or renews it: a replace (PUT) of the channel, which sets its
// events, URL, token and expiry whatever they were, and an enable (POST)
// when Zoho no longer knows it. It subscribes nothing when the
// configuration leaves notifications off.
func (s *Source) Watch(ctx context.Context, req contract.WatchRequest) (contract.WatchResponse, error) {
	cfg, err := parseConfig(req.Config)
	if err != nil {
		return contract.WatchResponse{}, err
	}
	if !cfg.Notifications {
		s.log.Info("notifications are off in the configuration; not watching")
		return contract.WatchResponse{}, nil
	}
	var streams, events []string
	for _, name := range req.Streams {
		info, ok := findStream(name)
		if !ok {
			return contract.WatchResponse{}, fmt.Errorf("the zoho source has no stream %q: use %s", name, streamNames())
		}
		streams = append(streams, name)
		events = append(events, info.module+".all")
	}
	if len(streams) == 0 {
		return contract.WatchResponse{}, nil
	}
	if len(req.Channels) == 0 {
		return contract.WatchResponse{}, errors.New("watch: the host offered no channel")
	}
	ss, err := s.openCall(req.Config, req.Credentials, req.Client)
	if err != nil {
		return contract.WatchResponse{}, err
	}
	ch := req.Channels[0]
	item := watchItem{
		ChannelID: zohoChannelID(ch.ID), Events: events, NotifyURL: ch.URL, Token: ch.Secret,
		ChannelExpiry: zohoTime(s.now().Add(watchLife)),
	}
	expires, err := s.subscribe(ctx, ss, item)
	if err != nil {
		return contract.WatchResponse{Credentials: ss.update()}, watchError(err, ch.URL)
	}
	s.log.Info("watching Zoho for changes",
		"channel", item.ChannelID, "events", strings.Join(events, ","), "expires", expires)
	return contract.WatchResponse{
		Channels:    []contract.Watched{{ID: ch.ID, Streams: streams, Expires: expires}},
		Credentials: ss.update(),
	}, nil
}

// subscribe replaces the channel, or enables it when Zoho does not know
// it (new, expired or disabled), and returns when Zoho says it expires.
func (s *Source) subscribe(ctx context.Context, ss *session, item watchItem) (time.Time, error) {
	body := map[string]any{"watch": []watchItem{item}}
	var answer watchAnswer
	_, err := ss.client.getJSON(ctx,
		request{method: http.MethodPut, path: watchPath, body: body, cost: 1, idempotent: true}, &answer)
	if isCode(err, "NOT_SUBSCRIBED") {
		answer = watchAnswer{}
		_, err = ss.client.getJSON(ctx, request{method: http.MethodPost, path: watchPath, body: body, cost: 1}, &answer)
	}
	if err != nil {
		return time.Time{}, err
	}
	if len(answer.Watch) != 1 || answer.Watch[0].Status != "success" {
		return time.Time{}, fmt.Errorf("subscribing to Zoho's notifications: Zoho's answer names no subscribed channel: %+v",
			answer.Watch)
	}
	// The earliest expiry Zoho names: it may have shortened the one asked
	// for (to an hour, when it found it too far ahead).
	var expires time.Time
	for _, e := range answer.Watch[0].Details.Events {
		if t := parseTime(e.ChannelExpiry); !t.IsZero() && (expires.IsZero() || t.Before(expires)) {
			expires = t
		}
	}
	if expires.IsZero() {
		expires = parseTime(item.ChannelExpiry)
	}
	return expires.UTC(), nil
}

const watchPath = "/crm/v8/actions/watch"

// Unwatch disables the channels at Zoho. Channels Zoho no longer knows
// (expired, disabled before) are not an error.
func (s *Source) Unwatch(ctx context.Context, req contract.UnwatchRequest) (contract.UnwatchResponse, error) {
	if len(req.Channels) == 0 {
		return contract.UnwatchResponse{}, nil
	}
	ss, err := s.openCall(req.Config, req.Credentials, req.Client)
	if err != nil {
		return contract.UnwatchResponse{}, err
	}
	ids := make([]string, len(req.Channels))
	for i, ch := range req.Channels {
		ids[i] = strconv.FormatInt(zohoChannelID(ch.ID), 10)
	}
	q := url.Values{"channel_ids": {strings.Join(ids, ",")}}
	_, err = ss.client.getJSON(ctx,
		request{method: http.MethodDelete, path: watchPath, query: q, cost: 1, idempotent: true}, nil)
	if err != nil && !isCode(err, "NOT_SUBSCRIBED") {
		return contract.UnwatchResponse{Credentials: ss.update()}, watchError(err, "")
	}
	s.log.Info("stopped watching Zoho for changes", "channels", strings.Join(ids, ","))
	return contract.UnwatchResponse{Credentials: ss.update()}, nil
}

// watchError adds what to do to a failed call of the Notification API.
// The callback URL carries the channel's key, so only its scheme and
// host are named.
func watchError(err error, callback string) error {
	var ae *apiError
	if !errors.As(err, &ae) {
		return err
	}
	switch {
	case ae.Code == "OAUTH_SCOPE_MISMATCH":
		return fmt.Errorf(
			"%w: notifications need the scope %s in the grant: generate a grant code with it in the Zoho API console and run "+
				"authorize again, or set notifications = false",
			err, scopeNotifications)
	case isCode(err, "INVALID_DATA", "MANDATORY_NOT_FOUND") && strings.Contains(string(ae.Details), "notify_url"):
		where := "the callback URL"
		if u, perr := url.Parse(callback); perr == nil {
			where += " at " + u.Scheme + "://" + u.Host
		}
		return fmt.Errorf("%w: Zoho refused %s: it must be an https address Zoho can reach; check the host's public_url",
			err, where)
	}
	return err
}

// openCall opens a session for a call outside any run (Watch, Unwatch):
// its credits count toward no run's budget or counters.
func (s *Source) openCall(rawCfg, rawCreds json.RawMessage, provider *contract.OAuthClient) (*session, error) {
	return s.openWith(rawCfg, rawCreds, provider, func(*config) *runShared { return newRunShared() })
}
