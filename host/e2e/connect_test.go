//go:build unix

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
	"github.com/replicatorhq/replicator/internal/logbuf"
)

// The provider's server-based Zoho client, and the portal API's token.
const (
	webClientID  = "1000.E2EPROVIDERWEBCLIENT"
	webSecret    = "e2e-provider-web-client-secret"
	portalToken  = "e2e-portal-api-token-5c1e9a"
	connectHours = "1h"
)

// connectFixture is replicator run serving connect pages and the portal
// API for the CRM fixture, with the provider's web client registered in
// zohosim for the host's callback.
type connectFixture struct {
	*crmFixture
	log  *logbuf.Buffer
	base string // the console's address, the public URL on loopback
}

func newConnectFixture(t *testing.T, opts zohosim.Options) *connectFixture {
	t.Helper()
	f := newCRMFixture(t, opts)
	t.Setenv("REPLICATOR_API_TOKEN", portalToken)
	t.Setenv("ZOHO_WEB_SECRET", webSecret)
	cfg, err := os.ReadFile(f.w.path("replicator.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	// Hourly, so that only a connection or "Sync now" runs it.
	hcl := strings.Replace(string(cfg), `streams     = ["contacts", "accounts"]`,
		`streams     = ["contacts", "accounts"]
  interval    = "1h"`, 1)
	hcl += fmt.Sprintf(`
host {
  listen    = "127.0.0.1:0"
  api_token = env("REPLICATOR_API_TOKEN")
  connect "zoho" {
    client_id     = %q
    client_secret = env("ZOHO_WEB_SECRET")
  }
}
`, webClientID)
	f.w.write("replicator.hcl", hcl)
	f.w.mustRun("init")
	_, log := f.w.startRun()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replicator run:\n%s", log.String())
		}
	})
	base := consoleURL(t, log)
	// Registered once the callback's address is known: the console's,
	// as public_url is not set for a host on loopback.
	if err := f.sim.RegisterWebClient(zohosim.WebClient{
		Name: "Provider", ID: webClientID, Secret: webSecret, RedirectURIs: []string{base + "/connect/callback"},
	}); err != nil {
		t.Fatal(err)
	}
	return &connectFixture{crmFixture: f, log: log, base: base}
}

// apiResult is an answer of the portal API.
type apiResult struct {
	status int
	body   map[string]any
	raw    string
}

// api calls the portal API with token ("" for none).
func (f *connectFixture) api(method, path, token, body string) apiResult {
	f.t.Helper()
	req, err := http.NewRequestWithContext(f.t.Context(), method, f.base+"/api/v1"+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.http.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := apiResult{status: resp.StatusCode, raw: string(b)}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Fatalf("%s %s: Content-Type %q, want application/json: %s", method, path, ct, b)
	}
	if err := json.Unmarshal(b, &r.body); err != nil {
		f.t.Fatalf("%s %s: %v: %s", method, path, err, b)
	}
	return r
}

// mustAPI calls the portal API with its token and expects status.
func (f *connectFixture) mustAPI(method, path, body string, status int) map[string]any {
	f.t.Helper()
	r := f.api(method, path, portalToken, body)
	if r.status != status {
		f.t.Fatalf("%s %s: HTTP %d, want %d: %s", method, path, r.status, status, r.raw)
	}
	return r.body
}

// link makes a connect link for the Zoho source through the API.
func (f *connectFixture) link(expiresIn string) string {
	f.t.Helper()
	body := f.mustAPI("POST", "/sources/source.zoho.crm/connect-links", `{"expires_in":"`+expiresIn+`"}`, http.StatusCreated)
	link, _ := body["url"].(string)
	if !strings.HasPrefix(link, f.base+"/connect/") {
		f.t.Fatalf("connect link %q is not under %s/connect/", link, f.base)
	}
	return link
}

// connected says whether the Zoho source has stored credentials.
func (f *connectFixture) connected() bool {
	f.t.Helper()
	body := f.mustAPI("GET", "/sources", "", http.StatusOK)
	for _, s := range body["sources"].([]any) {
		if s := s.(map[string]any); s["ref"] == "source.zoho.crm" {
			return s["connected"] == true
		}
	}
	f.t.Fatal("GET /sources does not list source.zoho.crm")
	return false
}

