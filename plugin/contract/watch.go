package contract

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Change signals: a source whose service can call a URL when records
// change (Zoho CRM's Notification API, webhooks, push channels) lets the
// host run a pipeline seconds after a change instead of at its next
// interval. Added in SDK 1.2.
//
// The signal only wakes the pipeline. The run it starts is the ordinary
// incremental Read from the stored checkpoints, so the checkpointed read
// stays the one truth: callbacks that come late, twice, out of order or
// never, or that lie, cannot put anything wrong into a destination. The
// pipeline's interval stays as the safety net for lost callbacks.
//
// Who does what:
//
//   - The source says in Spec.ChangeSignals that it can watch, and where a
//     callback carries the secret the service echoes.
//   - The host makes a Channel per stream it wants watched: an ID, a
//     callback URL it serves and a Secret, and calls Watch. The source
//     subscribes at the service, using as few of the channels as the
//     service needs, and answers which channel signals which streams and
//     until when.
//   - The service calls a channel's URL. The host verifies the callback on
//     its own, without calling the plugin (see ChangeSignals), answers at
//     once and wakes the pipeline.
//   - The host calls Watch again with the same channels well before they
//     expire (see RenewBefore), and Unwatch for channels it no longer
//     wants: the pipeline is removed, its streams change, or the source's
//     configuration turns notifications off.
//   - The pipeline's interval stays: it catches what lost callbacks would
//     have said. While every stream of a pipeline is watched, an hour is
//     the default interval; one the operator sets is kept.

// ChangeSignals, set in a source's Spec, says that the source can watch
// its service for changes (it implements Watcher), and how the host tells
// a callback from the service from a forgery. A nil ChangeSignals means
// the source cannot watch; the host then only polls.
//
// How the host verifies a callback, in this order, before anything runs:
//
//  1. The path holds the channel's key: an unguessable value of at least
//     128 random bits that the host put in Channel.URL and keeps with the
//     channel. It routes the callback and nothing else; an unknown key is
//     answered 404 without reading the body. The key is not the secret:
//     URLs end up in logs.
//  2. Only POST is taken (405 otherwise).
//  3. The body is read up to MaxBodyBytes (DefaultSignalBodyBytes when
//     zero); a longer one is answered 413.
//  4. The body must be a JSON object whose top-level field SecretField is
//     a string equal to the channel's Secret, compared in constant time;
//     anything else is answered 401 and wakes nothing. While a renewal
//     replaces a channel's Secret, the previous one is accepted too for a
//     while (a minute after the renewal's answer), as callbacks sent
//     before it may still be on their way. Verify does steps 3 and 4.
//  5. A verified callback is answered 204 at once, before any run, and
//     wakes the channel's pipeline. Nothing else in the body is used:
//     not the record ids, not the operation. The host never logs the
//     secret, the key or the body.
type ChangeSignals struct {
	// SecretField is the top-level field of a callback's JSON body that
	// holds the Secret the service echoes, e.g. "token" for Zoho CRM.
	SecretField string
	// MaxBodyBytes is the longest callback body the service sends, at
	// most MaxSignalBodyBytes; zero means DefaultSignalBodyBytes.
	MaxBodyBytes int
}

// Bounds of a callback's body.
const (
	DefaultSignalBodyBytes = 64 << 10
	MaxSignalBodyBytes     = 1 << 20
)

// Validate reports what is wrong with c, nil when nothing is.
func (c ChangeSignals) Validate() error {
	if !validName(c.SecretField, maxSecretField) {
		return fmt.Errorf(
			"change signals: secret field %q must be 1 to %d characters of A-Z, a-z, 0-9, '_', '-' and '.'",
			c.SecretField,
			maxSecretField,
		)
	}
	if c.MaxBodyBytes < 0 || c.MaxBodyBytes > MaxSignalBodyBytes {
		return fmt.Errorf(
			"change signals: max body bytes %d is not between 0 and %d",
			c.MaxBodyBytes,
			MaxSignalBodyBytes,
		)
	}
	return nil
}

