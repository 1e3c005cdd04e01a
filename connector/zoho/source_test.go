package zoho

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/connector/zoho/internal/country"
	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/plugintest"
	"github.com/replicatorhq/replicator/schemas"
	"github.com/replicatorhq/replicator/schemas/phone"
)

func TestConformance(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 1200, Accounts: 600, Seed: 12, BulkPageSize: 500})
	h.authorize(append(slices.Clone(allScopes), scopeNotifications)...)
	plugintest.SourceSuite{
		New: func(log hclog.Logger) contract.Source {
			s := New(log)
			s.now, s.tune = h.clock.Now, testTuning()
			return s
		},
		Config:      h.config(nil),
		BadConfig:   h.config(map[string]any{"domain": "mars"}),
		Credentials: func(*testing.T) json.RawMessage { return h.creds },
		Change: func(t *testing.T, stream string, keys []string) plugintest.Changes {
			module, name := "Contacts", "Last_Name"
			if stream == "accounts" {
				module, name = "Accounts", "Account_Name"
			}
			if err := h.sim.Update(module, keys[1], map[string]any{"Phone": "+31 20 555 0199"}); err != nil {
				t.Fatal(err)
			}
			created := h.sim.Create(module, map[string]any{name: "Nieuw", "Phone": "+31 20 555 0101"})
			if created == "" {
				t.Fatal("the simulator refused the new record")
			}
			if err := h.sim.Delete(module, keys[2]); err != nil {
				t.Fatal(err)
			}
			h.clock.Add(2 * time.Minute) // past the source's lag behind Zoho's clock
			return plugintest.Changes{Upserted: []string{keys[1], created}, Deleted: []string{keys[2]}}
		},
		Deletes:     true,
		WatchConfig: h.config(map[string]any{"notifications": true}),
		Signal: func(t *testing.T, stream string) {
			module, name := "Contacts", "Last_Name"
			if stream == "accounts" {
				module, name = "Accounts", "Account_Name"
			}
			if h.sim.Create(module, map[string]any{name: "Gemeld"}) == "" {
				t.Fatal("the simulator refused the new record")
			}
		},
	}.Run(t)
}

