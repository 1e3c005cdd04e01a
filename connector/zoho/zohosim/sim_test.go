package zohosim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var allScopes = []string{
	"ZohoCRM.org.READ", "ZohoCRM.settings.modules.READ", "ZohoCRM.settings.fields.READ",
	"ZohoCRM.modules.contacts.READ", "ZohoCRM.modules.accounts.READ", "ZohoCRM.coql.READ", "ZohoCRM.bulk.READ",
}

type fixture struct {
	t     *testing.T
	sim   *Server
	srv   *httptest.Server
	clock *clock
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	c := &clock{t: time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)}
	if opts.Now == nil {
		opts.Now = c.Now
	}
	if opts.Contacts == 0 && opts.Accounts == 0 {
		opts.Contacts, opts.Accounts = 500, 50
	}
	sim, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return &fixture{t: t, sim: sim, srv: srv, clock: c}
}

type tokenResp struct {
	AccessToken      string `json:"access_token"`
	RefreshToken     string `json:"refresh_token"`
	APIDomain        string `json:"api_domain"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	Scope            string `json:"scope"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Status           string `json:"status"`
}

// tokenCall posts a form to an accounts server and decodes the answer.
func (f *fixture) tokenCall(dc string, form url.Values) (int, tokenResp) {
	f.t.Helper()
	resp, err := http.PostForm(f.srv.URL+"/accounts/"+dc+"/oauth/v2/token", form)
	if err != nil {
		f.t.Fatalf("token call: %v", err)
	}
	defer resp.Body.Close()
	var tr tokenResp
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		f.t.Fatalf("decoding token answer: %v", err)
	}
	return resp.StatusCode, tr
}

func (f *fixture) exchangeForm(code string) url.Values {
	return url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {f.sim.ClientID()},
		"client_secret": {f.sim.ClientSecret()},
		"code":          {code},
	}
}

func (f *fixture) refreshForm(rt string) url.Values {
	return url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {f.sim.ClientID()},
		"client_secret": {f.sim.ClientSecret()},
		"refresh_token": {rt},
	}
}

// login exchanges a fresh grant code for tokens with the given scopes.
func (f *fixture) login(scopes ...string) tokenResp {
	f.t.Helper()
	if len(scopes) == 0 {
		scopes = allScopes
	}
	status, tr := f.tokenCall(f.sim.DC(), f.exchangeForm(f.sim.IssueGrantCode(scopes...)))
	if status != http.StatusOK || tr.Error != "" {
		f.t.Fatalf("exchange: HTTP %d, error %q", status, tr.Error)
	}
	return tr
}

// call makes an API request; body may be nil, a string or a value to encode
// as JSON.
func (f *fixture) call(method, path, token string, body any, header ...string) (*http.Response, []byte) {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			f.t.Fatalf("encoding body: %v", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatalf("building request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Zoho-oauthtoken "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatalf("reading %s %s: %v", method, path, err)
	}
	return resp, data
}

func decode[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decoding %q: %v", truncate(data), err)
	}
	return v
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// wantError checks status and Zoho error code.
func wantError(t *testing.T, resp *http.Response, body []byte, status int, code string) apiError {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("HTTP %d, want %d: %s", resp.StatusCode, status, truncate(body))
	}
	e := decode[apiError](t, body)
	if e.Code != code || e.Status != "error" {
		t.Fatalf("error %q status %q, want %q: %s", e.Code, e.Status, code, truncate(body))
	}
	return e
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, opts := range []Options{{DC: "mars"}, {Contacts: -1}, {Accounts: maxGenerated + 1}} {
		if _, err := New(opts); err == nil {
			t.Errorf("New(%+v) succeeded", opts)
		}
	}
}

