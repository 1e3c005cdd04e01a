package zoho

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	pluginconfig "github.com/replicatorhq/replicator/plugin/config"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// Customers connect a zoho source from a connect page in one of two ways:
// through the provider's server-based client with Multi-DC (ConnectWeb),
// where Zoho's answer says the customer's data centre, or with their own
// Self Client through a form (ConnectForm), as the console's authorize does
// with the configuration's.

// selfClientForm is the connect page's form for a customer's own Self
// Client.
type selfClientForm struct {
	ClientID     string `config:"client_id,required" description:"Client ID of your Self Client: Zoho API console (api-console.zoho.com, .eu, ...), Self Client, Client Secret tab."`
	ClientSecret string `config:"client_secret,required,sensitive" description:"Client Secret of the Self Client, on the same tab."`
	DataCentre   string `config:"data_centre,required" description:"Where your Zoho account lives: us, eu, in, au, jp, cn, ca, sa or uk, or the address of your Zoho CRM, such as https://crm.zoho.eu."`
	GrantCode    string `config:"grant_code,required,sensitive" description:"A code from the Self Client's Generate Code tab, with the scopes listed above; it lasts 3 minutes and works once."`
}

// connectMethods are the ways the connect page offers.
func connectMethods() []contract.ConnectMethod {
	return []contract.ConnectMethod{
		{
			Kind:  contract.ConnectWeb,
			Title: "Connect with Zoho",
			Description: "Sign in to Zoho and press Accept; " +
				"Zoho tells which data centre your account is in, so there is nothing to copy.",
		},
		{
			Kind:  contract.ConnectForm,
			Title: "Use your own Self Client",
			Description: "If you would rather use a client of your own: make a Self Client in the Zoho API console, " +
				"generate a code with the scopes " + strings.Join(connectScopes(streamInfos()), ",") +
				", and fill in the form within 3 minutes.",
			Fields: pluginconfig.MustAttributes[selfClientForm](),
		},
	}
}

// connectScopes are the scopes a connection asks for: what the streams
// read, Bulk Read included so that full syncs spend fewer credits, and the
// org, which says which org the connection reached and gives the record
// links and the default region. The Notification API's scope,
// ZohoCRM.notifications.ALL, joins here once a configuration can ask for
// notifications.
func connectScopes(infos []streamInfo) []string {
	scopes := []string{scopeOrg}
	for _, info := range infos {
		scopes = append(scopes, streamScopes(info)...)
		scopes = append(scopes, scopeBulk)
		if info.module == "Contacts" {
			// Contacts follow renames and deletions of their accounts.
			accounts, _ := findStream("accounts")
			scopes = append(scopes, accounts.moduleRd)
		}
	}
	slices.Sort(scopes)
	return slices.Compact(scopes)
}

// AuthorizeURL sends the customer to Zoho's consent page through the
// accounts server of the US data centre, as Multi-DC wants: Zoho sends
// every user on to their own data centre and names it in its answer.
func (s *Source) AuthorizeURL(_ context.Context,
	req contract.AuthorizeURLRequest) (contract.AuthorizeURLResponse, error) {
	cfg, err := parseConfig(req.Config)
	if err != nil {
		return contract.AuthorizeURLResponse{}, err
	}
	if req.Client.ID == "" {
		return contract.AuthorizeURLResponse{}, errors.New(
			"no Zoho client to connect with: the host's configuration must name the provider's server-based client (its " +
				"client id and secret from the Zoho API console)")
	}
	if u, err := url.Parse(req.RedirectURL); err != nil || !u.IsAbs() || u.Host == "" ||
		(u.Scheme != "https" && u.Scheme != "http") {
		return contract.AuthorizeURLResponse{}, fmt.Errorf("the redirect URL %q is not an absolute http(s) URL",
			req.RedirectURL)
	}
	if req.State == "" {
		return contract.AuthorizeURLResponse{}, errors.New(
			"no state given: the host must bind Zoho's answer to the browser that asked")
	}
	infos := streamInfos()
	if len(req.Streams) > 0 {
		streams := make([]contract.Stream, len(req.Streams))
		for i, name := range req.Streams {
			streams[i].Name = name
		}
		if infos, err = requestedStreams(streams); err != nil {
			return contract.AuthorizeURLResponse{}, err
		}
	}
	scopes := connectScopes(infos)
	q := url.Values{
		"scope":         {strings.Join(scopes, ",")},
		"client_id":     {req.Client.ID},
		"response_type": {"code"},
		// A refresh token, every time: runs go on without the customer.
		"access_type":  {"offline"},
		"prompt":       {"consent"},
		"redirect_uri": {req.RedirectURL},
		"state":        {req.State},
	}
	return contract.AuthorizeURLResponse{URL: cfg.authorizeBase() + "/oauth/v2/auth?" + q.Encode(), Scopes: scopes}, nil
}

