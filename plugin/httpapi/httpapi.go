// Package httpapi calls a service's HTTP API from a connector. A Client
// retries what is worth retrying (429, 503 and, for idempotent requests,
// other 5xx answers and network errors) with jittered exponential backoff
// that honours Retry-After, within a bound on attempts and on total time,
// and warns through the connector's logger before each retry, saying the
// attempt, the limit and the status. It sends an access token from an
// oauth2.TokenSource with every attempt, reads answers with a size limit,
// decodes JSON, and sends plain http only to this machine.
//
// It is built on hashicorp/go-retryablehttp, which runs the attempts,
// rewinds request bodies and drains the answers it retries; this package
// decides what to retry and for how long, and turns the outcome into
// errors that say what happened: a *StatusError carries the service's
// status and (bounded) error body.
//
//	api, err := httpapi.New(httpapi.Options{
//		BaseURL: cfg.APIURL, Service: "People API", Tokens: httpapi.Bearer(cfg.Token), Log: log,
//	})
//	var page peoplePage
//	err = api.Get(ctx, "/v1/people", url.Values{"limit": {"100"}}, &page)
package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/oauth2"

	"github.com/replicatorhq/replicator/plugin/config"
)

// Defaults of Options; a zero field takes its default.
const (
	DefaultMaxAttempts = 5
	DefaultMaxElapsed  = 2 * time.Minute
	DefaultMinWait     = time.Second
	DefaultMaxWait     = 30 * time.Second
	DefaultTimeout     = time.Minute
	// DefaultMaxBodyBytes bounds an answer's body: a page of records is a
	// few megabytes, and a broken service must not exhaust the
	// connector's memory.
	DefaultMaxBodyBytes = 32 << 20
)

// MaxErrorBodyBytes is how much of an error answer's body a StatusError
// keeps.
const MaxErrorBodyBytes = 64 << 10

// maxRedirects is how many redirects a request follows, as net/http does.
const maxRedirects = 10

// Options configure a Client.
type Options struct {
	// BaseURL is the API's root, such as https://api.example.com/v1.
	// Request paths are joined to it. Plain http is accepted only to this
	// machine (a simulator, a local proxy), where the token cannot be
	// overheard; anywhere else a typo would send it unencrypted.
	BaseURL string
	// Service names the API in errors and warnings ("People API"); the
	// base URL's host when empty.
	Service string
	// Tokens supplies the access token sent with every attempt: Bearer for
	// a fixed API token, an oauth2.Config's or clientcredentials.Config's
	// TokenSource for OAuth2 (wrap it in oauth2.ReuseTokenSource to keep a
	// token until it expires). A source that also implements
	// ContextTokenSource is asked with the request's context. The token's
	// type names the scheme ("Bearer" when empty). Nil sends no
	// Authorization header.
	Tokens oauth2.TokenSource
	// Log receives a warning before each retry; nil logs nothing.
	Log hclog.Logger
	// OnResponse, when set, sees every answer, of each attempt, before
	// the answer is read or retried: for the headers a service reports
	// its limits in (credits or requests left). It must not read or close
	// the body, and may run on several goroutines at once.
	OnResponse func(*http.Response)
	// MaxAttempts bounds the attempts of one request, the first included.
	MaxAttempts int
	// MaxElapsed bounds the time one request keeps being retried: no
	// retry starts whose wait would end after it. A Retry-After longer
	// than that ends the request at once, saying how long the service
	// asked to wait.
	MaxElapsed time.Duration
	// MinWait and MaxWait bound the backoff before a retry, which doubles
	// from MinWait with each attempt; a Retry-After may ask for longer.
	MinWait, MaxWait time.Duration
	// Timeout bounds one attempt, reading the answer included;
	// Request.Timeout overrides it for one request.
	Timeout time.Duration
	// MaxBodyBytes bounds the body of an answer; reading past it fails
	// with a *BodyTooLargeError. Request.MaxBodyBytes overrides it for one
	// request.
	MaxBodyBytes int64
	// UseNumber decodes JSON numbers into an interface value as
	// json.Number, keeping every digit (19-digit ids, currency).
	UseNumber bool
	// UserAgent is sent as the User-Agent header when set.
	UserAgent string
	// Transport sends the requests; nil uses a clone of
	// http.DefaultTransport, which honours the proxy environment.
	Transport http.RoundTripper
}

func (o Options) withDefaults(base *url.URL) Options {
	o.Service = cmp.Or(o.Service, base.Host)
	o.MaxAttempts = orDefault(o.MaxAttempts, DefaultMaxAttempts)
	o.MaxElapsed = orDefault(o.MaxElapsed, DefaultMaxElapsed)
	o.MinWait = orDefault(o.MinWait, DefaultMinWait)
	o.MaxWait = orDefault(o.MaxWait, DefaultMaxWait)
	o.Timeout = orDefault(o.Timeout, DefaultTimeout)
	o.MaxBodyBytes = orDefault(o.MaxBodyBytes, DefaultMaxBodyBytes)
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	return o
}

