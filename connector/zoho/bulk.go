package zoho

import (
	"archive/zip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"runtime"
	"strings"
	"time"
)

// Credits of Bulk Read calls; a job is dear but reads up to 200,000 rows.
const (
	bulkCreateCredits = 50
	// bulkPageEstimate is what a page costs with a few polls and the
	// download; a page is not started unless this fits the budget.
	bulkPageEstimate = bulkCreateCredits + 6
	// bulkPageRows is how many records one job reads.
	bulkPageRows = 200000
)

// bulkSync reads every record through Bulk Read jobs, one page per job,
// with a checkpoint after each page.
func (r *reader) bulkSync(ctx context.Context, st *streamState) error {
	f := st.Full
	restarted := false
	for {
		if !r.afford(bulkPageEstimate, "bulk read page") {
			return errStopped
		}
		next, more, err := r.bulkPage(ctx, f)
		if err != nil && f.PageToken != "" && !restarted &&
			isCode(err, "INVALID_DATA", "INVALID_TOKEN_PAGE", "PAGE_TOKEN_EXPIRED", "INVALID_REQUEST") {
			// Page tokens last a day: a sync resumed later starts over. It
			// keeps its start time, so deletions since the first attempt
			// are still read afterwards: records the first attempt wrote
			// carry this sync's generation and survive its sweep.
			r.log.Warn("the bulk read page token was refused; starting the full sync over", "error", err)
			restarted = true
			f.PageToken, f.Pages, f.MaxSeen = "", 0, nil
			continue
		}
		if err != nil {
			return err
		}
		f.Pages++
		f.PageToken = next
		if !more || next == "" {
			return nil
		}
		if err := r.checkpoint(ctx, st); err != nil {
			return err
		}
	}
}

type bulkJob struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Result *struct {
		Page          int    `json:"page"`
		Count         int    `json:"count"`
		DownloadURL   string `json:"download_url"`
		MoreRecords   bool   `json:"more_records"`
		NextPageToken string `json:"next_page_token"`
	} `json:"result"`
}

// bulkPage runs one job for the page f.PageToken names (the first page when
// empty) and emits its rows.
func (r *reader) bulkPage(ctx context.Context, f *fullState) (next string, more bool, err error) {
	id, err := r.createBulkJob(ctx, f.PageToken)
	if err != nil {
		return "", false, err
	}
	job, err := r.waitBulkJob(ctx, id)
	if err != nil {
		return "", false, err
	}
	if job.Result == nil {
		return "", false, fmt.Errorf("bulk read job %s completed without a result", id)
	}
	file, err := r.downloadBulk(ctx, id, job.Result.DownloadURL)
	if err != nil {
		return "", false, err
	}
	defer os.Remove(file)
	if err := r.emitBulkCSV(ctx, file, f); err != nil {
		return "", false, err
	}
	r.log.Debug("bulk read page done", "job", id, "page", f.Pages+1, "rows", job.Result.Count)
	return job.Result.NextPageToken, job.Result.MoreRecords, nil
}

// bulkFieldRefusals are the codes with which Zoho refuses a Bulk Read job
// for its fields (crm-oas v8.0 bulk_read.json; INVALID_DATA in earlier
// versions).
var bulkFieldRefusals = []string{
	"FIELD_NOT_AVAILABLE", "FIELD_NOT_SUPPORTED", "JOIN_LIMIT_EXCEEDED", "INVALID_REQUEST", "INVALID_DATA",
}

// createBulkJob makes the job for the page pageToken names (the first page
// when empty) and returns its id.
func (r *reader) createBulkJob(ctx context.Context, pageToken string) (string, error) {
	owners := r.mod.ownerNameColumns()
	asked := pageToken == "" && !r.ownersAsIDs && len(owners) > 0
	id, err := r.postBulkJob(ctx, pageToken)
	if err != nil && asked && isCode(err, bulkFieldRefusals...) {
		// Zoho's docs list neither the owners' dotted columns nor whether
		// a refusal names the field it refuses, so any field refusal makes
		// the job again without them, once. The companies are what callers
		// see; owners keep their ids.
		r.log.Warn(
			"Zoho refused a Bulk Read job; making it again without the owners' name columns, so owners carry their id alone",
			"left_out", strings.Join(owners, ", "), "refusal", err)
		r.ownersAsIDs = true
		id, err = r.postBulkJob(ctx, pageToken)
	}
	var ae *apiError
	if errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status < 300) {
		// A refusal of the job itself, not of the token or the grant.
		return "", fmt.Errorf(
			"creating a bulk read job for %s: %w: set full_sync_method = \"records_api\" to read full syncs through the "+
				"records API instead, and report Zoho's message",
			r.mod.module, err)
	}
	if err != nil {
		return "", fmt.Errorf("creating a bulk read job for %s: %w", r.mod.module, err)
	}
	return id, nil
}