// waitRun waits for a run of the pipeline started after since to end,
// and returns it.
func (f *connectFixture) waitRun(since time.Time) map[string]any {
	f.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		runs := f.mustAPI("GET", "/pipelines/"+crmPipeline+"/runs?limit=1", "", http.StatusOK)["runs"].([]any)
		if len(runs) > 0 {
			run := runs[0].(map[string]any)
			started, err := time.Parse(time.RFC3339Nano, run["started"].(string))
			if err != nil {
				f.t.Fatal(err)
			}
			if started.After(since) && run["outcome"] != "running" {
				return run
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	f.t.Fatal("no run of the pipeline ended within 3 minutes")
	return nil
}

// customer is a browser without JavaScript: it keeps cookies and stops at
// every redirect, as a test needs to see where it is sent.
type customer struct {
	t    *testing.T
	http *http.Client
}

func newCustomer(t *testing.T) *customer {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &customer{t: t, http: &http.Client{
		Jar: jar, Timeout: 3 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is an answer to the customer.
type page struct {
	status   int
	body     string
	location string
}

func (c *customer) do(req *http.Request) page {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, body: string(b), location: resp.Header.Get("Location")}
}

func (c *customer) get(u string) page {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), "GET", u, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

func (c *customer) post(u string, form url.Values) page {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), "POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// open opens a connect link that must show its page, and returns the
// page's CSRF token.
func (c *customer) open(link string) (page, string) {
	c.t.Helper()
	p := c.get(link)
	m := csrfField.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		c.t.Fatalf("opening the connect link: HTTP %d\n%s", p.status, p.body)
	}
	return p, m[1]
}

// leave opens a connect link, presses "Connect with Zoho" and returns
// where the host sends the browser: Zoho's consent page.
func (c *customer) leave(link string) string {
	c.t.Helper()
	c.open(link)
	p := c.get(link + "/web")
	if p.status != http.StatusSeeOther || p.location == "" {
		c.t.Fatalf("Connect with Zoho: HTTP %d, want a redirect to Zoho\n%s", p.status, p.body)
	}
	return p.location
}

// consent answers Zoho's consent page with Accept, and returns where
// Zoho sends the browser back to.
func consent(t *testing.T, authURL string) *url.URL {
	t.Helper()
	back, err := zohosim.Consent(t.Context(), authURL, true)
	if err != nil {
		t.Fatalf("consenting at %s: %v", authURL, err)
	}
	return back
}

// wantRefused checks that a page refuses with a message holding want.
func wantRefused(t *testing.T, what string, p page, status int, want string) {
	t.Helper()
	if p.status != status || !strings.Contains(p.body, want) {
		t.Errorf("%s: HTTP %d, want %d with %q:\n%s", what, p.status, status, want, p.body)
	}
}

// TestConnectLinkWithZoho: a customer opens a connect link the portal
// made, sees the connection and the scopes, consents in Zoho, and comes
// back to the org and the streams; the pipeline's first run copies the
// contacts, each with a record link built from the org. The link then
// works no more, and revoking forgets the credentials.
func TestConnectLinkWithZoho(t *testing.T) {
	f := newConnectFixture(t, zohosim.Options{Contacts: 40, Accounts: 8, Seed: 21, DC: "eu"})
	if f.connected() {
		t.Fatal("the source is connected before any connection")
	}
	link := f.link("72h")
	c := newCustomer(t)
	p, _ := c.open(link)
	for _, want := range []string{"source.zoho.crm", crmPipeline, "Connect with Zoho", "ZohoCRM.modules.contacts.READ", "Use your own Self Client", `type="password"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the connect page lacks %q:\n%s", want, p.body)
		}
	}
	authURL := c.leave(link)
	if !strings.Contains(authURL, "client_id="+webClientID) || strings.Contains(authURL, webSecret) {
		t.Fatalf("the consent URL %s does not name the provider's client, or shows its secret", authURL)
	}
	back := consent(t, authURL)
	since := time.Now()
	if back.Query().Get("location") != "eu" {
		t.Fatalf("Zoho's answer %s is not from the EU data centre", back)
	}
	done := c.get(back.String())
	if done.status != http.StatusOK {
		t.Fatalf("coming back from Zoho: HTTP %d\n%s", done.status, done.body)
	}
	for _, want := range []string{"Connected to the Zoho CRM org", "data centre eu", "contacts: readable", "accounts: readable", "first run of"} {
		if !strings.Contains(done.body, want) {
			t.Errorf("the page after connecting lacks %q:\n%s", want, done.body)
		}
	}
	if strings.Contains(done.body, webSecret) || strings.Contains(f.log.String(), webSecret) {
		t.Error("the provider's client secret was shown or logged")
	}
	if !f.connected() {
		t.Fatal("the source is not connected after the connection")
	}
	run := f.waitRun(since)
	if run["outcome"] != "succeeded" {
		t.Fatalf("the first run after connecting: %v", run)
	}
	f.checkRecordLinks()
	// Later runs refresh the access token with the provider's client,
	// which the host passes: the credentials hold no secret.
	f.sim.RevokeAccessTokens()
	since = time.Now()
	f.mustAPI("POST", "/pipelines/"+crmPipeline+"/sync", "", http.StatusAccepted)
	if run := f.waitRun(since); run["outcome"] != "succeeded" {
		t.Fatalf("a run after the access token was revoked: %v", run)
	}

	// The link connected once: it opens no more, on this browser or another.
	wantRefused(t, "the used link", c.get(link), http.StatusGone, "works only once")
	wantRefused(t, "the used link in another browser", newCustomer(t).get(link), http.StatusGone, "works only once")

	// Revoking asks Zoho, then forgets the credentials.
	body := f.mustAPI("POST", "/sources/source.zoho.crm/revoke", "", http.StatusOK)
	if msg, _ := body["message"].(string); !strings.Contains(msg, "revoked the refresh token") || !strings.Contains(msg, "forgotten") {
		t.Errorf("revoke's message: %q", msg)
	}
	if f.connected() {
		t.Error("the source is still connected after revoking")
	}
	r := f.api("POST", "/sources/source.zoho.crm/revoke", portalToken, "")
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.raw, "no stored credentials") {
		t.Errorf("revoking again: HTTP %d %s", r.status, r.raw)
	}
	// A new link reconnects it.
	c2 := newCustomer(t)
	link2 := f.link("1h")
	if done := c2.get(consent(t, c2.leave(link2)).String()); done.status != http.StatusOK {
		t.Fatalf("reconnecting: HTTP %d\n%s", done.status, done.body)
	}
	if !f.connected() {
		t.Error("the source is not connected after reconnecting")
	}
}

// TestConnectLinkRefusals: what must not connect is refused with what to
// do, and stores nothing.
func TestConnectLinkRefusals(t *testing.T) {
	f := newConnectFixture(t, zohosim.Options{Contacts: 5, Accounts: 2, Seed: 22, DC: "eu"})
	link := f.link("72h")

	t.Run("tampered", func(t *testing.T) {
		// The same link for another source, its signature kept.
		token := strings.TrimPrefix(link, f.base+"/connect/")
		payload, sig, _ := strings.Cut(token, ".")
		b, err := base64.RawURLEncoding.DecodeString(payload)
		if err != nil {
			t.Fatal(err)
		}
		other := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(b), "source.zoho.crm", "source.zoho.xyz", 1)))
		wantRefused(t, "a tampered link", newCustomer(t).get(f.base+"/connect/"+other+"."+sig), http.StatusForbidden, "not one the provider made")
		wantRefused(t, "a cut link", newCustomer(t).get(link[:len(link)-4]), http.StatusForbidden, "not one the provider made")
	})
	t.Run("expired", func(t *testing.T) {
		short := f.link("1s")
		time.Sleep(2 * time.Second)
		wantRefused(t, "an expired link", newCustomer(t).get(short), http.StatusGone, "has expired")
	})
	t.Run("state from another browser", func(t *testing.T) {
		authURL := newCustomer(t).leave(link)
		back := consent(t, authURL)
		other := newCustomer(t)
		other.open(link)
		wantRefused(t, "an answer in another browser", other.get(back.String()), http.StatusForbidden, "another browser")
		wantRefused(t, "an answer without a browser", newCustomer(t).get(back.String()), http.StatusForbidden, "another browser")
	})
	t.Run("state altered", func(t *testing.T) {
		c := newCustomer(t)
		back := consent(t, c.leave(link))
		q := back.Query()
		q.Set("state", q.Get("state")+"x")
		back.RawQuery = q.Encode()
		wantRefused(t, "an altered state", c.get(back.String()), http.StatusBadRequest, "state is missing or altered")
	})
	t.Run("accounts server outside Zoho", func(t *testing.T) {
		c := newCustomer(t)
		back := consent(t, c.leave(link))
		q := back.Query()
		q.Set("accounts-server", "https://accounts.zoho.example.net")
		back.RawQuery = q.Encode()
		wantRefused(t, "an accounts server outside Zoho's", c.get(back.String()), http.StatusUnprocessableEntity, "which is not one of Zoho&#39;s")
	})
	t.Run("code of another client", func(t *testing.T) {
		other := zohosim.WebClient{Name: "Other", ID: "1000.OTHERCLIENT", Secret: "other-secret", RedirectURIs: []string{f.base + "/connect/callback"}}
		if err := f.sim.RegisterWebClient(other); err != nil {
			t.Fatal(err)
		}
		c := newCustomer(t)
		authURL := strings.Replace(c.leave(link), "client_id="+url.QueryEscape(webClientID), "client_id="+other.ID, 1)
		wantRefused(t, "a code of another client", c.get(consent(t, authURL).String()), http.StatusUnprocessableEntity, "issued to another client")
	})
	t.Run("rejected at Zoho", func(t *testing.T) {
		c := newCustomer(t)
		back, err := zohosim.Consent(t.Context(), c.leave(link), false)
		if err != nil {
			t.Fatal(err)
		}
		wantRefused(t, "a rejected consent", c.get(back.String()), http.StatusUnprocessableEntity, "press Accept")
	})
	t.Run("form without the page's token", func(t *testing.T) {
		c := newCustomer(t)
		c.open(link)
		wantRefused(t, "a form without its token", c.post(link+"/form", url.Values{"csrf": {"0123"}}), http.StatusForbidden, "Open your connect link again")
	})
	if f.connected() {
		t.Fatal("a refused connection stored credentials")
	}
	for _, run := range f.mustAPI("GET", "/pipelines/"+crmPipeline+"/runs", "", http.StatusOK)["runs"].([]any) {
		if run.(map[string]any)["outcome"] == "succeeded" {
			t.Fatalf("a run succeeded without a connection: %v", run)
		}
	}
}

// TestConnectLinkSelfClient: a customer with their own Self Client fills
// in the form; a used code is diagnosed as the console does.
func TestConnectLinkSelfClient(t *testing.T) {
	f := newConnectFixture(t, zohosim.Options{Contacts: 20, Accounts: 4, Seed: 23, DC: "eu"})
	link := f.link("72h")
	c := newCustomer(t)
	_, csrf := c.open(link)
	form := url.Values{
		"csrf": {csrf}, "client_id": {f.sim.ClientID()}, "client_secret": {f.sim.ClientSecret()},
		"data_centre": {"https://crm.zoho.eu"}, "grant_code": {"1000.used-or-unknown-code"},
	}
	p := c.post(link+"/form", form)
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "already used") {
		t.Fatalf("a bad grant code: HTTP %d\n%s", p.status, p.body)
	}
	if strings.Contains(p.body, f.sim.ClientSecret()) || !strings.Contains(p.body, f.sim.ClientID()) {
		t.Error("the form shown again shows the secret, or lost the client id")
	}
	if f.connected() {
		t.Fatal("a refused grant code stored credentials")
	}
	form.Set("grant_code", f.sim.IssueGrantCode(zohoScopes...))
	since := time.Now()
	p = c.post(link+"/form", form)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Connected to the Zoho CRM org") {
		t.Fatalf("the Self Client form: HTTP %d\n%s", p.status, p.body)
	}
	if run := f.waitRun(since); run["outcome"] != "succeeded" {
		t.Fatalf("the first run after connecting: %v", run)
	}
	wantRefused(t, "the used link", c.get(link), http.StatusGone, "works only once")
}

// TestPortalAPI: every endpoint of the portal API, its token and its errors.
func TestPortalAPI(t *testing.T) {
	f := newConnectFixture(t, zohosim.Options{Contacts: 10, Accounts: 2, Seed: 24, DC: "eu"})
	for _, token := range []string{"", "wrong-token-of-the-same-length", "Basic " + portalToken} {
		r := f.api("GET", "/pipelines", token, "")
		if r.status != http.StatusUnauthorized || r.body["error"] == nil {
			t.Errorf("token %q: HTTP %d %s, want 401 with an error", token, r.status, r.raw)
		}
	}
	// The run at start, due as the pipeline never ran, fails for want of
	// credentials; Sync now while it is underway would be refused.
	f.waitRun(time.Time{})
	ps := f.mustAPI("GET", "/pipelines", "", http.StatusOK)["pipelines"].([]any)
	if len(ps) != 1 || ps[0].(map[string]any)["name"] != crmPipeline || ps[0].(map[string]any)["needs_authorization"] != true {
		t.Fatalf("GET /pipelines: %v", ps)
	}
	f.mustAPI("GET", "/pipelines/nope", "", http.StatusNotFound)
	f.mustAPI("GET", "/pipelines/nope/runs", "", http.StatusNotFound)
	f.mustAPI("GET", "/pipelines/"+crmPipeline+"/runs?limit=0", "", http.StatusBadRequest)
	f.mustAPI("POST", "/pipelines/nope/sync", "", http.StatusNotFound)
	f.mustAPI("POST", "/pipelines/"+crmPipeline+"/sync", `{"full_refresh": "yes"}`, http.StatusBadRequest)
	f.mustAPI("POST", "/sources/source.zoho.nope/connect-links", "", http.StatusNotFound)
	f.mustAPI("POST", "/sources/source.zoho.crm/connect-links", `{"expires_in":"forever"}`, http.StatusBadRequest)
	f.mustAPI("POST", "/sources/source.zoho.crm/connect-links", `{"expires_in":"2400h"}`, http.StatusUnprocessableEntity)
	f.mustAPI("POST", "/sources/source.zoho.crm/authorize", `{}`, http.StatusBadRequest)
	f.mustAPI("POST", "/sources/source.zoho.nope/authorize", `{"code":"1000.x"}`, http.StatusNotFound)
	if msg := f.mustAPI("POST", "/sources/source.zoho.crm/authorize", `{"code":"1000.unknown"}`, http.StatusUnprocessableEntity)["error"].(string); !strings.Contains(msg, "expired") {
		t.Errorf("a bad grant code: %q", msg)
	}
	f.mustAPI("POST", "/sources/source.zoho.crm/revoke", "", http.StatusUnprocessableEntity)
	f.mustAPI("GET", "/nothing", "", http.StatusNotFound)

	body := f.mustAPI("POST", "/sources/source.zoho.crm/authorize", `{"code":"`+f.sim.IssueGrantCode(zohoScopes...)+`"}`, http.StatusOK)
	if msg, _ := body["message"].(string); !strings.Contains(msg, "Connected to the Zoho CRM org") {
		t.Errorf("authorize's message: %q", msg)
	}
	since := time.Now()
	if body := f.mustAPI("POST", "/pipelines/"+crmPipeline+"/sync", "", http.StatusAccepted); body["queued"] != true {
		t.Errorf("sync: %v", body)
	}
	run := f.waitRun(since)
	if run["outcome"] != "succeeded" || run["written"].(float64) == 0 {
		t.Fatalf("the run asked for: %v", run)
	}
	p := f.mustAPI("GET", "/pipelines/"+crmPipeline, "", http.StatusOK)
	if last, _ := p["last_run"].(map[string]any); last == nil || last["id"] != run["id"] || p["state"] != "idle" || p["next_run"] == nil {
		t.Errorf("GET /pipelines/%s: %v", crmPipeline, p)
	}
	link := f.mustAPI("POST", "/sources/source.zoho.crm/connect-links", "", http.StatusCreated)
	exp, err := time.Parse(time.RFC3339, link["expires"].(string))
	if err != nil || time.Until(exp) < 167*time.Hour || time.Until(exp) > 169*time.Hour {
		t.Errorf("a link's default expiry: %v (%v), want in 7 days", link["expires"], err)
	}
	f.mustAPI("POST", "/sources/source.zoho.crm/revoke", "", http.StatusOK)
	if f.connected() {
		t.Error("connected after revoke")
	}
}

// checkRecordLinks checks that a lookup of a contact's number in the
// phonebook shows the contact with a record link built from the EU org.
func (f *connectFixture) checkRecordLinks() {
	t := f.t
	t.Helper()
	checked := 0
	for _, sc := range f.roger.Contacts(crmReplicator) {
		if sc.Stream != "contacts" || len(sc.Contact.Phones) == 0 {
			continue
		}
		matches, err := f.lookupMatches(sc.Contact.Phones[0].Number)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			if m.SourceID == sc.Contact.SourceID {
				checked++
				if !regexp.MustCompile(`^https://crm\.zoho\.eu/crm/org\d+/tab/Contacts/` + m.SourceID + `$`).MatchString(m.URL) {
					t.Errorf("the record link of contact %s is %q, not one built from the EU org", m.SourceID, m.URL)
				}
			}
		}
		if checked > 0 {
			break
		}
	}
	if checked == 0 {
		t.Fatal("no contact with a phone number was found by a lookup")
	}

}