// authorizeBase is where the consent starts: the US accounts server, or
// for tests accounts_url's.
func (c *config) authorizeBase() string {
	us, _ := findDC("us")
	if c.AccountsURL == "" {
		return "https://" + us.accounts
	}
	return strings.ReplaceAll(c.AccountsURL, "{dc}", us.code)
}

// answeringDC reads the customer's data centre from Zoho's answer. The
// code and the client's secret go to accounts-server, so it must be one of
// Zoho's accounts servers (the data centre table, or for tests
// accounts_url's), and location must name the same data centre.
func (c *config) answeringDC(server, location string) (dataCentre, error) {
	server = strings.TrimSuffix(server, "/")
	for _, dc := range dataCentres() {
		base, ok := c.accountsBase(dc)
		if !ok || !strings.EqualFold(server, base) {
			continue
		}
		if location != dc.code {
			return dataCentre{}, fmt.Errorf(
				"Zoho's answer names location %q but accounts server %s, which is data centre %q's: refusing it, nothing was "+
					"stored. Open the connect link again",
				location, server, dc.code)
		}
		return dc, nil
	}
	var known []string
	for _, dc := range dataCentres() {
		known = append(known, dc.accounts)
	}
	return dataCentre{}, fmt.Errorf(
		"Zoho's answer names accounts server %q, which is not one of Zoho's (%s): refusing to send the code and the "+
			"client's secret there, nothing was stored. Open the connect link again",
		server, strings.Join(known, ", "))
}

// authorizeWeb exchanges the code Zoho's consent page sent back, at the
// accounts server of the customer's data centre.
func (s *Source) authorizeWeb(ctx context.Context, cfg *config, req contract.AuthorizeRequest) (credentials, error) {
	p := req.Params
	switch e := p["error"]; {
	case e == "access_denied":
		return credentials{}, errors.New(
			"Zoho says the request was rejected: nothing was connected. Open the connect link again and press Accept on " +
				"Zoho's page to connect")
	case e != "":
		return credentials{}, fmt.Errorf(
			"Zoho refused the request (%s): nothing was connected. Open the connect link again; if it happens again, the "+
				"provider's Zoho client is not set up for this connect page",
			e)
	case req.Client == nil || req.Client.ID == "":
		return credentials{}, errors.New(
			"no Zoho client to exchange the code with: the host's configuration must name the provider's server-based client")
	case p["code"] == "":
		return credentials{}, errors.New("Zoho's answer carries no code: open the connect link again")
	}
	dc, err := cfg.answeringDC(p["accounts-server"], p["location"])
	if err != nil {
		return credentials{}, err
	}
	if cfg.Domain != "" && dc.code != cfg.dc.code {
		return credentials{}, fmt.Errorf(
			"the Zoho account that accepted lives in data centre %q, but this source's domain is %q: nothing was stored. "+
				"Connect with a Zoho user of the %s data centre, or remove domain from the configuration",
			dc.code, cfg.dc.code, cfg.dc.code)
	}
	cfg.dc, cfg.connect = dc, contract.ConnectWeb
	cfg.ClientID, cfg.ClientSecret = req.Client.ID, req.Client.Secret
	oc := oauthConfig(cfg, cfg.tokenURL())
	oc.RedirectURL = req.RedirectURL
	now := s.now()
	tok, err := oc.Exchange(context.WithValue(ctx, oauth2.HTTPClient, s.tokenHTTP()), p["code"])
	if err != nil {
		return credentials{}, webExchangeError(cfg, req.RedirectURL, err)
	}
	if tok.RefreshToken == "" {
		return credentials{}, errors.New(
			"Zoho answered without a refresh token, so runs could not go on without you: open the connect link again")
	}
	cr, err := newCredentials(cfg, tok, now)
	if err != nil {
		return credentials{}, err
	}
	cr.Connect, cr.ClientID = contract.ConnectWeb, req.Client.ID
	return cr, nil
}

