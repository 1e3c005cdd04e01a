package zoho

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// tokenMargin is how long before its expiry a cached token is replaced, so
// that it does not lapse in the middle of a call.
const tokenMargin = 2 * time.Minute

// mintLimit is at most n access tokens per refresh token in a window.
type mintLimit struct {
	n      int
	window time.Duration
}

// mintLimits keep the connector's token requests within Zoho's limits:
//   - 10 access tokens per refresh token in 10 minutes, past which Zoho
//     throttles token requests for a while (Zoho's access token pages);
//   - 5 tokens a minute, Zoho's limit on refresh tokens generated a minute,
//     kept for access tokens too as its pages can be read either way;
//   - as many tokens an hour as a refresh token keeps live: the next one
//     deletes the oldest, which a run may still be using. Zoho's product
//     pages (FSM, Recruit) say 30 live tokens, Zoho CRM's token validity
//     page and Zoho Accounts' token limits page say 15: the smaller holds
//     for both.
//
// An access token lives an hour, so the hour's limit bounds the live ones.
var mintLimits = []mintLimit{{5, time.Minute}, {10, 10 * time.Minute}, {15, time.Hour}}

// mintHistory is how long mints are remembered: the longest window.
const mintHistory = time.Hour

// credentials are what the host stores for the source between runs.
type credentials struct {
	RefreshToken string    `json:"refresh_token"`
	Scopes       []string  `json:"scopes,omitempty"`
	APIDomain    string    `json:"api_domain"`
	DC           string    `json:"dc"`
	AccessToken  string    `json:"access_token,omitempty"`
	Expiry       time.Time `json:"access_token_expiry,omitzero"`
	// Mints are the times access tokens were obtained with RefreshToken
	// in the last hour, kept so that Zoho's limits hold across runs.
	Mints []time.Time `json:"token_mints,omitempty"`
	// Connect says how the credentials were made: empty with a grant code
	// and the configuration's Self Client, ConnectWeb through the
	// provider's server-based client, ConnectForm with the customer's own
	// Self Client.
	Connect contract.ConnectKind `json:"connect,omitempty"`
	// ClientID is the client RefreshToken belongs to, for ConnectWeb and
	// ConnectForm.
	ClientID string `json:"client_id,omitempty"`
	// ClientSecret is the customer's own Self Client's, for ConnectForm
	// only. The provider's secret is never stored: the host passes it.
	ClientSecret string `json:"client_secret,omitempty"`
	// Meta is Zoho's metadata as last read, so that runs need not read it
	// each time.
	Meta *metaCache `json:"meta,omitempty"`
}

func parseCredentials(raw json.RawMessage, cfg *config) (credentials, error) {
	var cr credentials
	if len(raw) == 0 || string(raw) == "null" {
		return cr, errors.New(
			"no stored Zoho credentials: connect the source from a connect link, or run authorize with a grant code from the " +
				"Self Client in the Zoho API console")
	}
	if err := json.Unmarshal(raw, &cr); err != nil {
		return cr, fmt.Errorf("reading the stored Zoho credentials (connect the source again to replace them): %w", err)
	}
	if cr.RefreshToken == "" {
		return cr, fmt.Errorf("the stored Zoho credentials hold no refresh token: %s", reconnect(cr.Connect))
	}
	if cfg.Domain != "" && cr.DC != "" && cr.DC != cfg.dc.code {
		if cr.Connect != "" {
			return cr, fmt.Errorf(
				"the stored credentials belong to Zoho data centre %q, where the Zoho user who connected the source lives, but "+
					"domain is %q: remove domain from the configuration, or connect with a Zoho user of the %s data centre",
				cr.DC, cfg.dc.code, cfg.dc.code)
		}
		return cr, fmt.Errorf(
			"the stored credentials belong to Zoho data centre %q but domain is %q: run authorize again with a grant code "+
				"from the %s data centre",
			cr.DC, cfg.dc.code, cfg.dc.code)
	}
	return cr, nil
}

// hasScope reports whether the grant covers scope. A broader scope covers
// a narrower one: ZohoCRM.modules.READ and ZohoCRM.modules.ALL cover
// ZohoCRM.modules.contacts.READ. known is false when the grant did not list
// its scopes.
func (cr credentials) hasScope(scope string) (has, known bool) {
	if len(cr.Scopes) == 0 {
		return false, false
	}
	return slices.ContainsFunc(cr.Scopes, func(g string) bool { return scopeCovers(g, scope) }), true
}