// Errors of ChangeSignals.Verify: the host answers 413 and 401.
var (
	ErrSignalTooLarge = errors.New("the callback's body is larger than the source's change signals allow")
	ErrSignalForged   = errors.New("the callback does not carry the channel's secret")
)

// Verify checks a callback's body as steps 3 and 4 above say: at most
// BodyLimit bytes (ErrSignalTooLarge otherwise), a JSON object whose field
// SecretField is a string equal to one of secrets, compared in constant
// time (ErrSignalForged otherwise). Pass the channel's Secret, and during
// a renewal that rotates it the previous one too. Read the body through
// io.LimitReader(body, int64(c.BodyLimit())+1), so that an endless one
// ends there.
func (c ChangeSignals) Verify(body []byte, secrets ...string) error {
	if len(body) > c.BodyLimit() {
		return ErrSignalTooLarge
	}
	var fields map[string]json.RawMessage
	var got string
	if json.Unmarshal(body, &fields) != nil || json.Unmarshal(fields[c.SecretField], &got) != nil || got == "" {
		return ErrSignalForged
	}
	match := 0
	for _, s := range secrets {
		if s != "" {
			match |= subtle.ConstantTimeCompare([]byte(got), []byte(s))
		}
	}
	if match != 1 {
		return ErrSignalForged
	}
	return nil
}

// BodyLimit is the longest callback body the host reads.
func (c ChangeSignals) BodyLimit() int {
	if c.MaxBodyBytes == 0 {
		return DefaultSignalBodyBytes
	}
	return c.MaxBodyBytes
}

const maxSecretField = 64

// Channel is a callback channel the host offers a source.
type Channel struct {
	// ID names the channel; ValidChannelID holds for it. The host makes it
	// unique across every host and pipeline that may subscribe to the same
	// service account (a random value, not a pipeline's name), and keeps it
	// for the channel's life: a source may derive the service's own
	// subscription id from it.
	ID string
	// URL is where the service calls back: https, or http to a loopback
	// address. It holds the channel's key (see ChangeSignals); a source
	// hands it to the service as it is.
	URL string
	// Secret is what the service must echo in every callback;
	// ValidChannelSecret holds for it. A source hands it to the service
	// (Zoho's "token") and never logs it.
	Secret string
}

// Limits of a channel's ID and Secret. Secrets are at most 50 characters
// because Zoho CRM refuses longer tokens; at least 22 characters of the
// base64url alphabet carry 128 bits. The host makes them from 32 random
// bytes, base64url without padding: 43 characters.
const (
	MaxChannelID     = 128
	MinChannelSecret = 22
	MaxChannelSecret = 50
)

// ValidChannelID reports whether id is 1 to MaxChannelID characters of
// A-Z, a-z, 0-9, '_', '-' and '.'.
func ValidChannelID(id string) bool { return validName(id, MaxChannelID) }

// ValidChannelSecret reports whether s is MinChannelSecret to
// MaxChannelSecret characters of the base64url alphabet (A-Z, a-z, 0-9,
// '-', '_'), which every service takes in a token or a query.
func ValidChannelSecret(s string) bool {
	if len(s) < MinChannelSecret || len(s) > MaxChannelSecret {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i]) || s[i] == '.' {
			return false
		}
	}
	return true
}

func validName(s string, limit int) bool {
	if s == "" || len(s) > limit {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i]) {
			return false
		}
	}
	return true
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// WatchRequest asks a source to subscribe channels to its service's
// changes, or to renew them.
type WatchRequest struct {
	Config      json.RawMessage
	Credentials Credentials
	// Streams are the pipeline's streams the host wants signals for.
	Streams []string
	// Channels are the channels the host offers, one per stream; a source
	// subscribes as few as its service needs (Zoho: one for every module).
	// On renewal they are the channels of the previous answer, with the
	// same IDs, URLs and Secrets, or a new Secret to rotate it.
	Channels []Channel
	// Client is the provider's OAuth client, as in CheckRequest.
	Client *OAuthClient
}

// WatchResponse says what the source subscribed.
type WatchResponse struct {
	// Channels are the subscribed channels. Empty means nothing is watched,
	// such as when the source's configuration turns notifications off; the
	// host then ends (Unwatch) any channel it had and polls.
	Channels []Watched
	// Credentials are updated credentials to store; nil if unchanged.
	Credentials Credentials
}

