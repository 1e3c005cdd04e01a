package connect

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// CallbackPath is where the service sends the browser back to, under the
// host's public URL: the redirect URL to register with the provider's
// OAuth client.
const CallbackPath = "/connect/callback"

// maxFormBytes bounds the body of a connect page's form.
const maxFormBytes = 16 << 10

// callTimeout bounds a connection's calls to the source: its Authorize
// exchanges a code and reads the org.
const callTimeout = 2 * time.Minute

// ErrUnknown is wrapped by a Host's errors for a source it does not have.
var ErrUnknown = errors.New("not in the configuration")

// Source is what a connect page shows of the source a link is for.
type Source struct {
	Ref       string // e.g. source.zoho.crm
	Type      string
	Pipelines []string
	// Connected says the source has stored credentials: a connection
	// replaces them.
	Connected bool
	// Methods are the source's Spec.Connect, ConnectWeb left out when the
	// host has no OAuth client for the source's type.
	Methods []contract.ConnectMethod
}

// Connected is what a connection did.
type Connected struct {
	// Message is the source's: which account it reached, what the
	// granted rights allow.
	Message string
	// Started are the pipelines whose first run was started; NotStarted
	// says why others were not, by pipeline.
	Started    []string
	NotStarted map[string]string
}

// Host is the running host the pages connect sources of. Its methods fill
// in what a request to the source needs from the configuration: the
// source's configuration, the provider's OAuth client, the streams.
type Host interface {
	// Source returns a source by reference, or an error wrapping ErrUnknown.
	Source(ctx context.Context, ref string) (Source, error)
	// AuthorizeURL asks the source where to send the browser.
	AuthorizeURL(ctx context.Context, ref string, req contract.AuthorizeURLRequest) (contract.AuthorizeURLResponse, error)
	// Authorize asks the source for credentials; it stores nothing.
	Authorize(ctx context.Context, ref string, req contract.AuthorizeRequest) (contract.AuthorizeResponse, error)
	// Revoke asks the source to have the service forget credentials it
	// made but that were not stored.
	Revoke(ctx context.Context, ref string, creds contract.Credentials) error
	// LinkKeys, LinkUsed and ConnectWithLink are the state store's.
	LinkKeys(ctx context.Context) ([][]byte, error)
	LinkUsed(ctx context.Context, id string) (time.Time, error)
	ConnectWithLink(ctx context.Context, id, source string, expires time.Time, c json.RawMessage) error
	// StartRuns starts the first runs of the source's pipelines.
	StartRuns(ctx context.Context, ref string) (started []string, notStarted map[string]string)
}

// Options configure the pages.
type Options struct {
	Host Host
	// PublicURL returns the host's public URL, without a final slash, as
	// the configuration says now; "" when there is none.
	PublicURL func() string
	Log       hclog.Logger
	// Wrap, when set, wraps the handler: the console's security headers.
	Wrap func(http.Handler) http.Handler
}

// Pages serves the connect pages under /connect/.
type Pages struct {
	host      Host
	publicURL func() string
	log       hclog.Logger
	tmpl      *template.Template
	handler   http.Handler
	now       func() time.Time
}

//go:embed templates/*.html
var templateFiles embed.FS

// New returns the connect pages.
func New(o Options) *Pages {
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	p := &Pages{
		host:      o.Host,
		publicURL: o.PublicURL,
		log:       o.Log,
		tmpl:      template.Must(template.New("").ParseFS(templateFiles, "templates/*.html")),
		now:       time.Now,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+CallbackPath, p.callback)
	mux.HandleFunc("GET /connect/{token}", p.page)
	// A link, not a form: a browser follows a form's redirect only to
	// where the page's CSP form-action allows, and the service's consent
	// page may send it on to another of its hosts. It changes nothing.
	mux.HandleFunc("GET /connect/{token}/web", p.web)
	mux.HandleFunc("POST /connect/{token}/form", p.form)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fail(w, http.StatusForbidden, "This form was sent from another site. Open your connect link again and press the button there.")
	}))
	h := cop.Handler(http.MaxBytesHandler(mux, maxFormBytes))
	if o.Wrap != nil {
		h = o.Wrap(h)
	}
	p.handler = h
	return p
}

// ServeHTTP serves the pages.
func (p *Pages) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.handler.ServeHTTP(w, r) }

