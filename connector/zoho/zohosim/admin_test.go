package zohosim

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	f := newFixture(t, Options{Contacts: 20, Accounts: 2})
	tr := f.login()
	org := func(tok string) (*http.Response, []byte) { return f.call("GET", "/crm/v8/org", tok, nil) }

	t.Run("429 with and without Retry-After", func(t *testing.T) {
		f.sim.SetFault(Fault{Kind: FaultTooManyRequests, Count: 1})
		resp, body := org(tr.AccessToken)
		wantError(t, resp, body, http.StatusTooManyRequests, "TOO_MANY_REQUESTS")
		if h := resp.Header.Get("Retry-After"); h != "" {
			t.Errorf("Retry-After %q", h)
		}
		f.sim.SetFault(Fault{Kind: FaultTooManyRequests, Count: 2, RetryAfter: 1500 * time.Millisecond})
		for i := 0; i < 2; i++ {
			resp, body = org(tr.AccessToken)
			wantError(t, resp, body, http.StatusTooManyRequests, "TOO_MANY_REQUESTS")
			if h := resp.Header.Get("Retry-After"); h != "2" {
				t.Errorf("Retry-After %q, want 2", h)
			}
		}
		if resp, _ := org(tr.AccessToken); resp.StatusCode != 200 {
			t.Errorf("after the fault: HTTP %d", resp.StatusCode)
		}
	})
	t.Run("500", func(t *testing.T) {
		f.sim.SetFault(Fault{Kind: FaultInternalError, Count: 1})
		resp, body := org(tr.AccessToken)
		wantError(t, resp, body, http.StatusInternalServerError, "INTERNAL_ERROR")
		if resp, _ := org(tr.AccessToken); resp.StatusCode != 200 {
			t.Errorf("after the fault: HTTP %d", resp.StatusCode)
		}
	})
	t.Run("slow", func(t *testing.T) {
		f.sim.SetFault(Fault{Kind: FaultSlow, Count: 1, Delay: 30 * time.Millisecond})
		start := time.Now()
		resp, _ := org(tr.AccessToken)
		if resp.StatusCode != 200 {
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
		if d := time.Since(start); d < 30*time.Millisecond {
			t.Errorf("answered after %v, before the delay", d)
		}
	})
	t.Run("expired tokens until refreshed", func(t *testing.T) {
		f.sim.SetFault(Fault{Kind: FaultExpireTokens, Count: 1})
		resp, body := org(tr.AccessToken)
		wantError(t, resp, body, http.StatusUnauthorized, "INVALID_TOKEN")
		resp, body = org(tr.AccessToken)
		wantError(t, resp, body, http.StatusUnauthorized, "INVALID_TOKEN")
		f.clock.Advance(time.Minute)
		_, r := f.tokenCall("eu", f.refreshForm(tr.RefreshToken))
		if resp, _ := org(r.AccessToken); resp.StatusCode != 200 {
			t.Errorf("refreshed token: HTTP %d", resp.StatusCode)
		}
		tr.AccessToken = r.AccessToken
	})
	t.Run("bad api_domain", func(t *testing.T) {
		f.sim.SetFault(Fault{Kind: FaultBadAPIDomain, Count: 1})
		_, r := f.tokenCall("eu", f.refreshForm(tr.RefreshToken))
		if r.APIDomain != "https://www.zohoapis.evil.example" {
			t.Errorf("api_domain %q", r.APIDomain)
		}
		_, r = f.tokenCall("eu", f.refreshForm(tr.RefreshToken))
		if r.APIDomain != "https://www.zohoapis.eu" {
			t.Errorf("api_domain after the fault %q", r.APIDomain)
		}
		tr.AccessToken = r.AccessToken
	})
	t.Run("count zero disarms", func(t *testing.T) {
		f.sim.SetFault(Fault{Kind: FaultInternalError, Count: 5})
		f.sim.SetFault(Fault{Kind: FaultInternalError})
		if resp, _ := org(tr.AccessToken); resp.StatusCode != 200 {
			t.Errorf("HTTP %d", resp.StatusCode)
		}
	})
	t.Run("admin endpoint", func(t *testing.T) {
		resp, body := f.call("POST", "/admin/faults", "", map[string]any{"kind": "429", "count": 1, "retry_after": "3s"})
		if resp.StatusCode != 200 {
			t.Fatalf("HTTP %d %s", resp.StatusCode, body)
		}
		resp, _ = org(tr.AccessToken)
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
			t.Errorf("HTTP %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		for _, bad := range []map[string]any{{"kind": "teapot", "count": 1}, {"kind": "slow", "count": 1, "delay": "soon"}} {
			if resp, _ := f.call("POST", "/admin/faults", "", bad); resp.StatusCode != 400 {
				t.Errorf("%v: HTTP %d", bad, resp.StatusCode)
			}
		}
		f.call("POST", "/admin/faults", "", map[string]any{"kind": "500", "count": 3})
		f.call("DELETE", "/admin/faults", "", nil)
		if resp, _ := org(tr.AccessToken); resp.StatusCode != 200 {
			t.Errorf("after clearing: HTTP %d", resp.StatusCode)
		}
	})
}