// Watched is one subscribed channel.
type Watched struct {
	ID      string    // the Channel.ID the request offered
	Streams []string  // the streams whose changes it signals, from the request's
	Expires time.Time // when the service stops calling back unless renewed; zero for never
}

// RenewBefore says when the host renews a subscription that expires at
// expires, made at since: once a third of its life is left, and at the
// latest a day before it ends. Renewing that early leaves room for a host
// that is down or a service that refuses for a while.
func RenewBefore(since, expires time.Time) time.Time {
	at := expires.Add(-expires.Sub(since) / 3)
	if day := expires.Add(-24 * time.Hour); day.Before(at) && day.After(since) {
		at = day
	}
	return at
}

// UnwatchRequest asks a source to end channels at its service.
type UnwatchRequest struct {
	Config      json.RawMessage
	Credentials Credentials
	Channels    []Channel
	Client      *OAuthClient // the provider's OAuth client, as in CheckRequest
}

// UnwatchResponse reports ended channels.
type UnwatchResponse struct {
	Credentials Credentials // updated credentials to store; nil if unchanged
}

// Watcher is what a source that can watch its service implements besides
// Source: an optional interface, so that connectors written against SDK
// 1.0, which implement Source's methods by hand, keep compiling.
// UnimplementedSource answers ErrUnsupported for both methods, as the
// host's client does for a plugin that lacks them; the host's client of
// any plugin implements Watcher.
//
// Both are control calls, bounded by the host's call_timeout like Check:
// subscribe, do not read records. The host calls them in a process of its
// own or between runs, never during a Read of the same process.
type Watcher interface {
	// Watch subscribes req.Channels at the service, or renews them:
	// calling it again with the same channels extends them, so it may be
	// called any number of times. Its errors say what to fix (a scope to
	// grant, a URL the service refuses); the host keeps polling meanwhile
	// and tries again later.
	Watch(ctx context.Context, req WatchRequest) (WatchResponse, error)
	// Unwatch ends req.Channels at the service. A channel the service no
	// longer knows (expired, ended before) is not an error.
	Unwatch(ctx context.Context, req UnwatchRequest) (UnwatchResponse, error)
}

// Watch reports that the source cannot watch its service.
func (UnimplementedSource) Watch(context.Context, WatchRequest) (WatchResponse, error) {
	return WatchResponse{}, fmt.Errorf("watch: %w", ErrUnsupported)
}

// Unwatch reports that the source cannot watch its service.
func (UnimplementedSource) Unwatch(context.Context, UnwatchRequest) (UnwatchResponse, error) {
	return UnwatchResponse{}, fmt.Errorf("unwatch: %w", ErrUnsupported)
}

// CheckWatchResponse reports what is wrong with a source's answer to req:
// a channel the request did not offer or named twice, or a stream it did
// not ask for. The host's client checks every answer with it, so a host
// keeps only channels it made.
func CheckWatchResponse(req WatchRequest, resp WatchResponse) error {
	offered := map[string]bool{}
	for _, c := range req.Channels {
		offered[c.ID] = true
	}
	asked := map[string]bool{}
	for _, s := range req.Streams {
		asked[s] = true
	}
	seen := map[string]bool{}
	var problems []error
	for _, w := range resp.Channels {
		switch {
		case !offered[w.ID]:
			problems = append(problems, fmt.Errorf("channel %q was not offered", w.ID))
		case seen[w.ID]:
			problems = append(problems, fmt.Errorf("channel %q is named twice", w.ID))
		}
		seen[w.ID] = true
		if len(w.Streams) == 0 {
			problems = append(problems, fmt.Errorf("channel %q signals no stream", w.ID))
		}
		for _, s := range w.Streams {
			if !asked[s] {
				problems = append(
					problems,
					fmt.Errorf("channel %q signals stream %q, which was not asked for", w.ID, s),
				)
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the source's answer to Watch: %w", errors.Join(problems...))
	}
	return nil
}
