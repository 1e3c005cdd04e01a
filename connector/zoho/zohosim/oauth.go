package zohosim

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"
)

// OAuth limits, as Zoho documents them (its refresh-token pages, e.g.
// zoho.com/fsm/developer/help/api/refresh-token.html, and
// zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html). Zoho
// CRM's token validity page says 15 live access tokens, not 30.
const (
	accessTokenTTL        = time.Hour
	refreshWindow         = 10 * time.Minute
	refreshesPerWindow    = 10 // access tokens per refresh token per window
	liveAccessPerRefresh  = 30 // the 31st live access token deletes the oldest
	refreshTokensPerUser  = 20 // the 21st revokes the oldest
	newRefreshWindow      = time.Minute
	newRefreshPerWindow   = 5 // refresh tokens generated a minute
	defaultAPIDomainFault = "https://www.zohoapis.evil.example"
)

// grantCode is an authorization code: a Self Client's, or one a
// server-based application got through the consent page.
type grantCode struct {
	client      string // the client id it was issued to
	redirectURI string // the one the authorization asked with; "" for a Self Client's
	scopes      []string
	offline     bool // access_type=offline: the exchange may give a refresh token
	prompt      bool // prompt=consent: a refresh token even if one was given before
	expires     time.Time
	used        bool
}

type refreshToken struct {
	token   string
	client  string // the client id it was issued to
	scopes  []string
	issued  []time.Time    // access tokens issued, for the rolling limit
	access  []*accessToken // live ones, oldest first
	revoked bool
}

type accessToken struct {
	token   string
	refresh *refreshToken
	expires time.Time
	revoked bool
}

// newToken returns a token shaped like Zoho's: "1000.<hex>.<hex>".
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "1000." + hex.EncodeToString(b[:16]) + "." + hex.EncodeToString(b[16:])
}

// IssueGrantCode returns a grant code for the given scopes, as the API
// console's Self Client does; it can be exchanged once within GrantCodeTTL.
func (s *Server) IssueGrantCode(scopes ...string) string {
	return s.issueCode(&grantCode{
		client: s.opts.ClientID, scopes: slices.Clone(scopes), offline: true, prompt: true,
		expires: s.now().Add(s.opts.GrantCodeTTL),
	})
}

func (s *Server) issueCode(g *grantCode) string {
	code := newToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = g
	return code
}

// RevokeAccessTokens invalidates every access token issued so far; API calls
// with them get 401 INVALID_TOKEN while refresh tokens keep working.
func (s *Server) RevokeAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokeAccessLocked()
}

func (s *Server) revokeAccessLocked() {
	for _, a := range s.access {
		a.revoked = true
	}
}

// within keeps the times of ts less than window before now, reusing ts:
// what a sliding-window limit counts.
func within(ts []time.Time, now time.Time, window time.Duration) []time.Time {
	kept := ts[:0]
	for _, t := range ts {
		if now.Sub(t) < window {
			kept = append(kept, t)
		}
	}
	return kept
}

func oauthError(w http.ResponseWriter, code string) {
	// Zoho answers most OAuth failures with HTTP 200 and an error field.
	writeJSON(w, http.StatusOK, map[string]string{"error": code})
}

// accountsForm counts a call to an accounts server endpoint and parses its
// form; false means the answer is written.
func (s *Server) accountsForm(w http.ResponseWriter, r *http.Request, endpoint string) bool {
	s.countCall(endpoint)
	if _, ok := dataCentres[r.PathValue("dc")]; !ok {
		writeError(w, http.StatusNotFound, "INVALID_URL_PATTERN", "no such accounts server", nil)
		return false
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, "invalid_request")
		return false
	}
	return true
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if !s.accountsForm(w, r, "oauth/token") {
		return
	}
	id := r.Form.Get("client_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	kind := s.clientKindLocked(id, r.Form.Get("client_secret"))
	switch {
	case kind == noClient, kind == selfClient && r.PathValue("dc") != s.opts.DC:
		// A Self Client lives in the data centre it was made in.
		oauthError(w, "invalid_client")
		return
	case r.PathValue("dc") != s.opts.DC:
		// A Multi-DC client is known everywhere, but codes and tokens
		// live only in the data centre of the user who granted them.
		oauthError(w, "invalid_code")
		return
	}
	now := s.now()
	switch r.Form.Get("grant_type") {
	case "authorization_code":
		code, ok := s.codes[r.Form.Get("code")]
		if !ok || code.used || !now.Before(code.expires) || code.client != id {
			oauthError(w, "invalid_code")
			return
		}
		if r.Form.Get("redirect_uri") != code.redirectURI {
			oauthError(w, "invalid_redirect_uri")
			return
		}
		// Zoho gives a refresh token for access_type=offline, the first
		// time only unless the consent was prompted for again.
		withRefresh := code.offline && (code.prompt || !s.offlineGiven[id])
		if withRefresh {
			s.newRefreshes = within(s.newRefreshes, now, newRefreshWindow)
			if len(s.newRefreshes) >= newRefreshPerWindow {
				throttled(w)
				return
			}
			s.newRefreshes = append(s.newRefreshes, now)
			s.offlineGiven[id] = true
		}
		code.used = true
		rt := &refreshToken{token: newToken(), client: id, scopes: code.scopes}
		if withRefresh {
			s.refreshes[rt.token] = rt
			s.refOrder = append(s.refOrder, rt)
			s.trimRefreshTokensLocked()
		}
		at := s.issueAccessLocked(rt, now)
		resp := s.tokenResponseLocked(rt, at)
		if withRefresh {
			resp["refresh_token"] = rt.token
		}
		writeJSON(w, http.StatusOK, resp)
	case "refresh_token":
		rt, ok := s.refreshes[r.Form.Get("refresh_token")]
		if !ok || rt.revoked || rt.client != id {
			oauthError(w, "invalid_code")
			return
		}
		rt.issued = within(rt.issued, now, refreshWindow)
		if len(rt.issued) >= refreshesPerWindow {
			throttled(w)
			return
		}
		at := s.issueAccessLocked(rt, now)
		writeJSON(w, http.StatusOK, s.tokenResponseLocked(rt, at))
	default:
		oauthError(w, "unsupported_grant_type")
	}
}