func TestConcurrencyLimit(t *testing.T) {
	f := newFixture(t, Options{Contacts: 5, Accounts: 1, MaxConcurrent: 1})
	tok := f.login().AccessToken
	f.sim.SetFault(Fault{Kind: FaultSlow, Count: 1, Delay: 2 * time.Second})
	var wg sync.WaitGroup
	wg.Add(1)
	var slowStatus int
	go func() {
		defer wg.Done()
		resp, _ := f.call("GET", "/crm/v8/org", tok, nil)
		slowStatus = resp.StatusCode
	}()
	for {
		f.sim.mu.Lock()
		busy := f.sim.inflight == 1
		f.sim.mu.Unlock()
		if busy {
			break
		}
		time.Sleep(time.Millisecond)
	}
	resp, body := f.call("GET", "/crm/v8/org", tok, nil)
	wantError(t, resp, body, http.StatusTooManyRequests, "TOO_MANY_REQUESTS")
	wg.Wait()
	if slowStatus != 200 {
		t.Errorf("slow call: HTTP %d", slowStatus)
	}
}

func TestCredits(t *testing.T) {
	f := newFixture(t, Options{Contacts: 30, Accounts: 3, BulkStepDelay: -1})
	tok := f.login().AccessToken
	coql := map[string]string{"select_query": firstPageQuery(time.Unix(0, 0), 500)}
	bulk := map[string]any{"query": map[string]any{"module": map[string]string{"api_name": "Contacts"}}}
	tests := []struct {
		name         string
		method, path string
		body         any
		want         int64
	}{
		{"org", "GET", "/crm/v8/org", nil, 1},
		{"modules", "GET", "/crm/v8/settings/modules", nil, 1},
		{"fields", "GET", "/crm/v8/settings/fields?module=Accounts", nil, 1},
		{"records", "GET", "/crm/v8/Contacts?fields=Last_Name", nil, 1},
		{"deleted, empty", "GET", "/crm/v8/Contacts/deleted", nil, 1},
		{"coql limit 500", "POST", "/crm/v8/coql", coql, 2},
		{"bulk job", "POST", "/crm/bulk/v8/read", bulk, 50},
		{"failed call", "GET", "/crm/v8/Contacts", nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.sim.Credits()
			f.call(tc.method, tc.path, tok, tc.body)
			if got := f.sim.Credits() - before; got != tc.want {
				t.Errorf("cost %d credits, want %d", got, tc.want)
			}
		})
	}
	id := f.sim.Jobs()[0]
	before := f.sim.Credits()
	f.call("GET", "/crm/bulk/v8/read/"+id, tok, nil)
	f.download(tok, id)
	if got := f.sim.Credits() - before; got != 2 {
		t.Errorf("status and download cost %d, want 2", got)
	}
	calls := f.sim.Calls()
	want := map[string]int64{
		"oauth/token":      1,
		"org":              1,
		"settings/modules": 1,
		"settings/fields":  1,
		"records":          2,
		"deleted":          1,
		"coql":             1,
		"bulk/create":      1,
		"bulk/status":      1,
		"bulk/result":      1,
	}
	for k, v := range want {
		if calls[k] != v {
			t.Errorf("calls[%s] = %d, want %d (all: %v)", k, calls[k], v, calls)
		}
	}
	resp, body := f.call("GET", "/admin/credits", "", nil)
	got := decode[struct {
		Credits int64            `json:"credits"`
		Calls   map[string]int64 `json:"calls"`
	}](t, body)
	if resp.StatusCode != 200 || got.Credits != f.sim.Credits() || got.Calls["coql"] != 1 {
		t.Errorf("admin credits %+v", got)
	}
	f.call("DELETE", "/admin/credits", "", nil)
	if f.sim.Credits() != 0 || len(f.sim.Calls()) != 0 {
		t.Errorf("reset left %d credits, %v", f.sim.Credits(), f.sim.Calls())
	}
}

