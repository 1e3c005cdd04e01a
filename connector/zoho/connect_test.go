package zoho

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/schemas"
)

// The provider's server-based client, registered with the simulator, and
// another application's.
var (
	provider = contract.OAuthClient{ID: "1000.PROVIDERWEBCLIENT0000000000000", Secret: "provider-secret-7c1f"}
	stranger = contract.OAuthClient{ID: "1000.STRANGERWEBCLIENT000000000000", Secret: "stranger-secret"}
)

const (
	redirectURL = "https://replicator.example/connect/callback"
	otherURL    = "https://replicator.example/connect/other"
)

// newWebHarness is a harness whose simulator knows the provider's client.
func newWebHarness(t *testing.T, opts zohosim.Options) *harness {
	t.Helper()
	opts.WebClients = []zohosim.WebClient{
		{Name: "Replicator", ID: provider.ID, Secret: provider.Secret, RedirectURIs: []string{redirectURL, otherURL}},
		{Name: "Another app", ID: stranger.ID, Secret: stranger.Secret, RedirectURIs: []string{redirectURL}},
	}
	return newHarness(t, opts)
}

// webConfig is a source block connected from a connect page: no data
// centre, no client.
func (h *harness) webConfig(changes map[string]any) json.RawMessage {
	c := map[string]any{"domain": nil, "client_id": nil, "client_secret": nil}
	for k, v := range changes {
		c[k] = v
	}
	return h.config(c)
}

// consent asks AuthorizeURL with client, answers Zoho's consent page, and
// returns the query Zoho sent the browser back with.
func (h *harness) consent(client contract.OAuthClient, accept bool) map[string]string {
	h.t.Helper()
	resp, err := h.src.AuthorizeURL(context.Background(), contract.AuthorizeURLRequest{
		Config: h.webConfig(nil), Client: client, RedirectURL: redirectURL, State: "st-1",
	})
	if err != nil {
		h.t.Fatalf("AuthorizeURL: %v", err)
	}
	back, err := zohosim.Consent(context.Background(), resp.URL, accept)
	if err != nil {
		h.t.Fatalf("consent: %v", err)
	}
	params := map[string]string{}
	for k, vs := range back.Query() {
		params[k] = vs[0]
	}
	if params["state"] != "st-1" {
		h.t.Fatalf("Zoho sent back state %q", params["state"])
	}
	return params
}

func (h *harness) connectWeb(params map[string]string, changes map[string]any) (contract.AuthorizeResponse, error) {
	return h.src.Authorize(context.Background(), contract.AuthorizeRequest{
		Config: h.webConfig(
			changes), Connect: contract.ConnectWeb, Params: params, RedirectURL: redirectURL, Client: &provider,
	})
}

