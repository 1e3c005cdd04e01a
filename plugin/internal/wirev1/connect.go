package wirev1

import (
	"context"
	"fmt"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// The conversions and calls of connecting a source (SDK 1.2).

func clientToWire(c *contract.OAuthClient) *OAuthClient {
	if c == nil {
		return nil
	}
	return &OAuthClient{Id: c.ID, Secret: c.Secret}
}

// clientFromWire keeps "no client" apart from an empty one: nil stays nil.
func clientFromWire(c *OAuthClient) *contract.OAuthClient {
	if c == nil {
		return nil
	}
	return &contract.OAuthClient{ID: c.GetId(), Secret: c.GetSecret()}
}

func connectMethodsToWire(ms []contract.ConnectMethod) []*ConnectMethod {
	var out []*ConnectMethod
	for _, m := range ms {
		out = append(
			out,
			&ConnectMethod{
				Kind:        string(m.Kind),
				Title:       m.Title,
				Description: m.Description,
				Fields:      attributesToWire(m.Fields),
			},
		)
	}
	return out
}

func connectMethodsFromWire(ms []*ConnectMethod) []contract.ConnectMethod {
	var out []contract.ConnectMethod
	for _, m := range ms {
		out = append(out, contract.ConnectMethod{
			Kind: contract.ConnectKind(m.GetKind()), Title: m.GetTitle(), Description: m.GetDescription(),
			Fields: attributesFromWire(m.GetFields()),
		})
	}
	return out
}

func authorizeToWire(req contract.AuthorizeRequest) *AuthorizeRequest {
	return &AuthorizeRequest{
		ConfigJson: req.Config, Grant: req.Grant, Connect: string(req.Connect), Params: req.Params,
		RedirectUrl: req.RedirectURL, Client: clientToWire(req.Client),
	}
}

func authorizeFromWire(req *AuthorizeRequest) contract.AuthorizeRequest {
	return contract.AuthorizeRequest{
		Config: nilIfEmpty(req.GetConfigJson()), Grant: req.GetGrant(), Connect: contract.ConnectKind(req.GetConnect()),
		Params: req.GetParams(), RedirectURL: req.GetRedirectUrl(), Client: clientFromWire(req.GetClient()),
	}
}

func (s *sourceServer) AuthorizeURL(ctx context.Context, req *AuthorizeURLRequest) (*AuthorizeURLResponse, error) {
	w, ok := s.impl.(contract.WebAuthorizer)
	if !ok {
		return nil, toStatus(unsupported("authorize URL"))
	}
	c := req.GetClient()
	resp, err := w.AuthorizeURL(ctx, contract.AuthorizeURLRequest{
		Config: nilIfEmpty(req.GetConfigJson()), Client: contract.OAuthClient{ID: c.GetId(), Secret: c.GetSecret()},
		RedirectURL: req.GetRedirectUrl(), State: req.GetState(), Streams: req.GetStreams(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &AuthorizeURLResponse{Url: resp.URL, Scopes: resp.Scopes}, nil
}

func (s *sourceServer) Revoke(ctx context.Context, req *RevokeRequest) (*RevokeResponse, error) {
	r, ok := s.impl.(contract.Revoker)
	if !ok {
		return nil, toStatus(unsupported("revoke"))
	}
	resp, err := r.Revoke(ctx, contract.RevokeRequest{
		Config: nilIfEmpty(
			req.GetConfigJson(),
		), Credentials: nilIfEmpty(req.GetCredentials()), Client: clientFromWire(req.GetClient()),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &RevokeResponse{Message: resp.Message}, nil
}

func (c *remoteSource) AuthorizeURL(
	ctx context.Context,
	req contract.AuthorizeURLRequest,
) (contract.AuthorizeURLResponse, error) {
	resp, err := c.c.AuthorizeURL(ctx, &AuthorizeURLRequest{
		ConfigJson:  req.Config,
		Client:      clientToWire(&req.Client),
		RedirectUrl: req.RedirectURL,
		State:       req.State,
		Streams:     req.Streams,
	})
	if err != nil {
		return contract.AuthorizeURLResponse{}, fromStatus(ctx, err)
	}
	return contract.AuthorizeURLResponse{URL: resp.GetUrl(), Scopes: resp.GetScopes()}, nil
}

func (c *remoteSource) Revoke(ctx context.Context, req contract.RevokeRequest) (contract.RevokeResponse, error) {
	resp, err := c.c.Revoke(
		ctx,
		&RevokeRequest{ConfigJson: req.Config, Credentials: req.Credentials, Client: clientToWire(req.Client)},
	)
	if err != nil {
		return contract.RevokeResponse{}, fromStatus(ctx, err)
	}
	return contract.RevokeResponse{Message: resp.GetMessage()}, nil
}

// The Source the host gets implements the optional interfaces; whether
// the plugin offers them shows only when they are called.
var (
	_ contract.WebAuthorizer = (*remoteSource)(nil)
	_ contract.Revoker       = (*remoteSource)(nil)
)

func unsupported(call string) error {
	return fmt.Errorf("%s: %w", call, contract.ErrUnsupported)
}
