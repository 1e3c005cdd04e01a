package zohosim

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// WebClient is a client registered in the Zoho API console as a
// "Server-based Application" with Multi-DC enabled: every data centre's
// accounts server knows it, with one secret for all.
type WebClient struct {
	Name         string // shown on the consent page
	ID, Secret   string
	RedirectURIs []string // the authorized redirect URIs, compared exactly
}

// consentTTL is how long a consent page can be answered.
const consentTTL = 10 * time.Minute

// consent is an authorization request waiting for the user's answer.
type consent struct {
	client      *WebClient
	redirectURI string
	state       string
	scopes      []string
	offline     bool
	prompt      bool // prompt=consent: a refresh token every time
	expires     time.Time
}

// RegisterWebClient registers a server-based application, as its developer
// does once in the API console.
func (s *Server) RegisterWebClient(c WebClient) error {
	if c.ID == "" || c.Secret == "" {
		return errors.New("a web client needs an id and a secret")
	}
	if c.ID == s.opts.ClientID {
		return fmt.Errorf("client id %s is the Self Client's", c.ID)
	}
	if len(c.RedirectURIs) == 0 {
		return fmt.Errorf("web client %s needs at least one redirect URI", c.ID)
	}
	for _, u := range c.RedirectURIs {
		if p, err := url.Parse(u); err != nil || !p.IsAbs() || p.Host == "" {
			return fmt.Errorf("redirect URI %q of web client %s is not an absolute URL", u, c.ID)
		}
	}
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webClients[c.ID] = &c
	return nil
}

// client kinds, as the token endpoint tells them apart.
const (
	noClient = iota
	selfClient
	webClient
)

// clientKindLocked says which registered client id and secret name.
func (s *Server) clientKindLocked(id, secret string) int {
	if id == s.opts.ClientID && secret == s.opts.ClientSecret {
		return selfClient
	}
	if c, ok := s.webClients[id]; ok && c.Secret == secret {
		return webClient
	}
	return noClient
}

// splitScopes reads a scope parameter: Zoho's pages separate scopes with
// commas, OAuth with spaces; both are taken.
func splitScopes(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
}

// handleAuth is the authorization endpoint, GET {accounts}/oauth/v2/auth.
// An unknown client or an unregistered redirect URI gets an error page and
// no redirect: sending the browser there would make the endpoint an open
// redirector. Other faults go back to the redirect URI as error=...; a
// sound request gets the consent page of the org's primary user, whose
// Zoho account lives in the org's data centre, whichever data centre's
// server was asked (Multi-DC sends every user to their own).
func (s *Server) handleAuth(w http.ResponseWriter, r *http.Request) {
	s.countCall("oauth/auth")
	if _, ok := dataCentres[r.PathValue("dc")]; !ok {
		authErrorPage(w, http.StatusNotFound, "No such accounts server", "This data centre does not exist.")
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	client := s.webClients[q.Get("client_id")]
	s.mu.Unlock()
	if client == nil {
		authErrorPage(w, http.StatusBadRequest, "Invalid Client",
			"No server-based application is registered with this client_id.")
		return
	}
	redirectURI := q.Get("redirect_uri")
	if !slices.Contains(client.RedirectURIs, redirectURI) {
		authErrorPage(w, http.StatusBadRequest, "Invalid Redirect Uri",
			"Redirect URI passed does not match with the one configured.")
		return
	}
	state := q.Get("state")
	fail := func(code string) {
		redirectBack(w, r, redirectURI, url.Values{"error": {code}, "state": {state}})
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type")
		return
	}
	scopes := splitScopes(q.Get("scope"))
	if len(scopes) == 0 {
		fail("invalid_scope")
		return
	}
	var offline bool
	switch q.Get("access_type") {
	case "offline":
		offline = true
	case "", "online":
	default:
		fail("invalid_request")
		return
	}
	c := &consent{
		client: client, redirectURI: redirectURI, state: state, scopes: scopes,
		offline: offline, prompt: q.Get("prompt") == "consent", expires: s.now().Add(consentTTL),
	}
	id := newToken()
	s.mu.Lock()
	now := s.now()
	for k, old := range s.consents {
		if !now.Before(old.expires) {
			delete(s.consents, k)
		}
	}
	s.consents[id] = c
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = consentPage.Execute(w, map[string]any{
		"Client": client.Name, "Email": s.users[0].email, "DC": s.opts.DC, "Scopes": scopes,
		"Action": "/accounts/" + s.opts.DC + "/oauth/v2/approve", "ID": id,
	})
}

// handleApprove takes the consent page's answer and sends the browser back
// to the client: with a code, the user's data centre (location) and its
// accounts server on Accept, with error=access_denied on Reject.
func (s *Server) handleApprove(w http.ResponseWriter, r *http.Request) {
	s.countCall("oauth/approve")
	if r.PathValue("dc") != s.opts.DC {
		authErrorPage(w, http.StatusNotFound, "No such request", "This accounts server holds no consent request.")
		return
	}
	if err := r.ParseForm(); err != nil {
		authErrorPage(w, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	s.mu.Lock()
	c, ok := s.consents[r.PostForm.Get("consent_id")]
	delete(s.consents, r.PostForm.Get("consent_id"))
	s.mu.Unlock()
	if !ok || !s.now().Before(c.expires) {
		authErrorPage(w, http.StatusBadRequest, "Request expired",
			"This authorization request has expired or was answered already; start again from the application.")
		return
	}
	if r.PostForm.Get("approve") != "accept" {
		redirectBack(w, r, c.redirectURI, url.Values{"error": {"access_denied"}, "state": {c.state}})
		return
	}
	code := s.issueCode(&grantCode{
		client: c.client.ID, redirectURI: c.redirectURI, scopes: c.scopes,
		offline: c.offline, prompt: c.prompt, expires: s.now().Add(s.opts.GrantCodeTTL),
	})
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	redirectBack(w, r, c.redirectURI, url.Values{
		"state":           {c.state},
		"code":            {code},
		"location":        {s.opts.DC},
		"accounts-server": {scheme + "://" + r.Host + "/accounts/" + s.opts.DC},
	})
}

// redirectBack sends the browser to the client's redirect URI with params
// added to its query.
func redirectBack(w http.ResponseWriter, r *http.Request, redirectURI string, params url.Values) {
	u, err := url.Parse(redirectURI)
	if err != nil {
		authErrorPage(w, http.StatusBadRequest, "Invalid Redirect Uri", "The redirect URI is not a URL.")
		return
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func authErrorPage(w http.ResponseWriter, status int, title, message string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = errorPage.Execute(w, map[string]string{"Title": title, "Message": message})
}

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Zoho Accounts</title></head>
<body>
<h1>{{.Client}} would like to access your Zoho account</h1>
<p id="user">Signed in as {{.Email}}, Zoho data centre {{.DC}}</p>
<p>It asks for:</p>
<ul id="scopes">{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
<form id="consent" method="post" action="{{.Action}}">
<input type="hidden" name="consent_id" value="{{.ID}}">
<button type="submit" id="accept" name="approve" value="accept">Accept</button>
<button type="submit" id="reject" name="approve" value="reject">Reject</button>
</form>
</body></html>
`))

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Zoho Accounts</title></head>
<body><h1 id="error">{{.Title}}</h1><p id="message">{{.Message}}</p></body></html>
`))