func TestAdminAPI(t *testing.T) {
	f := newFixture(t, Options{Contacts: 10, Accounts: 3})
	resp, body := f.call("POST", "/admin/grant-codes", "", map[string]any{"scopes": []string{"ZohoCRM.org.READ"}})
	grant := decode[struct {
		Code      string `json:"code"`
		ExpiresIn int    `json:"expires_in"`
	}](t, body)
	if resp.StatusCode != 200 || !strings.HasPrefix(grant.Code, "1000.") || grant.ExpiresIn != 180 {
		t.Fatalf("grant code: HTTP %d %s", resp.StatusCode, body)
	}
	if _, tr := f.tokenCall("eu", f.exchangeForm(grant.Code)); tr.Error != "" || tr.Scope != "ZohoCRM.org.READ" {
		t.Fatalf("exchange: %+v", tr)
	}

	_, body = f.call("GET", "/admin/client", "", nil)
	client := decode[map[string]string](t, body)
	if client["client_id"] != f.sim.ClientID() || client["accounts_url"] != f.srv.URL+"/accounts/{dc}" ||
		client["dc"] != "eu" {
		t.Errorf("client %v", client)
	}

	f.clock.Advance(time.Hour)
	resp, body = f.call(
		"POST",
		"/admin/records/Accounts",
		"",
		map[string]any{
			"Account_Name": "Nieuwe Haven B.V.",
			"Phone":        "010-7654321",
			"Regions":      []string{"Benelux"},
			"Employees":    12,
		},
	)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create account: HTTP %d %s", resp.StatusCode, body)
	}
	accID := decode[map[string]string](t, body)["id"]
	resp, body = f.call(
		"POST",
		"/admin/records/Contacts",
		"",
		map[string]any{
			"First_Name":    "Eva",
			"Last_Name":     "Visser",
			"Direct_Line":   "+31 20 555 0101",
			"Account_Name":  map[string]any{"id": accID},
			"Email_Opt_Out": true,
		},
	)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create contact: HTTP %d %s", resp.StatusCode, body)
	}
	conID := decode[map[string]string](t, body)["id"]

	rec, ok := f.sim.Record("Contacts", conID)
	now := f.clock.Now().In(f.sim.loc).Format("2006-01-02T15:04:05-07:00")
	if !ok || rec["Full_Name"] != "Eva Visser" || rec["Modified_Time"] != now || rec["Created_Time"] != now ||
		rec["Email_Opt_Out"] != true {
		t.Fatalf("created contact %v", rec)
	}
	if acc := rec["Account_Name"].(map[string]any); acc["name"] != "Nieuwe Haven B.V." || acc["id"] != accID {
		t.Errorf("lookup %v", acc)
	}

	// Renaming the account shows in the contact's lookup; the contact keeps
	// its Modified_Time.
	f.clock.Advance(time.Minute)
	resp, body = f.call("PATCH", "/admin/records/Accounts/"+accID, "", map[string]any{"Account_Name": "Haven Noord B.V."})
	if resp.StatusCode != 200 {
		t.Fatalf("patch: HTTP %d %s", resp.StatusCode, body)
	}
	rec, _ = f.sim.Record("Contacts", conID)
	if rec["Account_Name"].(map[string]any)["name"] != "Haven Noord B.V." || rec["Modified_Time"] != now {
		t.Errorf("after rename %v", rec)
	}

	// Updating a generated record keeps its other fields and moves its time.
	gen := "5725767000200000004"
	before, _ := f.sim.Record("Contacts", gen)
	if err := f.sim.Update("Contacts", gen, map[string]any{"Mobile": "06-11112222", "Phone": nil}); err != nil {
		t.Fatal(err)
	}
	after, _ := f.sim.Record("Contacts", gen)
	if after["Mobile"] != "06-11112222" || after["Phone"] != nil || after["Last_Name"] != before["Last_Name"] ||
		after["Created_Time"] != before["Created_Time"] || after["Modified_Time"] == before["Modified_Time"] {
		t.Errorf("before %v\nafter %v", before, after)
	}

	// Changes at chosen times, for tests that need ties.
	tie := "2025-03-14T12:00:00+01:00"
	a := f.sim.Create("Contacts", map[string]any{"Last_Name": "A", "Modified_Time": tie})
	b := f.sim.Create("Contacts", map[string]any{"Last_Name": "B", "Modified_Time": tie})
	ra, _ := f.sim.Record("Contacts", a)
	rb, _ := f.sim.Record("Contacts", b)
	if ra["Modified_Time"] != tie || rb["Modified_Time"] != tie {
		t.Errorf("chosen times %v %v", ra["Modified_Time"], rb["Modified_Time"])
	}

	_, body = f.call("GET", "/admin/records/Contacts/"+conID, "", nil)
	if got := decode[map[string]any](t, body); got["Direct_Line"] != "+31 20 555 0101" {
		t.Errorf("admin get %v", got)
	}
	_, body = f.call("GET", "/admin/records/Contacts", "", nil)
	if got := decode[map[string]int](t, body); got["count"] != 13 {
		t.Errorf("count %v", got)
	}
	resp, _ = f.call("DELETE", "/admin/records/Contacts/"+conID, "", nil)
	if resp.StatusCode != 200 {
		t.Errorf("delete: HTTP %d", resp.StatusCode)
	}

	bad := []struct {
		method, path string
		body         any
		status       int
	}{
		{"POST", "/admin/records/Contacts", map[string]any{"First_Name": "No last name"}, 400},
		{"POST", "/admin/records/Contacts", map[string]any{"Last_Name": "X", "Shoe_Size": 44}, 400},
		{"POST", "/admin/records/Contacts", map[string]any{"Last_Name": "X", "Email_Opt_Out": "yes"}, 400},
		{"POST", "/admin/records/Contacts", map[string]any{"Last_Name": "X", "Full_Name": "Y"}, 400},
		{"POST", "/admin/records/Contacts", map[string]any{"Last_Name": "X", "Last_Visit": "14/03/2025"}, 400},
		{"POST", "/admin/records/Leads", map[string]any{"Last_Name": "X"}, 400},
		{"PATCH", "/admin/records/Contacts/" + conID, map[string]any{"Phone": "1"}, 404},
		{"PATCH", "/admin/records/Contacts/42", map[string]any{"Phone": "1"}, 404},
		{"DELETE", "/admin/records/Contacts/" + conID, nil, 404},
		{"GET", "/admin/records/Contacts/" + conID, nil, 404},
		{"POST", "/admin/grant-codes", map[string]any{}, 400},
	}
	for _, tc := range bad {
		if resp, body := f.call(tc.method, tc.path, "", tc.body); resp.StatusCode != tc.status {
			t.Errorf("%s %s %v: HTTP %d, want %d: %s", tc.method, tc.path, tc.body, resp.StatusCode, tc.status, body)
		}
	}
	if f.sim.Create("Contacts", map[string]any{}) != "" {
		t.Error("Create accepted a contact without Last_Name")
	}
}

