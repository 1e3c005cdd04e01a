package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/replicatorhq/replicator/host/state"
)

//go:embed templates/*.html
var templateFiles embed.FS

// recentRuns is how many runs per pipeline the pipelines page shows.
const recentRuns = 3

// pages is parsed once per Console; html/template escapes every value.
func parsePages() *template.Template {
	return template.Must(template.New("").Funcs(template.FuncMap{
		"when":      when,
		"until":     until,
		"firstLine": firstLine,
		"credits":   credits,
		"seconds":   func(d time.Duration) string { return d.Round(time.Second).String() },
		"thousands": thousands,
		"runTime": func(r state.Run) string {
			if r.Ended.IsZero() {
				return ""
			}
			return r.Ended.Sub(r.Started).Round(100 * time.Millisecond).String()
		},
	}).ParseFS(templateFiles, "templates/*.html"))
}

// view is what every page template gets.
type view struct {
	Title   string
	CSRF    string // the session's; a page without one has no logout button
	Now     time.Time
	Refresh int // seconds; 0 for none

	Pipelines []Pipeline
	Pipeline  *Pipeline
	Sources   []Source
	Source    *Source
	Message   string
	Notice    string // Options.Notice's
	Error     string
	Hint      string
	Next      string
}

func (c *Console) render(w http.ResponseWriter, status int, name string, v view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	if err := c.tmpl.ExecuteTemplate(&b, name, v); err != nil {
		c.log.Error("rendering a console page", "page", name, "error", err)
		http.Error(w, "the page could not be rendered; see the host's log", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, b.String())
}

func (c *Console) fail(w http.ResponseWriter, _ *http.Request, status int, msg string) {
	c.render(w, status, "error.html", view{Title: http.StatusText(status), Error: msg, Now: c.now()})
}

// page wraps a handler that needs a session: without one the browser is
// sent to the login page. A POST must carry the session's CSRF token.
func (c *Console) page(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		x := c.session(r)
		if x == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.EscapedPath()), http.StatusSeeOther)
				return
			}
			c.fail(w, r, http.StatusUnauthorized, "Your session has ended. Log in again, then repeat what you did.")
			return
		}
		if r.Method == http.MethodPost {
			if !c.parseForm(w, r) {
				return
			}
			if !x.csrfOK(r) {
				c.fail(w, r, http.StatusForbidden, "The form's security token is missing or out of date. Reload the page and press the button again.")
				return
			}
		}
		h(w, r, x)
	}
}

// loginPage shows the login form, or logs in with the token of a login
// URL (/login?token=...), as the host prints it when it made the token.
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	next := safeNext(q.Get("next"))
	if q.Has("token") {
		c.logIn(w, r, q.Get("token"), next)
		return
	}
	c.render(w, http.StatusOK, "login.html", view{Title: "Log in", Next: next, Now: c.now()})
}

// parseForm reads a posted form, or answers the request itself when it
// cannot: 413 for a body over MaxFormBytes.
func (c *Console) parseForm(w http.ResponseWriter, r *http.Request) bool {
	err := r.ParseForm()
	if err == nil {
		return true
	}
	if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
		c.fail(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("The form is larger than %d bytes.", MaxFormBytes))
	} else {
		c.fail(w, r, http.StatusBadRequest, "The form could not be read: "+err.Error())
	}
	return false
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if !c.parseForm(w, r) {
		return
	}
	c.logIn(w, r, r.PostFormValue("token"), safeNext(r.PostFormValue("next")))
}

// logIn opens a session when token is the console's and sends the browser
// on to next, a path the token is not in.
func (c *Console) logIn(w http.ResponseWriter, r *http.Request, token, next string) {
	v := view{Title: "Log in", Next: next, Now: c.now()}
	gen, ok, wait := c.verify(r, token)
	switch {
	case wait > 0:
		secs, msg := tooMany(wait)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		v.Error = msg
		c.render(w, http.StatusTooManyRequests, "login.html", v)
		return
	case !ok:
		v.Error = "That is not the console token. It is the value of console_token in the host block of the configuration, " +
			"or, without one, the token in the login URL replicator run printed when it started."
		c.render(w, http.StatusUnauthorized, "login.html", v)
		return
	}
	x := c.sessions.open(c.now(), gen)
	setSessionCookie(w, r, x.id, int(sessionTTL/time.Second))
	c.log.Info("session opened", "remote", r.RemoteAddr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, x *session) {
	c.sessions.close(x.id)
	setSessionCookie(w, r, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext returns next, where to go after login, when it is a path on
// this console, and "/" otherwise. It allows the shape of a local path
// only: one "/" then the characters of a URL path (RFC 3986), with
// percent escapes whole; so no browser reads it as another host, as it
// would "//host", "/\host" or "/" and a tab then "/host".
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		switch ch := next[i]; {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9', strings.IndexByte("/-._~!$&'()*+,;=:@", ch) >= 0:
		case ch == '%' && i+2 < len(next) && isHex(next[i+1]) && isHex(next[i+2]):
			i += 2
		default:
			return "/"
		}
	}
	return next
}

func isHex(ch byte) bool {
	return '0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'f' || 'A' <= ch && ch <= 'F'
}

func (c *Console) base(x *session, title string) view {
	v := view{Title: title, CSRF: x.csrf, Now: c.now()}
	if c.notice != nil {
		v.Notice = c.notice()
	}
	return v
}

func (c *Console) pipelinesPage(w http.ResponseWriter, r *http.Request, x *session) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	ps, err := c.host.Pipelines(ctx, recentRuns)
	if err != nil {
		c.fail(w, r, http.StatusServiceUnavailable, "Reading the pipelines failed: "+err.Error())
		return
	}
	v := c.base(x, "Pipelines")
	v.Pipelines, v.Refresh = ps, 5
	// The sources that keep pipelines from running until authorized.
	bySource := map[string]int{}
	for _, p := range ps {
		if !p.NeedsGrant {
			continue
		}
		i, ok := bySource[p.Source]
		if !ok {
			i = len(v.Sources)
			bySource[p.Source] = i
			v.Sources = append(v.Sources, Source{Ref: p.Source, CanAuthorize: true})
		}
		v.Sources[i].Pipelines = append(v.Sources[i].Pipelines, p.Name)
	}
	v.Message = r.URL.Query().Get("queued")
	if v.Message != "" {
		v.Message = fmt.Sprintf("A run of %s is queued.", v.Message)
	}
	c.render(w, http.StatusOK, "pipelines.html", v)
}

