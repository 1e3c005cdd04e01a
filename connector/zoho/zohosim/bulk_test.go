package zohosim

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

type bulkStatus struct {
	Data []struct {
		ID     string `json:"id"`
		State  string `json:"state"`
		Result *struct {
			Page          int    `json:"page"`
			PerPage       int    `json:"per_page"`
			Count         int    `json:"count"`
			DownloadURL   string `json:"download_url"`
			MoreRecords   bool   `json:"more_records"`
			NextPageToken string `json:"next_page_token"`
		} `json:"result"`
	} `json:"data"`
}

func (f *fixture) createJob(tok string, query map[string]any) string {
	f.t.Helper()
	resp, body := f.call("POST", "/crm/bulk/v8/read", tok, map[string]any{"query": query})
	if resp.StatusCode != http.StatusCreated {
		f.t.Fatalf("create job: HTTP %d %s", resp.StatusCode, truncate(body))
	}
	created := decode[struct {
		Data []struct {
			Status  string `json:"status"`
			Code    string `json:"code"`
			Details struct {
				ID    string `json:"id"`
				State string `json:"state"`
			} `json:"details"`
		} `json:"data"`
	}](f.t, body)
	d := created.Data[0]
	if d.Status != "success" || d.Code != "ADDED_SUCCESSFULLY" || d.Details.State != "ADDED" || d.Details.ID == "" {
		f.t.Fatalf("create job: %s", truncate(body))
	}
	return d.Details.ID
}

