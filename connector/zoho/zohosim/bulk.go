package zohosim

import (
	"archive/zip"
	"compress/flate"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bulk Read limits.
const (
	bulkJobCredits     = 50
	bulkDownloadsLimit = 10 // per rolling minute
	bulkTokenLifetime  = 24 * time.Hour
)

// Bulk Read refusals of a job's fields and module (crm-oas v8.0
// bulk_read.json). Their details are {"api_name","module"} or {}: Zoho
// documents both.
const (
	RefusalFieldNotAvailable  = "FIELD_NOT_AVAILABLE"  // a field the module does not have
	RefusalFieldNotSupported  = "FIELD_NOT_SUPPORTED"  // a field Bulk Read cannot export
	RefusalInvalidRequest     = "INVALID_REQUEST"      // the request as a whole
	RefusalJoinLimitExceeded  = "JOIN_LIMIT_EXCEEDED"  // too many lookup columns
	refusalInvalidCriteria    = "INVALID_CRITERIA"     // criteria the simulator does not take
	refusalModuleNotAvailable = "MODULE_NOT_AVAILABLE" // no such module
	refusalModuleNotSupported = "MODULE_NOT_SUPPORTED" // a module Bulk Read does not export
)

// fieldRefusals are the codes Options.BulkOwnerNamesRefusal takes.
var fieldRefusals = []string{
	RefusalFieldNotAvailable, RefusalFieldNotSupported, RefusalInvalidRequest, RefusalJoinLimitExceeded,
}

// unsupportedModules are modules Zoho's Bulk Read does not export.
var unsupportedModules = []string{"Notes", "Attachments", "Emails"}

// Bulk Read job states.
const (
	stateAdded      = "ADDED"
	stateQueued     = "QUEUED"
	stateInProgress = "IN PROGRESS"
	stateCompleted  = "COMPLETED"
)

type bulkJob struct {
	id      string
	started time.Time // real clock, for the state machine
	created time.Time // Options.Now, for created_time
	m       *module
	fields  []string // as requested (or every field)
	cols    []column // output columns after id
	lower   key
	upper   key
	page    int
	snap    *snapshot
	start   key // scan starts after this key
	count   int
	more    bool
	last    key
}

// bulkToken is the opaque state behind a job's next_page_token.
type bulkToken struct {
	Module  string   `json:"m"`
	Fields  []string `json:"f"`
	Lower   [2]int64 `json:"l"`
	Upper   [2]int64 `json:"u"`
	After   [2]int64 `json:"a"`
	Page    int      `json:"p"`
	Expires int64    `json:"x"`
}

func (j *bulkJob) state(step time.Duration) string {
	if step < 0 {
		return stateCompleted
	}
	e := time.Since(j.started)
	switch {
	case e < step:
		return stateAdded
	case e < 2*step:
		return stateQueued
	case e < 3*step:
		return stateInProgress
	default:
		return stateCompleted
	}
}

type bulkRequest struct {
	CallBack json.RawMessage `json:"callback"`
	Query    struct {
		Module    json.RawMessage `json:"module"`
		Fields    []string        `json:"fields"`
		Criteria  json.RawMessage `json:"criteria"`
		Page      int             `json:"page"`
		PageToken string          `json:"page_token"`
	} `json:"query"`
	FileType string `json:"file_type"`
}

type bulkCriterion struct {
	GroupOperator string          `json:"group_operator"`
	Group         []bulkCriterion `json:"group"`
	Field         *struct {
		APIName string `json:"api_name"`
	} `json:"field"`
	APIName    string          `json:"api_name"`
	Comparator string          `json:"comparator"`
	Value      json.RawMessage `json:"value"`
}

// applyCriterion narrows (lower, upper] by one criterion on Modified_Time.
func applyCriterion(c bulkCriterion, lower, upper *key) error {
	if len(c.Group) > 0 {
		if c.GroupOperator != "" && c.GroupOperator != "and" {
			return fmt.Errorf("group_operator %q is not accepted: only and", c.GroupOperator)
		}
		for _, g := range c.Group {
			if err := applyCriterion(g, lower, upper); err != nil {
				return err
			}
		}
		return nil
	}
	name := c.APIName
	if c.Field != nil {
		name = c.Field.APIName
	}
	if name != "Modified_Time" {
		return fmt.Errorf("criteria on %q are not accepted: only Modified_Time", name)
	}
	parse := func(raw json.RawMessage) (int64, error) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, fmt.Errorf("Modified_Time takes a datetime string")
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return 0, fmt.Errorf("Modified_Time takes a datetime like 2024-06-05T15:12:13+02:00, not %q", s)
		}
		return t.UnixNano(), nil
	}
	raise := func(k key) {
		if lower.less(k) {
			*lower = k
		}
	}
	clamp := func(k key) {
		if k.less(*upper) {
			*upper = k
		}
	}
	if c.Comparator == "between" {
		var pair []json.RawMessage
		if err := json.Unmarshal(c.Value, &pair); err != nil || len(pair) != 2 {
			return fmt.Errorf("between takes a list of two datetimes")
		}
		from, err := parse(pair[0])
		if err != nil {
			return err
		}
		to, err := parse(pair[1])
		if err != nil {
			return err
		}
		raise(key{from, math.MinInt64})
		clamp(key{to, math.MaxInt64})
		return nil
	}
	t, err := parse(c.Value)
	if err != nil {
		return err
	}
	switch c.Comparator {
	case "greater_than":
		raise(key{t, math.MaxInt64})
	case "greater_equal":
		raise(key{t, math.MinInt64})
	case "less_than":
		clamp(key{t, math.MinInt64})
	case "less_equal":
		clamp(key{t, math.MaxInt64})
	case "equal":
		raise(key{t, math.MinInt64})
		clamp(key{t, math.MaxInt64})
	default:
		return fmt.Errorf("comparator %q is not accepted on Modified_Time", c.Comparator)
	}
	return nil
}