// MakeLink makes a link to connect the source ref, lasting ttl (0 for
// DefaultLinkTTL), and returns its URL and when it expires.
func (p *Pages) MakeLink(ctx context.Context, ref string, ttl time.Duration) (string, time.Time, error) {
	base := p.publicURL()
	if base == "" {
		return "", time.Time{}, errors.New("connect links need the host's public address: set host { public_url = \"https://...\" }")
	}
	src, err := p.host.Source(ctx, ref)
	if err != nil {
		return "", time.Time{}, err
	}
	if len(src.Methods) == 0 {
		return "", time.Time{}, fmt.Errorf("%s cannot be connected from a connect page: its %s connector offers no way to, or needs the provider's OAuth client in a host { connect %q { ... } } block", ref, src.Type, src.Type)
	}
	return MakeLink(ctx, p.host, base, ref, ttl, p.now())
}

// view is what the templates get.
type view struct {
	Base      string // the public URL's path, where the host's root is
	Title     string
	Error     string
	Source    Source
	Token     string
	CSRF      string
	Scopes    []string
	Web       *contract.ConnectMethod
	Form      *contract.ConnectMethod
	Values    map[string]string // the form's values kept after an error
	Expires   time.Time
	Connected Connected
}

func (p *Pages) render(w http.ResponseWriter, status int, name string, v view) {
	if u, err := url.Parse(p.publicURL()); err == nil {
		v.Base = u.Path
	}
	var b strings.Builder
	if err := p.tmpl.ExecuteTemplate(&b, name, v); err != nil {
		p.log.Error("rendering a connect page", "page", name, "error", err)
		http.Error(w, "the page could not be rendered; the provider's log says why", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, b.String())
}

func (p *Pages) fail(w http.ResponseWriter, status int, msg string) {
	p.render(w, status, "failed.html", view{Title: "This link cannot connect", Error: msg})
}

// openLink reads the request's link and checks it can still connect,
// answering the request itself when it cannot.
func (p *Pages) openLink(w http.ResponseWriter, r *http.Request, token string) (Link, Source, bool) {
	keys, err := p.host.LinkKeys(r.Context())
	if err != nil {
		p.log.Error("reading the connect links' keys", "error", err)
		p.fail(w, http.StatusServiceUnavailable, "The provider's service cannot check links right now. Try again in a few minutes.")
		return Link{}, Source{}, false
	}
	l, err := OpenLink(keys, token, p.now())
	switch {
	case errors.Is(err, ErrExpired):
		p.fail(w, http.StatusGone, firstUpper(err.Error())+".")
		return Link{}, Source{}, false
	case err != nil:
		p.log.Info("a connect link that does not open", "remote", r.RemoteAddr)
		p.fail(w, http.StatusForbidden, err.Error()+".")
		return Link{}, Source{}, false
	}
	used, err := p.host.LinkUsed(r.Context(), l.ID)
	if err != nil {
		p.log.Error("reading whether a connect link was used", "error", err)
		p.fail(w, http.StatusServiceUnavailable, "The provider's service cannot check links right now. Try again in a few minutes.")
		return Link{}, Source{}, false
	}
	if !used.IsZero() {
		p.fail(w, http.StatusGone, fmt.Sprintf("This connect link was used on %s: it connected %s, and works only once. To connect again, ask the provider for a new link.",
			used.UTC().Format("2 January 2006 15:04 MST"), l.Source))
		return Link{}, Source{}, false
	}
	src, err := p.host.Source(r.Context(), l.Source)
	if err != nil {
		p.log.Warn("a connect link for a source the host cannot show", "source", l.Source, "error", err)
		status := http.StatusServiceUnavailable
		if errors.Is(err, ErrUnknown) {
			status = http.StatusNotFound
		}
		p.fail(w, status, fmt.Sprintf("The connection this link is for (%s) cannot be connected now: the provider may have removed it. Ask the provider.", l.Source))
		return Link{}, Source{}, false
	}
	return l, src, true
}

// browserCookie names the cookie that binds a browser to the consent it
// asked for, and carries the pages' CSRF token.
const browserCookie = "replicator_connect"

// browser returns the request's browser nonce, setting a new one on w
// when it has none.
func (p *Pages) browser(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(browserCookie); err == nil && len(c.Value) == 64 {
		return c.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := hex.EncodeToString(b)
	path, secure := "/connect", true
	if u, err := url.Parse(p.publicURL()); err == nil {
		path, secure = u.Path+"/connect", u.Scheme == "https"
	}
	http.SetCookie(w, &http.Cookie{
		Name: browserCookie, Value: v, Path: path, MaxAge: int(DefaultLinkTTL / time.Second),
		// Lax: the service's redirect back is a top-level GET from
		// another site, which must carry it.
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	})
	return v
}

// csrfOK says whether a form carries the browser's cookie as its token.
func csrfOK(r *http.Request) bool {
	c, err := r.Cookie(browserCookie)
	return err == nil && c.Value != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) == 1
}

func digest(nonce string) string {
	sum := sha256.Sum256([]byte(nonce))
	return hex.EncodeToString(sum[:16])
}

// redirectURL is where the service sends the browser back to.
func (p *Pages) redirectURL() string { return p.publicURL() + CallbackPath }

// connectView is the connect page of a link.
func (p *Pages) connectView(ctx context.Context, token string, l Link, src Source, nonce string) view {
	v := view{Title: "Connect " + src.Ref, Source: src, Token: token, CSRF: nonce, Expires: l.Expires}
	for i := range src.Methods {
		m := &src.Methods[i]
		switch m.Kind {
		case contract.ConnectWeb:
			// The scopes the consent will ask for; AuthorizeURL makes no
			// call to the service.
			resp, err := p.host.AuthorizeURL(ctx, src.Ref, contract.AuthorizeURLRequest{RedirectURL: p.redirectURL(), State: "scopes"})
			if err != nil {
				p.log.Warn("the connect page cannot offer the consent", "source", src.Ref, "error", err)
				continue
			}
			v.Web, v.Scopes = m, resp.Scopes
		case contract.ConnectForm:
			v.Form = m
		}
	}
	return v
}

func (p *Pages) page(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	l, src, ok := p.openLink(w, r, token)
	if !ok {
		return
	}
	nonce := p.browser(w, r)
	v := p.connectView(r.Context(), token, l, src, nonce)
	if v.Web == nil && v.Form == nil {
		p.fail(w, http.StatusServiceUnavailable, fmt.Sprintf("%s cannot be connected from this page now. Ask the provider.", src.Ref))
		return
	}
	p.render(w, http.StatusOK, "connect.html", v)
}

// web sends the browser to the service's consent page, with a state that
// names the link and this browser (its cookie).
func (p *Pages) web(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	l, src, ok := p.openLink(w, r, token)
	if !ok {
		return
	}
	keys, err := p.host.LinkKeys(r.Context())
	if err != nil {
		p.fail(w, http.StatusServiceUnavailable, "The provider's service cannot check links right now. Try again in a few minutes.")
		return
	}
	// The state is bound to this browser's cookie, set now if it has none.
	st, err := sign(keys[0], purposeState, webState{Link: l, Browser: digest(p.browser(w, r)), Until: p.now().Add(stateTTL).UTC()})
	if err != nil {
		p.fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	resp, err := p.host.AuthorizeURL(ctx, src.Ref, contract.AuthorizeURLRequest{RedirectURL: p.redirectURL(), State: st})
	if err != nil {
		p.log.Warn("no consent page for a connect link", "source", src.Ref, "error", err)
		p.fail(w, http.StatusServiceUnavailable, fmt.Sprintf("Connecting %s this way is not possible now: %v", src.Ref, err))
		return
	}
	p.log.Info("a customer left for the consent page", "source", src.Ref, "link", l.ID)
	http.Redirect(w, r, resp.URL, http.StatusSeeOther)
}

// callback takes the service's answer: the state must be one a connect
// page of this browser made, for a link that can still connect.
func (p *Pages) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	keys, err := p.host.LinkKeys(r.Context())
	if err != nil {
		p.fail(w, http.StatusServiceUnavailable, "The provider's service cannot check links right now. Try again in a few minutes.")
		return
	}
	var st webState
	if err := open(keys, purposeState, q.Get("state"), &st); err != nil || st.ID == "" {
		p.log.Info("an answer to the callback whose state does not open", "remote", r.RemoteAddr)
		p.fail(w, http.StatusBadRequest, "This answer does not come from a connect page of this service: its state is missing or altered. Nothing was stored. Open your connect link again.")
		return
	}
	cookie, err := r.Cookie(browserCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(digest(cookie.Value)), []byte(st.Browser)) != 1 {
		p.log.Info("an answer to the callback from another browser than the one that asked", "source", st.Source, "link", st.ID, "remote", r.RemoteAddr)
		p.fail(w, http.StatusForbidden, "This answer came back to another browser than the one that opened the connect link, so it is refused and nothing was stored. Open the connect link again in this browser, with cookies allowed, and connect from there.")
		return
	}
	if p.now().After(st.Until) {
		p.fail(w, http.StatusGone, "More than 30 minutes passed between leaving the connect page and coming back. Nothing was stored. Open your connect link again.")
		return
	}
	token, err := st.Sign(keys[0])
	if err != nil {
		p.fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	l, src, ok := p.openLink(w, r, token)
	if !ok {
		return
	}
	params := map[string]string{}
	for k := range q {
		if k != "state" {
			params[k] = q.Get(k)
		}
	}
	req := contract.AuthorizeRequest{Connect: contract.ConnectWeb, Params: params, RedirectURL: p.redirectURL()}
	done, err := p.connect(r.Context(), l, src, req)
	if err != nil {
		p.render(w, http.StatusUnprocessableEntity, "failed.html", view{Title: "Not connected", Error: err.Error(), Source: src, Token: token})
		return
	}
	p.render(w, http.StatusOK, "connected.html", view{Title: "Connected", Source: src, Connected: done})
}

// form connects with the fields the customer filled in.
func (p *Pages) form(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	l, src, ok := p.openLink(w, r, token)
	if !ok {
		return
	}
	if !csrfOK(r) {
		p.fail(w, http.StatusForbidden, "This page has expired in your browser, or your browser does not keep cookies for it. Open your connect link again, with cookies allowed, and send the form from there.")
		return
	}
	v := p.connectView(r.Context(), token, l, src, r.PostFormValue("csrf"))
	if v.Form == nil {
		p.fail(w, http.StatusBadRequest, fmt.Sprintf("%s offers no form to connect with.", src.Ref))
		return
	}
	params := map[string]string{}
	v.Values = map[string]string{}
	for _, f := range v.Form.Fields {
		val := strings.TrimSpace(r.PostFormValue(f.Name))
		if val != "" {
			params[f.Name] = val
		}
		if !f.Sensitive {
			v.Values[f.Name] = val
		}
	}
	done, err := p.connect(r.Context(), l, src, contract.AuthorizeRequest{Connect: contract.ConnectForm, Params: params})
	if err != nil {
		v.Error = err.Error()
		p.render(w, http.StatusUnprocessableEntity, "connect.html", v)
		return
	}
	p.render(w, http.StatusOK, "connected.html", view{Title: "Connected", Source: src, Connected: done})
}

// connect asks the source for credentials and stores them as the link
// connected them; a link used meanwhile, in another tab or on another
// host, stores nothing, and the credentials just made are revoked.
func (p *Pages) connect(ctx context.Context, l Link, src Source, req contract.AuthorizeRequest) (Connected, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := p.host.Authorize(ctx, src.Ref, req)
	if err != nil {
		p.log.Warn("a connection was refused", "source", src.Ref, "link", l.ID, "way", req.Connect, "error", err)
		return Connected{}, err
	}
	err = p.host.ConnectWithLink(ctx, l.ID, src.Ref, l.Expires, resp.Credentials)
	if errors.Is(err, state.ErrLinkUsed) {
		if rerr := p.host.Revoke(ctx, src.Ref, resp.Credentials); rerr != nil {
			p.log.Warn("revoking the credentials of a second use of a link", "source", src.Ref, "error", rerr)
		}
		return Connected{}, fmt.Errorf("this connect link connected %s already, in another tab or browser; it works only once, so nothing more was stored. To connect again, ask the provider for a new link", src.Ref)
	}
	if err != nil {
		p.log.Error("storing the credentials of a connection", "source", src.Ref, "error", err)
		return Connected{}, fmt.Errorf("connected, but the provider's service could not store the credentials, so nothing was stored. Try again in a few minutes with the same link")
	}
	p.log.Info("a source was connected through a connect link", "source", src.Ref, "link", l.ID, "way", req.Connect)
	done := Connected{Message: resp.Message}
	done.Started, done.NotStarted = p.host.StartRuns(context.WithoutCancel(ctx), src.Ref)
	return done, nil
}

func firstUpper(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