// waitJob polls a job until it completes and returns the states it went
// through.
func (f *fixture) waitJob(tok, id string) (bulkStatus, []string) {
	f.t.Helper()
	var states []string
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, body := f.call("GET", "/crm/bulk/v8/read/"+id, tok, nil)
		if resp.StatusCode != 200 {
			f.t.Fatalf("job status: HTTP %d %s", resp.StatusCode, truncate(body))
		}
		st := decode[bulkStatus](f.t, body)
		state := st.Data[0].State
		if len(states) == 0 || states[len(states)-1] != state {
			states = append(states, state)
		}
		if state == stateCompleted {
			return st, states
		}
		if st.Data[0].Result != nil {
			f.t.Fatalf("result before COMPLETED: %s", truncate(body))
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("job %s stuck in %s", id, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// download fetches a job's zip and returns the CSV rows, header first.
func (f *fixture) download(tok, id string) [][]string {
	f.t.Helper()
	resp, body := f.call("GET", "/crm/bulk/v8/read/"+id+"/result", tok, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" {
		f.t.Fatalf("download: HTTP %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), truncate(body))
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		f.t.Fatalf("reading the zip: %v", err)
	}
	if len(zr.File) != 1 || zr.File[0].Name != id+".csv" {
		f.t.Fatalf("zip holds %v", zr.File)
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		f.t.Fatal(err)
	}
	defer rc.Close()
	rows, err := csv.NewReader(rc).ReadAll()
	if err != nil {
		f.t.Fatalf("reading the csv: %v", err)
	}
	return rows
}

func TestBulkReadPages(t *testing.T) {
	f := newFixture(t, Options{Contacts: 5000, Accounts: 80, BulkPageSize: 2000, BulkStepDelay: 15 * time.Millisecond})
	tok := f.login("ZohoCRM.bulk.READ", "ZohoCRM.modules.contacts.READ").AccessToken
	fields := []string{
		"Full_Name", "Phone", "Mobile", "Direct_Line", "Account_Name", "Account_Name.Account_Name", "Owner",
		"Owner.first_name", "Owner.last_name", "Owner.email", "Interests", "Email_Opt_Out", "Modified_Time",
	}

	id := f.createJob(tok, map[string]any{"module": map[string]string{"api_name": "Contacts"}, "fields": fields})
	resp, body := f.call("GET", "/crm/bulk/v8/read/"+id+"/result", tok, nil)
	wantError(t, resp, body, http.StatusNotFound, "RESOURCE_NOT_FOUND")

	all := map[string][]string{}
	var header []string
	var counts []int
	for page := 1; ; page++ {
		st, states := f.waitJob(tok, id)
		order := []string{stateAdded, stateQueued, stateInProgress, stateCompleted}
		last := -1
		for _, s := range states {
			k := slices.Index(order, s)
			if k <= last {
				t.Fatalf("states went %v", states)
			}
			last = k
		}
		res := st.Data[0].Result
		if res.Page != page || res.PerPage != 2000 || res.DownloadURL != "/crm/bulk/v8/read/"+id+"/result" {
			t.Fatalf("result %+v", res)
		}
		rows := f.download(tok, id)
		header = rows[0]
		if len(rows)-1 != res.Count {
			t.Fatalf("page %d: %d rows, status says %d", page, len(rows)-1, res.Count)
		}
		counts = append(counts, res.Count)
		for _, row := range rows[1:] {
			if _, dup := all[row[0]]; dup {
				t.Fatalf("record %s on two pages", row[0])
			}
			all[row[0]] = row
		}
		if !res.MoreRecords {
			if res.NextPageToken != "" {
				t.Error("last page has a next_page_token")
			}
			break
		}
		id = f.createJob(tok, map[string]any{"page_token": res.NextPageToken})
	}
	if slices.Compare(counts, []int{2000, 2000, 1000}) != 0 {
		t.Errorf("page counts %v", counts)
	}
	wantHeader := "id,Full_Name,Phone,Mobile,Direct_Line,Account_Name,Account_Name.Account_Name,Owner,Owner.first_name," +
		"Owner.last_name,Owner.email,Interests,Email_Opt_Out,Modified_Time"
	if strings.Join(header, ",") != wantHeader {
		t.Errorf("header %v", header)
	}
	col := func(name string) int { return slices.Index(header, name) }

	// Every live record once, with the values the JSON API shows.
	if len(all) != 5000 {
		t.Fatalf("%d records, want 5000", len(all))
	}
	checked := 0
	for rid, rec := range f.sim.Records("Contacts") {
		row, ok := all[rid]
		if !ok {
			t.Fatalf("record %s missing from the bulk read", rid)
		}
		if checked%97 != 0 {
			checked++
			continue
		}
		checked++
		if row[col("Full_Name")] != rec["Full_Name"] || row[col("Modified_Time")] != rec["Modified_Time"] {
			t.Errorf("%s: csv %v vs %v", rid, row, rec)
		}
		if _, err := time.Parse(time.RFC3339, row[col("Modified_Time")]); err != nil {
			t.Errorf("Modified_Time %q: %v", row[col("Modified_Time")], err)
		}
		// A plain lookup is the linked record's id; its name needs the
		// dotted form, as Zoho documents.
		if acc, ok := rec["Account_Name"].(map[string]any); ok {
			if row[col("Account_Name")] != acc["id"] || row[col("Account_Name.Account_Name")] != acc["name"] {
				t.Errorf("%s: lookup %v vs %v", rid, row, acc)
			}
		} else if row[col("Account_Name")] != "" {
			t.Errorf("%s: lookup %q without an account", rid, row[col("Account_Name")])
		}
		owner, _ := rec["Owner"].(map[string]any)
		if name := row[col("Owner.first_name")] + " " + row[col("Owner.last_name")]; row[col("Owner")] != owner["id"] ||
			name != owner["name"] ||
			row[col("Owner.email")] != owner["email"] {
			t.Errorf("%s: owner %v vs %v", rid, row, owner)
		}
		if want := strings.Join(toStrings(rec["Interests"]), ";"); row[col("Interests")] != want {
			t.Errorf("%s: Interests %q, want %q", rid, row[col("Interests")], want)
		}
		if b := row[col("Email_Opt_Out")]; b != "true" && b != "false" {
			t.Errorf("%s: boolean %q", rid, b)
		}
	}
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	out := []string{}
	for _, e := range list {
		out = append(out, e.(string))
	}
	if s, ok := v.([]string); ok {
		return s
	}
	return out
}

func TestBulkReadCriteriaAndSnapshot(t *testing.T) {
	f := newFixture(t, Options{Contacts: 300, Accounts: 10, BulkStepDelay: -1})
	tok := f.login().AccessToken
	cut, _ := f.sim.Record("Contacts", "5725767000200000201") // index 200
	query := map[string]any{
		"module": map[string]string{"api_name": "Contacts"},
		"fields": []string{"Last_Name", "Modified_Time"},
		"criteria": map[string]any{"group_operator": "and", "group": []any{
			map[string]any{
				"field":      map[string]string{"api_name": "Modified_Time"},
				"comparator": "greater_than",
				"value":      cut["Modified_Time"],
			},
		}},
	}
	id := f.createJob(tok, query)
	// Changes after the job was created are not in its result.
	f.clock.Advance(time.Second)
	f.sim.Create("Contacts", map[string]any{"Last_Name": "Later"})
	st, _ := f.waitJob(tok, id)
	rows := f.download(tok, id)
	// Index 200 shares its timestamp with no one, so indices 201..299 follow.
	if st.Data[0].Result.Count != 99 || len(rows) != 100 {
		t.Fatalf("count %d rows %d", st.Data[0].Result.Count, len(rows)-1)
	}
	cutTime, _ := time.Parse(time.RFC3339, cut["Modified_Time"].(string))
	for _, row := range rows[1:] {
		mt, err := time.Parse(time.RFC3339, row[2])
		if err != nil || !mt.After(cutTime) || row[1] == "Later" {
			t.Fatalf("row %v", row)
		}
	}
	// A new job sees the created record.
	rows = f.download(tok, f.createJob(tok, query))
	if len(rows) != 101 || rows[100][1] != "Later" {
		t.Fatalf("%d rows, last %v", len(rows)-1, rows[len(rows)-1])
	}
}

func TestBulkReadErrors(t *testing.T) {
	f := newFixture(t, Options{Contacts: 10, Accounts: 2, BulkStepDelay: -1})
	tok := f.login().AccessToken
	tests := []struct {
		name   string
		body   any
		code   string
		status int
	}{
		{"no module", map[string]any{"query": map[string]any{"fields": []string{"Last_Name"}}}, "REQUIRED_PARAM_MISSING",
			400},
		{"unknown module", map[string]any{"query": map[string]any{"module": map[string]string{"api_name": "Gadgets"}}},
			"MODULE_NOT_AVAILABLE", 400},
		{"module not exported", map[string]any{"query": map[string]any{"module": map[string]string{"api_name": "Notes"}}},
			"MODULE_NOT_SUPPORTED", 400},
		{
			"unknown field",
			map[string]any{
				"query": map[string]any{"module": map[string]string{"api_name": "Contacts"}, "fields": []string{"Shoe_Size"}},
			},
			"FIELD_NOT_AVAILABLE",
			400,
		},
		{
			"criteria on another field",
			map[string]any{"query": map[string]any{"module": map[string]string{"api_name": "Contacts"},
				"criteria": map[string]any{
					"field":      map[string]string{"api_name": "Last_Name"},
					"comparator": "equal",
					"value":      "x",
				}}},
			"INVALID_CRITERIA",
			400,
		},
		{"bad page token", map[string]any{"query": map[string]any{"page_token": "nonsense"}}, "INVALID_DATA", 400},
		{"not json", "{", "INVALID_DATA", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.call("POST", "/crm/bulk/v8/read", tok, tc.body)
			wantError(t, resp, body, tc.status, tc.code)
		})
	}
	// A refused field is named, with its module.
	resp, body := f.call("POST", "/crm/bulk/v8/read", tok, tests[3].body)
	if e := wantError(t, resp, body, 400, "FIELD_NOT_AVAILABLE"); e.Details["api_name"] != "Shoe_Size" ||
		e.Details["module"] != "Contacts" {
		t.Errorf("unknown field: details %v, want api_name Shoe_Size and module Contacts", e.Details)
	}
	resp, body = f.call("GET", "/crm/bulk/v8/read/123", tok, nil)
	wantError(t, resp, body, http.StatusNotFound, "RESOURCE_NOT_FOUND")
	if c := f.sim.Credits(); c != 0 {
		t.Errorf("failed calls cost %d credits", c)
	}
}

// With BulkOwnerNamesRefusal an owner's dotted columns but id are refused
// with that code, naming the column unless BulkRefusalsNameNoField; the
// owner's id and lookups' names are not. An unknown field is refused
// without a name too.
func TestBulkRefusesOwnerNames(t *testing.T) {
	for _, code := range fieldRefusals {
		for _, unnamed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s unnamed=%v", code, unnamed), func(t *testing.T) {
				f := newFixture(
					t,
					Options{
						Contacts:                10,
						Accounts:                2,
						BulkStepDelay:           -1,
						BulkOwnerNamesRefusal:   code,
						BulkRefusalsNameNoField: unnamed,
					},
				)
				tok := f.login().AccessToken
				query := func(fields ...string) map[string]any {
					return map[string]any{"module": map[string]string{"api_name": "Contacts"}, "fields": fields}
				}
				for _, col := range []string{
					"Owner.first_name", "Owner.last_name", "Owner.email", "Owner.full_name", "Created_By.email",
				} {
					resp, body := f.call("POST", "/crm/bulk/v8/read", tok, map[string]any{"query": query("Last_Name", "Owner", col)})
					e := wantError(t, resp, body, 400, code)
					named := e.Details["api_name"] == col && e.Details["module"] == "Contacts"
					if unnamed && len(e.Details) != 0 || !unnamed && !named {
						t.Errorf("%s: details %v", col, e.Details)
					}
				}
				resp, body := f.call("POST", "/crm/bulk/v8/read", tok, map[string]any{"query": query("Last_Name", "Shoe_Size")})
				if e := wantError(t, resp, body, 400, RefusalFieldNotAvailable); unnamed != (len(e.Details) == 0) {
					t.Errorf("Shoe_Size: details %v", e.Details)
				}
				f.createJob(tok, query("Last_Name", "Owner", "Owner.id", "Account_Name", "Account_Name.Account_Name"))
			})
		}
	}
	if _, err := New(Options{BulkOwnerNamesRefusal: "NOPE"}); err == nil ||
		!strings.Contains(err.Error(), "FIELD_NOT_SUPPORTED") {
		t.Errorf("New with an unknown refusal code: %v", err)
	}
}