func TestAuthorizeURL(t *testing.T) {
	h := newWebHarness(t, zohosim.Options{})
	ctx := context.Background()
	req := contract.AuthorizeURLRequest{
		Config:      h.webConfig(nil),
		Client:      provider,
		RedirectURL: redirectURL,
		State:       "st-1",
	}
	resp, err := h.src.AuthorizeURL(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(resp.URL)
	if err != nil {
		t.Fatal(err)
	}
	// Multi-DC starts at the US accounts server, whatever the customer's.
	if got := u.Scheme + "://" + u.Host + u.Path; got != h.url+"/accounts/us/oauth/v2/auth" {
		t.Errorf("consent at %s", got)
	}
	want := []string{
		"ZohoCRM.bulk.READ", "ZohoCRM.coql.READ", "ZohoCRM.modules.accounts.READ", "ZohoCRM.modules.contacts.READ",
		"ZohoCRM.org.READ", "ZohoCRM.settings.fields.READ",
	}
	q := u.Query()
	for k, v := range map[string]string{
		"scope": strings.Join(want, ","), "client_id": provider.ID, "response_type": "code", "access_type": "offline",
		"prompt": "consent", "redirect_uri": redirectURL, "state": "st-1",
	} {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if !slices.Equal(resp.Scopes, want) {
		t.Errorf("scopes %v, want %v", resp.Scopes, want)
	}
	if strings.Contains(resp.URL, provider.Secret) {
		t.Error("the URL shows the client's secret")
	}
	cfg, _ := parseConfig(h.webConfig(map[string]any{"accounts_url": nil}))
	if cfg.authorizeBase() != "https://accounts.zoho.com" {
		t.Errorf("Zoho's consent starts at %s", cfg.authorizeBase())
	}

	// The accounts stream needs neither the contacts module nor COQL on it.
	req.Streams = []string{"accounts"}
	resp, err = h.src.AuthorizeURL(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{
		"ZohoCRM.bulk.READ", "ZohoCRM.coql.READ", "ZohoCRM.modules.accounts.READ", "ZohoCRM.org.READ",
		"ZohoCRM.settings.fields.READ",
	}; !slices.Equal(
		resp.Scopes,
		want,
	) {
		t.Errorf("scopes for accounts %v, want %v", resp.Scopes, want)
	}

	for name, tc := range map[string]struct {
		change func(*contract.AuthorizeURLRequest)
		want   string
	}{
		"no client": {func(r *contract.AuthorizeURLRequest) { r.Client = contract.OAuthClient{} }, "no Zoho client"},
		"no state":  {func(r *contract.AuthorizeURLRequest) { r.State = "" }, "no state"},
		"a relative URL": {
			func(r *contract.AuthorizeURLRequest) { r.RedirectURL = "/connect/callback" }, "not an absolute http(s) URL",
		},
		"a stream": {func(r *contract.AuthorizeURLRequest) { r.Streams = []string{"leads"} }, `no stream "leads"`},
	} {
		r := req
		tc.change(&r)
		if _, err := h.src.AuthorizeURL(ctx, r); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// A Zoho user of the EU (or Australian) data centre accepts: Zoho's answer
// names their data centre, the code is exchanged there, and the
// credentials keep the data centre and its API domain, never the
// provider's secret. The source then runs without domain or client in its
// configuration, its record links built from the org it reached.
func TestConnectWithZoho(t *testing.T) {
	for _, dc := range []string{"eu", "au"} {
		t.Run(dc, func(t *testing.T) {
			h := newWebHarness(t, zohosim.Options{DC: dc, Contacts: 3, Accounts: 2})
			params := h.consent(provider, true)
			if params["location"] != dc || params["accounts-server"] != h.url+"/accounts/"+dc {
				t.Fatalf("Zoho answered %v", params)
			}
			resp, err := h.connectWeb(params, nil)
			if err != nil {
				t.Fatal(err)
			}
			var cr credentials
			if err := json.Unmarshal(resp.Credentials, &cr); err != nil {
				t.Fatal(err)
			}
			if cr.DC != dc || cr.APIDomain != h.sim.APIDomain() || cr.Connect != contract.ConnectWeb ||
				cr.ClientID != provider.ID ||
				cr.RefreshToken == "" {
				t.Errorf("credentials %+v", cr)
			}
			if strings.Contains(string(resp.Credentials), provider.Secret) || strings.Contains(resp.Message, provider.Secret) {
				t.Error("the provider's secret is stored or shown")
			}
			if n := h.sim.Calls()["oauth/token"]; n != 1 {
				t.Errorf("%d token requests, want the exchange alone", n)
			}
			crm := "https://" + map[string]string{
				"eu": "crm.zoho.eu", "au": "crm.zoho.com.au",
			}[dc] + "/crm/" + h.sim.OrgDomainName()
			for _, want := range []string{
				`Connected to the Zoho CRM org "Noordzee Telecom B.V." (data centre ` + dc + `, production) at ` + crm,
				"contacts: readable.", "accounts: readable.",
			} {
				if !strings.Contains(resp.Message, want) {
					t.Errorf("message %q lacks %q", resp.Message, want)
				}
			}

			ctx := context.Background()
			cfg := h.webConfig(map[string]any{"default_region": nil})
			check, err := h.src.Check(ctx, contract.CheckRequest{Config: cfg, Credentials: resp.Credentials, Client: &provider})
			if err != nil || !strings.Contains(check.Message, "contacts: ready") {
				t.Fatalf("Check: %+v, %v", check, err)
			}
			// Once the access token is stale, the provider's client
			// refreshes it at the customer's data centre.
			h.clock.Add(2 * time.Hour)
			out := &memOut{}
			err = h.src.Read(
				ctx,
				contract.ReadRequest{
					Config:      cfg,
					Credentials: resp.Credentials,
					Client:      &provider,
					Streams:     []contract.ReadStream{{Name: "contacts", Generation: 1}},
				},
				out,
			)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if len(out.records) != 3 || len(out.creds) == 0 {
				t.Fatalf("%d records, %d credential updates", len(out.records), len(out.creds))
			}
			var c schemas.Contact
			_ = json.Unmarshal(out.records[0].Data, &c)
			if want := crm + "/tab/Contacts/" + out.records[0].Key; c.URL != want {
				t.Errorf("record link %s, want %s", c.URL, want)
			}
			if strings.Contains(string(out.creds[len(out.creds)-1]), provider.Secret) {
				t.Error("refreshed credentials hold the provider's secret")
			}
		})
	}
}

// Credentials made through the provider's client need it on every call.
func TestConnectedSourceNeedsTheProvidersClient(t *testing.T) {
	h := newWebHarness(t, zohosim.Options{Contacts: 3})
	resp, err := h.connectWeb(h.consent(provider, true), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, tc := range map[string]struct {
		client *contract.OAuthClient
		config json.RawMessage
		want   string
	}{
		"no client":      {nil, h.webConfig(nil), "the host must pass with every call"},
		"another client": {&stranger, h.webConfig(nil), "but the host passes client " + stranger.ID},
		"another domain": {&provider, h.webConfig(map[string]any{"domain": "us"}), `belong to Zoho data centre "eu"`},
		"a wrong secret": {
			&contract.OAuthClient{ID: provider.ID, Secret: "old"}, h.webConfig(nil), "refused the provider's Zoho client",
		},
		"the right one":   {&provider, h.webConfig(nil), ""},
		"domain set, too": {&provider, h.webConfig(map[string]any{"domain": "eu"}), ""},
	} {
		h.clock.Add(2 * time.Hour) // every check mints a token
		_, err := h.src.Check(ctx, contract.CheckRequest{Config: tc.config, Credentials: resp.Credentials, Client: tc.client})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// What Zoho's answer may carry that must not be trusted, and exchanges
// Zoho refuses: each is refused saying why, and nothing is stored.
func TestConnectRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		// answer changes Zoho's answer or the request.
		answer  func(h *harness, p map[string]string, req *contract.AuthorizeRequest)
		want    string
		noToken bool // the code is not sent anywhere
	}{
		{
			name: "an accounts server outside Zoho's",
			answer: func(_ *harness, p map[string]string, _ *contract.AuthorizeRequest) {
				p["accounts-server"] = "https://accounts.zoho.eu.evil.example"
			},
			want:    `accounts server "https://accounts.zoho.eu.evil.example", which is not one of Zoho's`,
			noToken: true,
		},
		{
			name: "another data centre's accounts server under the right location",
			answer: func(h *harness, p map[string]string, _ *contract.AuthorizeRequest) {
				p["accounts-server"] = h.url + "/accounts/us"
			},
			want:    `location "eu" but accounts server ` + "%URL%/accounts/us, which is data centre \"us\"'s",
			noToken: true,
		},
		{
			name:    "a location that is not the accounts server's",
			answer:  func(_ *harness, p map[string]string, _ *contract.AuthorizeRequest) { p["location"] = "in" },
			want:    `location "in" but accounts server`,
			noToken: true,
		},
		{
			name:    "no location",
			answer:  func(_ *harness, p map[string]string, _ *contract.AuthorizeRequest) { delete(p, "location") },
			want:    `location ""`,
			noToken: true,
		},
		{
			name: "a code of another client",
			answer: func(h *harness, p map[string]string, _ *contract.AuthorizeRequest) {
				p["code"] = h.consent(stranger, true)["code"]
			},
			want: "was issued to another client than the provider's",
		},
		{
			name: "a wrong secret",
			answer: func(_ *harness, _ map[string]string, r *contract.AuthorizeRequest) {
				r.Client = &contract.OAuthClient{ID: provider.ID, Secret: "old"}
			},
			want: "refused the provider's Zoho client " + provider.ID + " (invalid_client)",
		},
		{
			name:   "another redirect URL",
			answer: func(_ *harness, _ map[string]string, r *contract.AuthorizeRequest) { r.RedirectURL = otherURL },
			want:   "Zoho refused the redirect URL " + otherURL,
		},
		{
			name: "a used code",
			answer: func(h *harness, p map[string]string, r *contract.AuthorizeRequest) {
				if _, err := h.src.Authorize(context.Background(), *r); err != nil {
					h.t.Fatal(err)
				}
			},
			want: "was already used",
		},
		{
			name: "a user of another data centre than the configuration's",
			answer: func(h *harness, _ map[string]string, r *contract.AuthorizeRequest) {
				r.Config = h.webConfig(map[string]any{"domain": "us"})
			},
			want:    `the Zoho account that accepted lives in data centre "eu", but this source's domain is "us"`,
			noToken: true,
		},
		{
			name:    "no client",
			answer:  func(_ *harness, _ map[string]string, r *contract.AuthorizeRequest) { r.Client = nil },
			want:    "no Zoho client to exchange the code with",
			noToken: true,
		},
		{
			name:    "no code",
			answer:  func(_ *harness, p map[string]string, _ *contract.AuthorizeRequest) { delete(p, "code") },
			want:    "carries no code",
			noToken: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newWebHarness(t, zohosim.Options{})
			p := h.consent(provider, true)
			req := contract.AuthorizeRequest{
				Config:      h.webConfig(nil),
				Connect:     contract.ConnectWeb,
				Params:      p,
				RedirectURL: redirectURL,
				Client:      &provider,
			}
			tc.answer(h, p, &req)
			calls := h.sim.Calls()["oauth/token"]
			resp, err := h.src.Authorize(context.Background(), req)
			want := strings.ReplaceAll(tc.want, "%URL%", h.url)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Authorize = %v, want %q", err, want)
			}
			t.Log(err)
			if resp.Credentials != nil {
				t.Error("credentials came back with the error")
			}
			if tc.noToken && h.sim.Calls()["oauth/token"] != calls {
				t.Error("the code was sent to the accounts server")
			}
			if strings.Contains(err.Error(), provider.Secret) {
				t.Error("the error shows the provider's secret")
			}
		})
	}
}

func TestConsentRejected(t *testing.T) {
	h := newWebHarness(t, zohosim.Options{})
	_, err := h.connectWeb(h.consent(provider, false), nil)
	if err == nil || !strings.Contains(err.Error(), "rejected: nothing was connected") ||
		!strings.Contains(err.Error(), "press Accept") {
		t.Fatalf("Authorize after Reject: %v", err)
	}
	_, err = h.connectWeb(map[string]string{"error": "invalid_scope", "state": "st-1"}, nil)
	if err == nil || !strings.Contains(err.Error(), "Zoho refused the request (invalid_scope)") {
		t.Fatalf("Authorize after an error: %v", err)
	}
}

// A customer's own Self Client through the connect page's form, with the
// console's diagnosis of expired, used and wrong-data-centre codes.
func TestConnectWithASelfClientForm(t *testing.T) {
	ctx := context.Background()
	form := func(h *harness, code string, changes map[string]string) map[string]string {
		p := map[string]string{
			"client_id":     h.sim.ClientID(),
			"client_secret": h.sim.ClientSecret(),
			"data_centre":   "https://crm.zoho.eu/crm/org1",
			"grant_code":    code,
		}
		for k, v := range changes {
			if v == "" {
				delete(p, k)
			} else {
				p[k] = v
			}
		}
		return p
	}
	submit := func(h *harness, p map[string]string) (contract.AuthorizeResponse, error) {
		return h.src.Authorize(ctx,
			contract.AuthorizeRequest{Config: h.webConfig(nil), Connect: contract.ConnectForm, Params: p})
	}

	t.Run("connects", func(t *testing.T) {
		h := newHarness(t, zohosim.Options{Contacts: 2})
		resp, err := submit(h, form(h, h.sim.IssueGrantCode(allScopes...), nil))
		if err != nil {
			t.Fatal(err)
		}
		var cr credentials
		_ = json.Unmarshal(resp.Credentials, &cr)
		if cr.DC != "eu" || cr.Connect != contract.ConnectForm || cr.ClientID != h.sim.ClientID() ||
			cr.ClientSecret != h.sim.ClientSecret() {
			t.Errorf("credentials %+v", cr)
		}
		if !strings.Contains(resp.Message, `org "Noordzee Telecom B.V." (data centre eu`) ||
			strings.Contains(resp.Message, h.sim.ClientSecret()) {
			t.Errorf("message %q", resp.Message)
		}
		// The customer's client refreshes the tokens; the host passes
		// none.
		h.clock.Add(2 * time.Hour)
		if _, err := h.src.Check(
			ctx, contract.CheckRequest{Config: h.webConfig(nil), Credentials: resp.Credentials},
		); err != nil {
			t.Fatalf("Check: %v", err)
		}
	})

	for _, tc := range []struct {
		name  string
		dc    string // the simulated org's
		setup func(h *harness) map[string]string
		want  []string
	}{
		{
			name: "an expired code", dc: "eu",
			setup: func(h *harness) map[string]string {
				code := h.sim.IssueGrantCode(allScopes...)
				h.clock.Add(4 * time.Minute)
				return form(h, code, nil)
			},
			want: []string{"expired or was already used", "3 minutes", "submit the form again right away"},
		},
		{
			name: "a used code", dc: "eu",
			setup: func(h *harness) map[string]string {
				p := form(h, h.sim.IssueGrantCode(allScopes...), nil)
				if _, err := submit(h, p); err != nil {
					t.Fatal(err)
				}
				return p
			},
			want: []string{"expired or was already used", "api-console.zoho.eu"},
		},
		{
			name: "the wrong data centre", dc: "us",
			setup: func(h *harness) map[string]string {
				return form(h, h.sim.IssueGrantCode(allScopes...), map[string]string{"data_centre": "eu"})
			},
			want: []string{
				"eu data centre does not know client_id", "belong to the us data centre (accounts.zoho.com)",
				`choose data centre "us" in the form and submit the form again`,
			},
		},
		{
			name: "a wrong secret", dc: "eu",
			setup: func(h *harness) map[string]string {
				return form(h, h.sim.IssueGrantCode(allScopes...), map[string]string{"client_secret": "nope"})
			},
			want: []string{"does not know this client_id and client_secret"},
		},
		{
			name: "no such data centre", dc: "eu",
			setup: func(h *harness) map[string]string {
				return form(h, "1000.x.y", map[string]string{"data_centre": "europe"})
			},
			want: []string{`data_centre "europe" is not a Zoho data centre`, "us, eu, in"},
		},
		{
			name: "no grant code", dc: "eu",
			setup: func(h *harness) map[string]string { return form(h, "1000.x.y", map[string]string{"grant_code": ""}) },
			want:  []string{"grant_code is required"},
		},
		{
			name: "an empty grant code", dc: "eu",
			setup: func(h *harness) map[string]string { return form(h, " ", nil) },
			want:  []string{"no grant code given", "paste the code into the form within 3 minutes"},
		},
		{
			name: "a stray field", dc: "eu",
			setup: func(h *harness) map[string]string {
				return form(h, "1000.x.y", map[string]string{"refresh_token": "x"})
			},
			want: []string{`unknown attribute "refresh_token"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, zohosim.Options{DC: tc.dc})
			_, err := submit(h, tc.setup(h))
			if err == nil {
				t.Fatal("Authorize succeeded")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q", w)
				}
			}
			if strings.Contains(err.Error(), h.sim.ClientSecret()) {
				t.Error("the error shows the client secret")
			}
		})
	}
}

func TestParseDC(t *testing.T) {
	for in, want := range map[string]string{
		"eu": "eu", " EU ": "eu", "https://crm.zoho.eu/crm/org1": "eu", "crm.zoho.com.au": "au", "accounts.zoho.com": "us",
		"https://crm.zohocloud.ca": "ca", "zoho.com.cn": "cn", "www.zohoapis.in": "in", "https://api-console.zoho.jp": "jp",
		"mars": "", "zoho.example": "", "https://crm.zoho.eu.evil.example": "",
	} {
		dc, ok := parseDC(in)
		if dc.code != want || ok != (want != "") {
			t.Errorf("parseDC(%q) = %q, %v; want %q", in, dc.code, ok, want)
		}
	}
}

// Revoke asks the credentials' data centre to forget the refresh token; a
// second time it was revoked already, which is no error.
func TestRevoke(t *testing.T) {
	ctx := context.Background()
	h := newWebHarness(t, zohosim.Options{DC: "au", Contacts: 2})
	resp, err := h.connectWeb(h.consent(provider, true), nil)
	if err != nil {
		t.Fatal(err)
	}
	req := contract.RevokeRequest{Config: h.webConfig(nil), Credentials: resp.Credentials, Client: &provider}
	rv, err := h.src.Revoke(ctx, req)
	if err != nil || !strings.Contains(rv.Message, "Zoho (au) revoked the refresh token") {
		t.Fatalf("Revoke: %+v, %v", rv, err)
	}
	h.clock.Add(2 * time.Hour)
	_, err = h.src.Check(ctx,
		contract.CheckRequest{Config: h.webConfig(nil), Credentials: resp.Credentials, Client: &provider})
	if err == nil || !strings.Contains(err.Error(), "refused the stored refresh token") ||
		!strings.Contains(err.Error(), "connect the source again from a new connect link") {
		t.Fatalf("Check after Revoke: %v", err)
	}
	rv, err = h.src.Revoke(ctx, req)
	if err != nil || !strings.Contains(rv.Message, "revoked already") {
		t.Fatalf("a second Revoke: %+v, %v", rv, err)
	}

	// Credentials of the console's grant code, too.
	h.cfg["domain"] = "au"
	h.authorize(allScopes...)
	if rv, err := h.src.Revoke(ctx, contract.RevokeRequest{Config: h.config(nil), Credentials: h.creds}); err != nil ||
		!strings.Contains(rv.Message, "revoked the refresh token") {
		t.Fatalf("Revoke of a grant code's credentials: %+v, %v", rv, err)
	}
	if _, err := h.src.Revoke(ctx, contract.RevokeRequest{Config: h.config(nil)}); err == nil ||
		!strings.Contains(err.Error(), "no stored Zoho credentials") {
		t.Fatalf("Revoke without credentials: %v", err)
	}
}
