package zohosim

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

type fieldMeta struct {
	APIName     string         `json:"api_name"`
	FieldLabel  string         `json:"field_label"`
	DataType    string         `json:"data_type"`
	JSONType    string         `json:"json_type"`
	CustomField bool           `json:"custom_field"`
	ReadOnly    bool           `json:"read_only"`
	Lookup      map[string]any `json:"lookup"`
	PickList    []struct {
		ActualValue string `json:"actual_value"`
	} `json:"pick_list_values"`
}

func TestMetadata(t *testing.T) {
	f := newFixture(t, Options{})
	tok := f.login().AccessToken

	resp, body := f.call("GET", "/crm/v8/org", tok, nil)
	org := decode[struct {
		Org []map[string]any `json:"org"`
	}](t, body)
	if resp.StatusCode != 200 || len(org.Org) != 1 {
		t.Fatalf("org: HTTP %d %s", resp.StatusCode, truncate(body))
	}
	o := org.Org[0]
	if o["domain_name"] != f.sim.OrgDomainName() || o["domain_name"] != "org"+o["zgid"].(string) ||
		o["time_zone"] != orgTimeZone ||
		o["id"] == "" {
		t.Errorf("org %v", o)
	}

	_, body = f.call("GET", "/crm/v8/settings/modules", tok, nil)
	mods := decode[struct {
		Modules []struct {
			APIName      string `json:"api_name"`
			APISupported bool   `json:"api_supported"`
		} `json:"modules"`
	}](t, body)
	supported := map[string]bool{}
	for _, m := range mods.Modules {
		supported[m.APIName] = m.APISupported
	}
	if !supported["Contacts"] || !supported["Accounts"] || supported["Home"] {
		t.Errorf("modules %+v", mods.Modules)
	}

	fieldsOf := func(module string) map[string]fieldMeta {
		resp, body := f.call("GET", "/crm/v8/settings/fields?module="+module+"&type=all", tok, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("fields of %s: HTTP %d %s", module, resp.StatusCode, truncate(body))
		}
		out := map[string]fieldMeta{}
		for _, fm := range decode[struct{ Fields []fieldMeta }](t, body).Fields {
			out[fm.APIName] = fm
		}
		return out
	}
	contacts, accounts := fieldsOf("Contacts"), fieldsOf("Accounts")
	for _, name := range []string{
		"First_Name", "Last_Name", "Full_Name", "Email", "Phone", "Mobile", "Home_Phone", "Other_Phone", "Asst_Phone", "Fax",
		"Title", "Department", "Account_Name", "Owner", "Mailing_Street", "Mailing_City", "Mailing_State", "Mailing_Zip",
		"Mailing_Country", "Other_Country", "Description", "Created_Time", "Modified_Time",
	} {
		if _, ok := contacts[name]; !ok {
			t.Errorf("Contacts lacks %s", name)
		}
	}
	for _, name := range []string{
		"Account_Name", "Account_Number", "Phone", "Fax", "Website", "Industry", "Parent_Account", "Owner", "Billing_Street",
		"Billing_City", "Billing_State", "Billing_Code", "Billing_Country", "Shipping_Country", "Created_Time",
		"Modified_Time",
	} {
		if _, ok := accounts[name]; !ok {
			t.Errorf("Accounts lacks %s", name)
		}
	}
	checks := []struct {
		fields         map[string]fieldMeta
		name, dataType string
		jsonType       string
		custom         bool
	}{
		{contacts, "Phone", "phone", "string", false},
		{contacts, "Direct_Line", "phone", "string", true},
		{accounts, "Support_Hotline", "phone", "string", true},
		{contacts, "Account_Name", "lookup", "jsonobject", false},
		{contacts, "Owner", "ownerlookup", "jsonobject", false},
		{contacts, "Preferred_Language", "picklist", "string", true},
		{contacts, "Interests", "multiselectpicklist", "jsonarray", true},
		{contacts, "Last_Visit", "date", "string", true},
		{contacts, "Newsletter", "boolean", "boolean", true},
		{accounts, "Employees", "integer", "integer", false},
		{contacts, "Modified_Time", "datetime", "string", false},
	}
	for _, c := range checks {
		fm := c.fields[c.name]
		if fm.DataType != c.dataType || fm.JSONType != c.jsonType || fm.CustomField != c.custom {
			t.Errorf("%s: %+v", c.name, fm)
		}
	}
	if contacts["Direct_Line"].FieldLabel != "Direct line" {
		t.Errorf("Direct_Line label %q", contacts["Direct_Line"].FieldLabel)
	}
	if mod, _ := contacts["Account_Name"].Lookup["module"].(map[string]any); mod["api_name"] != "Accounts" {
		t.Errorf("Account_Name lookup %v", contacts["Account_Name"].Lookup)
	}
	if len(contacts["Preferred_Language"].PickList) < 3 {
		t.Errorf("picklist values %+v", contacts["Preferred_Language"].PickList)
	}

	resp, body = f.call("GET", "/crm/v8/settings/fields", tok, nil)
	wantError(t, resp, body, http.StatusBadRequest, "REQUIRED_PARAM_MISSING")
	resp, body = f.call("GET", "/crm/v8/settings/fields?module=Leads", tok, nil)
	wantError(t, resp, body, http.StatusBadRequest, "INVALID_MODULE")
	resp, body = f.call("GET", "/crm/v8/nowhere/at/all", tok, nil)
	wantError(t, resp, body, http.StatusNotFound, "INVALID_URL_PATTERN")
}