func (s *Server) handleBulkCreate(c *apiCall) {
	if !c.need("ZohoCRM.bulk.READ") {
		return
	}
	var req bulkRequest
	if err := decodeBody(c.w, c.r, &req); err != nil {
		writeError(c.w, http.StatusBadRequest, "INVALID_DATA", "the request body must be JSON: "+err.Error(), nil)
		return
	}
	job := &bulkJob{lower: minKey, upper: maxKey, page: 1}
	var moduleName string
	if req.Query.PageToken != "" {
		var tok bulkToken
		if !decodeToken(req.Query.PageToken, &tok) {
			writeError(c.w, http.StatusBadRequest, "INVALID_DATA", "the page_token is invalid",
				map[string]any{"api_name": "page_token"})
			return
		}
		if s.now().Unix() > tok.Expires {
			writeError(c.w, http.StatusBadRequest, "INVALID_DATA", "the page_token has expired",
				map[string]any{"api_name": "page_token"})
			return
		}
		moduleName = tok.Module
		req.Query.Fields = tok.Fields
		job.lower = key{tok.Lower[0], tok.Lower[1]}
		job.upper = key{tok.Upper[0], tok.Upper[1]}
		job.start = key{tok.After[0], tok.After[1]}
		job.page = tok.Page
	} else {
		var mod struct {
			APIName string `json:"api_name"`
		}
		if len(req.Query.Module) > 0 && json.Unmarshal(req.Query.Module, &mod) != nil {
			_ = json.Unmarshal(req.Query.Module, &mod.APIName)
		}
		moduleName = mod.APIName
		if moduleName == "" {
			details := map[string]any{"api_name": "module"}
			writeError(c.w, http.StatusBadRequest, "REQUIRED_PARAM_MISSING", "query.module is missing", details)
			return
		}
		if len(req.Query.Criteria) > 0 && string(req.Query.Criteria) != "null" {
			var crit bulkCriterion
			if err := json.Unmarshal(req.Query.Criteria, &crit); err != nil {
				writeError(c.w, http.StatusBadRequest, refusalInvalidCriteria, "criteria: "+err.Error(), nil)
				return
			}
			if err := applyCriterion(crit, &job.lower, &job.upper); err != nil {
				writeError(c.w, http.StatusBadRequest, refusalInvalidCriteria, err.Error(), nil)
				return
			}
		}
		if req.Query.Page > 1 {
			job.page = req.Query.Page
		}
		job.start = job.lower
	}
	m, ok := s.moduleByName(moduleName)
	if !ok {
		code, msg := refusalModuleNotAvailable, "the module "+moduleName+" is not available"
		if slices.ContainsFunc(unsupportedModules, func(u string) bool { return strings.EqualFold(u, moduleName) }) {
			code, msg = refusalModuleNotSupported, "Bulk Read does not export "+moduleName
		}
		writeError(c.w, http.StatusBadRequest, code, msg, nil)
		return
	}
	if !c.need(m.scope) {
		return
	}
	job.m = m
	job.fields = req.Query.Fields
	if len(job.fields) == 0 {
		for _, f := range m.fields {
			job.fields = append(job.fields, f.apiName)
		}
	}
	seen := map[string]bool{"id": true}
	for _, name := range job.fields {
		col, err := s.resolveColumn(m, name)
		code := RefusalFieldNotAvailable
		if err == nil && s.opts.BulkOwnerNamesRefusal != "" && col.f != nil && col.f.isOwner() && col.sub != "" &&
			col.sub != "id" {
			code, err = s.opts.BulkOwnerNamesRefusal, fmt.Errorf("%s cannot be exported", name)
		}
		if err != nil {
			s.refuseField(c.w, code, err.Error(), m, name)
			return
		}
		if !seen[col.name] {
			seen[col.name] = true
			job.cols = append(job.cols, bulkColumn(col))
		}
	}

	s.mu.Lock()
	job.id = strconv.FormatInt(s.nextID, 10)
	s.nextID++
	job.snap = s.snapshotLocked()
	job.started = time.Now()
	job.created = s.now()
	s.mu.Unlock()

	// Fix the page now, on the snapshot, so status and download agree; the
	// job is published only once it is complete.
	v := job.snap.views[m]
	skip := 0
	if req.Query.PageToken == "" {
		skip = (job.page - 1) * s.opts.BulkPageSize
	}
	job.last = job.start
	v.scan(byModified, job.start, false, func(it item) bool {
		k := it.key(byModified)
		if job.upper.less(k) {
			return false
		}
		if skip > 0 {
			skip--
			job.start = k
			job.last = k
			return true
		}
		if job.count == s.opts.BulkPageSize {
			job.more = true
			return false
		}
		job.count++
		job.last = k
		return true
	})
	s.mu.Lock()
	s.jobs[job.id] = job
	s.mu.Unlock()

	c.ok(http.StatusCreated, map[string]any{
		"data": []any{map[string]any{
			"status":  "success",
			"code":    "ADDED_SUCCESSFULLY",
			"message": "Added successfully.",
			"details": map[string]any{
				"id":           job.id,
				"operation":    "read",
				"state":        stateAdded,
				"created_by":   map[string]any{"id": strconv.FormatInt(s.users[0].id, 10), "name": s.users[0].name},
				"created_time": s.formatTime(job.created.Truncate(time.Second).UnixNano()),
			},
		}},
		"info": map[string]any{},
	}, bulkJobCredits)
}