// throttled answers a token request past one of Zoho's token limits.
func throttled(w http.ResponseWriter) {
	writeJSON(w, http.StatusBadRequest, map[string]string{
		"error":             "Access Denied",
		"error_description": "You have made too many requests continuously. Please try again after some time.",
		"status":            "failure",
	})
}

// trimRefreshTokensLocked revokes the oldest refresh tokens beyond the
// per-user limit.
func (s *Server) trimRefreshTokensLocked() {
	live := s.refOrder[:0]
	for _, rt := range s.refOrder {
		if !rt.revoked {
			live = append(live, rt)
		}
	}
	s.refOrder = live
	for len(s.refOrder) > refreshTokensPerUser {
		s.revokeRefreshLocked(s.refOrder[0])
		s.refOrder = s.refOrder[1:]
	}
}

func (s *Server) revokeRefreshLocked(rt *refreshToken) {
	rt.revoked = true
	for _, a := range rt.access {
		a.revoked = true
		delete(s.access, a.token)
	}
	rt.access = nil
}

func (s *Server) issueAccessLocked(rt *refreshToken, now time.Time) *accessToken {
	at := &accessToken{token: newToken(), refresh: rt, expires: now.Add(accessTokenTTL)}
	s.access[at.token] = at
	rt.issued = append(rt.issued, now)
	live := rt.access[:0]
	for _, a := range rt.access {
		if !a.revoked && now.Before(a.expires) {
			live = append(live, a)
		} else {
			delete(s.access, a.token)
		}
	}
	rt.access = append(live, at)
	for len(rt.access) > liveAccessPerRefresh {
		old := rt.access[0]
		old.revoked = true
		delete(s.access, old.token)
		rt.access = rt.access[1:]
	}
	return at
}

func (s *Server) tokenResponseLocked(rt *refreshToken, at *accessToken) map[string]any {
	domain := "https://" + s.apiHost
	if s.takeFaultLocked(FaultBadAPIDomain) != nil {
		domain = defaultAPIDomainFault
	}
	return map[string]any{
		"access_token": at.token,
		"api_domain":   domain,
		"token_type":   "Bearer",
		"expires_in":   int(accessTokenTTL / time.Second),
		"scope":        strings.Join(rt.scopes, " "),
	}
}

func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if !s.accountsForm(w, r, "oauth/revoke") {
		return
	}
	if r.PathValue("dc") != s.opts.DC {
		// Tokens live only in the data centre that issued them.
		oauthError(w, "invalid_client")
		return
	}
	token := r.Form.Get("token")
	s.mu.Lock()
	defer s.mu.Unlock()
	if rt, ok := s.refreshes[token]; ok && !rt.revoked {
		s.revokeRefreshLocked(rt)
		writeJSON(w, http.StatusOK, map[string]string{"status": "success"})
		return
	}
	if at, ok := s.access[token]; ok && !at.revoked {
		at.revoked = true
		writeJSON(w, http.StatusOK, map[string]string{"status": "success"})
		return
	}
	oauthError(w, "invalid_code")
}

// authenticate finds the live access token of an API call.
func (s *Server) authenticateLocked(r *http.Request) (*accessToken, string) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, "INVALID_TOKEN"
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || scheme != "Zoho-oauthtoken" {
		// Zoho does not take "Bearer": the scheme is its own.
		return nil, "AUTHENTICATION_FAILURE"
	}
	at, ok := s.access[strings.TrimSpace(token)]
	if !ok || at.revoked || at.refresh.revoked || !s.now().Before(at.expires) {
		return nil, "INVALID_TOKEN"
	}
	return at, ""
}

// scopeCovers reports whether granted scope g covers needed scope n:
// "ZohoCRM.modules.ALL" and "ZohoCRM.modules.READ" cover
// "ZohoCRM.modules.contacts.READ"; names compare without case.
func scopeCovers(g, n string) bool {
	gp := strings.Split(strings.ToLower(g), ".")
	np := strings.Split(strings.ToLower(n), ".")
	if len(gp) < 2 || len(np) < 2 || gp[0] != np[0] || len(gp) > len(np) {
		return false
	}
	gop, nop := gp[len(gp)-1], np[len(np)-1]
	if gop != nop && gop != "all" {
		return false
	}
	gpath, npath := gp[1:len(gp)-1], np[1:len(np)-1]
	return slices.Equal(gpath, npath[:len(gpath)])
}

// missingScopes returns the needed scopes the token lacks.
func missingScopes(granted []string, needed ...string) []string {
	var missing []string
	for _, n := range needed {
		if !slices.ContainsFunc(granted, func(g string) bool { return scopeCovers(g, n) }) {
			missing = append(missing, n)
		}
	}
	return missing
}