type recordsPage struct {
	Data []map[string]any `json:"data"`
	Info struct {
		PerPage         int     `json:"per_page"`
		Count           int     `json:"count"`
		Page            int     `json:"page"`
		MoreRecords     bool    `json:"more_records"`
		NextPageToken   *string `json:"next_page_token"`
		PageTokenExpiry *string `json:"page_token_expiry"`
		SortBy          string  `json:"sort_by"`
		SortOrder       string  `json:"sort_order"`
	} `json:"info"`
}

func TestRecordsErrors(t *testing.T) {
	f := newFixture(t, Options{Contacts: 3000, Accounts: 10})
	tok := f.login().AccessToken
	many := make([]string, 51)
	for i := range many {
		many[i] = "Last_Name"
	}
	tests := []struct {
		name, query string
		status      int
		code        string
	}{
		{"fields missing", "", 400, "REQUIRED_PARAM_MISSING"},
		{"more than 50 fields", "fields=" + strings.Join(many, ","), 400, "LIMIT_EXCEEDED"},
		{"per_page over 200", "fields=Last_Name&per_page=201", 400, "INVALID_DATA"},
		{"page past 2000 records", "fields=Last_Name&per_page=200&page=11", 400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED"},
		{"small pages past 2000", "fields=Last_Name&per_page=100&page=21", 400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED"},
		{"bad page token", "fields=Last_Name&page_token=garbage", 400, "INVALID_DATA"},
		{"bad sort", "fields=Last_Name&sort_by=Last_Name", 400, "INVALID_DATA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.call("GET", "/crm/v8/Contacts?"+tc.query, tok, nil)
			wantError(t, resp, body, tc.status, tc.code)
		})
	}
	t.Run("unknown module", func(t *testing.T) {
		resp, body := f.call("GET", "/crm/v8/Leads?fields=Last_Name", tok, nil)
		wantError(t, resp, body, 400, "INVALID_MODULE")
	})
	t.Run("last reachable page", func(t *testing.T) {
		resp, body := f.call("GET", "/crm/v8/Contacts?fields=Last_Name&per_page=200&page=10", tok, nil)
		p := decode[recordsPage](t, body)
		if resp.StatusCode != 200 || p.Info.Count != 200 || p.Info.Page != 10 || !p.Info.MoreRecords ||
			p.Info.NextPageToken == nil {
			t.Fatalf("HTTP %d info %+v", resp.StatusCode, p.Info)
		}
		// Past the ceiling only page_token reaches.
		resp, body = f.call("GET",
			"/crm/v8/Contacts?fields=Last_Name&per_page=200&page_token="+url.QueryEscape(*p.Info.NextPageToken), tok, nil)
		p = decode[recordsPage](t, body)
		if resp.StatusCode != 200 || p.Info.Count != 200 || p.Info.Page != 11 {
			t.Fatalf("HTTP %d info %+v", resp.StatusCode, p.Info)
		}
	})
	t.Run("expired page token", func(t *testing.T) {
		_, body := f.call("GET", "/crm/v8/Contacts?fields=Last_Name", tok, nil)
		p := decode[recordsPage](t, body)
		f.clock.Advance(25 * time.Hour)
		defer f.clock.Advance(-25 * time.Hour)
		tok := f.login().AccessToken
		resp, body := f.call("GET",
			"/crm/v8/Contacts?fields=Last_Name&page_token="+url.QueryEscape(*p.Info.NextPageToken), tok, nil)
		wantError(t, resp, body, 400, "INVALID_DATA")
	})
}

func TestRecordsPageTokens(t *testing.T) {
	f := newFixture(t, Options{Contacts: 5000, Accounts: 40})
	tok := f.login().AccessToken
	for _, tc := range []struct{ sortBy, order string }{
		{"id", "asc"}, {"", ""}, {"Modified_Time", "asc"}, {"Modified_Time", "desc"},
	} {
		t.Run(tc.sortBy+" "+tc.order, func(t *testing.T) {
			query := "/crm/v8/Contacts?fields=Full_Name,Phone,Account_Name,Modified_Time&per_page=200"
			if tc.sortBy != "" {
				query += "&sort_by=" + tc.sortBy + "&sort_order=" + tc.order
			}
			seen := map[string]bool{}
			var prev string
			path := query
			for pages := 0; ; pages++ {
				if pages > 30 {
					t.Fatal("too many pages")
				}
				resp, body := f.call("GET", path, tok, nil)
				if resp.StatusCode != 200 {
					t.Fatalf("HTTP %d %s", resp.StatusCode, truncate(body))
				}
				p := decode[recordsPage](t, body)
				for _, rec := range p.Data {
					id := rec["id"].(string)
					if seen[id] {
						t.Fatalf("record %s twice", id)
					}
					seen[id] = true
					for k := range rec {
						switch k {
						case "id", "Full_Name", "Phone", "Account_Name", "Modified_Time":
						default:
							if !strings.HasPrefix(k, "$") {
								t.Fatalf("unrequested field %s", k)
							}
						}
					}
					sortKey := id
					if tc.sortBy == "Modified_Time" {
						mt, err := time.Parse(time.RFC3339, rec["Modified_Time"].(string))
						if err != nil {
							t.Fatal(err)
						}
						sortKey = fmt.Sprintf("%020d/%s", mt.Unix(), id)
					}
					desc := tc.order != "asc"
					if prev != "" && (desc && sortKey >= prev || !desc && sortKey <= prev) {
						t.Fatalf("order broken: %s after %s", sortKey, prev)
					}
					prev = sortKey
				}
				if !p.Info.MoreRecords {
					if p.Info.NextPageToken != nil {
						t.Errorf("last page has a next_page_token")
					}
					break
				}
				path = query + "&page_token=" + url.QueryEscape(*p.Info.NextPageToken)
			}
			if len(seen) != 5000 {
				t.Errorf("saw %d records, want 5000", len(seen))
			}
		})
	}
}

func TestRecordsEmptyAndIfModifiedSince(t *testing.T) {
	f := newFixture(t, Options{Contacts: 50, Accounts: 0})
	tok := f.login().AccessToken
	resp, body := f.call("GET", "/crm/v8/Accounts?fields=Account_Name", tok, nil)
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("empty module: HTTP %d %q", resp.StatusCode, body)
	}
	since := f.clock.Now().Format(time.RFC3339)
	resp, _ = f.call("GET", "/crm/v8/Contacts?fields=Last_Name", tok, nil, "If-Modified-Since", since)
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("nothing changed: HTTP %d", resp.StatusCode)
	}
	f.clock.Advance(time.Minute)
	id := f.sim.Create("Contacts", map[string]any{"Last_Name": "Nieuw"})
	resp, body = f.call("GET", "/crm/v8/Contacts?fields=Last_Name", tok, nil, "If-Modified-Since", since)
	p := decode[recordsPage](t, body)
	if resp.StatusCode != 200 || len(p.Data) != 1 || p.Data[0]["id"] != id || p.Data[0]["Last_Name"] != "Nieuw" {
		t.Fatalf("HTTP %d %s", resp.StatusCode, truncate(body))
	}
	// Sorted by Modified_Time the header is a seek, not a filter.
	gen := strconv.FormatInt(contactIDBase+49, 10)
	last, _ := f.sim.Record("Contacts", gen)
	resp, body = f.call("GET", "/crm/v8/Contacts?fields=Last_Name&sort_by=Modified_Time&sort_order=asc", tok, nil,
		"If-Modified-Since", shiftTime(t, last["Modified_Time"].(string), -time.Second))
	p = decode[recordsPage](t, body)
	if resp.StatusCode != 200 || len(p.Data) != 2 || p.Data[0]["id"] != gen || p.Data[1]["id"] != id {
		t.Fatalf("HTTP %d %s", resp.StatusCode, truncate(body))
	}
}

