package zohosim

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Record API limits.
const (
	maxPerPage        = 200
	maxFields         = 50
	discreteLimit     = 2000   // records reachable with page
	pageTokenLimit    = 100000 // records reachable with page_token
	pageTokenLifetime = 24 * time.Hour
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /accounts/{dc}/oauth/v2/token", s.handleToken)
	mux.HandleFunc("POST /accounts/{dc}/oauth/v2/token/revoke", s.handleRevoke)
	mux.HandleFunc("GET /accounts/{dc}/oauth/v2/auth", s.handleAuth)
	mux.HandleFunc("POST /accounts/{dc}/oauth/v2/approve", s.handleApprove)

	mux.HandleFunc("GET /crm/v8/org", s.api("org", s.handleOrg))
	mux.HandleFunc("GET /crm/v8/settings/modules", s.api("settings/modules", s.handleModules))
	mux.HandleFunc("GET /crm/v8/settings/fields", s.api("settings/fields", s.handleFields))
	mux.HandleFunc("GET /crm/v8/{module}", s.api("records", s.handleRecords))
	mux.HandleFunc("GET /crm/v8/{module}/deleted", s.api("deleted", s.handleDeleted))
	mux.HandleFunc("GET /crm/v8/{module}/actions/count", s.api("count", s.handleCount))
	mux.HandleFunc("POST /crm/v8/coql", s.api("coql", s.handleCOQL))
	mux.HandleFunc("POST /crm/bulk/v8/read", s.api("bulk/create", s.handleBulkCreate))
	mux.HandleFunc("GET /crm/bulk/v8/read/{id}", s.api("bulk/status", s.handleBulkStatus))
	mux.HandleFunc("GET /crm/bulk/v8/read/{id}/result", s.api("bulk/result", s.handleBulkResult))
	s.notifyRoutes(mux)
	mux.HandleFunc("/crm/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one",
			nil)
	})

	s.adminRoutes(mux)
	if s.opts.Logger == nil {
		return mux
	}
	return s.logRequests(mux)
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		// The path only: queries may carry tokens and client secrets.
		s.opts.Logger.Printf("%s %s %d %s", r.Method, r.URL.Path, sw.status, time.Since(start).Round(time.Microsecond))
	})
}

// apiHostAllowed reports whether a CRM API call reached the simulator at
// one of the org's API hosts (www., sandbox. or developer.zohoapis.<tld>),
// at a loopback address or localhost, where tests and demos serve it, or
// at one of Options.APIHosts. Zoho answers a call to another host, such as
// the CRM web host, 400 INVALID_HOST.
func (s *Server) apiHostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	tld := strings.TrimPrefix(s.apiHost, "www.")
	for _, env := range []string{"www.", "sandbox.", "developer."} {
		if host == env+tld {
			return true
		}
	}
	return slices.ContainsFunc(s.opts.APIHosts, func(h string) bool { return strings.EqualFold(h, host) })
}

// apiCall is an authenticated CRM API request.
type apiCall struct {
	s   *Server
	tok *accessToken
	w   http.ResponseWriter
	r   *http.Request
}

// need checks the token's scopes and answers 401 OAUTH_SCOPE_MISMATCH,
// naming the missing scopes, when one is lacking.
func (c *apiCall) need(scopes ...string) bool {
	missing := missingScopes(c.tok.refresh.scopes, scopes...)
	if len(missing) == 0 {
		return true
	}
	writeError(c.w, http.StatusUnauthorized, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL",
		map[string]any{"scope": strings.Join(missing, " ")})
	return false
}

// ok writes a successful JSON answer and charges its credits.
func (c *apiCall) ok(status int, v any, credits int64) {
	c.s.charge(credits)
	c.s.showCredits(c.w)
	writeJSON(c.w, status, v)
}

// empty answers 204 (or 304) and charges its credits.
func (c *apiCall) empty(status int, credits int64) {
	c.s.charge(credits)
	c.s.showCredits(c.w)
	c.w.WriteHeader(status)
}

