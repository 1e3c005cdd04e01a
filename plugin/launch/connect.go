package launch

import (
	"context"
	"fmt"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// AuthorizeURL asks the plugin where to send a customer's browser, under
// the call timeout; a plugin that does not offer it answers
// contract.ErrUnsupported.
func (g *guardedSource) AuthorizeURL(
	ctx context.Context,
	req contract.AuthorizeURLRequest,
) (r contract.AuthorizeURLResponse, err error) {
	w, ok := g.Source.(contract.WebAuthorizer)
	if !ok {
		return r, fmt.Errorf("authorize URL: %w", contract.ErrUnsupported)
	}
	err = g.c.control(ctx, "AuthorizeURL", func(ctx context.Context) error {
		r, err = w.AuthorizeURL(ctx, req)
		return err
	})
	return r, err
}

// Revoke asks the plugin to have the service forget credentials, under
// the call timeout; a plugin that does not offer it answers
// contract.ErrUnsupported.
func (g *guardedSource) Revoke(ctx context.Context, req contract.RevokeRequest) (r contract.RevokeResponse, err error) {
	rv, ok := g.Source.(contract.Revoker)
	if !ok {
		return r, fmt.Errorf("revoke: %w", contract.ErrUnsupported)
	}
	err = g.c.control(ctx, "Revoke", func(ctx context.Context) error {
		r, err = rv.Revoke(ctx, req)
		return err
	})
	return r, err
}

var (
	_ contract.WebAuthorizer = (*guardedSource)(nil)
	_ contract.Revoker       = (*guardedSource)(nil)
)