func TestGeneratedData(t *testing.T) {
	const n = 5000
	a := newFixture(t, Options{Contacts: n, Accounts: 300, Seed: 7})
	b := newFixture(t, Options{Contacts: n, Accounts: 300, Seed: 7})
	c := newFixture(t, Options{Contacts: n, Accounts: 300, Seed: 8})
	ra, _ := a.sim.Record("Contacts", "5725767000200001234")
	rb, _ := b.sim.Record("Contacts", "5725767000200001234")
	rc, _ := c.sim.Record("Contacts", "5725767000200001234")
	if !equalJSON(t, ra, rb) {
		t.Errorf("same seed, different records:\n%v\n%v", ra, rb)
	}
	if equalJSON(t, ra, rc) {
		t.Errorf("different seeds, same record: %v", ra)
	}

	formats := map[string]*regexp.Regexp{
		"NL dashed":      regexp.MustCompile(`^0\d{2}-\d{7}$`),
		"NL mobile":      regexp.MustCompile(`^06-\d{8}$`),
		"NL (0)":         regexp.MustCompile(`^\+31 \(0\)\d{2} \d{3} \d{4}$`),
		"DE 0049":        regexp.MustCompile(`^0049 \d{2,3} \d{7}$`),
		"DE brackets":    regexp.MustCompile(`^\(0\d{2,3}\) \d{3} \d{2} \d{2}$`),
		"US brackets":    regexp.MustCompile(`^\(\d{3}\) \d{3}-\d{4}$`),
		"GB":             regexp.MustCompile(`^(\+44 |0)\d{2,4} \d{3,4} \d{4}$|^\+44 \(0\)20 \d{4} \d{4}$`),
		"BE":             regexp.MustCompile(`^(\+32 |0)\d \d{3} \d{2} \d{2}$`),
		"FR":             regexp.MustCompile(`^(\+33 |0)\d \d{2} \d{2} \d{2} \d{2}$`),
		"E.164 as typed": regexp.MustCompile(`^\+\d{10,12}$`),
	}
	hits := map[string]int{}
	var noPhone, direct, country, total, prevTies int
	var prev string
	for _, rec := range a.sim.Records("Contacts") {
		total++
		phone, _ := rec["Phone"].(string)
		if phone == "" && rec["Mobile"] == nil {
			noPhone++
		}
		for _, v := range []any{rec["Phone"], rec["Mobile"], rec["Direct_Line"]} {
			s, _ := v.(string)
			for name, re := range formats {
				if re.MatchString(s) {
					hits[name]++
				}
			}
		}
		if rec["Direct_Line"] != nil {
			direct++
		}
		if rec["Mailing_Country"] != nil {
			country++
		}
		mt := rec["Modified_Time"].(string)
		mtTime, _ := time.Parse(time.RFC3339, mt)
		prevTime, _ := time.Parse(time.RFC3339, prev)
		if prev != "" && mtTime.Before(prevTime) {
			t.Fatalf("Modified_Time went back: %s after %s", mt, prev)
		}
		if mt == prev {
			prevTies++
		}
		prev = mt
	}
	if total != n {
		t.Fatalf("%d records", total)
	}
	for name := range formats {
		if hits[name] == 0 {
			t.Errorf("no phone number in format %q", name)
		}
	}
	if noPhone == 0 || direct < n/20 || country < n/2 || prevTies < n/10 {
		t.Errorf("no phone %d, direct line %d, country %d, ties %d of %d", noPhone, direct, country, prevTies, n)
	}
	hotlines := 0
	for _, acc := range a.sim.Records("Accounts") {
		if acc["Support_Hotline"] != nil {
			hotlines++
		}
	}
	if hotlines < 30 {
		t.Errorf("%d accounts with a support hotline", hotlines)
	}
}