// refuseField answers a Bulk Read job refused for one of its fields,
// naming the field and its module unless Options.BulkRefusalsNameNoField.
func (s *Server) refuseField(w http.ResponseWriter, code, message string, m *module, field string) {
	var details map[string]any
	if !s.opts.BulkRefusalsNameNoField {
		details = map[string]any{"api_name": field, "module": m.apiName}
	}
	writeError(w, http.StatusBadRequest, code, message, details)
}

func (s *Server) job(id string) (*bulkJob, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	return j, ok
}

// pathJob finds the bulk read job the call's path names, after checking
// the call's scope; false means the answer is written.
func (s *Server) pathJob(c *apiCall) (*bulkJob, bool) {
	if !c.need("ZohoCRM.bulk.READ") {
		return nil, false
	}
	j, ok := s.job(c.r.PathValue("id"))
	if !ok {
		writeError(c.w, http.StatusNotFound, "RESOURCE_NOT_FOUND", "the bulk read job was not found",
			map[string]any{"resource": "job"})
		return nil, false
	}
	return j, true
}

func (s *Server) handleBulkStatus(c *apiCall) {
	j, ok := s.pathJob(c)
	if !ok {
		return
	}
	state := j.state(s.opts.BulkStepDelay)
	out := map[string]any{
		"id":        j.id,
		"operation": "read",
		"state":     state,
		"query": map[string]any{
			"module": map[string]any{"api_name": j.m.apiName, "id": strconv.FormatInt(moduleIDBase+s.moduleIndex(j.m), 10)},
			"fields": j.fields,
			"page":   j.page,
		},
		"created_by":   map[string]any{"id": strconv.FormatInt(s.users[0].id, 10), "name": s.users[0].name},
		"created_time": s.formatTime(j.created.Truncate(time.Second).UnixNano()),
		"file_type":    "csv",
	}
	if state == stateCompleted {
		result := map[string]any{
			"page":         j.page,
			"per_page":     s.opts.BulkPageSize,
			"count":        j.count,
			"download_url": "/crm/bulk/v8/read/" + j.id + "/result",
			"more_records": j.more,
		}
		if j.more {
			result["next_page_token"] = encodeToken(bulkToken{
				Module:  j.m.apiName,
				Fields:  j.fields,
				Lower:   [2]int64{j.lower.t, j.lower.id},
				Upper:   [2]int64{j.upper.t, j.upper.id},
				After:   [2]int64{j.last.t, j.last.id},
				Page:    j.page + 1,
				Expires: s.now().Add(bulkTokenLifetime).Unix(),
			})
		}
		out["result"] = result
	}
	c.ok(http.StatusOK, map[string]any{"data": []any{out}}, 1)
}

