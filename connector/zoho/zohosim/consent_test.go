package zohosim

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const (
	webID       = "1000.WEBCLIENT000000000000000000000"
	webSecret   = "web-client-secret"
	webRedirect = "https://replicator.example/connect/callback"
)

func newWebFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	opts.WebClients = append(
		opts.WebClients,
		WebClient{
			Name:         "Replicator",
			ID:           webID,
			Secret:       webSecret,
			RedirectURIs: []string{webRedirect, "http://127.0.0.1:9/cb"},
		},
		WebClient{Name: "Other app", ID: "1000.OTHERWEB", Secret: "other-secret", RedirectURIs: []string{webRedirect}},
	)
	return newFixture(t, opts)
}

// authURL is the authorization request a client sends the browser to,
// with changes applied (an empty value removes the parameter).
func (f *fixture) authURL(dc string, changes map[string]string) string {
	q := url.Values{
		"scope":         {"ZohoCRM.modules.contacts.READ,ZohoCRM.org.READ"},
		"client_id":     {webID},
		"response_type": {"code"},
		"access_type":   {"offline"},
		"redirect_uri":  {webRedirect},
		"state":         {"st-123"},
		"prompt":        {"consent"},
	}
	for k, v := range changes {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return f.srv.URL + "/accounts/" + dc + "/oauth/v2/auth?" + q.Encode()
}

// consent answers the consent page of an authorization request.
func (f *fixture) consent(authURL string, accept bool) url.Values {
	f.t.Helper()
	back, err := Consent(context.Background(), authURL, accept)
	if err != nil {
		f.t.Fatalf("consent: %v", err)
	}
	if got := back.Scheme + "://" + back.Host + back.Path; got != webRedirect {
		f.t.Fatalf("sent back to %s, want %s", got, webRedirect)
	}
	return back.Query()
}

func (f *fixture) webExchange(dc, code string, changes map[string]string) tokenResp {
	f.t.Helper()
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {webID},
		"client_secret": {webSecret},
		"redirect_uri":  {webRedirect},
		"code":          {code},
	}
	for k, v := range changes {
		form.Set(k, v)
	}
	status, tr := f.tokenCall(dc, form)
	if status != http.StatusOK {
		f.t.Fatalf("exchange: HTTP %d %+v", status, tr)
	}
	return tr
}