// postBulkJob asks Zoho for a job; a refusal is an *apiError, whether Zoho
// answered it with an error status or inside a 2xx answer.
func (r *reader) postBulkJob(ctx context.Context, pageToken string) (string, error) {
	query := map[string]any{}
	if pageToken != "" {
		query["page_token"] = pageToken
	} else {
		query["module"] = map[string]any{"api_name": r.mod.module}
		query["fields"] = r.mod.bulkFields(!r.ownersAsIDs)
		if !r.cfg.startTime.IsZero() {
			query["criteria"] = map[string]any{
				"group_operator": "and",
				"group": []any{map[string]any{
					"field":      map[string]any{"api_name": "Modified_Time"},
					"comparator": "greater_equal",
					"value":      zohoTime(r.cfg.startTime),
				}},
			}
		}
	}
	var body struct {
		Data []struct {
			Status  string          `json:"status"`
			Code    string          `json:"code"`
			Message string          `json:"message"`
			Details json.RawMessage `json:"details"`
		} `json:"data"`
	}
	// A second job after a lost answer only reads, costing credits but no
	// data: the call is retried as a read is.
	req := request{
		method:     http.MethodPost,
		path:       "/crm/bulk/v8/read",
		body:       map[string]any{"query": query},
		cost:       bulkCreateCredits,
		idempotent: true,
	}
	status, err := r.c.getJSON(ctx, req, &body)
	if err != nil {
		return "", err
	}
	if len(body.Data) == 0 {
		return "", fmt.Errorf("%s: Zoho's answer names no job", req.name())
	}
	d := body.Data[0]
	if d.Status != "" && d.Status != "success" {
		return "", &apiError{Status: status, Code: d.Code, Message: d.Message, Details: d.Details, Call: req.name()}
	}
	var job struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(d.Details, &job) != nil || job.ID == "" {
		return "", fmt.Errorf("%s: Zoho's answer names no job", req.name())
	}
	return job.ID, nil
}

// waitBulkJob polls a job with growing waits until it completes.
func (r *reader) waitBulkJob(ctx context.Context, id string) (bulkJob, error) {
	wait := r.tune.pollBase
	for {
		if err := sleep(ctx, wait); err != nil {
			return bulkJob{}, err
		}
		var body struct {
			Data []bulkJob `json:"data"`
		}
		req := request{method: "GET", path: "/crm/bulk/v8/read/" + id, cost: 1, idempotent: true}
		if _, err := r.c.getJSON(ctx, req, &body); err != nil {
			return bulkJob{}, fmt.Errorf("checking bulk read job %s: %w", id, err)
		}
		if len(body.Data) == 0 {
			return bulkJob{}, fmt.Errorf("checking bulk read job %s: Zoho's answer is empty", id)
		}
		job := body.Data[0]
		switch strings.ToUpper(job.State) {
		case "COMPLETED":
			return job, nil
		case "FAILURE", "FAILED":
			return bulkJob{}, fmt.Errorf("bulk read job %s for %s failed in Zoho; the next run tries again", id, r.mod.module)
		}
		wait = min(wait*2, r.tune.pollMax)
	}
}