// webExchangeError explains a refused exchange of a consent's code.
func webExchangeError(cfg *config, redirectURL string, err error) error {
	code, desc, ok := tokenErrorCode(err)
	switch {
	case !ok:
		return fmt.Errorf("exchanging Zoho's code at %s: %w", cfg.tokenURL(), err)
	case code == "invalid_code":
		return fmt.Errorf(
			"Zoho refused the code: it has expired (codes last a few minutes), was already used, or was issued to another "+
				"client than the provider's (%s). Nothing was stored; open the connect link again",
			cfg.ClientID)
	case code == "invalid_client" || code == "invalid_client_secret":
		return fmt.Errorf("%s; nothing was stored", providerClientRefused(cfg, code))
	case code == "invalid_redirect_uri":
		return fmt.Errorf(
			"Zoho refused the redirect URL %s: the exchange must name the one the consent was asked with, and it must be "+
				"registered for the client %s in the Zoho API console. Nothing was stored",
			redirectURL, cfg.ClientID)
	case isThrottled(code, desc):
		return fmt.Errorf(
			"Zoho is throttling token requests for the provider's client (%s): wait about ten minutes, then open the connect "+
				"link again",
			desc)
	default:
		return fmt.Errorf("exchanging Zoho's code: Zoho answered %q %s", code, desc)
	}
}

// providerClientRefused explains invalid_client for the provider's client.
func providerClientRefused(cfg *config, code string) string {
	return fmt.Sprintf(
		"Zoho's %s data centre refused the provider's Zoho client %s (%s): check its client secret in the host's "+
			"configuration, and that the client has Multi-DC enabled for %s in the Zoho API console",
		cfg.dc.code, cfg.ClientID, code, cfg.dc.code)
}

// authorizeForm exchanges the grant code of a customer's own Self Client,
// typed into the connect page's form.
func (s *Source) authorizeForm(ctx context.Context, cfg *config, params map[string]string) (credentials, error) {
	raw, err := json.Marshal(params)
	if err != nil {
		return credentials{}, fmt.Errorf("reading the form: %w", err)
	}
	f, err := pluginconfig.Decode[selfClientForm](raw)
	if err != nil {
		return credentials{}, fmt.Errorf("the Self Client form: %w", err)
	}
	f.ClientID, f.ClientSecret = strings.TrimSpace(f.ClientID), strings.TrimSpace(f.ClientSecret)
	switch {
	case f.ClientID == "":
		return credentials{}, errors.New(
			"client_id is empty: copy it from the Self Client's Client Secret tab in the Zoho API console")
	case f.ClientSecret == "":
		return credentials{}, errors.New(
			"client_secret is empty: copy it from the Self Client's Client Secret tab in the Zoho API console")
	}
	dc, ok := parseDC(f.DataCentre)
	if !ok {
		return credentials{}, fmt.Errorf(
			"data_centre %q is not a Zoho data centre: choose one of %s, or paste the address of your Zoho CRM, such as "+
				"https://crm.zoho.eu",
			f.DataCentre, strings.Join(dcCodes(), ", "))
	}
	if cfg.Domain != "" && dc.code != cfg.dc.code {
		return credentials{}, fmt.Errorf(
			"this source's domain is %q, but the form says data centre %q: choose %q, or remove domain from the configuration",
			cfg.dc.code, dc.code, cfg.dc.code)
	}
	cfg.dc, cfg.connect = dc, contract.ConnectForm
	cfg.ClientID, cfg.ClientSecret = f.ClientID, f.ClientSecret
	cr, err := authorize(ctx, cfg, s.tokenHTTP(), f.GrantCode, s.now(), formAdvice)
	if err != nil {
		return credentials{}, err
	}
	cr.Connect, cr.ClientID, cr.ClientSecret = contract.ConnectForm, f.ClientID, f.ClientSecret
	return cr, nil
}

