package zoho

import (
	"encoding/csv"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/replicatorhq/replicator/connector/zoho/internal/country"
)

// e164Pattern is what a phone number's number must look like when set.
var e164Pattern = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// fuzzContacts is a Contacts module with a field of every kind the
// conversion treats differently.
func fuzzContacts() *module {
	m := &module{streamInfo: streamInfos()[0]}
	for _, f := range []struct{ name, dt string }{
		{"First_Name", "text"}, {"Last_Name", "text"}, {"Full_Name", "text"}, {"Title", "text"},
		{"Account_Name", "lookup"}, {"Owner", "ownerlookup"},
		{"Email", "email"}, {"Secondary_Email", "email"},
		{"Phone", "phone"}, {"Mobile", "phone"}, {"Direct_Line", "phone"},
		{"Mailing_Country", "text"}, {"Other_Country", "text"},
		{"Interests", "multiselectpicklist"}, {"Email_Opt_Out", "boolean"},
		{"Employees", "integer"}, {"Annual_Revenue", "currency"}, {"Date_of_Birth", "date"},
		{"Created_Time", "datetime"}, {"Modified_Time", "datetime"},
	} {
		fl := field{APIName: f.name, Label: strings.ReplaceAll(f.name, "_", " "), DataType: f.dt}
		if f.dt == "lookup" {
			fl.Lookup.Module.APIName = "Accounts"
		}
		m.fields = append(m.fields, fl)
	}
	return m
}

// FuzzBulkRow converts a Bulk Read CSV header and row as the source does:
// whatever the bytes, it does not panic, and a converted contact has an
// id, E.164 numbers where it has numbers, the raw text of every phone, and
// encodes as JSON.
func FuzzBulkRow(f *testing.F) {
	f.Add(
		"id,Last_Name,Phone,Mailing_Country,Account_Name,Account_Name.Account_Name\n5725767000200000001,Jansen,020 123 " +
			"4567,Nederland,5725767000050000001,Noordzee B.V.\n")
	f.Add(
		"id,Full_Name,Mobile,Owner,Owner.first_name,Owner.last_name,Owner.email,Modified_Time\n1,Anna Müller,0171 " +
			"2855150,42,Sanne,Visser,s@example.nl,2026-03-01T08:53:40+01:00\n")
	f.Add(
		"id,Interests,Employees,Annual_Revenue,Email_Opt_Out,Date_of_Birth\n7,Telephony;CRM " +
			"integration,12.0,1e400,maybe,2024-02-30\n")
	mod := fuzzContacts()
	conv := &converter{mod: mod, countries: country.New(), defaultRegion: "NL", crmURL: "https://crm.zoho.eu/crm/org1"}
	f.Fuzz(func(t *testing.T, doc string) {
		cr := csv.NewReader(strings.NewReader(doc))
		cr.FieldsPerRecord = -1
		rows, err := cr.ReadAll()
		if err != nil || len(rows) < 2 {
			return
		}
		cols := make([]bulkColumn, len(rows[0]))
		for i, h := range rows[0] {
			cols[i] = mod.bulkColumn(strings.TrimPrefix(h, "\ufeff"))
		}
		for _, row := range rows[1:] {
			c, _, ok := conv.contact(mod.normalize(bulkRecord(cols, row)))
			if !ok {
				continue
			}
			if c.SourceID == "" || c.Kind != "contact" {
				t.Fatalf("contact without id or kind: %+v", c)
			}
			for _, p := range c.Phones {
				if p.Raw == "" {
					t.Fatalf("a phone without its raw text: %+v", p)
				}
				if p.Number != "" && !e164Pattern.MatchString(p.Number) {
					t.Fatalf("number %q of %q is not E.164", p.Number, p.Raw)
				}
			}
			data, err := marshalContact(c)
			if err != nil {
				t.Fatalf("encoding %+v: %v", c, err)
			}
			if !json.Valid(data) {
				t.Fatalf("invalid JSON %s", data)
			}
		}
	})
}

// FuzzE164 reads phone numbers as typed in a CRM, in a record that names
// a country or none: no panic, a number, when one is given, is E.164 and
// reads back as itself, and a phone without one says why.
func FuzzE164(f *testing.F) {
	for _, s := range []string{
		"020 123 4567", "+31 20 123 4567", "0049 (0)30 1234567", "(555) 010-2000", "06-12345678", "+1 800 FLOWERS",
		"tel:+32 2 555 12 12", "12", "+", "ext. 12",
	} {
		f.Add(s, uint8(0))
	}
	countries := []string{"NL", "Deutschland", "United Kingdom", "US", "Belgique", "Atlantis", ""}
	mod := fuzzContacts()
	conv := &converter{mod: mod, countries: country.New(), defaultRegion: "NL", crmURL: "https://crm.zoho.eu/crm/org1"}
	f.Fuzz(func(t *testing.T, raw string, pick uint8) {
		name := countries[int(pick)%len(countries)]
		c, unread, _ := conv.contact(mod.normalize(map[string]any{"id": "1", "Phone": raw, "Mailing_Country": name}))
		if len(c.Phones) == 0 {
			if strings.TrimSpace(raw) != "" {
				t.Fatalf("%q (%s): no phone", raw, name)
			}
			return
		}
		n := c.Phones[0].Number
		if n == "" {
			if len(unread) != 1 {
				t.Fatalf("%q (%s): no number, and unread %v", raw, name, unread)
			}
			return
		}
		if len(unread) != 0 {
			t.Fatalf("%q (%s) = %q, and unread %v", raw, name, n, unread)
		}
		if !e164Pattern.MatchString(n) {
			t.Fatalf("%q (%s) = %q, not E.164", raw, name, n)
		}
		back, err := phonenumbers.Parse(n, "")
		if err != nil {
			t.Fatalf("%q (%s) = %q, which does not parse: %v", raw, name, n, err)
		}
		if again := phonenumbers.Format(back, phonenumbers.E164); again != n {
			t.Fatalf("%q (%s) = %q reads back as %q", raw, name, n, again)
		}
	})
}