// orDefault is v, or def when v is zero or negative.
func orDefault[T int | int64 | time.Duration](v, def T) T {
	var zero T
	if v <= zero {
		return def
	}
	return v
}

// Client calls one HTTP API. It is safe for concurrent use.
type Client struct {
	base *url.URL
	o    Options
	http *http.Client
}

// New returns a client for the API at o.BaseURL. It fails when the base
// URL is not an http(s) URL, or is plain http to another machine.
func New(o Options) (*Client, error) {
	base, err := url.Parse(o.BaseURL)
	if err != nil || base.Host == "" || (base.Scheme != "https" && base.Scheme != "http") {
		return nil, fmt.Errorf("base URL %q is not an http(s) URL such as https://api.example.com", o.BaseURL)
	}
	if err := allowed(base); err != nil {
		return nil, err
	}
	o = o.withDefaults(base)
	return &Client{base: base, o: o, http: &http.Client{
		Transport:     o.Transport,
		Timeout:       o.Timeout,
		CheckRedirect: checkRedirect,
	}}, nil
}

// Bearer is the token source of a fixed API token, sent as
// "Authorization: Bearer TOKEN".
func Bearer(token string) oauth2.TokenSource {
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})
}

// ContextTokenSource is a token source whose tokens may take a while: it
// waits for a rate limit or asks a token server, and stops when the
// request's context ends.
type ContextTokenSource interface {
	TokenContext(ctx context.Context) (*oauth2.Token, error)
}

// ErrPlainHTTP is wrapped by the error of a URL that would send a request,
// and its token, unencrypted to another machine.
var ErrPlainHTTP = errors.New("plain http is allowed only to this machine (localhost, 127.0.0.1, ::1): use https")

// allowed refuses plain http to anywhere but this machine.
func allowed(u *url.URL) error {
	if u.Scheme == "http" && !config.IsLoopbackHost(u.Hostname()) {
		return fmt.Errorf("%s: %w", u.Redacted(), ErrPlainHTTP)
	}
	return nil
}

// checkRedirect keeps a redirect from taking the token to plain http.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		// net/http's words, which go-retryablehttp knows not to retry.
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return allowed(req.URL)
}

// Request is one call of the API.
type Request struct {
	Method string // GET when empty
	// Path is joined to the base URL ("/people" and "people" alike). An
	// absolute URL, such as a next link the service returned, must be on
	// the base URL's scheme and host, where the token may go.
	Path   string
	Query  url.Values
	Body   any // sent as JSON when not nil
	Header http.Header
	// Idempotent marks a request that may be applied twice without harm,
	// so that 5xx answers and network errors retry it. GET, HEAD, PUT,
	// DELETE and OPTIONS are; set it for a POST that only reads (a query)
	// or carries an idempotency key.
	Idempotent bool
	// Timeout and MaxBodyBytes override the Options' for this request,
	// such as a download far larger and slower than a page; zero keeps
	// the Options'.
	Timeout      time.Duration
	MaxBodyBytes int64
}

func (r Request) method() string {
	if r.Method == "" {
		return http.MethodGet
	}
	return r.Method
}

func (r Request) idempotent() bool {
	switch r.method() {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return r.Idempotent
}

// Get GETs path with query and decodes the JSON answer into out.
func (c *Client) Get(ctx context.Context, path string, query url.Values, out any) error {
	return c.JSON(ctx, Request{Path: path, Query: query}, out)
}

// JSON sends r and decodes the JSON answer into out. An answer without a
// body (204, 304, or empty) leaves out as it is.
func (c *Client) JSON(ctx context.Context, r Request, out any) error {
	resp, k, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified {
		return nil
	}
	dec := json.NewDecoder(resp.Body)
	if c.o.UseNumber {
		dec.UseNumber()
	}
	if err := dec.Decode(out); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: reading the answer of %s: %w", k.name, c.o.Service, err)
	}
	return nil
}

// Do sends r, retrying as the Options say, and returns the answer when its
// status is below 400, for the caller to read and close; its body fails
// with a *BodyTooLargeError past MaxBodyBytes. A status of 400 or more is
// a *StatusError.
func (c *Client) Do(ctx context.Context, r Request) (*http.Response, error) {
	resp, _, err := c.do(ctx, r)
	return resp, err
}

func (c *Client) do(ctx context.Context, r Request) (*http.Response, *call, error) {
	req, err := c.request(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	k := &call{c: c, name: r.method() + " " + req.URL.Path, idempotent: r.idempotent(), start: time.Now(), http: c.http}
	if r.Timeout > 0 {
		hc := *c.http
		hc.Timeout = r.Timeout
		k.http = &hc
	}
	if err := c.authorize(req.Request); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", k.name, err)
	}
	resp, err := k.retrying().Do(req)
	if err != nil {
		return nil, nil, k.failed(err)
	}
	if resp.StatusCode >= 400 {
		return nil, nil, k.statusError(resp)
	}
	limit := orDefault(r.MaxBodyBytes, c.o.MaxBodyBytes)
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: limit, limit: limit}
	return resp, k, nil
}