func (c *Console) pipelinePage(w http.ResponseWriter, r *http.Request, x *session) {
	name := r.PathValue("name")
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	p, err := c.host.Pipeline(ctx, name, 20)
	switch {
	case errors.Is(err, ErrUnknown):
		c.fail(w, r, http.StatusNotFound, fmt.Sprintf("There is no pipeline %q in the configuration.", name))
		return
	case err != nil:
		c.fail(w, r, http.StatusServiceUnavailable, "Reading the pipeline failed: "+err.Error())
		return
	}
	v := c.base(x, "Pipeline "+name)
	v.Pipeline, v.Refresh = &p, 5
	c.render(w, http.StatusOK, "pipeline.html", v)
}

func (c *Console) syncNow(w http.ResponseWriter, r *http.Request, _ *session) {
	name := r.PathValue("name")
	if err := c.host.SyncNow(r.Context(), name); err != nil {
		status := http.StatusConflict
		if errors.Is(err, ErrUnknown) {
			status = http.StatusNotFound
		}
		c.fail(w, r, status, fmt.Sprintf("Sync of %s: %v", name, err))
		return
	}
	c.log.Info("sync asked for in the console", "pipeline", name, "remote", r.RemoteAddr)
	http.Redirect(w, r, "/?queued="+url.QueryEscape(name), http.StatusSeeOther)
}

func (c *Console) source(ctx context.Context, ref string) (*Source, error) {
	srcs, err := c.host.Sources(ctx)
	if err != nil {
		return nil, err
	}
	for i := range srcs {
		if srcs[i].Ref == ref {
			return &srcs[i], nil
		}
	}
	return nil, fmt.Errorf("there is no %s %w", ref, ErrUnknown)
}

// grantSource returns the source of the request's path when it takes a
// grant, and otherwise answers the request itself.
func (c *Console) grantSource(w http.ResponseWriter, r *http.Request) *Source {
	src, err := c.source(r.Context(), r.PathValue("ref"))
	if err != nil {
		c.fail(w, r, http.StatusNotFound, "There is no source "+r.PathValue("ref")+" in the configuration.")
		return nil
	}
	if !src.CanAuthorize {
		c.fail(w, r, http.StatusNotFound, src.Ref+" takes no grant: its connector needs no authorization.")
		return nil
	}
	return src
}

func (c *Console) authorizePage(w http.ResponseWriter, r *http.Request, x *session) {
	src := c.grantSource(w, r)
	if src == nil {
		return
	}
	v := c.base(x, "Authorize "+src.Ref)
	v.Source = src
	c.render(w, http.StatusOK, "authorize.html", v)
}

func (c *Console) authorize(w http.ResponseWriter, r *http.Request, x *session) {
	src := c.grantSource(w, r)
	if src == nil {
		return
	}
	v := c.base(x, "Authorize "+src.Ref)
	v.Source = src
	code := strings.TrimSpace(r.PostFormValue("code"))
	if code == "" {
		v.Error = "Paste the grant code first."
		c.render(w, http.StatusBadRequest, "authorize.html", v)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
	defer cancel()
	msg, err := c.host.Authorize(ctx, src.Ref, code)
	if err != nil {
		c.log.Warn("authorization in the console failed", "source", src.Ref, "error", err)
		v.Error = err.Error()
		c.render(w, http.StatusUnprocessableEntity, "authorize.html", v)
		return
	}
	c.log.Info("source authorized in the console", "source", src.Ref, "remote", r.RemoteAddr)
	if s, err := c.source(r.Context(), src.Ref); err == nil {
		v.Source = s
	}
	v.Message = msg
	c.render(w, http.StatusOK, "authorized.html", v)
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func until(now, t time.Time) string {
	if t.IsZero() {
		return "when asked"
	}
	d := t.Sub(now).Round(time.Second)
	if d <= 0 {
		return "due now"
	}
	return "in " + d.String()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// credits returns the API credits a run's source reported.
func credits(r state.Run) int64 {
	var n int64
	for k, v := range r.Counters {
		if k == "api_credits" || strings.HasSuffix(k, ".api_credits") {
			n += v
		}
	}
	return n
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