func TestSpec(t *testing.T) {
	spec, err := New(nil).Spec(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if spec.Name != "zoho" {
		t.Errorf("name %q", spec.Name)
	}
	for name, want := range map[string]struct{ required, sensitive bool }{
		// A source connected from a connect page gets them elsewhere.
		"domain": {false, false}, "client_id": {false, false}, "client_secret": {false, true},
		"environment": {false, false}, "default_region": {false, false}, "max_credits_per_run": {false, false},
	} {
		a, ok := spec.Attribute(name)
		if !ok || a.Required != want.required || a.Sensitive != want.sensitive {
			t.Errorf("attribute %s: %+v", name, a)
		}
	}
	var names []string
	for _, a := range spec.Config {
		names = append(names, a.Name)
		if a.Description == "" {
			t.Errorf("attribute %s has no description", a.Name)
		}
	}
	want := []string{"domain", "environment", "client_id", "client_secret", "crm_url", "record_url", "default_region",
		"start_time", "max_credits_per_run", "full_sync_method", "notifications", "accounts_url", "api_url"}
	if !slices.Equal(names, want) {
		t.Errorf("attributes %v, want %v", names, want)
	}
	for name, want := range map[string]string{"environment": `"production"`, "full_sync_method": `"auto"`} {
		if a, _ := spec.Attribute(name); string(a.Default) != want {
			t.Errorf("%s defaults to %s, want %s", name, a.Default, want)
		}
	}
	if a, _ := spec.Attribute("max_credits_per_run"); a.Type != contract.TypeNumber {
		t.Errorf("max_credits_per_run is a %s", a.Type)
	}
	domain, _ := spec.Attribute("domain")
	for _, code := range dcCodes() {
		if !strings.Contains(domain.Description, " "+code) {
			t.Errorf("the description of domain does not name data centre %s: %q", code, domain.Description)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	base := map[string]any{"domain": "eu", "client_id": "1000.X", "client_secret": "s"}
	for _, tc := range []struct {
		change map[string]any
		want   string
	}{
		{map[string]any{"client_id": 1000}, "client_id takes"},
		{map[string]any{"domain": "europe"},
			`domain "europe" is not a Zoho data centre: use one of us, eu, in, au, jp, cn, ca, sa, uk`},
		{map[string]any{"environment": "staging"}, "use production, sandbox or developer"},
		{map[string]any{"default_region": "XX"}, `default_region "XX" is not a region`},
		{map[string]any{"start_time": "yesterday"}, "RFC 3339"},
		{map[string]any{"max_credits_per_run": 0.5}, "whole number"},
		{map[string]any{"record_url": "https://crm.example/{Module}"}, "lacks {SourceId}"},
		{map[string]any{"crm_url": "crm.zoho.eu/crm/org1"}, "is not a URL"},
		{map[string]any{"colour": "blue"}, `unknown attribute "colour"`},
		{map[string]any{"api_url": "http://www.zohoapis.eu"}, `api_url "http://www.zohoapis.eu" uses plain http to ` +
			`www.zohoapis.eu, which would send Zoho tokens unencrypted: use https://www.zohoapis.eu (plain http is accepted ` +
			`only to localhost or a loopback address)`},
		{map[string]any{"accounts_url": "http://zoho-sim.internal:8080/accounts/{dc}"}, `accounts_url ` +
			`"http://zoho-sim.internal:8080/accounts/{dc}" uses plain http to zoho-sim.internal, which would send Zoho tokens ` +
			`unencrypted: use https://zoho-sim.internal:8080/accounts/{dc} (`},
		{map[string]any{"api_url": "http://sim.localhost:8080"}, "uses plain http"},
		{map[string]any{"accounts_url": "http://127.0.0.1.example.com/accounts/{dc}"}, "uses plain http"},
		{map[string]any{"api_url": "ftp://www.zohoapis.eu"}, `api_url "ftp://www.zohoapis.eu" is not an https URL`},
		{map[string]any{"api_url": "www.zohoapis.eu"}, "is not a URL"},
	} {
		cfg := map[string]any{}
		for k, v := range base {
			cfg[k] = v
		}
		for k, v := range tc.change {
			if v == nil {
				delete(cfg, k)
			} else {
				cfg[k] = v
			}
		}
		raw, _ := json.Marshal(cfg)
		_, err := parseConfig(raw)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %v: error %v, want %q", tc.change, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), `"s"`) {
			t.Errorf("error shows the client secret: %v", err)
		}
	}
	raw, _ := json.Marshal(base)
	c, err := parseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	if c.Environment != "production" || c.tokenURL() != "https://accounts.zoho.eu/oauth/v2/token" {
		t.Errorf("defaults: environment %q, token URL %q", c.Environment, c.tokenURL())
	}
	// Plain http is fine to a simulator on this machine.
	for _, u := range []string{
		"http://127.0.0.1:4567", "http://localhost:4567/accounts/{dc}", "http://[::1]:80", "http://127.8.9.10",
		"https://crm.example.com",
	} {
		cfg := map[string]any{"api_url": u, "accounts_url": u}
		for k, v := range base {
			cfg[k] = v
		}
		raw, _ := json.Marshal(cfg)
		if _, err := parseConfig(raw); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func TestAPIHosts(t *testing.T) {
	for _, tc := range []struct {
		dc, env, api, crm string
	}{
		{"eu", "production", "www.zohoapis.eu", "crm.zoho.eu"},
		{"us", "sandbox", "sandbox.zohoapis.com", "crmsandbox.zoho.com"},
		{"au", "developer", "developer.zohoapis.com.au", "crm.zoho.com.au"},
		{"ca", "production", "www.zohoapis.ca", "crm.zohocloud.ca"},
	} {
		dc, _ := findDC(tc.dc)
		if got := dc.apiHost(tc.env); got != tc.api {
			t.Errorf("%s %s API host %s, want %s", tc.dc, tc.env, got, tc.api)
		}
		if got := dc.crmHost(tc.env); got != tc.crm {
			t.Errorf("%s %s CRM host %s, want %s", tc.dc, tc.env, got, tc.crm)
		}
	}
	eu, _ := findDC("eu")
	for domain, ok := range map[string]bool{
		"https://www.zohoapis.eu":           true,
		"https://sandbox.zohoapis.eu/":      true,
		"http://www.zohoapis.eu":            false,
		"https://www.zohoapis.eu.evil.test": false,
		"https://www.zohoapis.eu:8443":      false,
		"https://user@www.zohoapis.eu":      false,
		"https://www.zohoapis.com":          false,
		"":                                  false,
	} {
		if err := checkAPIDomain(eu, domain); (err == nil) != ok {
			t.Errorf("checkAPIDomain(%q) = %v", domain, err)
		}
	}
}

func TestScopeCovers(t *testing.T) {
	cr := credentials{Scopes: []string{"ZohoCRM.modules.READ", "ZohoCRM.settings.ALL", "ZohoCRM.coql.READ"}}
	for scope, want := range map[string]bool{
		"ZohoCRM.modules.contacts.READ": true,
		"zohocrm.modules.accounts.read": true,
		"ZohoCRM.settings.fields.READ":  true,
		"ZohoCRM.coql.READ":             true,
		"ZohoCRM.bulk.READ":             false,
		"ZohoCRM.org.READ":              false,
	} {
		if has, known := cr.hasScope(scope); has != want || !known {
			t.Errorf("hasScope(%s) = %v, %v", scope, has, known)
		}
	}
	if _, known := (credentials{}).hasScope("ZohoCRM.bulk.READ"); known {
		t.Error("an unlisted grant claims to know its scopes")
	}
}

func TestDiscoverBuildsTheSchemaFromFields(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 5, Accounts: 5})
	h.authorize(allScopes...)
	cat := h.catalog()
	if len(cat.Streams) != 2 {
		t.Fatalf("streams %+v", cat.Streams)
	}
	for _, st := range cat.Streams {
		if p := schemas.CheckContactSchema(st.Schema); p != nil {
			t.Errorf("%s schema falls short of the canonical contact: %v", st.Name, p)
		}
		if !slices.Equal(st.PrimaryKey, []string{"source_id"}) || !slices.Equal(st.CursorField, []string{"updated_at"}) ||
			!slices.Equal(st.Modes, []contract.SyncMode{contract.FullRefresh, contract.Incremental}) {
			t.Errorf("%s: key %v, cursor %v, modes %v", st.Name, st.PrimaryKey, st.CursorField, st.Modes)
		}
	}
	contacts, _ := cat.Stream("contacts")
	var doc struct {
		Properties struct {
			Attributes struct {
				Properties map[string]struct {
					Type        []string `json:"type"`
					Description string   `json:"description"`
				} `json:"properties"`
			} `json:"attributes"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(contacts.Schema, &doc); err != nil {
		t.Fatal(err)
	}
	attrs := doc.Properties.Attributes.Properties
	for name, typ := range map[string]string{
		"Interests": "array", "Preferred_Language": "string", "Newsletter": "boolean",
		"Account_Name": "object", "Owner": "object", "Last_Visit": "string", "Mailing_Country": "string",
	} {
		if a, ok := attrs[name]; !ok || a.Type[0] != typ {
			t.Errorf("attribute %s: %+v, want type %s", name, a, typ)
		}
	}
	if !strings.Contains(attrs["Interests"].Description, "custom") {
		t.Errorf("custom field not marked: %q", attrs["Interests"].Description)
	}
	for _, name := range []string{"Phone", "Direct_Line", "Email", "First_Name", "Modified_Time"} {
		if _, ok := attrs[name]; ok {
			t.Errorf("%s is in the canonical record and in attributes", name)
		}
	}
}

func TestContactConversion(t *testing.T) {
	mod := &module{streamInfo: streamInfos()[0], fields: []field{
		{
			APIName:  "First_Name",
			DataType: "text",
		}, {APIName: "Last_Name", DataType: "text"}, {APIName: "Full_Name", DataType: "text"},
		{APIName: "Account_Name", DataType: "lookup", JSONType: "jsonobject"},
		{APIName: "Email", DataType: "email"}, {APIName: "Secondary_Email", DataType: "email"},
		{APIName: "Private_Mail", Label: "Private mail", DataType: "email", Custom: true},
		{
			APIName:  "Phone",
			DataType: "phone",
		}, {APIName: "Mobile", DataType: "phone"}, {APIName: "Home_Phone", DataType: "phone"},
		{
			APIName:  "Fax",
			DataType: "phone",
		}, {APIName: "Asst_Phone", DataType: "phone"}, {APIName: "Other_Phone", DataType: "phone"},
		{APIName: "Direct_Line", Label: "Direct line", DataType: "phone", Custom: true},
		{APIName: "Mailing_Country", DataType: "text"}, {APIName: "Employees", DataType: "integer"},
		{APIName: "Score", DataType: "double"}, {APIName: "Tags", DataType: "multiselectpicklist"},
		{APIName: "Modified_Time", DataType: "datetime"},
	}}
	cv := &converter{mod: mod, countries: country.New(), defaultRegion: "NL", crmURL: "https://crm.zoho.eu/crm/org1"}
	rec := mod.normalize(map[string]any{
		"id":              "42",
		"First_Name":      "Ada",
		"Last_Name":       "Lovelace",
		"Full_Name":       "",
		"Account_Name":    map[string]any{"name": "Analytical Engines", "id": "7"},
		"Email":           "ada@example.org",
		"Secondary_Email": "ADA@example.org",
		"Private_Mail":    "ada@home.example",
		"Phone":           "030 1234567",
		"Mobile":          "+44 7911 123456",
		"Home_Phone":      "call me",
		"Fax":             "0049 30 7654321",
		"Asst_Phone":      "",
		"Other_Phone":     nil,
		"Direct_Line":     "030-7654321",
		"Mailing_Country": "Deutschland",
		"Employees":       "12",
		"Score":           "1.5",
		"Tags":            "a;b",
		"Modified_Time":   "2026-03-01T10:00:00+01:00",
		"$approved":       true,
	})
	c, unread, ok := cv.contact(rec)
	if !ok {
		t.Fatal("no contact")
	}
	if !slices.Equal(unread, []phone.Reason{phone.NotANumber}) {
		t.Errorf("unread phones %v, want [not_a_number] for \"call me\"", unread)
	}
	if c.DisplayName != "Ada Lovelace" || c.Company != "Analytical Engines" || c.Kind != "contact" {
		t.Errorf("names: %+v", c)
	}
	if !slices.Equal(c.Emails, []string{"ada@example.org", "ada@home.example"}) {
		t.Errorf("emails %v", c.Emails)
	}
	wantPhones := []schemas.Phone{
		{Type: "work", Number: "+49301234567", Raw: "030 1234567"},
		{Type: "mobile", Number: "+447911123456", Raw: "+44 7911 123456"}, {Type: "home", Raw: "call me"},
		{Type: "fax", Number: "+49307654321", Raw: "0049 30 7654321"},
		{Type: "Direct line", Number: "+49307654321", Raw: "030-7654321"},
	}
	if !slices.Equal(c.Phones, wantPhones) {
		t.Errorf("phones\n got %+v\nwant %+v", c.Phones, wantPhones)
	}
	if c.URL != "https://crm.zoho.eu/crm/org1/tab/Contacts/42" || c.UpdatedAt.Format("15:04Z07:00") != "09:00Z" {
		t.Errorf("url %s, updated %v", c.URL, c.UpdatedAt)
	}
	if c.Attributes["Employees"] != int64(12) || c.Attributes["Score"] != json.Number("1.5") ||
		!slices.Equal(c.Attributes["Tags"].([]any), []any{"a", "b"}) || c.Attributes["Account_Name"] == nil {
		t.Errorf("attributes %v", c.Attributes)
	}
	if _, ok := c.Attributes["$approved"]; ok {
		t.Error("metadata key in attributes")
	}

	// Without a country the default region reads local numbers.
	rec = mod.normalize(map[string]any{"id": "43", "Last_Name": "Jansen", "Phone": "020 123 4567"})
	c, _, _ = cv.contact(rec)
	if c.DisplayName != "Jansen" || len(c.Phones) != 1 || c.Phones[0].Number != "+31201234567" {
		t.Errorf("default region: %+v", c)
	}
	// Nor with a country name that names no country.
	nowhere := mod.normalize(
		map[string]any{"id": "45", "Last_Name": "Visser", "Phone": "020 123 4567", "Mailing_Country": "Atlantis"})
	if c, unread, _ := cv.contact(nowhere); len(c.Phones) != 1 || c.Phones[0].Number != "+31201234567" ||
		len(unread) != 0 {
		t.Errorf("unknown country name: %+v, unread %v", c.Phones, unread)
	}
	// A number that is none in the record's country is not read in the
	// default region, where it would be someone else's.
	foreign := mod.normalize(
		map[string]any{"id": "46", "Last_Name": "Berg", "Phone": "0800 1234", "Mailing_Country": "Deutschland"})
	if c, unread, _ := cv.contact(foreign); len(c.Phones) != 1 || c.Phones[0].Number != "" ||
		c.Phones[0].Raw != "0800 1234" ||
		!slices.Equal(unread, []phone.Reason{phone.Invalid}) {
		t.Errorf("a number of no country the record names: %+v, unread %v", c.Phones, unread)
	}
	// COQL may give a lookup as its id, with its name in a column of its own.
	linked := mod.normalize(
		map[string]any{
			"id":                        "44",
			"Last_Name":                 "Smit",
			"Account_Name":              map[string]any{"id": "7"},
			"Account_Name.Account_Name": "Acme",
		},
	)
	if c, _, _ := cv.contact(linked); c.Company != "Acme" || c.Attributes["Account_Name"].(map[string]any)["id"] != "7" {
		t.Errorf("lookup name column: company %q, attributes %v", c.Company, c.Attributes)
	}
	// A custom record URL template.
	cv.urlTemplate = "https://crm.example/{Module}/{SourceId}"
	if c, _, _ := cv.contact(rec); c.URL != "https://crm.example/Contacts/43" {
		t.Errorf("url %s", c.URL)
	}
}
