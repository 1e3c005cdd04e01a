// Package api is the portal API of `replicator run`: JSON under /api/v1,
// authorised by its own bearer token (host { api_token }), never by the
// console's session. A provider's portal lists pipelines and their runs,
// starts a run, makes connect links for customers and submits grant
// codes, and revokes a source's credentials. docs/api/openapi.yaml
// describes it; a test checks that every route is described there and
// every described route exists.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/host/console"
	"github.com/replicatorhq/replicator/host/state"
)

// Prefix is where the API is served.
const Prefix = "/api/v1"

// Limits of requests.
const (
	maxBodyBytes = 16 << 10
	// defaultRuns and maxRuns bound a pipeline's runs per request.
	defaultRuns = 20
	maxRuns     = state.KeepRuns
	callTimeout = 2 * time.Minute
)

// Host is the running host the API shows and acts on: the console's, and
// what connects sources.
type Host interface {
	Pipelines(ctx context.Context) ([]console.Pipeline, error)
	Pipeline(ctx context.Context, name string, runs int) (console.Pipeline, error)
	Sources(ctx context.Context) ([]console.Source, error)
	SyncNow(ctx context.Context, pipeline string, fullRefresh bool) error
	Authorize(ctx context.Context, source, code string) (string, error)
	// MakeLink makes a connect link for the source, lasting ttl (0 for
	// the default).
	MakeLink(ctx context.Context, source string, ttl time.Duration) (string, time.Time, error)
	// Revoke has the service forget the source's credentials, then
	// forgets them.
	Revoke(ctx context.Context, source string) (string, error)
}

// API serves /api/v1.
type API struct {
	host  Host
	token func() string
	log   hclog.Logger
	mux   *http.ServeMux
}

// New returns the API; token returns the configured token, "" when the
// API is off.
func New(host Host, token func() string, log hclog.Logger) *API {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	a := &API{host: host, token: token, log: log, mux: http.NewServeMux()}
	for _, r := range a.routes() {
		a.mux.HandleFunc(r.Method+" "+Prefix+r.Path, r.handle)
	}
	a.mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s; docs/api/openapi.yaml lists them", r.Method, r.URL.Path))
	})
	return a
}

// Route is one endpoint, as the OpenAPI file names it.
type Route struct{ Method, Path string }

// Routes are the API's endpoints, under Prefix.
func Routes() []Route {
	var out []Route
	for _, r := range (&API{}).routes() {
		out = append(out, r.Route)
	}
	return out
}

type route struct {
	Route
	handle http.HandlerFunc
}

func (a *API) routes() []route {
	return []route{
		{Route{http.MethodGet, "/pipelines"}, a.pipelines},
		{Route{http.MethodGet, "/pipelines/{name}"}, a.pipeline},
		{Route{http.MethodGet, "/pipelines/{name}/runs"}, a.runs},
		{Route{http.MethodPost, "/pipelines/{name}/sync"}, a.sync},
		{Route{http.MethodGet, "/sources"}, a.sources},
		{Route{http.MethodPost, "/sources/{ref}/connect-links"}, a.connectLink},
		{Route{http.MethodPost, "/sources/{ref}/authorize"}, a.authorize},
		{Route{http.MethodPost, "/sources/{ref}/revoke"}, a.revoke},
	}
}

// ServeHTTP checks the bearer token, then serves the request.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	want := a.token()
	if want == "" {
		writeError(w, http.StatusNotFound, "the portal API is off: set api_token in the host block to turn it on")
		return
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="replicator-api"`)
		writeError(w, http.StatusUnauthorized, "send the API token as Authorization: Bearer <api_token>")
		return
	}
	gs, ws := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	if subtle.ConstantTimeCompare(gs[:], ws[:]) != 1 {
		a.log.Info("a request to the API with a wrong token", "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="replicator-api", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "the bearer token is not the API token (api_token in the host block)")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	a.mux.ServeHTTP(w, r)
}

// Pipeline is a pipeline as the API shows it.
type Pipeline struct {
	Name        string     `json:"name"`
	Source      string     `json:"source"`
	Destination string     `json:"destination"`
	Streams     []string   `json:"streams"`
	State       string     `json:"state"`
	Interval    string     `json:"interval,omitempty"`
	NextRun     *time.Time `json:"next_run,omitempty"`
	LastRun     *Run       `json:"last_run,omitempty"`
	Failures    int        `json:"failures"`
	PausedSince *time.Time `json:"paused_since,omitempty"`
	Host        string     `json:"host,omitempty"`
	NeedsGrant  bool       `json:"needs_authorization"`
}

// Run is a run as the API shows it.
type Run struct {
	ID       uint64           `json:"id"`
	Started  time.Time        `json:"started"`
	Ended    *time.Time       `json:"ended,omitempty"`
	Outcome  string           `json:"outcome"`
	Read     int64            `json:"read"`
	Written  int64            `json:"written"`
	Error    string           `json:"error,omitempty"`
	Host     string           `json:"host,omitempty"`
	Counters map[string]int64 `json:"counters,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func runOf(r state.Run) Run {
	return Run{ID: r.ID, Started: r.Started.UTC(), Ended: optTime(r.Ended), Outcome: r.Outcome, Read: r.Read,
		Written: r.Written, Error: r.Error, Host: r.Host, Counters: r.Counters}
}

