// Command connectsource is a source for the protocol's tests that echoes
// what the host sends with the calls of connecting a source (SDK 1.2), so a
// test sees that every field crosses the wire: AuthorizeURL puts the
// request in the URL's query, Authorize and Revoke in their answers, and
// Check, Discover and Read say which OAuth client they were given. A real
// source never shows a client's secret; this one shows whether it came.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin"
	"github.com/replicatorhq/replicator/plugin/contract"
)

type source struct {
	contract.UnimplementedSource
}

func (source) Spec(context.Context) (contract.Spec, error) {
	return contract.Spec{Name: "connectsource", Version: "1.2.0", Grant: "a code", Connect: []contract.ConnectMethod{
		{Kind: contract.ConnectWeb, Title: "Connect with Example", Description: "Sign in and accept."},
		{Kind: contract.ConnectForm, Title: "Use an API key", Description: "Paste a key.", Fields: []contract.Attribute{
			{Name: "api_key", Type: contract.TypeString, Required: true, Sensitive: true, Description: "The key."},
			{Name: "region", Type: contract.TypeString, Default: json.RawMessage(`"eu"`), Description: "Where the account lives."},
		}},
	}}, nil
}

// client says which client a call got, and whether its secret came along.
func client(c *contract.OAuthClient) string {
	switch {
	case c == nil:
		return "no client"
	case c.Secret == "":
		return "client " + c.ID + " without a secret"
	}
	return "client " + c.ID + " with its secret"
}

func (source) AuthorizeURL(_ context.Context, req contract.AuthorizeURLRequest) (contract.AuthorizeURLResponse, error) {
	q := url.Values{
		"client_id": {req.Client.ID}, "redirect_uri": {req.RedirectURL}, "state": {req.State},
		"config": {string(req.Config)}, "secret_came": {fmt.Sprint(req.Client.Secret != "")},
	}
	return contract.AuthorizeURLResponse{URL: "https://example.test/auth?" + q.Encode(), Scopes: req.Streams}, nil
}

func (source) Authorize(_ context.Context, req contract.AuthorizeRequest) (contract.AuthorizeResponse, error) {
	keys := make([]string, 0, len(req.Params))
	for k := range req.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var params []string
	for _, k := range keys {
		params = append(params, k+"="+req.Params[k])
	}
	creds, err := json.Marshal(map[string]string{"grant": req.Grant, "connect": string(req.Connect)})
	if err != nil {
		return contract.AuthorizeResponse{}, err
	}
	msg := fmt.Sprintf("params %s; redirect %s; %s; config %s", strings.Join(params, "&"), req.RedirectURL, client(req.Client), req.Config)
	return contract.AuthorizeResponse{Credentials: creds, Message: msg}, nil
}

func (source) Revoke(_ context.Context, req contract.RevokeRequest) (contract.RevokeResponse, error) {
	return contract.RevokeResponse{Message: fmt.Sprintf("revoked %s with %s; config %s", req.Credentials, client(req.Client), req.Config)}, nil
}

func (source) Check(_ context.Context, req contract.CheckRequest) (contract.CheckResponse, error) {
	return contract.CheckResponse{Message: client(req.Client)}, nil
}

func (source) Discover(_ context.Context, req contract.DiscoverRequest) (contract.DiscoverResponse, error) {
	return contract.DiscoverResponse{Catalog: contract.Catalog{Streams: []contract.Stream{{
		Name: client(req.Client), Schema: json.RawMessage(`{"type":"object"}`), PrimaryKey: []string{"id"},
		Modes: []contract.SyncMode{contract.FullRefresh},
	}}}}, nil
}

func (source) Read(ctx context.Context, req contract.ReadRequest, out contract.Output) error {
	data, err := json.Marshal(map[string]string{"client": client(req.Client)})
	if err != nil {
		return err
	}
	return out.Emit(ctx, contract.Record{Stream: "items", Key: "1", Data: data})
}

func main() {
	plugin.ServeSource(func(hclog.Logger) source { return source{} })
}
