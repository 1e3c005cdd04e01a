package plugintest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/replicatorhq/replicator/plugin/config"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// What the kit hands AuthorizeURL, as a host would.
const (
	kitClientID     = "plugintest-client-id"
	kitClientSecret = "plugintest-client-secret"
	kitRedirectURL  = "https://replicator.example/connect/callback"
)

// checkConnect checks the ways the spec says a customer connects the
// source: known kinds, each once, with a title; a form's fields sound as a
// configuration's attributes are; and for ConnectWeb, an AuthorizeURL the
// host can send a browser to, which carries the state and the redirect URL
// and never the client's secret.
func checkConnect(ctx context.Context, t *testing.T, src contract.Source, spec contract.Spec, cfg json.RawMessage) {
	seen := map[contract.ConnectKind]bool{}
	for _, m := range spec.Connect {
		if seen[m.Kind] {
			t.Errorf("connect method %q listed twice", m.Kind)
		}
		seen[m.Kind] = true
		if m.Title == "" {
			t.Errorf("connect method %q has no title for the connect page", m.Kind)
		}
		switch m.Kind {
		case contract.ConnectForm:
			if len(m.Fields) == 0 {
				t.Errorf("connect form %q has no fields", m.Title)
			}
			checkAttributes(t, "connect form field", m.Fields)
		case contract.ConnectWeb:
			if len(m.Fields) > 0 {
				t.Errorf("connect method %q is web but has fields", m.Title)
			}
			checkAuthorizeURL(ctx, t, src, cfg)
		default:
			t.Errorf(
				"connect method %q has unknown kind %q: use %q or %q",
				m.Title,
				m.Kind,
				contract.ConnectWeb,
				contract.ConnectForm,
			)
		}
	}
}

func checkAuthorizeURL(ctx context.Context, t *testing.T, src contract.Source, cfg json.RawMessage) {
	t.Helper()
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	state := "plugintest-" + hex.EncodeToString(b[:])
	resp, err := src.(contract.WebAuthorizer).AuthorizeURL(ctx, contract.AuthorizeURLRequest{
		Config:      cfg,
		Client:      contract.OAuthClient{ID: kitClientID, Secret: kitClientSecret},
		RedirectURL: kitRedirectURL,
		State:       state,
	})
	if err != nil {
		t.Errorf("the spec lists %q, but AuthorizeURL failed: %v", contract.ConnectWeb, err)
		return
	}
	u, err := url.Parse(resp.URL)
	if err != nil || !u.IsAbs() || u.Host == "" {
		t.Errorf("AuthorizeURL answered %q, which is not an absolute URL", resp.URL)
		return
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !config.IsLoopbackHost(u.Hostname())) {
		t.Errorf(
			"AuthorizeURL answered %q: a customer's browser goes there, so it must be https (http only to this machine)",
			resp.URL,
		)
	}
	var values []string
	for _, vs := range u.Query() {
		values = append(values, vs...)
	}
	if !slices.Contains(values, state) {
		t.Errorf(
			"AuthorizeURL answered %q, which does not carry the state %q: the host could not tell the answer is for it",
			resp.URL,
			state,
		)
	}
	if !slices.Contains(values, kitRedirectURL) {
		t.Errorf("AuthorizeURL answered %q, which does not carry the redirect URL %q", resp.URL, kitRedirectURL)
	}
	if strings.Contains(resp.URL, kitClientSecret) {
		t.Errorf("AuthorizeURL answered %q, which shows the client's secret to the browser", resp.URL)
	}
}