func TestGrantCodeExchange(t *testing.T) {
	f := newFixture(t, Options{})
	fresh := func() string { return f.sim.IssueGrantCode("ZohoCRM.modules.contacts.READ", "ZohoCRM.bulk.READ") }
	used := fresh()
	if status, tr := f.tokenCall("eu", f.exchangeForm(used)); status != 200 || tr.AccessToken == "" {
		t.Fatalf("first exchange: HTTP %d %+v", status, tr)
	}
	expired := fresh()
	f.clock.Advance(DefaultGrantCodeTTL + time.Second)
	wrongSecret := f.exchangeForm(fresh())
	wrongSecret.Set("client_secret", "nope")
	wrongID := f.exchangeForm(fresh())
	wrongID.Set("client_id", "1000.OTHER")

	tests := []struct {
		name      string
		dc        string
		form      url.Values
		wantError string
	}{
		{"used twice", "eu", f.exchangeForm(used), "invalid_code"},
		{"expired", "eu", f.exchangeForm(expired), "invalid_code"},
		{"unknown code", "eu", f.exchangeForm("1000.abc.def"), "invalid_code"},
		{"wrong secret", "eu", wrongSecret, "invalid_client"},
		{"wrong client id", "eu", wrongID, "invalid_client"},
		{"other data centre", "us", f.exchangeForm(fresh()), "invalid_client"},
		{"other data centre refresh", "in", f.refreshForm("1000.x.y"), "invalid_client"},
		{"unsupported grant", "eu",
			url.Values{"grant_type": {"password"}, "client_id": {f.sim.ClientID()}, "client_secret": {f.sim.ClientSecret()}},
			"unsupported_grant_type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, tr := f.tokenCall(tc.dc, tc.form)
			if status != http.StatusOK || tr.Error != tc.wantError || tr.AccessToken != "" {
				t.Errorf("HTTP %d %+v, want 200 with error %q", status, tr, tc.wantError)
			}
		})
	}

	t.Run("success carries the DC's api domain and the scopes", func(t *testing.T) {
		status, tr := f.tokenCall("eu", f.exchangeForm(fresh()))
		if status != 200 || tr.Error != "" {
			t.Fatalf("HTTP %d %+v", status, tr)
		}
		if tr.APIDomain != "https://www.zohoapis.eu" || tr.TokenType != "Bearer" || tr.ExpiresIn != 3600 ||
			tr.RefreshToken == "" {
			t.Errorf("token response %+v", tr)
		}
		if tr.Scope != "ZohoCRM.modules.contacts.READ ZohoCRM.bulk.READ" {
			t.Errorf("scope %q", tr.Scope)
		}
		if !strings.HasPrefix(tr.AccessToken, "1000.") || !strings.HasPrefix(tr.RefreshToken, "1000.") {
			t.Errorf("tokens not shaped like Zoho's: %q %q", tr.AccessToken, tr.RefreshToken)
		}
	})

	t.Run("a code sent to the wrong DC still works at the right one", func(t *testing.T) {
		code := fresh()
		if _, tr := f.tokenCall("au", f.exchangeForm(code)); tr.Error != "invalid_client" {
			t.Fatalf("wrong DC: %+v", tr)
		}
		if _, tr := f.tokenCall("eu", f.exchangeForm(code)); tr.Error != "" {
			t.Fatalf("right DC: %+v", tr)
		}
	})

	t.Run("unknown data centre path", func(t *testing.T) {
		resp, _ := f.call("POST", "/accounts/mars/oauth/v2/token", "", "")
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("HTTP %d", resp.StatusCode)
		}
	})
}

func TestOtherDCHostsTheOrg(t *testing.T) {
	f := newFixture(t, Options{DC: "us"})
	tr := f.login()
	if tr.APIDomain != "https://www.zohoapis.com" {
		t.Errorf("api_domain %q", tr.APIDomain)
	}
	if _, bad := f.tokenCall("eu", f.exchangeForm(f.sim.IssueGrantCode(allScopes...))); bad.Error != "invalid_client" {
		t.Errorf("eu server answered %+v", bad)
	}
}

func TestRefreshLimit(t *testing.T) {
	f := newFixture(t, Options{})
	tr := f.login()
	// The exchange issued one access token; nine refreshes fill the window.
	for i := 0; i < 9; i++ {
		f.clock.Advance(30 * time.Second)
		status, r := f.tokenCall("eu", f.refreshForm(tr.RefreshToken))
		if status != 200 || r.AccessToken == "" || r.RefreshToken != "" {
			t.Fatalf("refresh %d: HTTP %d %+v", i+1, status, r)
		}
		if r.Scope == "" || r.APIDomain != "https://www.zohoapis.eu" {
			t.Fatalf("refresh %d: %+v", i+1, r)
		}
	}
	status, r := f.tokenCall("eu", f.refreshForm(tr.RefreshToken))
	if status != http.StatusBadRequest || r.Error != "Access Denied" || r.Status != "failure" ||
		!strings.Contains(r.ErrorDescription, "too many requests") {
		t.Fatalf("11th token: HTTP %d %+v", status, r)
	}
	// The window rolls: the exchange's token is now older than ten minutes.
	f.clock.Advance(10*time.Minute - 9*30*time.Second)
	if status, r := f.tokenCall("eu", f.refreshForm(tr.RefreshToken)); status != 200 || r.AccessToken == "" {
		t.Fatalf("after the window: HTTP %d %+v", status, r)
	}
	if status, r := f.tokenCall("eu", f.refreshForm(tr.RefreshToken)); status != http.StatusBadRequest {
		t.Fatalf("window full again: HTTP %d %+v", status, r)
	}
}

