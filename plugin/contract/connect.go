package contract

import (
	"context"
	"encoding/json"
)

// Connecting a source: how a customer gives a source its credentials
// without the operator in the loop. Added in SDK 1.2.
//
// The host offers a connect page for one source (from a link it signed).
// It reads the source's Spec and offers the ways Spec.Connect lists:
//
//   - ConnectWeb, the OAuth authorization code flow through the
//     provider's own client (the "server-based application" the provider
//     registered once with the service). The host makes a state bound to
//     the browser and the link, and calls AuthorizeURL with the provider's
//     client, its redirect URL and that state; it shows the scopes and
//     sends the browser to the URL. The service sends the browser back to
//     the redirect URL; the host checks state, then calls Authorize with
//     Connect = ConnectWeb, the query it came back with as Params, the same
//     RedirectURL and the client. It stores the credentials Authorize
//     returns and shows its Message.
//   - ConnectForm, fields the customer fills in (their own OAuth client
//     and a grant code, an API key): the host shows ConnectMethod.Fields
//     (sensitive ones as password fields) and calls Authorize with
//     Connect = ConnectForm and the values as Params.
//
// From then on, the host passes the provider's client in every request
// that may use the credentials (Check, Discover, Read, Revoke), so a
// source connected through it can refresh its tokens. The client's secret
// stays in the host's configuration: a source never stores it in its
// credentials, logs it or puts it in a message or error.
//
// Revoke, when a customer disconnects, asks the service to forget the
// credentials; the host then forgets them too.

// OAuthClient is an OAuth client that the provider running the host
// registered with a service, such as a Zoho "server-based application".
type OAuthClient struct {
	ID     string
	Secret string
}

// ConnectKind is a way a customer connects a source from a connect page.
type ConnectKind string

// The ways to connect.
const (
	// ConnectWeb: the browser goes to the service's consent page
	// (AuthorizeURL) and comes back with the answer (Authorize's Params).
	ConnectWeb ConnectKind = "web"
	// ConnectForm: the customer fills in ConnectMethod.Fields, which
	// Authorize gets as Params.
	ConnectForm ConnectKind = "form"
)

// ConnectMethod is one way a connect page offers to connect a source. A
// spec lists each kind at most once.
type ConnectMethod struct {
	Kind        ConnectKind
	Title       string // the button or heading, e.g. "Connect with Zoho"
	Description string // for the customer: what happens, what they need
	// Fields are what a ConnectForm page asks for, declared as a
	// configuration's attributes are (plugin/config derives them from a
	// tagged struct); none for ConnectWeb.
	Fields []Attribute
}

// AuthorizeURLRequest asks a source where to send the browser to ask the
// customer's consent.
type AuthorizeURLRequest struct {
	Config json.RawMessage
	// Client is the provider's OAuth client, from the host's configuration.
	// The URL carries its ID, never its Secret.
	Client OAuthClient
	// RedirectURL is the host's URL the service sends the browser back to;
	// it must be registered for Client with the service.
	RedirectURL string
	// State is the host's unguessable value that the service hands back
	// unchanged with the answer; the URL must carry it.
	State string
	// Streams are the streams the pipeline reads, to ask only for the
	// scopes they need; empty means every stream.
	Streams []string
}

// AuthorizeURLResponse is where the browser goes.
type AuthorizeURLResponse struct {
	URL string
	// Scopes are the rights the URL asks for, in the service's words, for
	// the connect page to show before the customer leaves it.
	Scopes []string
}

// RevokeRequest asks a source to have the service forget its credentials.
type RevokeRequest struct {
	Config      json.RawMessage
	Credentials Credentials
	Client      *OAuthClient // the provider's client, as in ReadRequest
}

// RevokeResponse reports a revocation.
type RevokeResponse struct {
	Message string // e.g. that the service had already forgotten them
}

// WebAuthorizer is a Source that customers connect in their browser
// (ConnectWeb). It is an interface of its own, not a method of Source, so
// that sources written before it keep compiling; the Source a host gets
// from launch.Client always implements it, and answers ErrUnsupported for
// a plugin that does not.
//
// The host calls AuthorizeURL as it calls Authorize: one call at a time
// per process, under its call timeout; a cancelled context means stop.
type WebAuthorizer interface {
	// AuthorizeURL returns the service's consent page for the customer.
	// It makes no call to the service.
	AuthorizeURL(ctx context.Context, req AuthorizeURLRequest) (AuthorizeURLResponse, error)
}

// Revoker is a Source whose credentials the service can be asked to
// forget. As for WebAuthorizer, the host's Source always implements it.
type Revoker interface {
	// Revoke asks the service to forget req.Credentials. Credentials the
	// service no longer knows are revoked already: that is no error.
	Revoke(ctx context.Context, req RevokeRequest) (RevokeResponse, error)
}