func shiftTime(t *testing.T, s string, d time.Duration) string {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.Add(d).Format(time.RFC3339)
}

type deletedPage struct {
	Data []struct {
		ID          string         `json:"id"`
		DisplayName string         `json:"display_name"`
		Type        string         `json:"type"`
		DeletedTime string         `json:"deleted_time"`
		DeletedBy   map[string]any `json:"deleted_by"`
	} `json:"data"`
	Info struct {
		Count       int  `json:"count"`
		MoreRecords bool `json:"more_records"`
	} `json:"info"`
}

func TestDeletedRecords(t *testing.T) {
	f := newFixture(t, Options{Contacts: 100, Accounts: 5})
	tok := f.login().AccessToken
	resp, _ := f.call("GET", "/crm/v8/Contacts/deleted?type=all", tok, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("nothing deleted yet: HTTP %d", resp.StatusCode)
	}
	ids := []string{"5725767000200000003", "5725767000200000010", "5725767000200000042"}
	full, _ := f.sim.Record("Contacts", ids[0])
	if err := f.sim.Delete("Contacts", ids[0]); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	since := f.clock.Now()
	f.clock.Advance(time.Minute)
	if err := f.sim.Delete("Contacts", ids[1]); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	if err := f.sim.DeletePermanently("Contacts", ids[2]); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.Delete("Contacts", ids[2]); err == nil {
		t.Error("deleting twice succeeded")
	}

	tests := []struct {
		name   string
		query  string
		header []string
		want   []string
		types  []string
	}{
		{"all, newest first", "type=all", nil, []string{ids[2], ids[1], ids[0]}, []string{"permanent", "recycle", "recycle"}},
		{"recycle bin", "type=recycle", nil, []string{ids[1], ids[0]}, nil},
		{"permanent", "type=permanent", nil, []string{ids[2]}, nil},
		{"since a time", "type=all", []string{"If-Modified-Since", since.Format(time.RFC3339)}, []string{ids[2], ids[1]},
			nil},
		{"since, HTTP date", "type=all", []string{"If-Modified-Since", since.Format(http.TimeFormat)},
			[]string{ids[2], ids[1]}, nil},
		{"paged", "type=all&per_page=2&page=2", nil, []string{ids[0]}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.call("GET", "/crm/v8/Contacts/deleted?"+tc.query, tok, nil, tc.header...)
			if resp.StatusCode != 200 {
				t.Fatalf("HTTP %d %s", resp.StatusCode, truncate(body))
			}
			p := decode[deletedPage](t, body)
			var got []string
			for i, d := range p.Data {
				got = append(got, d.ID)
				if tc.types != nil && d.Type != tc.types[i] {
					t.Errorf("%s type %q, want %q", d.ID, d.Type, tc.types[i])
				}
				if _, err := time.Parse(time.RFC3339, d.DeletedTime); err != nil || d.DeletedBy["id"] == nil {
					t.Errorf("row %+v", d)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	resp, body := f.call("GET", "/crm/v8/Contacts/deleted?type=all", tok, nil)
	p := decode[deletedPage](t, body)
	if resp.StatusCode != 200 || p.Data[2].DisplayName != full["Full_Name"] {
		t.Errorf("display_name %q, want %q", p.Data[2].DisplayName, full["Full_Name"])
	}
	// Paged by page only: a page_token is refused, not ignored.
	resp, body = f.call("GET", "/crm/v8/Contacts/deleted?type=all&page_token=abc", tok, nil)
	if e := wantError(t, resp, body, http.StatusBadRequest, "INVALID_DATA"); e.Details["param_name"] != "page_token" {
		t.Errorf("page_token refused with details %v", e.Details)
	}

	// Deleted records are gone from the record APIs and the counts.
	if _, ok := f.sim.Record("Contacts", ids[1]); ok {
		t.Error("deleted record still readable")
	}
	if n := f.sim.Count("Contacts"); n != 97 {
		t.Errorf("Count = %d, want 97", n)
	}
	seen := 0
	for id := range f.sim.Records("Contacts") {
		for _, d := range ids {
			if id == d {
				t.Errorf("Records yields deleted %s", id)
			}
		}
		seen++
	}
	if seen != 97 {
		t.Errorf("Records yielded %d", seen)
	}
}

// GET /{Module}/actions/count answers {"count":"N"} for 1 credit, the
// count a string as in Zoho's OpenAPI file, following creates and deletes;
// it needs the module's read scope.
func TestRecordCount(t *testing.T) {
	f := newFixture(t, Options{Contacts: 120, Accounts: 7})
	tok := f.login("ZohoCRM.modules.contacts.READ").AccessToken
	count := func(module string) int {
		t.Helper()
		resp, body := f.call("GET", "/crm/v8/"+module+"/actions/count", tok, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("HTTP %d %s", resp.StatusCode, truncate(body))
		}
		n, err := strconv.Atoi(decode[struct {
			Count string `json:"count"`
		}](t, body).Count)
		if err != nil {
			t.Fatalf("count %s: %v", body, err)
		}
		return n
	}
	before := f.sim.Credits()
	if n := count("Contacts"); n != 120 {
		t.Errorf("count %d, want 120", n)
	}
	if c := f.sim.Credits() - before; c != 1 {
		t.Errorf("a count cost %d credits", c)
	}
	f.sim.Create("Contacts", map[string]any{"Last_Name": "Nieuw"})
	if err := f.sim.Delete("Contacts", "5725767000200000003"); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.Delete("Contacts", "5725767000200000004"); err != nil {
		t.Fatal(err)
	}
	if n := count("contacts"); n != 119 {
		t.Errorf("count after a create and two deletes %d, want 119", n)
	}
	resp, body := f.call("GET", "/crm/v8/Accounts/actions/count", tok, nil)
	wantError(t, resp, body, http.StatusUnauthorized, "OAUTH_SCOPE_MISMATCH")
	resp, body = f.call("GET", "/crm/v8/Contacts/actions/count?word=Jansen", tok, nil)
	wantError(t, resp, body, http.StatusBadRequest, "INVALID_DATA")
}