func scopeCovers(granted, needed string) bool {
	g := strings.Split(strings.ToLower(granted), ".")
	n := strings.Split(strings.ToLower(needed), ".")
	if len(g) < 2 || len(n) < 2 || len(g) > len(n) || g[0] != n[0] {
		return false
	}
	if op := g[len(g)-1]; op != n[len(n)-1] && op != "all" {
		return false
	}
	gPath, nPath := g[1:len(g)-1], n[1:len(n)-1]
	return slices.Equal(gPath, nPath[:len(gPath)])
}

// tokens hands out access tokens, refreshing them when they expire or Zoho
// rejects them. It is safe for concurrent use; refreshes happen one at a time.
type tokens struct {
	cfg     *config
	oauth   *oauth2.Config
	httpc   *http.Client
	now     func() time.Time
	maxWait time.Duration // longest wait for a slot under Zoho's mint limit

	mu    sync.Mutex
	cr    credentials
	dirty bool // cr changed since the host last got it
}

func newTokens(cfg *config, cr credentials, httpc *http.Client, now func() time.Time, maxWait time.Duration) *tokens {
	return &tokens{cfg: cfg, oauth: oauthConfig(cfg, cfg.tokenURL()), httpc: httpc, now: now, maxWait: maxWait, cr: cr}
}

// expiry is when a new token lapses, by the same clock as now.
func expiry(tok *oauth2.Token, now time.Time) time.Time {
	if tok.ExpiresIn > 0 {
		return now.Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
	return now.Add(time.Hour)
}

func oauthConfig(cfg *config, tokenURL string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		// Zoho wants the client in the form, and answers errors with HTTP 200
		// bodies; x/oauth2 turns a body's "error" into a RetrieveError.
		Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams},
	}
}

// access returns a usable access token, minting one if the cached one is
// missing or about to expire.
func (t *tokens) access(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cr.AccessToken != "" && t.now().Add(tokenMargin).Before(t.cr.Expiry) {
		return t.cr.AccessToken, nil
	}
	return t.mintLocked(ctx)
}

// tokenType is the scheme of Zoho's Authorization header.
const tokenType = "Zoho-oauthtoken"

// sentToken is the key of a call's context under which TokenContext notes
// the token it hands out (a *string), so that the token Zoho rejects is
// the one replaced.
type sentToken struct{}

// TokenContext hands httpapi the access token for an attempt of a call;
// minting one waits for a slot under Zoho's limits, within ctx.
func (t *tokens) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	tok, err := t.access(ctx)
	if err != nil {
		return nil, err
	}
	if sent, ok := ctx.Value(sentToken{}).(*string); ok {
		*sent = tok
	}
	return &oauth2.Token{AccessToken: tok, TokenType: tokenType}, nil
}

// Token is TokenContext without a context of the call's.
func (t *tokens) Token() (*oauth2.Token, error) {
	return t.TokenContext(context.Background())
}

// refresh replaces the access token stale, which Zoho rejected. If another
// caller already replaced it, the newer token is returned without a mint.
func (t *tokens) refresh(ctx context.Context, stale string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cr.AccessToken != "" && t.cr.AccessToken != stale && t.now().Add(tokenMargin).Before(t.cr.Expiry) {
		return t.cr.AccessToken, nil
	}
	return t.mintLocked(ctx)
}

func (t *tokens) mintLocked(ctx context.Context) (string, error) {
	if err := t.waitForSlotLocked(ctx); err != nil {
		return "", err
	}
	src := t.oauth.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, t.httpc),
		&oauth2.Token{RefreshToken: t.cr.RefreshToken})
	now := t.now()
	tok, err := src.Token()
	// A refused request may still count against the limit, so it is noted.
	t.cr.Mints = append(t.cr.Mints, now)
	t.dirty = true
	if err != nil {
		return "", refreshError(err, t.cfg)
	}
	domain, _ := tok.Extra("api_domain").(string)
	if domain == "" {
		domain = t.cr.APIDomain
	}
	if err := checkAPIDomain(t.cfg.dc, domain); err != nil {
		return "", err
	}
	t.cr.AccessToken = tok.AccessToken
	t.cr.APIDomain = domain
	t.cr.Expiry = expiry(tok, now)
	return tok.AccessToken, nil
}

