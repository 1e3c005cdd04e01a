package launch

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// Every field of the calls that connect a source crosses the wire, both
// ways, through a real plugin process.
func TestConnectCallsTravel(t *testing.T) {
	path := build(t, "replicator-source-connectsource", "./testdata/connectsource")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, Config{Path: path, Kind: KindSource})
	if err != nil {
		t.Fatal(err)
	}
	defer closeOrFail(t, c)
	src, err := c.Source()
	if err != nil {
		t.Fatal(err)
	}
	cfg := json.RawMessage(`{"tenant":"acme"}`)
	app := &contract.OAuthClient{ID: "app-1", Secret: "s3cret"}

	t.Run("spec", func(t *testing.T) {
		spec, err := src.Spec(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(spec.Connect) != 2 {
			t.Fatalf("connect methods %+v", spec.Connect)
		}
		web, form := spec.Connect[0], spec.Connect[1]
		if web.Kind != contract.ConnectWeb || web.Title != "Connect with Example" ||
			web.Description != "Sign in and accept." ||
			len(web.Fields) != 0 {
			t.Errorf("web method %+v", web)
		}
		want := []contract.Attribute{
			{Name: "api_key", Type: contract.TypeString, Required: true, Sensitive: true, Description: "The key."},
			{
				Name:        "region",
				Type:        contract.TypeString,
				Default:     json.RawMessage(`"eu"`),
				Description: "Where the account lives.",
			},
		}
		if form.Kind != contract.ConnectForm || form.Title != "Use an API key" ||
			!slices.EqualFunc(form.Fields, want, equalAttr) {
			t.Errorf("form method %+v", form)
		}
	})

	t.Run("authorize URL", func(t *testing.T) {
		resp, err := src.(contract.WebAuthorizer).AuthorizeURL(ctx, contract.AuthorizeURLRequest{
			Config: cfg, Client: *app, RedirectURL: "https://host.example/connect/callback", State: "st-1",
			Streams: []string{"contacts", "accounts"},
		})
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(resp.URL)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if q.Get("client_id") != "app-1" || q.Get("redirect_uri") != "https://host.example/connect/callback" ||
			q.Get("state") != "st-1" ||
			q.Get("config") != string(cfg) ||
			q.Get("secret_came") != "true" {
			t.Errorf("the plugin got %v", q)
		}
		if !slices.Equal(resp.Scopes, []string{"contacts", "accounts"}) {
			t.Errorf("scopes %v", resp.Scopes)
		}
	})

	for _, tc := range []struct {
		name  string
		req   contract.AuthorizeRequest
		creds string
		msg   string
	}{
		{
			name: "web",
			req: contract.AuthorizeRequest{
				Config: cfg, Connect: contract.ConnectWeb, Client: app, RedirectURL: "https://host.example/cb",
				Params: map[string]string{"code": "c1", "location": "eu", "accounts-server": "https://accounts.zoho.eu"},
			},
			creds: `{"connect":"web","grant":""}`,
			msg: `params accounts-server=https://accounts.zoho.eu&code=c1&location=eu; ` +
				`redirect https://host.example/cb; client app-1 with its secret; config {"tenant":"acme"}`,
		},
		{
			name: "form",
			req: contract.AuthorizeRequest{
				Config: cfg, Connect: contract.ConnectForm, Params: map[string]string{"api_key": "k"},
			},
			creds: `{"connect":"form","grant":""}`,
			msg:   `params api_key=k; redirect ; no client; config {"tenant":"acme"}`,
		},
		{
			name:  "grant, as SDK 1.1 hosts send it",
			req:   contract.AuthorizeRequest{Config: cfg, Grant: "g"},
			creds: `{"connect":"","grant":"g"}`,
			msg:   `params ; redirect ; no client; config {"tenant":"acme"}`,
		},
	} {
		t.Run("authorize "+tc.name, func(t *testing.T) {
			resp, err := src.Authorize(ctx, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if string(resp.Credentials) != tc.creds || resp.Message != tc.msg {
				t.Errorf("credentials %s, message %q; want %s, %q", resp.Credentials, resp.Message, tc.creds, tc.msg)
			}
		})
	}

	t.Run("check, discover and read carry the client", func(t *testing.T) {
		for _, tc := range []struct {
			client *contract.OAuthClient
			want   string
		}{
			{app, "client app-1 with its secret"},
			{nil, "no client"},
			{&contract.OAuthClient{ID: "app-2"}, "client app-2 without a secret"},
		} {
			check, err := src.Check(ctx, contract.CheckRequest{Config: cfg, Client: tc.client})
			if err != nil || check.Message != tc.want {
				t.Errorf("Check: %q, %v; want %q", check.Message, err, tc.want)
			}
			disc, err := src.Discover(ctx, contract.DiscoverRequest{Config: cfg, Client: tc.client})
			if err != nil || len(disc.Catalog.Streams) != 1 || disc.Catalog.Streams[0].Name != tc.want {
				t.Errorf("Discover: %+v, %v; want %q", disc.Catalog, err, tc.want)
			}
			var out collect
			err = src.Read(
				ctx,
				contract.ReadRequest{
					Config:  cfg,
					Client:  tc.client,
					Streams: []contract.ReadStream{{Name: "items", Generation: 1}},
				},
				&out,
			)
			if err != nil || len(out.records) != 1 || !strings.Contains(string(out.records[0].Data), tc.want+`"`) {
				t.Errorf("Read: %v, %v; want %q", out.records, err, tc.want)
			}
		}
	})

	t.Run("revoke", func(t *testing.T) {
		resp, err := src.(contract.Revoker).Revoke(
			ctx,
			contract.RevokeRequest{Config: cfg, Credentials: json.RawMessage(`{"t":1}`), Client: app},
		)
		if want := `revoked {"t":1} with client app-1 with its secret; config {"tenant":"acme"}`; err != nil ||
			resp.Message != want {
			t.Errorf("Revoke: %q, %v; want %q", resp.Message, err, want)
		}
	})
}

func equalAttr(a, b contract.Attribute) bool {
	return a.Name == b.Name && a.Type == b.Type && a.Required == b.Required && a.Sensitive == b.Sensitive &&
		string(a.Default) == string(b.Default) && a.Description == b.Description
}

// A source that offers neither call answers both with ErrUnsupported.
func TestConnectCallsUnsupported(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, Config{Path: buildGenerator(t), Kind: KindSource})
	if err != nil {
		t.Fatal(err)
	}
	defer closeOrFail(t, c)
	src, _ := c.Source()
	if _, err := src.(contract.WebAuthorizer).AuthorizeURL(ctx, contract.AuthorizeURLRequest{State: "s"}); !errors.Is(
		err,
		contract.ErrUnsupported,
	) {
		t.Errorf("AuthorizeURL = %v, want ErrUnsupported", err)
	}
	if _, err := src.(contract.Revoker).Revoke(ctx, contract.RevokeRequest{}); !errors.Is(
		err,
		contract.ErrUnsupported,
	) {
		t.Errorf("Revoke = %v, want ErrUnsupported", err)
	}
}
