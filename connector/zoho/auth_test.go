package zoho

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
	"github.com/replicatorhq/replicator/plugin/contract"
)

func TestAuthorizeStoresTokensAndNamesStreams(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 10})
	resp := h.authorize("ZohoCRM.modules.contacts.READ",
		"ZohoCRM.coql.READ", "ZohoCRM.settings.fields.READ", "ZohoCRM.org.READ")
	var cr credentials
	if err := json.Unmarshal(resp.Credentials, &cr); err != nil {
		t.Fatal(err)
	}
	if cr.RefreshToken == "" || cr.AccessToken == "" || cr.APIDomain != h.sim.APIDomain() || cr.DC != "eu" {
		t.Errorf("credentials lack tokens or domain: %+v", cr)
	}
	if want := h.clock.Now().Add(time.Hour); !cr.Expiry.Equal(want) {
		t.Errorf("access token expiry %v, want %v", cr.Expiry, want)
	}
	if len(cr.Mints) != 1 {
		t.Errorf("the exchange's token was not noted against the mint limit: %v", cr.Mints)
	}
	for _, want := range []string{
		"ZohoCRM.coql.READ",
		"contacts: readable; full syncs use the records API",
		"accounts: not readable, lacks ZohoCRM.modules.accounts.READ",
	} {
		if !strings.Contains(resp.Message, want) {
			t.Errorf("message %q lacks %q", resp.Message, want)
		}
	}
	if strings.Contains(resp.Message, cr.RefreshToken) || strings.Contains(resp.Message, h.sim.ClientSecret()) {
		t.Error("the message shows a secret")
	}
}

func TestAuthorizeErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// setup returns the grant code and configuration changes.
		setup func(h *harness) (string, map[string]any)
		want  []string
	}{
		{
			name: "code used twice",
			setup: func(h *harness) (string, map[string]any) {
				code := h.sim.IssueGrantCode(allScopes...)
				if _, err := h.src.Authorize(ctx, contract.AuthorizeRequest{Config: h.config(nil), Grant: code}); err != nil {
					t.Fatalf("first use: %v", err)
				}
				return code, nil
			},
			want: []string{"expired or was already used", "Generate a new one", "api-console.zoho.eu"},
		},
		{
			name: "expired code",
			setup: func(h *harness) (string, map[string]any) {
				code := h.sim.IssueGrantCode(allScopes...)
				h.clock.Add(4 * time.Minute)
				return code, nil
			},
			want: []string{"expired or was already used", "3 minutes"},
		},
		{
			name: "wrong secret",
			setup: func(h *harness) (string, map[string]any) {
				return h.sim.IssueGrantCode(allScopes...), map[string]any{"client_secret": "not-the-secret"}
			},
			want: []string{"does not know this client_id and client_secret", "Client Secret tab"},
		},
		{
			name: "no domain",
			setup: func(h *harness) (string, map[string]any) {
				return h.sim.IssueGrantCode(allScopes...), map[string]any{"domain": nil}
			},
			want: []string{"domain is required: set it to the org's data centre"},
		},
		{
			name: "no client secret",
			setup: func(h *harness) (string, map[string]any) {
				return h.sim.IssueGrantCode(allScopes...), map[string]any{"client_secret": ""}
			},
			want: []string{"client_secret is required", "Client Secret tab"},
		},
		{
			name: "no code",
			setup: func(h *harness) (string, map[string]any) {
				return "  ", nil
			},
			want: []string{"no grant code given", "Generate Code"},
		},
		{
			name: "foreign api_domain",
			setup: func(h *harness) (string, map[string]any) {
				h.sim.SetFault(zohosim.Fault{Kind: "bad_api_domain", Count: 1})
				return h.sim.IssueGrantCode(allScopes...), nil
			},
			want: []string{"evil.example", "refusing to send the token there"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, zohosim.Options{})
			code, changes := tc.setup(h)
			_, err := h.src.Authorize(ctx, contract.AuthorizeRequest{Config: h.config(changes), Grant: code})
			if err == nil {
				t.Fatal("Authorize succeeded")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), h.sim.ClientSecret()) {
				t.Error("the error shows the client secret")
			}
		})
	}
}