func TestBulkDownloadLimit(t *testing.T) {
	f := newFixture(t, Options{Contacts: 10, Accounts: 2, BulkStepDelay: -1})
	tok := f.login().AccessToken
	id := f.createJob(tok, map[string]any{"module": map[string]string{"api_name": "Accounts"}})
	for i := 0; i < bulkDownloadsLimit; i++ {
		rows := f.download(tok, id)
		if len(rows) != 3 || rows[0][0] != "id" {
			t.Fatalf("rows %v", rows)
		}
		f.clock.Advance(time.Second)
	}
	resp, body := f.call("GET", "/crm/bulk/v8/read/"+id+"/result", tok, nil)
	wantError(t, resp, body, http.StatusTooManyRequests, "TOO_MANY_REQUESTS")
	f.clock.Advance(51 * time.Second) // the first download is now a minute old
	f.download(tok, id)
}

func TestWriteZipStopsOnWriteError(t *testing.T) {
	// A client that goes away mid-download ends the scan with an error.
	f := newFixture(t, Options{Contacts: 3000, Accounts: 5, BulkStepDelay: -1})
	tok := f.login().AccessToken
	id := f.createJob(tok, map[string]any{"module": map[string]string{"api_name": "Contacts"}})
	j, _ := f.sim.job(id)
	w := &limitedWriter{limit: 4096}
	if err := f.sim.writeZip(w, j); err == nil {
		t.Fatal("writeZip ignored a failing writer")
	}
}

type limitedWriter struct{ n, limit int }

func (w *limitedWriter) Write(p []byte) (int, error) {
	if w.n+len(p) > w.limit {
		return 0, io.ErrShortWrite
	}
	w.n += len(p)
	return len(p), nil
}

// BenchmarkWriteZip measures streaming a Bulk Read page of every contact
// field; run it with -benchmem to see the per-row cost.
func BenchmarkWriteZip(b *testing.B) {
	sim, err := New(Options{Contacts: 20000, Accounts: 2000, BulkStepDelay: -1})
	if err != nil {
		b.Fatal(err)
	}
	m := sim.order[0]
	job := &bulkJob{id: "1", m: m, lower: minKey, upper: maxKey, start: minKey, count: m.n, snap: sim.snapshot()}
	for _, f := range m.fields {
		col, err := sim.resolveColumn(m, f.apiName)
		if err != nil {
			b.Fatal(err)
		}
		job.cols = append(job.cols, bulkColumn(col))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := sim.writeZip(io.Discard, job); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*m.n), "ns/row")
}