// downloadBulk saves a job's zip to a temporary file, which the caller
// removes; the result is never held in memory.
func (r *reader) downloadBulk(ctx context.Context, id, downloadURL string) (string, error) {
	p := "/crm/bulk/v8/read/" + id + "/result"
	if downloadURL != "" && strings.HasPrefix(downloadURL, "/") {
		p = downloadURL
	}
	tmp, err := os.CreateTemp("", "zoho-bulk-*.zip")
	if err != nil {
		return "", fmt.Errorf("making a temporary file for bulk read job %s: %w", id, err)
	}
	name := tmp.Name()
	save := func(resp *http.Response) error {
		if err := tmp.Truncate(0); err != nil {
			return err
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		_, err := io.Copy(tmp, resp.Body)
		return err
	}
	// do retries failed calls; a body cut off half way is tried again here.
	for attempt := 1; ; attempt++ {
		err = r.c.do(ctx, request{method: "GET", path: p, cost: 1, download: true, idempotent: true}, save)
		var ae *apiError
		var be *budgetError
		if err == nil || errors.As(err, &ae) || errors.As(err, &be) || ctx.Err() != nil || attempt >= 3 {
			break
		}
		r.log.Warn("bulk read download broke off; trying again", "job", id, "error", err)
		if err = sleep(ctx, time.Duration(attempt)*r.tune.retryBase); err != nil {
			break
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("downloading bulk read job %s: %w", id, err)
	}
	return name, nil
}

// emitBulkCSV streams the CSV inside a job's zip and emits each row.
func (r *reader) emitBulkCSV(ctx context.Context, file string, f *fullState) error {
	zr, err := zip.OpenReader(file)
	if err != nil {
		return fmt.Errorf("opening the bulk read result: %w", err)
	}
	defer zr.Close()
	var entry *zip.File
	for _, zf := range zr.File {
		if strings.EqualFold(path.Ext(zf.Name), ".csv") {
			entry = zf
			break
		}
	}
	if entry == nil {
		return errors.New("the bulk read result holds no CSV file")
	}
	rc, err := entry.Open()
	if err != nil {
		return fmt.Errorf("reading %s in the bulk read result: %w", entry.Name, err)
	}
	defer rc.Close()
	cr := csv.NewReader(rc)
	// Rows are converted on other goroutines while later ones are read,
	// so each needs a slice of its own: no ReuseRecord.
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the bulk read CSV header: %w", err)
	}
	cols := make([]bulkColumn, len(header))
	for i, h := range header {
		cols[i] = r.mod.bulkColumn(strings.TrimPrefix(h, "\ufeff"))
	}
	next := func() ([]string, error) {
		row, err := cr.Read()
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading the bulk read CSV: %w", err)
		}
		return row, err
	}
	convert := func(row []string) (prepared, error) { return r.prepare(bulkRecord(cols, row)) }
	deliver := func(p prepared) error {
		k, err := r.deliver(ctx, p)
		if err != nil {
			return err
		}
		f.see(k)
		return nil
	}
	// Converting is what costs CPU in a full sync; it runs on every core.
	return inOrder(ctx, runtime.GOMAXPROCS(0), r.tune.bulkBatch, next, convert, deliver)
}

// bulkColumn says where a CSV column goes: a field, or a part of a lookup
// such as Account_Name.Account_Name (its name) or Owner.email.
type bulkColumn struct {
	field  string
	sub    string // "" for a plain value; "id", "name", "email", "first_name" or "last_name" of a lookup
	lookup bool   // the field's value is an object
}

func (m *module) bulkColumn(h string) bulkColumn {
	base, sub, dotted := strings.Cut(h, ".")
	f, ok := m.field(base)
	isObj := ok && f.kind() == kObject
	if !dotted {
		if isObj {
			// Bulk Read gives a plain lookup column as the id alone.
			return bulkColumn{field: base, sub: "id", lookup: true}
		}
		return bulkColumn{field: h}
	}
	switch s := strings.ToLower(sub); s {
	case "id", "email", "first_name", "last_name":
		sub = s
	default:
		// Account_Name.Account_Name, Owner.full_name: the shown name.
		sub = "name"
	}
	return bulkColumn{field: base, sub: sub, lookup: true}
}

// bulkRecord assembles a record from a CSV row; lookups become
// {"id","name"} objects like the JSON APIs return, owners
// {"id","name","email"} with the name made of first and last name.
func bulkRecord(cols []bulkColumn, row []string) map[string]any {
	rec := make(map[string]any, len(cols))
	parted := false
	for i, c := range cols {
		if i >= len(row) {
			break
		}
		v := row[i]
		if !c.lookup {
			rec[c.field] = v
			continue
		}
		if v == "" {
			continue
		}
		obj, _ := rec[c.field].(map[string]any)
		if obj == nil {
			obj = map[string]any{}
			rec[c.field] = obj
		}
		obj[c.sub] = v
		parted = parted || c.sub == "first_name" || c.sub == "last_name"
	}
	if parted {
		for _, v := range rec {
			obj, ok := v.(map[string]any)
			if !ok {
				continue
			}
			first, fok := obj["first_name"].(string)
			last, lok := obj["last_name"].(string)
			if !fok && !lok {
				continue
			}
			delete(obj, "first_name")
			delete(obj, "last_name")
			if _, named := obj["name"]; !named {
				obj["name"] = strings.TrimSpace(first + " " + last)
			}
		}
	}
	return rec
}

// zohoTime formats a time as Zoho's criteria want it.
func zohoTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05-07:00")
}