func pipelineOf(p console.Pipeline) Pipeline {
	out := Pipeline{
		Name: p.Name, Source: p.Source, Destination: p.Destination, Streams: p.Streams, State: p.State,
		NextRun: optTime(p.NextRun), Failures: p.Last.Failures, PausedSince: optTime(p.PausedSince),
		Host: p.Host, NeedsGrant: p.NeedsGrant,
	}
	if out.Streams == nil {
		out.Streams = []string{}
	}
	if p.Interval > 0 {
		out.Interval = p.Interval.String()
	}
	if p.Last.Run.ID != 0 {
		r := runOf(p.Last.Run)
		out.LastRun = &r
	}
	return out
}

func (a *API) pipelines(w http.ResponseWriter, r *http.Request) {
	ps, err := a.host.Pipelines(r.Context())
	if err != nil {
		a.fail(w, err)
		return
	}
	out := make([]Pipeline, 0, len(ps))
	for _, p := range ps {
		out = append(out, pipelineOf(p))
	}
	writeJSON(w, http.StatusOK, map[string]any{"pipelines": out})
}

func (a *API) pipeline(w http.ResponseWriter, r *http.Request) {
	p, err := a.host.Pipeline(r.Context(), r.PathValue("name"), 1)
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, pipelineOf(p))
}

func (a *API) runs(w http.ResponseWriter, r *http.Request) {
	limit := defaultRuns
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxRuns {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit must be a whole number from 1 to %d", maxRuns))
			return
		}
		limit = n
	}
	p, err := a.host.Pipeline(r.Context(), r.PathValue("name"), limit)
	if err != nil {
		a.fail(w, err)
		return
	}
	out := make([]Run, 0, len(p.Runs))
	for _, run := range p.Runs {
		out = append(out, runOf(run))
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": out})
}

func (a *API) sync(w http.ResponseWriter, r *http.Request) {
	var body struct {
		FullRefresh bool `json:"full_refresh"`
	}
	if !readBody(w, r, &body) {
		return
	}
	name := r.PathValue("name")
	if err := a.host.SyncNow(r.Context(), name, body.FullRefresh); err != nil {
		if errors.Is(err, console.ErrUnknown) {
			a.fail(w, err)
			return
		}
		writeError(w, http.StatusConflict, fmt.Sprintf("pipeline %s does not start now: %v", name, err))
		return
	}
	a.log.Info("a run was asked for through the API", "pipeline", name, "full_refresh", body.FullRefresh)
	writeJSON(w, http.StatusAccepted, map[string]any{"pipeline": name, "queued": true})
}

// Source is a source as the API shows it.
type Source struct {
	Ref       string   `json:"ref"`
	Type      string   `json:"type"`
	Connected bool     `json:"connected"`
	Pipelines []string `json:"pipelines"`
}

func (a *API) sources(w http.ResponseWriter, r *http.Request) {
	ss, err := a.host.Sources(r.Context())
	if err != nil {
		a.fail(w, err)
		return
	}
	out := make([]Source, 0, len(ss))
	for _, s := range ss {
		out = append(out, Source{Ref: s.Ref, Type: s.Type, Connected: s.Authorized, Pipelines: append([]string{}, s.Pipelines...)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"sources": out})
}

func (a *API) connectLink(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ExpiresIn string `json:"expires_in"`
	}
	if !readBody(w, r, &body) {
		return
	}
	var ttl time.Duration
	if body.ExpiresIn != "" {
		d, err := time.ParseDuration(body.ExpiresIn)
		if err != nil || d <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("expires_in %q is not a duration such as \"72h\"", body.ExpiresIn))
			return
		}
		ttl = d
	}
	ref := r.PathValue("ref")
	link, expires, err := a.host.MakeLink(r.Context(), ref, ttl)
	if err != nil {
		a.failAs(w, http.StatusUnprocessableEntity, err)
		return
	}
	a.log.Info("a connect link was made through the API", "source", ref, "expires", expires)
	writeJSON(w, http.StatusCreated, map[string]any{"source": ref, "url": link, "expires": expires.UTC()})
}

func (a *API) authorize(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Code string `json:"code"`
	}
	if !readBody(w, r, &body) {
		return
	}
	if strings.TrimSpace(body.Code) == "" {
		writeError(w, http.StatusBadRequest, `give the grant code: {"code": "1000.…"}`)
		return
	}
	ref := r.PathValue("ref")
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	msg, err := a.host.Authorize(ctx, ref, strings.TrimSpace(body.Code))
	if err != nil {
		a.failAs(w, http.StatusUnprocessableEntity, err)
		return
	}
	a.log.Info("a source was authorized through the API", "source", ref)
	writeJSON(w, http.StatusOK, map[string]any{"source": ref, "message": msg})
}

func (a *API) revoke(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	msg, err := a.host.Revoke(ctx, ref)
	if err != nil {
		a.failAs(w, http.StatusUnprocessableEntity, err)
		return
	}
	a.log.Info("a source's credentials were revoked through the API", "source", ref)
	writeJSON(w, http.StatusOK, map[string]any{"source": ref, "message": msg})
}

// fail answers an error reading the host: 404 for what is not configured.
func (a *API) fail(w http.ResponseWriter, err error) { a.failAs(w, http.StatusServiceUnavailable, err) }

func (a *API) failAs(w http.ResponseWriter, status int, err error) {
	if errors.Is(err, console.ErrUnknown) {
		status = http.StatusNotFound
	}
	if status >= 500 {
		a.log.Warn("an API request failed", "error", err)
	}
	writeError(w, status, err.Error())
}

// readBody decodes an optional JSON object body.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.ContentLength == 0 {
		return true
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", maxBodyBytes))
			return false
		}
		writeError(w, http.StatusBadRequest, fmt.Sprintf("the body is not the JSON object this endpoint takes: %v", err))
		return false
	}
	return true
}

// Error is the body of every error answer.
type Error struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, Error{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