// request builds r for go-retryablehttp, which sends its body again on
// every attempt.
func (c *Client) request(ctx context.Context, r Request) (*retryablehttp.Request, error) {
	u, err := c.url(r.Path, r.Query)
	if err != nil {
		return nil, err
	}
	var body []byte
	if r.Body != nil {
		if body, err = json.Marshal(r.Body); err != nil {
			return nil, fmt.Errorf("%s %s: encoding the request body: %w", r.method(), u.Path, err)
		}
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, r.method(), u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method(), u.Path, err)
	}
	for name, values := range r.Header {
		req.Header[name] = values
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	if c.o.UserAgent != "" {
		req.Header.Set("User-Agent", c.o.UserAgent)
	}
	return req, nil
}

// url joins path to the base URL and adds query.
func (c *Client) url(path string, query url.Values) (*url.URL, error) {
	ref, err := url.Parse(path)
	if err != nil {
		return nil, fmt.Errorf("path %q: %w", path, err)
	}
	// The escaped path: an escaped slash in an id stays in its segment.
	u := c.base.JoinPath(ref.EscapedPath())
	u.RawQuery = ref.RawQuery
	if ref.IsAbs() {
		// Only where the token may go: a link in an answer is data.
		if ref.Scheme != c.base.Scheme || ref.Host != c.base.Host {
			return nil, fmt.Errorf("%s pointed to %s, which is not on %s://%s",
				c.o.Service, ref.Redacted(), c.base.Scheme, c.base.Host)
		}
		u = ref
	}
	if len(query) > 0 {
		q := u.Query()
		for name, values := range query {
			q[name] = values
		}
		u.RawQuery = q.Encode()
	}
	return u, nil
}

// authorize puts the token source's current token on req; it runs before
// every attempt, so a token that expired during the backoff is renewed.
func (c *Client) authorize(req *http.Request) error {
	if c.o.Tokens == nil {
		return nil
	}
	tok, err := c.token(req.Context())
	if err != nil {
		return fmt.Errorf("getting an access token for %s: %w", c.o.Service, err)
	}
	if tok.AccessToken == "" {
		return fmt.Errorf("no access token for %s: the token is empty", c.o.Service)
	}
	tok.SetAuthHeader(req)
	return nil
}

// token asks the token source, with ctx when it takes one.
func (c *Client) token(ctx context.Context) (*oauth2.Token, error) {
	if src, ok := c.o.Tokens.(ContextTokenSource); ok {
		return src.TokenContext(ctx)
	}
	return c.o.Tokens.Token()
}

// StatusError is an answer with a status of 400 or more.
type StatusError struct {
	Service string
	Call    string // method and path, such as "GET /v1/people"
	Status  int
	// Body is the start of the answer's body, up to MaxErrorBodyBytes:
	// the service's own account of the error.
	Body []byte
	// GaveUp says why retries stopped when the answer was one worth
	// retrying ("gave up after 5 attempts"); empty otherwise.
	GaveUp string
}

// errorTextBytes is how much of the body an error message shows.
const errorTextBytes = 300

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s: %s answered %d %s", e.Call, e.Service, e.Status, http.StatusText(e.Status))
	if text := strings.Join(strings.Fields(string(e.Body)), " "); text != "" {
		if len(text) > errorTextBytes {
			text = strings.ToValidUTF8(text[:errorTextBytes], "") + "…"
		}
		msg += ": " + text
	}
	if e.GaveUp != "" {
		msg += " (" + e.GaveUp + ")"
	}
	return msg
}

// BodyTooLargeError is the error of reading an answer past MaxBodyBytes.
type BodyTooLargeError struct {
	Limit int64
}

func (e *BodyTooLargeError) Error() string {
	return fmt.Sprintf("the answer is larger than %s, the most this connector reads (httpapi.Options.MaxBodyBytes): "+
		"ask for fewer records per page", size(e.Limit))
}

// size writes n bytes as people read them.
func size(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// limitedBody fails a body that goes on past the limit, rather than
// reading all of it.
type limitedBody struct {
	io.ReadCloser
	left, limit int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	// One byte past the limit tells a body of exactly the limit from a
	// longer one.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	if int64(n) > b.left {
		n, b.left = int(b.left), 0
		return n, &BodyTooLargeError{Limit: b.limit}
	}
	b.left -= int64(n)
	return n, err
}

// readError reads the start of an error answer's body.
func readError(resp *http.Response) []byte {
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = io.Copy(&buf, io.LimitReader(resp.Body, MaxErrorBodyBytes))
	return buf.Bytes()
}