func (s *Server) handleBulkResult(c *apiCall) {
	j, ok := s.pathJob(c)
	if !ok {
		return
	}
	if j.state(s.opts.BulkStepDelay) != stateCompleted {
		writeError(c.w, http.StatusNotFound, "RESOURCE_NOT_FOUND",
			"the result is not ready: poll the job until its state is COMPLETED", map[string]any{"resource": "result"})
		return
	}
	s.mu.Lock()
	now := s.now()
	s.downloads = within(s.downloads, now, time.Minute)
	if len(s.downloads) >= bulkDownloadsLimit {
		s.mu.Unlock()
		writeError(c.w, http.StatusTooManyRequests, "TOO_MANY_REQUESTS",
			"at most 10 bulk read results can be downloaded a minute", nil)
		return
	}
	s.downloads = append(s.downloads, now)
	s.chargeLocked(1)
	s.mu.Unlock()
	s.showCredits(c.w)

	c.w.Header().Set("Content-Type", "application/zip")
	c.w.Header().Set("Content-Disposition", `attachment; filename="`+j.id+`.zip"`)
	c.w.WriteHeader(http.StatusOK)
	// Errors past this point are the client going away; the status is sent.
	_ = s.writeZip(c.w, j)
}

// writeZip streams the job's rows as a zip holding {id}.csv; nothing larger
// than a row is held in memory.
func (s *Server) writeZip(w io.Writer, j *bulkJob) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestSpeed)
	})
	f, err := zw.CreateHeader(&zip.FileHeader{Name: j.id + ".csv", Method: zip.Deflate, Modified: j.created})
	if err != nil {
		return fmt.Errorf("starting the zip entry: %w", err)
	}
	cw := csv.NewWriter(f)
	header := make([]string, 0, len(j.cols)+1)
	header = append(header, "id")
	for _, col := range j.cols {
		header = append(header, col.name)
	}
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("writing the csv header: %w", err)
	}
	v := j.snap.views[j.m]
	rec := make([]string, len(header))
	written := 0
	var werr error
	v.scan(byModified, j.start, false, func(it item) bool {
		if written == j.count {
			return false
		}
		r := v.row(it)
		rec[0] = strconv.FormatInt(it.id, 10)
		for k, col := range j.cols {
			rec[k+1] = j.snap.csvValue(r, col)
		}
		if werr = cw.Write(rec); werr != nil {
			return false
		}
		written++
		return true
	})
	if werr != nil {
		return fmt.Errorf("writing csv rows: %w", werr)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("writing csv rows: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("finishing the zip: %w", err)
	}
	return nil
}

// Jobs returns the ids of the Bulk Read jobs created so far, oldest first.
func (s *Server) Jobs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.jobs))
	for id := range s.jobs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
