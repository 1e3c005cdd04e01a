package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/replicatorhq/replicator/host/state"
)

//go:embed templates/*.html
var templateFiles embed.FS

// pageRuns is how many runs a pipeline's page shows.
const pageRuns = 20

// pages is parsed once per Console; html/template escapes every value.
func parsePages() *template.Template {
	return template.Must(template.New("").Funcs(template.FuncMap{
		"when":      when,
		"until":     until,
		"firstLine": firstLine,
		"credits":   credits,
		"seconds":   func(d time.Duration) string { return d.Round(time.Second).String() },
		"thousands": thousands,
		"label":     stateLabel,
		"runTime":   runTime,
		"counters":  counters,
		"failure":   failure,
	}).ParseFS(templateFiles, "templates/*.html"))
}

// view is what every page template gets.
type view struct {
	Title   string
	CSRF    string // the session's; a page without one has no logout button
	Now     time.Time
	Refresh int // seconds; 0 for none
	// RefreshURL is the same page reloading itself (when Refresh is 0) or
	// not; empty on a page that never reloads.
	RefreshURL string

	List     *listing
	Pipeline *Pipeline
	Sources  []Source
	Source   *Source
	Message  string
	Notice   string // Options.Notice's
	Error    string
	Hint     string
	Next     string
	// Link is a connect link just made, lasting until LinkExpires.
	Link        string
	LinkExpires time.Time
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

// refresh sets how v reloads itself: every RefreshEvery unless off, with
// a link that stops or starts it at url (which has the page's query with
// refresh=off added or removed).
func (v *view) refresh(off bool, url string) {
	if !off {
		v.Refresh = int(RefreshEvery / time.Second)
	}
	v.RefreshURL = url
}

// readTimeout bounds reading what a page shows.
const readTimeout = 10 * time.Second

func (c *Console) pipelinesPage(w http.ResponseWriter, r *http.Request, x *session) {
	q, err := parseListQuery(r.URL.Query())
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	ps, err := c.host.Pipelines(ctx)
	if err != nil {
		c.fail(w, r, http.StatusServiceUnavailable, "Reading the pipelines failed: "+err.Error())
		return
	}
	l := list(ps, q)
	v := c.base(x, "Pipelines")
	v.List = &l
	v.refresh(q.NoRefresh, l.Query.WithRefresh(q.NoRefresh))
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
	slices.SortFunc(v.Sources, func(a, b Source) int { return strings.Compare(a.Ref, b.Ref) })
	// The notice of a run asked for with "Sync now" lasts while it waits:
	// once it started, the pipeline's row says how it goes.
	if name := r.URL.Query().Get(paramQueued); name != "" {
		for _, p := range ps {
			if p.Name == name && p.Queued {
				v.Message = fmt.Sprintf("A run of %s is queued.", name)
			}
		}
	}
	c.render(w, http.StatusOK, "pipelines.html", v)
}

// The values of queued on a pipeline's page: what was asked for there.
const (
	queuedRun         = "run"
	queuedFullRefresh = "full-refresh"
)

func (c *Console) pipelinePage(w http.ResponseWriter, r *http.Request, x *session) {
	name := r.PathValue("name")
	query := r.URL.Query()
	noRefresh, err := parseRefresh(query)
	queued := query.Get(paramQueued)
	if err == nil && queued != "" && queued != queuedRun && queued != queuedFullRefresh {
		err = &queryError{fmt.Sprintf("queued takes only %q or %q.", queuedRun, queuedFullRefresh)}
	}
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	p, err := c.host.Pipeline(ctx, name, pageRuns)
	switch {
	case errors.Is(err, ErrUnknown):
		c.fail(w, r, http.StatusNotFound, fmt.Sprintf("There is no pipeline %q in the configuration.", name))
		return
	case err != nil:
		c.fail(w, r, http.StatusServiceUnavailable, "Reading the pipeline failed: "+err.Error())
		return
	}
	v := c.base(x, "Pipeline "+name)
	v.Pipeline = &p
	v.refresh(noRefresh, pipelineURL(name, !noRefresh, ""))
	switch {
	case !p.Queued:
	case queued == queuedRun:
		v.Message = "A run is queued."
	case queued == queuedFullRefresh:
		v.Message = "A full refresh is queued: every stream is read again from the start."
	}
	c.render(w, http.StatusOK, "pipeline.html", v)
}

// pipelineURL is the page of the pipeline called name, reloading itself
// unless noRefresh, with the notice of queued ("" for none).
func pipelineURL(name string, noRefresh bool, queued string) string {
	u := url.URL{Path: "/pipelines/" + name}
	v := url.Values{}
	if noRefresh {
		v.Set(paramRefresh, refreshOff)
	}
	if queued != "" {
		v.Set(paramQueued, queued)
	}
	u.RawQuery = v.Encode()
	return u.String()
}

// back is where a form of a pipeline's page or of the pipelines page
// returns to: the form says which ("back" is "pipeline" or absent) and
// carries the page's query, which is checked as the page's own would be.
func back(r *http.Request, name, queued string) (string, error) {
	if r.PostFormValue("back") == "pipeline" {
		off, err := parseRefresh(r.PostForm)
		return pipelineURL(name, off, queued), err
	}
	q, err := parseListQuery(r.PostForm)
	if err != nil {
		return "", err
	}
	v := q.values()
	if queued != "" {
		v.Set(paramQueued, name)
	}
	if len(v) == 0 {
		return "/", nil
	}
	return "/?" + v.Encode(), nil
}

// act runs one of a pipeline's actions and sends the browser back to the
// page of the form, with the notice of queued.
func (c *Console) act(w http.ResponseWriter, r *http.Request, what, queued string, do func(ctx context.Context, name string) error) {
	name := r.PathValue("name")
	to, err := back(r, name, queued)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if err := do(r.Context(), name); err != nil {
		status := http.StatusConflict
		if errors.Is(err, ErrUnknown) {
			status = http.StatusNotFound
		}
		c.fail(w, r, status, fmt.Sprintf("%s of %s: %v", what, name, err))
		return
	}
	c.log.Info(what+" asked for in the console", "pipeline", name, "remote", r.RemoteAddr)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (c *Console) syncNow(w http.ResponseWriter, r *http.Request, _ *session) {
	c.act(w, r, "Sync", queuedRun, func(ctx context.Context, name string) error { return c.host.SyncNow(ctx, name, false) })
}

func (c *Console) fullRefresh(w http.ResponseWriter, r *http.Request, _ *session) {
	c.act(w, r, "Full refresh", queuedFullRefresh, func(ctx context.Context, name string) error { return c.host.SyncNow(ctx, name, true) })
}

func (c *Console) pause(w http.ResponseWriter, r *http.Request, _ *session) {
	c.act(w, r, "Pause", "", func(ctx context.Context, name string) error { return c.host.SetPaused(ctx, name, true) })
}

func (c *Console) resume(w http.ResponseWriter, r *http.Request, _ *session) {
	c.act(w, r, "Resume", "", func(ctx context.Context, name string) error { return c.host.SetPaused(ctx, name, false) })
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

// runTime is how long a run took, or "" while it runs.
func runTime(r state.Run) string {
	if r.Ended.IsZero() {
		return ""
	}
	return duration(r.Ended.Sub(r.Started))
}

// duration reads a duration in ms under a second, in seconds with one
// decimal under a minute, and to the second beyond.
func duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	}
	return d.Round(time.Second).String()
}

// counter is one of a run's counters.
type counter struct {
	Name  string
	Value int64
}

// counters returns a run's counters sorted by name.
func counters(r state.Run) []counter {
	out := make([]counter, 0, len(r.Counters))
	for _, k := range slices.Sorted(maps.Keys(r.Counters)) {
		out = append(out, counter{k, r.Counters[k]})
	}
	return out
}

// failure returns the newest of runs that failed or crashed, or nil.
func failure(runs []state.Run) *state.Run {
	for i := range runs {
		if o := runs[i].Outcome; o == state.OutcomeFailed || o == state.OutcomeCrashed {
			return &runs[i]
		}
	}
	return nil
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

// connectLink makes a connect link for the source, to hand to whoever
// connects it.
func (c *Console) connectLink(w http.ResponseWriter, r *http.Request, x *session) {
	src := c.grantSource(w, r)
	if src == nil {
		return
	}
	v := c.base(x, "Authorize "+src.Ref)
	v.Source = src
	var ttl time.Duration
	if d := strings.TrimSpace(r.PostFormValue("days")); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > 90 {
			v.Error = "A link lasts from 1 to 90 days."
			c.render(w, http.StatusBadRequest, "authorize.html", v)
			return
		}
		ttl = time.Duration(n) * 24 * time.Hour
	}
	link, expires, err := c.host.MakeLink(r.Context(), src.Ref, ttl)
	if err != nil {
		v.Error = err.Error()
		c.render(w, http.StatusUnprocessableEntity, "authorize.html", v)
		return
	}
	c.log.Info("a connect link was made in the console", "source", src.Ref, "expires", expires, "remote", r.RemoteAddr)
	v.Link, v.LinkExpires = link, expires
	c.render(w, http.StatusOK, "authorize.html", v)
}

// revoke has the service forget the source's credentials, then forgets
// them.
func (c *Console) revoke(w http.ResponseWriter, r *http.Request, x *session) {
	src := c.grantSource(w, r)
	if src == nil {
		return
	}
	v := c.base(x, "Authorize "+src.Ref)
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
	defer cancel()
	msg, err := c.host.Revoke(ctx, src.Ref)
	if s, serr := c.source(r.Context(), src.Ref); serr == nil {
		src = s
	}
	v.Source = src
	if err != nil {
		c.log.Warn("revoking in the console failed", "source", src.Ref, "error", err)
		v.Error = err.Error()
		c.render(w, http.StatusUnprocessableEntity, "authorize.html", v)
		return
	}
	c.log.Info("a source's credentials were revoked in the console", "source", src.Ref, "remote", r.RemoteAddr)
	v.Message = msg
	c.render(w, http.StatusOK, "authorize.html", v)
}