// A refresh token keeps 30 live access tokens: the 31st deletes the
// oldest, which then gets INVALID_TOKEN while the others keep working.
func TestLiveAccessTokensPerRefreshToken(t *testing.T) {
	f := newFixture(t, Options{})
	tr := f.login()
	tokens := []string{tr.AccessToken}
	for len(tokens) < 31 {
		// Slower than ten a ten minutes, faster than the hour they live.
		f.clock.Advance(61 * time.Second)
		status, r := f.tokenCall("eu", f.refreshForm(tr.RefreshToken))
		if status != 200 || r.AccessToken == "" {
			t.Fatalf("token %d: HTTP %d %+v", len(tokens)+1, status, r)
		}
		tokens = append(tokens, r.AccessToken)
		if len(tokens) == 30 {
			if resp, body := f.call("GET", "/crm/v8/org", tokens[0], nil); resp.StatusCode != 200 {
				t.Fatalf("the oldest of 30 live tokens: HTTP %d %s", resp.StatusCode, body)
			}
		}
	}
	resp, body := f.call("GET", "/crm/v8/org", tokens[0], nil)
	wantError(t, resp, body, http.StatusUnauthorized, "INVALID_TOKEN")
	for i, tok := range tokens[1:] {
		if resp, body := f.call("GET", "/crm/v8/org", tok, nil); resp.StatusCode != 200 {
			t.Fatalf("token %d: HTTP %d %s", i+2, resp.StatusCode, body)
		}
	}
}

// At most five refresh tokens are issued a minute; the sixth grant code
// exchange is throttled until the minute has passed.
func TestRefreshTokensPerMinute(t *testing.T) {
	f := newFixture(t, Options{})
	for range 5 {
		f.clock.Advance(time.Second)
		f.login()
	}
	code := f.sim.IssueGrantCode(allScopes...)
	status, r := f.tokenCall("eu", f.exchangeForm(code))
	if status != http.StatusBadRequest || r.Error != "Access Denied" || r.RefreshToken != "" {
		t.Fatalf("sixth refresh token in a minute: HTTP %d %+v", status, r)
	}
	// A throttled exchange leaves the code unused.
	f.clock.Advance(time.Minute - 4*time.Second)
	if status, r := f.tokenCall("eu", f.exchangeForm(code)); status != 200 || r.RefreshToken == "" {
		t.Fatalf("a minute later: HTTP %d %+v", status, r)
	}
}

func TestAccessTokenLifetime(t *testing.T) {
	f := newFixture(t, Options{})
	tr := f.login()
	if resp, body := f.call("GET", "/crm/v8/org", tr.AccessToken, nil); resp.StatusCode != 200 {
		t.Fatalf("fresh token: HTTP %d %s", resp.StatusCode, body)
	}
	f.clock.Advance(time.Hour)
	resp, body := f.call("GET", "/crm/v8/org", tr.AccessToken, nil)
	wantError(t, resp, body, http.StatusUnauthorized, "INVALID_TOKEN")
	_, r := f.tokenCall("eu", f.refreshForm(tr.RefreshToken))
	if resp, body := f.call("GET", "/crm/v8/org", r.AccessToken, nil); resp.StatusCode != 200 {
		t.Fatalf("refreshed token: HTTP %d %s", resp.StatusCode, body)
	}
}