// waitForSlotLocked keeps mints within Zoho's limits, waiting for a slot
// when one frees up soon and failing with the time to retry otherwise.
func (t *tokens) waitForSlotLocked(ctx context.Context) error {
	now := t.now()
	t.cr.Mints = slices.DeleteFunc(t.cr.Mints, func(m time.Time) bool { return now.Sub(m) >= mintHistory })
	slices.SortFunc(t.cr.Mints, func(a, b time.Time) int { return a.Compare(b) })
	free, binding := now, mintLimit{}
	for _, l := range mintLimits {
		// The window holds fewer than n mints once the n-th newest leaves.
		if k := len(t.cr.Mints); k >= l.n {
			if at := t.cr.Mints[k-l.n].Add(l.window); at.After(free) {
				free, binding = at, l
			}
		}
	}
	wait := free.Sub(now)
	if wait <= 0 {
		return nil
	}
	if wait > t.maxWait {
		return fmt.Errorf(
			"Zoho allows %d access tokens per refresh token in %v and this connection has used them: try again after %s",
			binding.n, binding.window, free.UTC().Format(time.RFC3339))
	}
	return sleep(ctx, wait)
}

// takeUpdate returns the credentials to store if they changed since the
// last call.
func (t *tokens) takeUpdate() (json.RawMessage, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.dirty {
		return nil, false
	}
	t.dirty = false
	b, err := json.Marshal(t.cr)
	if err != nil {
		return nil, false
	}
	return b, true
}

func (t *tokens) credentials() credentials {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cr
}

// checkAPIDomain refuses an API domain that is not one of the data centre's
// API hosts: our access token would be sent there.
func checkAPIDomain(dc dataCentre, domain string) error {
	u, err := url.Parse(domain)
	if err == nil && u.Scheme == "https" && u.User == nil && u.Port() == "" && (u.Path == "" || u.Path == "/") &&
		u.RawQuery == "" {
		if dc.ownsAPIHost(u.Hostname()) {
			return nil
		}
		for _, other := range dataCentres() {
			if other.ownsAPIHost(u.Hostname()) {
				return fmt.Errorf(
					"Zoho issued the token for data centre %q (API domain %s) but domain is %q: set domain = %q and run authorize "+
						"again",
					other.code, domain, dc.code, other.code)
			}
		}
	}
	return fmt.Errorf(
		"Zoho's token response names API domain %q, which is not a Zoho API host of data centre %q; refusing to send the "+
			"token there: check domain and accounts_url",
		domain, dc.code)
}

// tokenErrorCode returns Zoho's error code of a failed token request and
// whether the failure came from Zoho rather than the network.
func tokenErrorCode(err error) (string, string, bool) {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return "", "", false
	}
	code := re.ErrorCode
	desc := re.ErrorDescription
	if code == "" {
		// Throttling arrives as {"error":"Access Denied",...} or without a code.
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(re.Body, &body)
		code, desc = body.Error, body.Description
	}
	if code == "" && re.Response != nil {
		code = fmt.Sprintf("HTTP %d", re.Response.StatusCode)
	}
	return code, desc, true
}

func isThrottled(code, desc string) bool {
	return strings.EqualFold(code, "Access Denied") || strings.Contains(strings.ToLower(desc), "too many requests")
}

// refreshError explains a failed refresh-token grant.
func refreshError(err error, cfg *config) error {
	code, desc, ok := tokenErrorCode(err)
	switch {
	case !ok:
		return fmt.Errorf("getting a Zoho access token from %s: %w", cfg.tokenURL(), err)
	case code == "invalid_code" && cfg.connect == contract.ConnectWeb:
		return errors.New(
			"Zoho refused the stored refresh token (it was revoked, or the Zoho user removed the connection under Connected " +
				"Apps in their Zoho account): connect the source again from a new connect link")
	case code == "invalid_code":
		return fmt.Errorf(
			"Zoho refused the stored refresh token (it was revoked, or the Self Client was deleted or given new scopes): %s",
			reconnect(cfg.connect))
	case (code == "invalid_client" || code == "invalid_client_secret") && cfg.connect == contract.ConnectWeb:
		return errors.New(providerClientRefused(cfg, code))
	case code == "invalid_client" || code == "invalid_client_secret":
		return fmt.Errorf(
			"Zoho's %s data centre refused client_id or client_secret (%s): check both against the Self Client in the Zoho "+
				"API console",
			cfg.dc.code, code)
	case isThrottled(code, desc):
		return fmt.Errorf(
			"Zoho is throttling token requests for this client (%s): wait about ten minutes before the next run",
			desc)
	default:
		return fmt.Errorf("getting a Zoho access token: Zoho answered %q %s", code, desc)
	}
}