// api wraps a CRM endpoint: call counting, the API host, the credits left,
// the concurrency limit, faults and authentication, in that order.
func (s *Server) api(name string, h func(c *apiCall)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.countCall(name)
		if !s.apiHostAllowed(r.Host) {
			writeError(w, http.StatusBadRequest, "INVALID_HOST",
				"the API is served at "+s.apiHost+" (sandbox. and developer. for those environments), not at "+r.Host, nil)
			return
		}
		// Failed calls show the credits left too; answers that charge
		// show them again after their charge.
		s.showCredits(w)
		s.mu.Lock()
		if s.opts.MaxConcurrent > 0 && s.inflight >= s.opts.MaxConcurrent {
			s.mu.Unlock()
			writeError(w, http.StatusTooManyRequests, "TOO_MANY_REQUESTS",
				"The number of concurrent requests has exceeded the limit for your edition", nil)
			return
		}
		s.inflight++
		slow := s.takeFaultLocked(FaultSlow)
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.inflight--
			s.mu.Unlock()
		}()
		if slow != nil {
			t := time.NewTimer(slow.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}

		s.mu.Lock()
		if s.takeFaultLocked(FaultExpireTokens) != nil {
			s.revokeAccessLocked()
		}
		if f := s.takeFaultLocked(FaultTooManyRequests); f != nil {
			s.mu.Unlock()
			if f.RetryAfter > 0 {
				secs := int((f.RetryAfter + time.Second - 1) / time.Second)
				w.Header().Set("Retry-After", strconv.Itoa(secs))
			}
			writeError(w, http.StatusTooManyRequests, "TOO_MANY_REQUESTS",
				"You have made too many requests within a short span of time", nil)
			return
		}
		if s.takeFaultLocked(FaultInternalError) != nil {
			s.mu.Unlock()
			writeError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "Internal Server Error", nil)
			return
		}
		tok, code := s.authenticateLocked(r)
		s.mu.Unlock()
		switch code {
		case "INVALID_TOKEN":
			writeError(w, http.StatusUnauthorized, code, "invalid oauth token", nil)
			return
		case "AUTHENTICATION_FAILURE":
			writeError(w, http.StatusUnauthorized, code,
				"Authentication failed: send Authorization: Zoho-oauthtoken <access token>", nil)
			return
		}
		h(&apiCall{s: s, tok: tok, w: w, r: r})
	}
}

func (s *Server) handleOrg(c *apiCall) {
	if !c.need("ZohoCRM.org.READ") {
		return
	}
	c.ok(http.StatusOK, map[string]any{"org": []any{s.orgJSON()}}, 1)
}

func (s *Server) handleModules(c *apiCall) {
	if !c.need("ZohoCRM.settings.modules.READ") {
		return
	}
	c.ok(http.StatusOK, map[string]any{"modules": s.modulesJSON()}, 1)
}

func (s *Server) handleFields(c *apiCall) {
	if !c.need("ZohoCRM.settings.fields.READ") {
		return
	}
	name := c.r.URL.Query().Get("module")
	if name == "" {
		writeError(c.w, http.StatusBadRequest, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
			map[string]any{"param_name": "module"})
		return
	}
	m, ok := s.moduleByName(name)
	if !ok {
		writeError(c.w, http.StatusBadRequest, "INVALID_MODULE", "the module name given seems to be invalid",
			map[string]any{"param_name": "module"})
		return
	}
	fields := make([]any, 0, len(m.fields))
	for _, f := range m.fields {
		fields = append(fields, s.fieldJSON(m, f))
	}
	c.ok(http.StatusOK, map[string]any{"fields": fields}, 1)
}

// pageToken is the opaque state behind info.next_page_token.
type pageToken struct {
	Module  string `json:"m"`
	SortBy  string `json:"s"`
	Desc    bool   `json:"d"`
	T       int64  `json:"t"`
	ID      int64  `json:"i"`
	Served  int    `json:"n"`
	Page    int    `json:"p"`
	Since   int64  `json:"c,omitempty"` // If-Modified-Since of the first page
	Expires int64  `json:"x"`
}

func encodeToken(v any) string {
	b, _ := json.Marshal(v) // plain structs always marshal
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && json.Unmarshal(b, v) == nil
}

// ifModifiedSince parses the header; ok is false when it is malformed and
// the 400 is written.
func (c *apiCall) ifModifiedSince() (t time.Time, set, ok bool) {
	h := c.r.Header.Get("If-Modified-Since")
	if h == "" {
		return time.Time{}, false, true
	}
	if t, err := time.Parse(time.RFC3339, h); err == nil {
		return t, true, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return t, true, true
	}
	writeError(c.w, http.StatusBadRequest, "INVALID_DATA", "If-Modified-Since must be an ISO 8601 or HTTP date",
		map[string]any{"header": "If-Modified-Since"})
	return time.Time{}, true, false
}

func badParam(w http.ResponseWriter, param, message string) {
	writeError(w, http.StatusBadRequest, "INVALID_DATA", message, map[string]any{"param_name": param})
}

func intParam(r *http.Request, name string, def, lo, hi int) (int, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, false
	}
	return n, true
}

// perPage reads per_page; false means the 400 is written.
func (c *apiCall) perPage() (int, bool) {
	n, ok := intParam(c.r, "per_page", maxPerPage, 1, maxPerPage)
	if !ok {
		badParam(c.w, "per_page", "per_page must be between 1 and 200")
	}
	return n, ok
}