// parseDC reads a data centre as a customer may give it: its code, or an
// address of Zoho's in it (crm.zoho.eu, https://accounts.zoho.com.au/...).
func parseDC(v string) (dataCentre, bool) {
	v = strings.ToLower(strings.TrimSpace(v))
	if dc, ok := findDC(v); ok {
		return dc, true
	}
	host, _, _ := strings.Cut(v, "/")
	if u, err := url.Parse(v); err == nil && u.Host != "" {
		host = u.Hostname()
	}
	for _, dc := range dataCentres() {
		// The accounts host less "accounts." is the data centre's domain
		// (zoho.eu, zoho.com.au, zohocloud.ca); its APIs have their own.
		for _, domain := range []string{strings.TrimPrefix(dc.accounts, "accounts."), "zohoapis." + dc.tld} {
			if host == domain || strings.HasSuffix(host, "."+domain) {
				return dc, true
			}
		}
	}
	return dataCentre{}, false
}

// Revoke asks the accounts server of the credentials' data centre to
// revoke the refresh token, and with it its access tokens.
func (s *Source) Revoke(ctx context.Context, req contract.RevokeRequest) (contract.RevokeResponse, error) {
	cfg, err := parseConfig(req.Config)
	if err != nil {
		return contract.RevokeResponse{}, err
	}
	cr, err := parseCredentials(req.Credentials, cfg)
	if err != nil {
		return contract.RevokeResponse{}, err
	}
	if err := cfg.useDC(cr); err != nil {
		return contract.RevokeResponse{}, err
	}
	base, _ := cfg.accountsBase(cfg.dc)
	ctx, cancel := context.WithTimeout(ctx, s.tune.tokenTimeout)
	defer cancel()
	// Zoho takes the token in the query; errors below never show the URL.
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost,
		base+"/oauth/v2/token/revoke?"+url.Values{"token": {cr.RefreshToken}}.Encode(), nil)
	if err != nil {
		return contract.RevokeResponse{}, fmt.Errorf("revoking the Zoho refresh token at %s: %w", base, err)
	}
	resp, err := s.tokenHTTP().Do(hreq)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return contract.RevokeResponse{}, fmt.Errorf("revoking the Zoho refresh token at %s: %w", base, err)
	}
	defer resp.Body.Close()
	var body struct {
		Error  string `json:"error"`
		Status string `json:"status"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = json.Unmarshal(b, &body)
	switch {
	case resp.StatusCode != http.StatusOK:
		return contract.RevokeResponse{}, fmt.Errorf("revoking the Zoho refresh token at %s: Zoho answered HTTP %d %s",
			base, resp.StatusCode, body.Error)
	case body.Error == "invalid_code" || body.Error == "invalid_token":
		s.log.Info("the refresh token was revoked already", "dc", cfg.dc.code)
		return contract.RevokeResponse{
			Message: fmt.Sprintf("Zoho (%s) no longer knew the refresh token: it was revoked already.", cfg.dc.code),
		}, nil
	case body.Error != "":
		return contract.RevokeResponse{}, fmt.Errorf("revoking the Zoho refresh token at %s: Zoho answered %q",
			base, body.Error)
	}
	s.log.Info("revoked", "dc", cfg.dc.code)
	return contract.RevokeResponse{
		Message: fmt.Sprintf("Zoho (%s) revoked the refresh token and its access tokens.", cfg.dc.code),
	}, nil
}

// orgTimeout bounds reading the org after a connection: the credentials
// are good whatever it answers, and the code that made them is spent.
const orgTimeout = 20 * time.Second

// connectedOrg reads the org that new credentials reach, for the message;
// a failure is said in the message, never fails the connection. What it
// read is kept in the credentials it returns (nil when unchanged), so the
// first run need not read the org again.
func (s *Source) connectedOrg(ctx context.Context, cfg *config, cr credentials) (orgFacts, json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, orgTimeout)
	defer cancel()
	ss, err := s.newSession(cfg, cr, newRunShared())
	if err != nil {
		return orgFacts{}, nil, err
	}
	org, err := s.org(ctx, ss)
	return org, ss.update(), err
}

var (
	_ contract.WebAuthorizer = (*Source)(nil)
	_ contract.Revoker       = (*Source)(nil)
)