func TestRevoke(t *testing.T) {
	f := newFixture(t, Options{})
	tr := f.login()
	resp, err := http.Post(f.srv.URL+"/accounts/eu/oauth/v2/token/revoke?token="+url.QueryEscape(tr.RefreshToken), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("revoke: HTTP %d", resp.StatusCode)
	}
	if _, r := f.tokenCall("eu", f.refreshForm(tr.RefreshToken)); r.Error != "invalid_code" {
		t.Errorf("refresh after revoke: %+v", r)
	}
	apiResp, body := f.call("GET", "/crm/v8/org", tr.AccessToken, nil)
	wantError(t, apiResp, body, http.StatusUnauthorized, "INVALID_TOKEN")
}

// The CRM API answers at the org's API hosts, loopback and the hosts
// Options.APIHosts names; any other host is 400 INVALID_HOST, before the
// token is looked at. The accounts server is not the API.
func TestAPIHost(t *testing.T) {
	f := newFixture(t, Options{APIHosts: []string{"zoho-sim.internal"}})
	tr := f.login()
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"www.zohoapis.eu", true},
		{"sandbox.zohoapis.eu", true},
		{"developer.zohoapis.eu:443", true},
		{"localhost", true},
		{"[::1]:8080", true},
		{"zoho-sim.internal", true},
		{"crm.zoho.eu", false},
		{"www.zohoapis.com", false},
		{"accounts.zoho.eu", false},
		{"zohoapis.eu", false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			req, err := http.NewRequest("GET", f.srv.URL+"/crm/v8/org", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = tc.host
			req.Header.Set("Authorization", "Zoho-oauthtoken "+tr.AccessToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.ok {
				if resp.StatusCode != 200 {
					t.Errorf("HTTP %d %s", resp.StatusCode, truncate(body))
				}
				return
			}
			wantError(t, resp, body, http.StatusBadRequest, "INVALID_HOST")
		})
	}
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t, Options{})
	tr := f.login()
	t.Run("missing header", func(t *testing.T) {
		resp, body := f.call("GET", "/crm/v8/org", "", nil)
		wantError(t, resp, body, http.StatusUnauthorized, "INVALID_TOKEN")
	})
	t.Run("bearer scheme", func(t *testing.T) {
		resp, body := f.call("GET", "/crm/v8/org", "", nil, "Authorization", "Bearer "+tr.AccessToken)
		wantError(t, resp, body, http.StatusUnauthorized, "AUTHENTICATION_FAILURE")
	})
	t.Run("unknown token", func(t *testing.T) {
		resp, body := f.call("GET", "/crm/v8/org", "1000.nope.nope", nil)
		wantError(t, resp, body, http.StatusUnauthorized, "INVALID_TOKEN")
	})
	t.Run("revoked access tokens, refresh still works", func(t *testing.T) {
		f.sim.RevokeAccessTokens()
		resp, body := f.call("GET", "/crm/v8/org", tr.AccessToken, nil)
		wantError(t, resp, body, http.StatusUnauthorized, "INVALID_TOKEN")
		_, r := f.tokenCall("eu", f.refreshForm(tr.RefreshToken))
		if resp, body := f.call("GET", "/crm/v8/org", r.AccessToken, nil); resp.StatusCode != 200 {
			t.Fatalf("HTTP %d %s", resp.StatusCode, body)
		}
	})
}