// page reads page; false means the 400 is written.
func (c *apiCall) page() (int, bool) {
	n, ok := intParam(c.r, "page", 1, 1, 1<<30)
	if !ok {
		badParam(c.w, "page", "page must be a positive number")
	}
	return n, ok
}

// pathModule finds the module the call's path names and checks the call's
// scope for it; false means the answer is written.
func (c *apiCall) pathModule() (*module, bool) {
	m, ok := c.s.moduleByName(c.r.PathValue("module"))
	if !ok {
		writeError(c.w, http.StatusBadRequest, "INVALID_MODULE", "the module name given seems to be invalid", nil)
		return nil, false
	}
	if !c.need(m.scope) {
		return nil, false
	}
	return m, true
}

func (s *Server) handleRecords(c *apiCall) {
	m, ok := c.pathModule()
	if !ok {
		return
	}
	q := c.r.URL.Query()
	if q.Get("fields") == "" {
		writeError(c.w, http.StatusBadRequest, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
			map[string]any{"param_name": "fields"})
		return
	}
	var fields []*field
	names := strings.Split(q.Get("fields"), ",")
	if len(names) > maxFields {
		writeError(c.w, http.StatusBadRequest, "LIMIT_EXCEEDED", "at most 50 fields can be requested",
			map[string]any{"param_name": "fields", "limit": maxFields})
		return
	}
	for _, n := range names {
		// Zoho leaves out names it does not know.
		if f, ok := m.field(strings.TrimSpace(n)); ok && !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	perPage, ok := c.perPage()
	if !ok {
		return
	}
	since, sinceSet, ok := c.ifModifiedSince()
	if !ok {
		return
	}
	now := s.now()

	tok := pageToken{Module: m.apiName, SortBy: "id", Desc: true, Page: 1}
	offset := 0
	if raw := q.Get("page_token"); raw != "" {
		if !decodeToken(raw, &tok) || tok.Module != m.apiName {
			badParam(c.w, "page_token", "the page_token is invalid")
			return
		}
		if now.Unix() > tok.Expires {
			badParam(c.w, "page_token", "the page_token has expired")
			return
		}
		if tok.Served >= pageTokenLimit {
			writeError(c.w, http.StatusBadRequest, "LIMIT_EXCEEDED", "page_token reaches only the first 100000 records",
				map[string]any{"limit": pageTokenLimit})
			return
		}
		sinceSet = tok.Since != 0
		since = time.Unix(0, tok.Since)
	} else {
		switch sb := q.Get("sort_by"); sb {
		case "", "id", "Created_Time", "Modified_Time":
			if sb != "" {
				tok.SortBy = sb
			}
		default:
			badParam(c.w, "sort_by", "sort_by must be id, Created_Time or Modified_Time")
			return
		}
		switch q.Get("sort_order") {
		case "", "desc":
		case "asc":
			tok.Desc = false
		default:
			badParam(c.w, "sort_order", "sort_order must be asc or desc")
			return
		}
		page, ok := c.page()
		if !ok {
			return
		}
		if page*perPage > discreteLimit {
			writeError(c.w, http.StatusBadRequest, "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
				"you can fetch only the first 2000 records with page; use page_token from info.next_page_token",
				map[string]any{"limit": discreteLimit})
			return
		}
		tok.Page = page
		offset = (page - 1) * perPage
		if tok.Desc {
			tok.T, tok.ID = maxKey.t, maxKey.id
		} else {
			tok.T, tok.ID = minKey.t, minKey.id
		}
		if sinceSet {
			tok.Since = since.UnixNano()
		}
	}

	// Created_Time order is id order: ids are handed out in creation order.
	ord := byID
	if tok.SortBy == "Modified_Time" {
		ord = byModified
	}
	from := key{tok.T, tok.ID}
	if sinceSet && ord == byModified && !tok.Desc {
		// Seek past everything If-Modified-Since rules out.
		if floor := (key{since.UnixNano(), maxKey.id}); from.less(floor) {
			from = floor
		}
	}
	sn := s.snapshot()
	v := sn.views[m]
	var items []item
	more := false
	v.scan(ord, from, tok.Desc, func(it item) bool {
		if sinceSet && it.mt <= since.UnixNano() {
			return true
		}
		if offset > 0 {
			offset--
			return true
		}
		if len(items) == perPage {
			more = true
			return false
		}
		items = append(items, it)
		return true
	})
	if len(items) == 0 {
		if sinceSet {
			c.empty(http.StatusNotModified, 1)
		} else {
			c.empty(http.StatusNoContent, 1)
		}
		return
	}
	data := make([]any, len(items))
	for i, it := range items {
		rec := sn.recordJSON(v.row(it), fields)
		rec["$editable"] = true
		rec["$approved"] = true
		rec["$state"] = "save"
		data[i] = rec
	}
	info := map[string]any{
		"per_page":            perPage,
		"count":               len(items),
		"page":                tok.Page,
		"sort_by":             tok.SortBy,
		"sort_order":          map[bool]string{true: "desc", false: "asc"}[tok.Desc],
		"more_records":        more,
		"next_page_token":     nil,
		"previous_page_token": nil,
		"page_token_expiry":   nil,
	}
	if more {
		last := items[len(items)-1].key(ord)
		next := tok
		next.T, next.ID = last.t, last.id
		next.Served = tok.Served + offsetServed(tok, perPage) + len(items)
		next.Page = tok.Page + 1
		expiry := now.Add(pageTokenLifetime)
		next.Expires = expiry.Unix()
		info["next_page_token"] = encodeToken(next)
		info["page_token_expiry"] = s.formatTime(expiry.Truncate(time.Second).UnixNano())
	}
	c.ok(http.StatusOK, map[string]any{"data": data, "info": info}, 1)
}

// offsetServed counts the records a page-numbered first request skipped, so
// the page_token ceiling counts from the first record.
func offsetServed(tok pageToken, perPage int) int {
	if tok.Served == 0 && tok.Page > 1 {
		return (tok.Page - 1) * perPage
	}
	return 0
}

// handleCount answers Zoho's record count for 1 credit: {"count":"55"},
// the count a string, as Zoho's OpenAPI file (crm-oas v8.0 record.json,
// "Record Count") types it. Filters (cvid, criteria, email, phone, word)
// are not simulated and are refused rather than ignored.
func (s *Server) handleCount(c *apiCall) {
	m, ok := c.pathModule()
	if !ok {
		return
	}
	for _, p := range []string{"cvid", "criteria", "email", "phone", "word"} {
		if c.r.URL.Query().Has(p) {
			badParam(c.w, p, "the simulator counts every record of a module: "+p+" is not supported")
			return
		}
	}
	c.ok(http.StatusOK, map[string]any{"count": strconv.Itoa(s.Count(m.apiName))}, 1)
}

func (s *Server) handleDeleted(c *apiCall) {
	m, ok := c.pathModule()
	if !ok {
		return
	}
	if c.r.URL.Query().Has("page_token") {
		// Zoho documents page and per_page only here (crm-oas v8.0
		// record.json); a client relying on page_token would loop.
		badParam(c.w, "page_token", "the deleted records API pages with page and per_page; page_token is not supported")
		return
	}
	kind := c.r.URL.Query().Get("type")
	switch kind {
	case "":
		kind = "all"
	case "all", "recycle", "permanent":
	default:
		badParam(c.w, "type", "type must be all, recycle or permanent")
		return
	}
	perPage, ok := c.perPage()
	if !ok {
		return
	}
	page, ok := c.page()
	if !ok {
		return
	}
	since, sinceSet, ok := c.ifModifiedSince()
	if !ok {
		return
	}
	s.mu.Lock()
	all := slices.Clone(m.deletions)
	s.mu.Unlock()
	// Newest first, as Zoho lists its recycle bin.
	slices.Reverse(all)
	var match []deletion
	for _, d := range all {
		if (kind == "all" || d.kind == kind) && (!sinceSet || d.at.After(since)) {
			match = append(match, d)
		}
	}
	from := (page - 1) * perPage
	if from >= len(match) {
		c.empty(http.StatusNoContent, 1)
		return
	}
	to := min(from+perPage, len(match))
	data := make([]any, 0, to-from)
	for _, d := range match[from:to] {
		data = append(data, map[string]any{
			"id":           strconv.FormatInt(d.id, 10),
			"display_name": d.displayName,
			"type":         d.kind,
			"module":       map[string]any{"api_name": m.apiName, "id": strconv.FormatInt(moduleIDBase+s.moduleIndex(m), 10)},
			"deleted_time": s.formatTime(d.at.UnixNano()),
			"deleted_by":   map[string]any{"name": d.by.name, "id": strconv.FormatInt(d.by.id, 10)},
			"created_by":   map[string]any{"name": d.by.name, "id": strconv.FormatInt(d.by.id, 10)},
		})
	}
	c.ok(http.StatusOK, map[string]any{"data": data, "info": map[string]any{
		"per_page":     perPage,
		"count":        len(data),
		"page":         page,
		"more_records": to < len(match),
	}}, 1)
}