// TestConnectLinkCommand: `replicator connect-link` makes a link with the
// state's key, which replicator run then opens; without public_url it
// says what to set.
func TestConnectLinkCommand(t *testing.T) {
	f := newCRMFixture(t, zohosim.Options{Contacts: 5, Accounts: 1, Seed: 26, DC: "eu"})
	f.w.mustRun("init")
	r := f.w.run("connect-link", "zoho.crm")
	if r.code == 0 || !strings.Contains(r.stderr, "set host { public_url") {
		t.Fatalf("connect-link without public_url: exit %d\n%s", r.code, r.stderr)
	}
	cfg, err := os.ReadFile(f.w.path("replicator.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	f.w.write("replicator.hcl", string(cfg)+"\nhost {\n  listen     = \"127.0.0.1:0\"\n  public_url = \"https://replicator.example.com\"\n}\n")
	r = f.w.mustRun("connect-link", "-expires", "2h", "zoho.crm")
	link := strings.TrimSpace(r.stdout)
	token, ok := strings.CutPrefix(link, "https://replicator.example.com/connect/")
	if !ok || !strings.Contains(r.stderr, "connects source.zoho.crm once") {
		t.Fatalf("connect-link printed %q\n%s", r.stdout, r.stderr)
	}
	_, log := f.w.startRun()
	base := consoleURL(t, log)
	p := newCustomer(t).get(base + "/connect/" + token)
	if p.status != http.StatusOK || !strings.Contains(p.body, "source.zoho.crm") {
		t.Fatalf("replicator run does not open the link connect-link made: HTTP %d\n%s", p.status, p.body)
	}
}

// loginURL finds the login URL replicator run logs for a token it made.
var loginURL = regexp.MustCompile(`url=(http://\S+/login\?token=\S+)`)

// TestConsoleConnectLinkAndRevoke: the operator makes a connect link on
// the source's page in the console, which connects the source; the
// reconnect link and Revoke are offered then, and Revoke forgets the
// credentials.
func TestConsoleConnectLinkAndRevoke(t *testing.T) {
	f := newConnectFixture(t, zohosim.Options{Contacts: 5, Accounts: 1, Seed: 27, DC: "eu"})
	waitLog(t, f.log, "log in to the console with this URL", 1)
	op := newCustomer(t)
	if p := op.get(loginURL.FindStringSubmatch(f.log.String())[1]); p.status != http.StatusSeeOther {
		t.Fatalf("logging in: HTTP %d\n%s", p.status, p.body)
	}
	page := func() (page, string) {
		p := op.get(f.base + "/sources/source.zoho.crm/authorize")
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(p.body)
		if p.status != http.StatusOK || m == nil {
			t.Fatalf("the source's page: HTTP %d\n%s", p.status, p.body)
		}
		return p, m[1]
	}
	p, csrf := page()
	if !strings.Contains(p.body, "Make a connect link") || strings.Contains(p.body, `id="revoke"`) {
		t.Fatalf("the page of a source without credentials:\n%s", p.body)
	}
	if p := op.post(f.base+"/sources/source.zoho.crm/connect-link", url.Values{"csrf": {csrf}, "days": {"0"}}); p.status != http.StatusBadRequest {
		t.Errorf("a link of 0 days: HTTP %d", p.status)
	}
	p = op.post(f.base+"/sources/source.zoho.crm/connect-link", url.Values{"csrf": {csrf}, "days": {"3"}})
	m := regexp.MustCompile(`id="connect-link" value="([^"]+)"`).FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		t.Fatalf("making a link in the console: HTTP %d\n%s", p.status, p.body)
	}
	c := newCustomer(t)
	if done := c.get(consent(t, c.leave(m[1])).String()); done.status != http.StatusOK {
		t.Fatalf("connecting with the console's link: HTTP %d\n%s", done.status, done.body)
	}
	p, csrf = page()
	if !strings.Contains(p.body, "Make a reconnect link") || !strings.Contains(p.body, `id="revoke"`) {
		t.Fatalf("the page of a connected source offers no reconnect link or Revoke:\n%s", p.body)
	}
	p = op.post(f.base+"/sources/source.zoho.crm/revoke", url.Values{"csrf": {csrf}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "revoked the refresh token") {
		t.Fatalf("Revoke in the console: HTTP %d\n%s", p.status, p.body)
	}
	if f.connected() {
		t.Error("connected after Revoke in the console")
	}
}