// A user of the org's data centre consents through the Multi-DC
// authorization endpoint at accounts.zoho.com: the redirect names their
// data centre and its accounts server, where the code is exchanged.
func TestServerBasedFlow(t *testing.T) {
	f := newWebFixture(t, Options{DC: "eu"})
	back := f.consent(f.authURL("us", nil), true)
	if back.Get("state") != "st-123" || back.Get("location") != "eu" || back.Get("code") == "" || back.Get("error") != "" {
		t.Fatalf("redirect query %v", back)
	}
	if want := f.srv.URL + "/accounts/eu"; back.Get("accounts-server") != want {
		t.Fatalf("accounts-server %q, want %q", back.Get("accounts-server"), want)
	}
	code := back.Get("code")
	if tr := f.webExchange("us", code, nil); tr.Error != "invalid_code" {
		t.Errorf("exchange at another data centre: %+v, want invalid_code", tr)
	}
	tr := f.webExchange("eu", code, nil)
	if tr.Error != "" || tr.RefreshToken == "" || tr.AccessToken == "" || tr.APIDomain != "https://www.zohoapis.eu" {
		t.Fatalf("exchange: %+v", tr)
	}
	if tr.Scope != "ZohoCRM.modules.contacts.READ ZohoCRM.org.READ" {
		t.Errorf("scope %q", tr.Scope)
	}
	resp, body := f.call("GET", "/crm/v8/org", tr.AccessToken, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"domain_name":"`+f.sim.OrgDomainName()+`"`) {
		t.Fatalf("org with the web client's token: HTTP %d %s", resp.StatusCode, truncate(body))
	}
	refresh := url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {webID},
		"client_secret": {webSecret},
		"refresh_token": {tr.RefreshToken},
	}
	if _, r := f.tokenCall("eu", refresh); r.Error != "" || r.AccessToken == "" {
		t.Errorf("refresh: %+v", r)
	}
	if _, r := f.tokenCall("eu", f.refreshForm(tr.RefreshToken)); r.Error != "invalid_code" {
		t.Errorf("the web client's refresh token used by the Self Client: %+v, want invalid_code", r)
	}
	if tr := f.webExchange("eu", code, nil); tr.Error != "invalid_code" {
		t.Errorf("a code used twice: %+v", tr)
	}
}

func TestServerBasedExchangeErrors(t *testing.T) {
	f := newWebFixture(t, Options{})
	for _, tc := range []struct {
		name    string
		changes map[string]string
		want    string
	}{
		{"another redirect URI", map[string]string{"redirect_uri": "http://127.0.0.1:9/cb"}, "invalid_redirect_uri"},
		{"no redirect URI", map[string]string{"redirect_uri": ""}, "invalid_redirect_uri"},
		{"another client's code", map[string]string{"client_id": "1000.OTHERWEB", "client_secret": "other-secret"},
			"invalid_code"},
		{"the Self Client", map[string]string{"client_id": DefaultClientID, "client_secret": DefaultClientSecret},
			"invalid_code"},
		{"a wrong secret", map[string]string{"client_secret": "nope"}, "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := f.consent(f.authURL("us", nil), true).Get("code")
			if tr := f.webExchange("eu", code, tc.changes); tr.Error != tc.want || tr.AccessToken != "" {
				t.Fatalf("%+v, want error %s", tr, tc.want)
			}
		})
	}
}

// access_type=online gives no refresh token; offline gives one the first
// time, and again only with prompt=consent.
func TestServerBasedAccessType(t *testing.T) {
	f := newWebFixture(t, Options{})
	get := func(changes map[string]string) tokenResp {
		t.Helper()
		tr := f.webExchange("eu", f.consent(f.authURL("us", changes), true).Get("code"), nil)
		if tr.Error != "" || tr.AccessToken == "" {
			t.Fatalf("exchange: %+v", tr)
		}
		return tr
	}
	if tr := get(map[string]string{"access_type": "online"}); tr.RefreshToken != "" {
		t.Error("access_type=online gave a refresh token")
	}
	if tr := get(map[string]string{"prompt": ""}); tr.RefreshToken == "" {
		t.Error("the first offline consent gave no refresh token")
	}
	if tr := get(map[string]string{"prompt": ""}); tr.RefreshToken != "" {
		t.Error("a second offline consent without prompt=consent gave a refresh token")
	}
	if tr := get(nil); tr.RefreshToken == "" {
		t.Error("prompt=consent gave no refresh token")
	}
}

func TestConsentRejectedAndRefused(t *testing.T) {
	f := newWebFixture(t, Options{})
	back := f.consent(f.authURL("us", nil), false)
	if back.Get("error") != "access_denied" || back.Get("state") != "st-123" || back.Get("code") != "" {
		t.Errorf("Reject sent back %v", back)
	}
	back = f.consent(f.authURL("us", map[string]string{"response_type": "token"}), true)
	if back.Get("error") != "unsupported_response_type" || back.Get("state") != "st-123" {
		t.Errorf("response_type=token sent back %v", back)
	}
	back = f.consent(f.authURL("us", map[string]string{"scope": ""}), true)
	if back.Get("error") != "invalid_scope" {
		t.Errorf("no scope sent back %v", back)
	}
	for name, tc := range map[string]struct {
		changes map[string]string
		want    string
	}{
		"unregistered redirect URI": {map[string]string{"redirect_uri": "https://evil.example/cb"}, "Invalid Redirect Uri"},
		"unknown client":            {map[string]string{"client_id": "1000.NOBODY"}, "Invalid Client"},
		"the Self Client":           {map[string]string{"client_id": DefaultClientID}, "Invalid Client"},
	} {
		back, err := Consent(context.Background(), f.authURL("us", tc.changes), true)
		if back != nil || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: sent to %v, error %v; want an error page %q and no redirect", name, back, err, tc.want)
		}
	}
}

// A consent page is answered once.
func TestConsentAnsweredOnce(t *testing.T) {
	f := newWebFixture(t, Options{})
	noRedirect := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequest(http.MethodGet, f.authURL("us", nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	page, _, err := browse(noRedirect, req)
	if err != nil {
		t.Fatal(err)
	}
	form, err := consentForm(page)
	if err != nil {
		t.Fatal(err)
	}
	answer := func() *http.Response {
		r, err := noRedirect.PostForm(f.srv.URL+form.action, url.Values{"consent_id": {form.id}, "approve": {"accept"}})
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r
	}
	if r := answer(); r.StatusCode != http.StatusFound {
		t.Fatalf("first answer: HTTP %d", r.StatusCode)
	}
	if r := answer(); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("second answer: HTTP %d, want 400", r.StatusCode)
	}
}

func TestAdminRegistersAWebClient(t *testing.T) {
	f := newFixture(t, Options{})
	resp, body := f.call("POST",
		"/admin/web-clients", "", map[string]any{"name": "Portal", "redirect_uris": []string{webRedirect}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d %s", resp.StatusCode, body)
	}
	c := decode[map[string]string](t, body)
	q := url.Values{
		"scope":         {"ZohoCRM.org.READ"},
		"client_id":     {c["client_id"]},
		"response_type": {"code"},
		"redirect_uri":  {webRedirect},
		"state":         {"s"},
	}
	back, err := Consent(context.Background(), f.srv.URL+"/accounts/us/oauth/v2/auth?"+q.Encode(), true)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {c["client_id"]},
		"client_secret": {c["client_secret"]},
		"redirect_uri":  {webRedirect},
		"code":          {back.Query().Get("code")},
	}
	if _, tr := f.tokenCall("eu", form); tr.Error != "" || tr.AccessToken == "" || tr.RefreshToken != "" {
		t.Fatalf("exchange of an online consent: %+v", tr)
	}
	if resp, _ := f.call(
		"POST", "/admin/web-clients", "", map[string]any{"redirect_uris": []string{"/relative"}},
	); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a relative redirect URI: HTTP %d", resp.StatusCode)
	}
}