func TestScopes(t *testing.T) {
	f := newFixture(t, Options{})
	coql := map[string]string{
		"select_query": "select Last_Name from Contacts where (Modified_Time >= '2000-01-01T00:00:00+00:00') order by " +
			"Modified_Time asc, id asc limit 5",
	}
	bulk := map[string]any{
		"query": map[string]any{"module": map[string]string{"api_name": "Accounts"}, "fields": []string{"Account_Name"}},
	}
	tests := []struct {
		name    string
		scopes  []string
		method  string
		path    string
		body    any
		missing string // "" when the call must succeed
	}{
		{"org", []string{"ZohoCRM.modules.contacts.READ"}, "GET", "/crm/v8/org", nil, "ZohoCRM.org.READ"},
		{"org granted", []string{"ZohoCRM.org.READ"}, "GET", "/crm/v8/org", nil, ""},
		{"org via ALL", []string{"ZohoCRM.org.ALL"}, "GET", "/crm/v8/org", nil, ""},
		{"modules", []string{"ZohoCRM.settings.fields.READ"}, "GET", "/crm/v8/settings/modules", nil,
			"ZohoCRM.settings.modules.READ"},
		{"fields", []string{"ZohoCRM.settings.modules.READ"}, "GET", "/crm/v8/settings/fields?module=Contacts", nil,
			"ZohoCRM.settings.fields.READ"},
		{"fields via settings.ALL", []string{"ZohoCRM.settings.ALL"}, "GET", "/crm/v8/settings/fields?module=Contacts", nil,
			""},
		{"contacts with accounts scope", []string{"ZohoCRM.modules.accounts.READ"}, "GET",
			"/crm/v8/Contacts?fields=Last_Name", nil, "ZohoCRM.modules.contacts.READ"},
		{"contacts via modules.ALL", []string{"ZohoCRM.modules.ALL"}, "GET", "/crm/v8/Contacts?fields=Last_Name", nil, ""},
		{"scope names ignore case", []string{"zohocrm.modules.contacts.read"}, "GET", "/crm/v8/Contacts?fields=Last_Name",
			nil, ""},
		{"deleted accounts", []string{"ZohoCRM.modules.contacts.READ"}, "GET", "/crm/v8/Accounts/deleted?type=all", nil,
			"ZohoCRM.modules.accounts.READ"},
		{"coql without coql scope", []string{"ZohoCRM.modules.contacts.READ"}, "POST", "/crm/v8/coql", coql,
			"ZohoCRM.coql.READ"},
		{"coql without module scope", []string{"ZohoCRM.coql.READ"}, "POST", "/crm/v8/coql", coql,
			"ZohoCRM.modules.contacts.READ"},
		{"coql granted", []string{"ZohoCRM.coql.READ", "ZohoCRM.modules.contacts.READ"}, "POST", "/crm/v8/coql", coql, ""},
		{"bulk without bulk scope", []string{"ZohoCRM.modules.accounts.READ"}, "POST", "/crm/bulk/v8/read", bulk,
			"ZohoCRM.bulk.READ"},
		{"bulk without module scope", []string{"ZohoCRM.bulk.READ", "ZohoCRM.modules.contacts.READ"}, "POST",
			"/crm/bulk/v8/read", bulk, "ZohoCRM.modules.accounts.READ"},
		{"bulk granted", []string{"ZohoCRM.bulk.READ", "ZohoCRM.modules.accounts.READ"}, "POST", "/crm/bulk/v8/read", bulk,
			""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A grant each, slower than five refresh tokens a minute.
			f.clock.Advance(12 * time.Second)
			tr := f.login(tc.scopes...)
			resp, body := f.call(tc.method, tc.path, tr.AccessToken, tc.body)
			if tc.missing == "" {
				if resp.StatusCode >= 300 {
					t.Fatalf("HTTP %d: %s", resp.StatusCode, truncate(body))
				}
				return
			}
			e := wantError(t, resp, body, http.StatusUnauthorized, "OAUTH_SCOPE_MISMATCH")
			if e.Details["scope"] != tc.missing {
				t.Errorf("details %v, want scope %q", e.Details, tc.missing)
			}
		})
	}
}

func TestScopeCovers(t *testing.T) {
	tests := []struct {
		granted, needed string
		want            bool
	}{
		{"ZohoCRM.modules.contacts.READ", "ZohoCRM.modules.contacts.READ", true},
		{"ZohoCRM.modules.READ", "ZohoCRM.modules.contacts.READ", true},
		{"ZohoCRM.modules.ALL", "ZohoCRM.modules.contacts.READ", true},
		{"ZohoCRM.modules.contacts.ALL", "ZohoCRM.modules.contacts.READ", true},
		{"ZohoCRM.modules.contacts.CREATE", "ZohoCRM.modules.contacts.READ", false},
		{"ZohoCRM.modules.accounts.READ", "ZohoCRM.modules.contacts.READ", false},
		{"ZohoCRM.settings.READ", "ZohoCRM.org.READ", false},
		{"ZohoBooks.modules.ALL", "ZohoCRM.modules.contacts.READ", false},
		{"ZohoCRM.modules.contacts.READ", "ZohoCRM.modules.READ", false},
	}
	for _, tc := range tests {
		if got := scopeCovers(tc.granted, tc.needed); got != tc.want {
			t.Errorf("scopeCovers(%q, %q) = %v, want %v", tc.granted, tc.needed, got, tc.want)
		}
	}
}