// A client made in another data centre: the error names it, and the code,
// never sent there while probing, still works once domain is fixed.
func TestAuthorizeNamesTheRightDataCentre(t *testing.T) {
	h := newHarness(t, zohosim.Options{DC: "us"})
	code := h.sim.IssueGrantCode(allScopes...)
	_, err := h.src.Authorize(context.Background(),
		contract.AuthorizeRequest{Config: h.config(map[string]any{"domain": "eu"}), Grant: code})
	if err == nil {
		t.Fatal("Authorize succeeded in the wrong data centre")
	}
	t.Log(err)
	for _, want := range []string{
		`eu data centre does not know client_id`, `belong to the us data centre (accounts.zoho.com)`, `domain = "us"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := h.src.Authorize(
		context.Background(), contract.AuthorizeRequest{Config: h.config(nil), Grant: code},
	); err != nil {
		t.Fatalf("the code was spent while probing: %v", err)
	}
}

func TestCheckReusesTheCachedToken(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 5, Accounts: 5})
	h.authorize(allScopes...)
	ctx := context.Background()
	resp, err := h.src.Check(ctx, contract.CheckRequest{Config: h.config(nil), Credentials: h.creds})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if resp.Credentials != nil {
		t.Error("Check minted a token although the stored one is fresh")
	}
	if n := h.sim.Calls()["oauth/token"]; n != 1 {
		t.Errorf("%d token requests, want only the authorize exchange", n)
	}
	for _, want := range []string{"contacts: ready", "accounts: ready"} {
		if !strings.Contains(resp.Message, want) {
			t.Errorf("message %q lacks %q", resp.Message, want)
		}
	}

	// An hour later the token is stale: Check mints one and hands it back.
	h.clock.Add(time.Hour)
	resp, err = h.src.Check(ctx, contract.CheckRequest{Config: h.config(nil), Credentials: h.creds})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	var cr credentials
	if err := json.Unmarshal(resp.Credentials, &cr); err != nil {
		t.Fatalf("Check returned no credentials after a refresh: %v", err)
	}
	// The authorize exchange an hour ago has left the limit's window.
	if len(cr.Mints) != 1 || !cr.Mints[0].Equal(h.clock.Now()) || !cr.Expiry.After(h.clock.Now()) {
		t.Errorf("refreshed credentials: mints %v, expiry %v", cr.Mints, cr.Expiry)
	}
	h.creds = resp.Credentials
	if _, err := h.src.Check(ctx, contract.CheckRequest{Config: h.config(nil), Credentials: h.creds}); err != nil {
		t.Fatal(err)
	}
	if n := h.sim.Calls()["oauth/token"]; n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
}

// Ten tokens in ten minutes is Zoho's limit; the eleventh is not asked for.
func TestMintLimitHoldsAcrossRuns(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 5})
	h.authorize(allScopes...)
	var cr credentials
	if err := json.Unmarshal(h.creds, &cr); err != nil {
		t.Fatal(err)
	}
	cr.AccessToken = ""
	for i := range 9 {
		cr.Mints = append(cr.Mints, h.clock.Now().Add(-time.Duration(i)*time.Second))
	}
	h.creds, _ = json.Marshal(cr)
	calls := h.sim.Calls()["oauth/token"]
	_, err := h.src.Check(context.Background(), contract.CheckRequest{Config: h.config(nil), Credentials: h.creds})
	if err == nil || !strings.Contains(err.Error(), "10 access tokens per refresh token") ||
		!strings.Contains(err.Error(), "try again after 2026-03-02T10:09:52Z") {
		t.Fatalf("Check error %v, want the mint limit with the time to retry", err)
	}
	if n := h.sim.Calls()["oauth/token"]; n != calls {
		t.Errorf("the source asked for a token beyond the limit")
	}
	// Once the oldest mint leaves the window, a token is minted.
	h.clock.Add(10 * time.Minute)
	if _, err := h.src.Check(
		context.Background(), contract.CheckRequest{Config: h.config(nil), Credentials: h.creds},
	); err != nil {
		t.Fatalf("Check after the window: %v", err)
	}
}

// Zoho's other token limits hold across runs too: at most five access
// tokens a minute, and at most as many an hour as a refresh token keeps
// live, so that a new token never deletes one still in use.
func TestMintLimitsPerMinuteAndHour(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mints []time.Duration // ago
		retry string
	}{
		// Five in the last minute, fewer than ten in ten minutes.
		{"minute", []time.Duration{5 * time.Second, 15 * time.Second, 25 * time.Second, 35 * time.Second, 45 * time.Second},
			"2026-03-02T10:00:15Z"},
		// Fifteen in the last hour, fewer than ten in ten minutes.
		{"hour", []time.Duration{
			12 * time.Minute, 14 * time.Minute, 16 * time.Minute, 18 * time.Minute, 20 * time.Minute,
			22 * time.Minute, 24 * time.Minute, 26 * time.Minute, 28 * time.Minute, 30 * time.Minute,
			32 * time.Minute, 34 * time.Minute, 36 * time.Minute, 38 * time.Minute, 40 * time.Minute,
		}, "2026-03-02T10:20:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, zohosim.Options{Contacts: 5})
			h.clock.Add(-time.Hour) // the grant, long before
			h.authorize(allScopes...)
			h.clock.Add(time.Hour)
			var cr credentials
			if err := json.Unmarshal(h.creds, &cr); err != nil {
				t.Fatal(err)
			}
			cr.AccessToken, cr.Mints = "", nil
			for _, ago := range tc.mints {
				cr.Mints = append(cr.Mints, h.clock.Now().Add(-ago))
			}
			h.creds, _ = json.Marshal(cr)
			calls := h.sim.Calls()["oauth/token"]
			_, err := h.src.Check(context.Background(), contract.CheckRequest{Config: h.config(nil), Credentials: h.creds})
			if err == nil || !strings.Contains(err.Error(), "try again after "+tc.retry) {
				t.Fatalf("Check error %v, want the limit with the time to retry, %s", err, tc.retry)
			}
			if n := h.sim.Calls()["oauth/token"]; n != calls {
				t.Errorf("the source asked for a token beyond the limit")
			}
		})
	}
}

// Many runs, each a plugin process given the credentials the host stored
// after the last, mint a token an hour, not one a run: an hour's runs never
// come near Zoho's live tokens per refresh token.
func TestManyRunsMintATokenAnHour(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 30, Accounts: 5})
	h.authorize(allScopes...)
	out := h.mustRead(contract.ReadStream{Name: "contacts", Generation: 1})
	state := out.lastState("contacts")
	minted := h.sim.Calls()["oauth/token"]
	for range 45 { // three hours of runs four minutes apart
		h.clock.Add(4 * time.Minute)
		h.src = newSource(h)
		h.catalog()
		out := h.mustRead(contract.ReadStream{Name: "contacts", State: state, Generation: 1})
		state = out.lastState("contacts")
	}
	if n := h.sim.Calls()["oauth/token"] - minted; n > 3 {
		t.Errorf("45 runs over three hours minted %d access tokens, want one an hour", n)
	}
}

func TestCheckNamesMissingScopes(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 5, Accounts: 5})
	h.authorize("ZohoCRM.modules.contacts.READ", "ZohoCRM.coql.READ", "ZohoCRM.settings.fields.READ", "ZohoCRM.org.READ")
	streams := []contract.Stream{{Name: "contacts"}, {Name: "accounts"}}
	_, err := h.src.Check(context.Background(),
		contract.CheckRequest{Config: h.config(nil), Credentials: h.creds, Streams: streams})
	if err == nil {
		t.Fatal("Check passed without the accounts scope")
	}
	t.Log(err)
	for _, want := range []string{
		"accounts needs ZohoCRM.modules.accounts.READ",
		"ZohoCRM.bulk.READ,ZohoCRM.coql.READ,ZohoCRM.modules.accounts.READ,ZohoCRM.modules.contacts.READ,ZohoCRM.org.READ," +
			"ZohoCRM.settings.fields.READ",
		"run authorize again",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "contacts needs") {
		t.Errorf("error %q blames contacts", err)
	}

	// Contacts alone pass, with a word on the missing bulk scope.
	resp, err := h.src.Check(context.Background(),
		contract.CheckRequest{Config: h.config(nil), Credentials: h.creds, Streams: streams[:1]})
	if err != nil {
		t.Fatalf("Check of contacts: %v", err)
	}
	if !strings.Contains(resp.Message, "records API because ZohoCRM.bulk.READ was not granted") {
		t.Errorf("message %q does not say full syncs use the records API", resp.Message)
	}

	// Without org.READ, crm_url and default_region must be set.
	h.authorize("ZohoCRM.modules.contacts.READ", "ZohoCRM.coql.READ", "ZohoCRM.settings.fields.READ")
	_, err = h.src.Check(
		context.Background(),
		contract.CheckRequest{
			Config:      h.config(map[string]any{"default_region": nil}),
			Credentials: h.creds,
			Streams:     streams[:1],
		},
	)
	if err == nil || !strings.Contains(err.Error(), "ZohoCRM.org.READ (or set crm_url and default_region)") {
		t.Fatalf("Check error %v, want the org scope named", err)
	}
	_, err = h.src.Check(
		context.Background(),
		contract.CheckRequest{
			Config:      h.config(map[string]any{"crm_url": "https://crm.zoho.eu/crm/org1"}),
			Credentials: h.creds,
			Streams:     streams[:1],
		},
	)
	if err != nil {
		t.Fatalf("Check with crm_url and default_region: %v", err)
	}

	// Discover needs the fields scope and says so.
	h.authorize("ZohoCRM.modules.contacts.READ", "ZohoCRM.coql.READ")
	_, err = h.src.Discover(context.Background(), contract.DiscoverRequest{Config: h.config(nil), Credentials: h.creds})
	if err == nil || !strings.Contains(err.Error(), "contacts needs ZohoCRM.settings.fields.READ") {
		t.Fatalf("Discover without the fields scope: %v", err)
	}
}

func TestStoredAPIDomainIsChecked(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 5})
	h.authorize(allScopes...)
	var cr credentials
	_ = json.Unmarshal(h.creds, &cr)
	cr.APIDomain = "https://www.zohoapis.com"
	bad, _ := json.Marshal(cr)
	_, err := h.src.Check(context.Background(), contract.CheckRequest{Config: h.config(nil), Credentials: bad})
	if err == nil || !strings.Contains(err.Error(), `data centre "us"`) {
		t.Fatalf("Check with another data centre's API domain: %v", err)
	}
	// A refresh answered with a foreign api_domain is refused.
	h.clock.Add(2 * time.Hour)
	h.sim.SetFault(zohosim.Fault{Kind: "bad_api_domain", Count: 1})
	_, err = h.src.Check(context.Background(), contract.CheckRequest{Config: h.config(nil), Credentials: h.creds})
	if err == nil || !strings.Contains(err.Error(), "refusing to send the token there") {
		t.Fatalf("Check after a refresh with a foreign api_domain: %v", err)
	}
}

func TestRevokedRefreshToken(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 5})
	h.authorize(allScopes...)
	// 21 more grants revoke the first refresh token (20 per user).
	keep := h.creds
	for range 20 {
		h.clock.Add(12 * time.Second) // Zoho issues five refresh tokens a minute
		h.authorize(allScopes...)
	}
	h.clock.Add(2 * time.Hour)
	_, err := h.src.Check(context.Background(), contract.CheckRequest{Config: h.config(nil), Credentials: keep})
	if err == nil || !strings.Contains(err.Error(), "refused the stored refresh token") ||
		!strings.Contains(err.Error(), "run authorize again") {
		t.Fatalf("Check with a revoked refresh token: %v", err)
	}
}

// Without the local limiter (credentials that forgot their mints), Zoho's
// own throttling is explained.
func TestZohoThrottlingIsExplained(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 5})
	h.authorize(allScopes...)
	var cr credentials
	_ = json.Unmarshal(h.creds, &cr)
	cr.AccessToken, cr.Mints = "", nil
	forgetful, _ := json.Marshal(cr)
	var err error
	for range 10 {
		if _, err = h.src.Check(
			context.Background(), contract.CheckRequest{Config: h.config(nil), Credentials: forgetful},
		); err != nil {
			break
		}
	}
	if err == nil || !strings.Contains(err.Error(), "Zoho is throttling token requests") ||
		!strings.Contains(err.Error(), "wait about ten minutes") {
		t.Fatalf("Check beyond Zoho's token limit: %v", err)
	}
}

// Credentials of a grant code name their data centre, so a later call
// needs only the Self Client from the configuration.
func TestGrantCredentialsNeedTheConfiguredClient(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 2})
	h.authorize(allScopes...)
	ctx := context.Background()
	h.clock.Add(2 * time.Hour) // every check mints a token
	if _, err := h.src.Check(
		ctx, contract.CheckRequest{Config: h.config(map[string]any{"domain": nil}), Credentials: h.creds},
	); err != nil {
		t.Fatalf("Check without domain: %v", err)
	}
	_, err := h.src.Check(
		ctx,
		contract.CheckRequest{
			Config:      h.config(map[string]any{"client_id": nil}),
			Credentials: h.creds,
			Client:      &contract.OAuthClient{ID: "1000.PROVIDER", Secret: "s"},
		},
	)
	if err == nil || !strings.Contains(err.Error(), "client_id is required") {
		t.Fatalf("Check without client_id: %v", err)
	}
}