func equalJSON(t *testing.T, a, b map[string]any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}

func TestManyAdminChanges(t *testing.T) {
	f := newFixture(t, Options{Contacts: 5000, Accounts: 10})
	const n = 10000
	ids := make([]string, 0, n)
	for i := 0; i < n; i++ {
		id, err := f.sim.CreateRecord("Contacts",
			map[string]any{"Last_Name": "Bulk", "Phone": "020-" + strings.Repeat("1", 7)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	f.clock.Advance(time.Second)
	for i, id := range ids {
		if err := f.sim.Update("Contacts", id, map[string]any{"First_Name": "N"}); err != nil {
			t.Fatal(err)
		}
		gen := strconv.FormatInt(contactIDBase+int64(i%5000), 10)
		if i < 5000 {
			if err := f.sim.Update("Contacts", gen, map[string]any{"Title": "Updated"}); err != nil {
				t.Fatalf("updating %s: %v", gen, err)
			}
		}
		if i%3 == 0 {
			if err := f.sim.Delete("Contacts", id); err != nil {
				t.Fatal(err)
			}
		}
	}
	wantLive := 5000 + n - (n+2)/3
	if got := f.sim.Count("Contacts"); got != wantLive {
		t.Errorf("Count = %d, want %d", got, wantLive)
	}
	live, updated := 0, 0
	for _, rec := range f.sim.Records("Contacts") {
		live++
		if rec["Title"] == "Updated" || rec["First_Name"] == "N" {
			updated++
		}
	}
	if live != wantLive || updated != wantLive {
		t.Errorf("Records: %d live, %d updated, want %d", live, updated, wantLive)
	}
}

// Once half of the org's daily credits are spent, answers carry what is
// left in X-API-CREDITS-REMAINING, failed ones and downloads included; the
// day rolls over 24 hours.
func TestDailyCreditsHeader(t *testing.T) {
	f := newFixture(t, Options{Contacts: 30, Accounts: 3, BulkStepDelay: -1, DailyCredits: 120})
	tok := f.login().AccessToken
	left := func(resp *http.Response) string { return resp.Header.Get(CreditsHeader) }
	for i := 1; i < 60; i++ {
		if resp, _ := f.call("GET", "/crm/v8/org", tok, nil); resp.StatusCode != 200 || left(resp) != "" {
			t.Fatalf("call %d: HTTP %d, %s %q before half the credits are spent", i, resp.StatusCode, CreditsHeader, left(resp))
		}
	}
	if resp, _ := f.call("GET", "/crm/v8/org", tok, nil); left(resp) != "60" {
		t.Errorf("the call that spends half: %s %q, want 60", CreditsHeader, left(resp))
	}
	if resp, _ := f.call("GET", "/crm/v8/Contacts", tok, nil); resp.StatusCode != 400 || left(resp) != "60" {
		t.Errorf("a failed call: HTTP %d, %s %q, want 60", resp.StatusCode, CreditsHeader, left(resp))
	}
	f.createJob(tok, map[string]any{"module": map[string]string{"api_name": "Accounts"}})
	f.clock.Advance(time.Minute)
	resp, _ := f.call("GET", "/crm/bulk/v8/read/"+f.sim.Jobs()[0]+"/result", tok, nil)
	if resp.StatusCode != 200 || left(resp) != "9" || f.sim.CreditsLeft() != 9 {
		t.Errorf("download: HTTP %d, %s %q, want 9 (a job of 50 and the download)",
			resp.StatusCode, CreditsHeader, left(resp))
	}
	_, body := f.call("GET", "/admin/credits", "", nil)
	if got := decode[struct {
		LeftToday int64 `json:"left_today"`
	}](t, body); got.LeftToday != 9 {
		t.Errorf("admin left_today %d, want 9", got.LeftToday)
	}
	// A day later only the download, a minute after the rest, counts (the
	// access token has expired by then: a failed call shows it too).
	f.clock.Advance(24*time.Hour - time.Minute)
	if resp, _ := f.call("GET", "/crm/v8/org", tok, nil); resp.StatusCode != 401 || left(resp) != "" {
		t.Errorf("a day later: HTTP %d, %s %q", resp.StatusCode, CreditsHeader, left(resp))
	}

	f = newFixture(t, Options{Contacts: 30, Accounts: 3, DailyCredits: -1})
	tok = f.login().AccessToken
	for range 3 {
		if resp, _ := f.call("GET", "/crm/v8/org", tok, nil); left(resp) != "" {
			t.Fatalf("no allowance, yet %s %q", CreditsHeader, left(resp))
		}
	}
	if f.sim.CreditsLeft() != -1 {
		t.Errorf("CreditsLeft %d without an allowance", f.sim.CreditsLeft())
	}
}
