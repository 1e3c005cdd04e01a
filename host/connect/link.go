// Package connect is how customers connect a source without the operator:
// signed, expiring connect links for one source, and the pages they open,
// which offer the ways the source's Spec.Connect lists (the service's
// consent page through the provider's OAuth client, or a form) and store
// the credentials they give.
//
// A link is its own credential: no console token or session is needed.
// It is signed with a key every host sharing the state has (state.Store's
// LinkKeys), so any host of a fleet opens it, and it connects its source
// once (ConnectWithLink records its use with the credentials).
package connect

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Limits of links.
const (
	// DefaultLinkTTL is how long a link lasts unless its maker says.
	DefaultLinkTTL = 7 * 24 * time.Hour
	// MaxLinkTTL bounds how long a link may last.
	MaxLinkTTL = 90 * 24 * time.Hour
	// stateTTL bounds the time between leaving the connect page for the
	// service's consent page and coming back.
	stateTTL = 30 * time.Minute
)

// Purposes of signed tokens, so that one is never taken for the other.
const (
	purposeLink  = "link"
	purposeState = "state"
)

// Link is a connect link's content.
type Link struct {
	ID      string    `json:"id"`
	Source  string    `json:"src"` // a reference such as source.zoho.crm
	Expires time.Time `json:"exp"`
}

// Errors of a link or state that does not open.
var (
	ErrTampered = errors.New("this connect link is not one the provider made: it was altered or cut short. Ask the provider for a new link, and open it whole")
	ErrExpired  = errors.New("this connect link has expired")
)

// NewLink returns a link to source lasting ttl from now.
func NewLink(source string, ttl time.Duration, now time.Time) (Link, error) {
	if ttl <= 0 || ttl > MaxLinkTTL {
		return Link{}, fmt.Errorf("a connect link lasts more than nothing and at most %s; %s is not allowed", MaxLinkTTL, ttl)
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return Link{}, fmt.Errorf("making a connect link: %w", err)
	}
	return Link{ID: hex.EncodeToString(id), Source: source, Expires: now.Add(ttl).UTC().Truncate(time.Second)}, nil
}

// Sign returns the link's token, as its URL carries it.
func (l Link) Sign(key []byte) (string, error) { return sign(key, purposeLink, l) }

// OpenLink verifies a link's token with keys and returns the link, or
// ErrTampered, or an error wrapping ErrExpired.
func OpenLink(keys [][]byte, token string, now time.Time) (Link, error) {
	var l Link
	if err := open(keys, purposeLink, token, &l); err != nil || l.ID == "" || l.Source == "" {
		return Link{}, ErrTampered
	}
	if !now.Before(l.Expires) {
		return Link{}, fmt.Errorf("%w on %s: ask the provider for a new one", ErrExpired, l.Expires.UTC().Format("2 January 2006 15:04 MST"))
	}
	return l, nil
}

// KeySource is where links' keys come from.
type KeySource interface {
	LinkKeys(ctx context.Context) ([][]byte, error)
}

// MakeLink makes a link to connect source ref at the host whose public
// URL is base, signed with the store's key.
func MakeLink(ctx context.Context, keys KeySource, base, ref string, ttl time.Duration, now time.Time) (string, time.Time, error) {
	if ttl == 0 {
		ttl = DefaultLinkTTL
	}
	l, err := NewLink(ref, ttl, now)
	if err != nil {
		return "", time.Time{}, err
	}
	k, err := keys.LinkKeys(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	token, err := l.Sign(k[0])
	if err != nil {
		return "", time.Time{}, err
	}
	return base + "/connect/" + token, l.Expires, nil
}

// webState is what the state parameter of a consent carries: the link,
// and the browser that left for the consent page, by the digest of its
// cookie.
type webState struct {
	Link
	Browser string    `json:"b"`
	Until   time.Time `json:"u"`
}

// sign returns base64url(JSON).base64url(HMAC-SHA256(purpose.JSON)).
func sign(key []byte, purpose string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	body := base64.RawURLEncoding.EncodeToString(b)
	return body + "." + base64.RawURLEncoding.EncodeToString(mac(key, purpose, body)), nil
}

func mac(key []byte, purpose, body string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose + "." + body))
	return m.Sum(nil)
}

// open verifies a token sign made with one of keys and decodes it into v.
func open(keys [][]byte, purpose, token string, v any) error {
	body, sig, ok := strings.Cut(token, ".")
	if !ok {
		return ErrTampered
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return ErrTampered
	}
	for _, key := range keys {
		if hmac.Equal(got, mac(key, purpose, body)) {
			b, err := base64.RawURLEncoding.DecodeString(body)
			if err != nil {
				return ErrTampered
			}
			return json.Unmarshal(b, v)
		}
	}
	return ErrTampered
}
