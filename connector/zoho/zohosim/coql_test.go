package zohosim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

type coqlPage struct {
	Data []map[string]any `json:"data"`
	Info struct {
		Count       int  `json:"count"`
		MoreRecords bool `json:"more_records"`
	} `json:"info"`
}

const coqlCols = "Full_Name, Phone, Account_Name, Owner, Account_Name.Account_Name, Modified_Time"

func firstPageQuery(from time.Time, limit int) string {
	return fmt.Sprintf("select %s from Contacts where (Modified_Time >= '%s') order by Modified_Time asc, id asc limit %d",
		coqlCols, from.Format(time.RFC3339), limit)
}

func keysetQuery(t, id string, upper string, limit int) string {
	where := fmt.Sprintf("((Modified_Time > '%s') or ((Modified_Time = '%s') and (id > '%s')))", t, t, id)
	if upper != "" {
		where = fmt.Sprintf("(%s and (Modified_Time <= '%s'))", where, upper)
	}
	return fmt.Sprintf("select %s from Contacts where %s order by Modified_Time asc, id asc limit %d",
		coqlCols, where, limit)
}

func (f *fixture) coql(tok, query string) (*http.Response, []byte) {
	f.t.Helper()
	return f.call("POST", "/crm/v8/coql", tok, map[string]string{"select_query": query})
}

func TestCOQLKeysetWalk(t *testing.T) {
	f := newFixture(t, Options{Contacts: 5000, Accounts: 60})
	tok := f.login().AccessToken
	const limit = 7 // small, so page borders fall inside runs of equal timestamps
	seen := map[string]bool{}
	var lastT time.Time
	var lastID string
	tieAcrossBorder := false
	query := firstPageQuery(time.Unix(0, 0), limit)
	for pages := 0; ; pages++ {
		if pages > 5000/limit+2 {
			t.Fatal("too many pages")
		}
		resp, body := f.coql(tok, query)
		if resp.StatusCode == http.StatusNoContent {
			break
		}
		if resp.StatusCode != 200 {
			t.Fatalf("HTTP %d %s", resp.StatusCode, truncate(body))
		}
		p := decode[coqlPage](t, body)
		if p.Info.Count != len(p.Data) || p.Info.Count > limit {
			t.Fatalf("info %+v with %d rows", p.Info, len(p.Data))
		}
		for i, row := range p.Data {
			id := row["id"].(string)
			mt, err := time.Parse(time.RFC3339, row["Modified_Time"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if seen[id] {
				t.Fatalf("record %s twice", id)
			}
			seen[id] = true
			if !lastT.IsZero() && (mt.Before(lastT) || mt.Equal(lastT) && id <= lastID) {
				t.Fatalf("order broken: (%s, %s) after (%s, %s)", mt, id, lastT, lastID)
			}
			if i == 0 && mt.Equal(lastT) {
				tieAcrossBorder = true
			}
			lastT, lastID = mt, id
			if acc, ok := row["Account_Name"].(map[string]any); ok {
				if acc["id"] == nil || acc["name"] != row["Account_Name.Account_Name"] {
					t.Fatalf("lookup %v vs %v", acc, row["Account_Name.Account_Name"])
				}
			}
			if owner, _ := row["Owner"].(map[string]any); owner["email"] == nil {
				t.Fatalf("owner %v", row["Owner"])
			}
		}
		if !p.Info.MoreRecords {
			break
		}
		query = keysetQuery(lastT.Format(time.RFC3339), lastID, "", limit)
	}
	if len(seen) != 5000 {
		t.Errorf("saw %d records, want 5000", len(seen))
	}
	if !tieAcrossBorder {
		t.Error("no page border fell inside a run of equal Modified_Time; the walk proved nothing about ties")
	}
}

func TestCOQLUpperBoundAndChanges(t *testing.T) {
	f := newFixture(t, Options{Contacts: 200, Accounts: 10})
	tok := f.login().AccessToken
	// Generated record 37 starts a run of five equal timestamps (35..39).
	r35, _ := f.sim.Record("Contacts", "5725767000200000036")
	r37, _ := f.sim.Record("Contacts", "5725767000200000038")
	r40, _ := f.sim.Record("Contacts", "5725767000200000041")
	if r35["Modified_Time"] != r37["Modified_Time"] {
		t.Fatalf("expected a tie: %v %v", r35["Modified_Time"], r37["Modified_Time"])
	}
	tie := r37["Modified_Time"].(string)

	resp, body := f.coql(tok, keysetQuery(tie, "5725767000200000038", r40["Modified_Time"].(string), 200))
	p := decode[coqlPage](t, body)
	var ids []string
	for _, row := range p.Data {
		ids = append(ids, row["id"].(string))
	}
	want := "[5725767000200000039 5725767000200000040 5725767000200000041]"
	if resp.StatusCode != 200 || fmt.Sprint(ids) != want || p.Info.MoreRecords {
		t.Fatalf("HTTP %d ids %v more %v, want %s", resp.StatusCode, ids, p.Info.MoreRecords, want)
	}

	// A change moves the record to Now, past every generated one.
	f.clock.Advance(time.Second)
	if err := f.sim.Update("Contacts", "5725767000200000039", map[string]any{"Phone": "+31 20 555 0000"}); err != nil {
		t.Fatal(err)
	}
	_, body = f.coql(tok, keysetQuery(tie, "5725767000200000038", r40["Modified_Time"].(string), 200))
	ids = nil
	for _, row := range decode[coqlPage](t, body).Data {
		ids = append(ids, row["id"].(string))
	}
	if fmt.Sprint(ids) != "[5725767000200000040 5725767000200000041]" {
		t.Errorf("after update: %v", ids)
	}
	resp, body = f.coql(
		tok,
		fmt.Sprintf("select Phone from Contacts where (Modified_Time > '%s') order by Modified_Time asc, id asc limit 10",
			f.clock.Now().Add(-time.Second).Format(time.RFC3339)),
	)
	p = decode[coqlPage](t, body)
	if resp.StatusCode != 200 || len(p.Data) != 1 || p.Data[0]["Phone"] != "+31 20 555 0000" {
		t.Errorf("changed record: HTTP %d %s", resp.StatusCode, truncate(body))
	}

	// Between two bounds with nothing in them: 204.
	resp, _ = f.coql(tok,
		"select Last_Name from Contacts where ((Modified_Time > '1990-01-01T00:00:00+01:00') and (Modified_Time <= "+
			"'1990-02-01T00:00:00+01:00')) order by Modified_Time asc, id asc limit 10")
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("empty range: HTTP %d", resp.StatusCode)
	}
}

func TestCOQLRejects(t *testing.T) {
	f := newFixture(t, Options{Contacts: 20, Accounts: 2})
	tok := f.login().AccessToken
	const ts = "'2024-01-01T00:00:00+01:00'"
	tests := []struct {
		name, query string
		code        string
	}{
		{"no where", "select Last_Name from Contacts order by Modified_Time asc, id asc limit 10", "SYNTAX_ERROR"},
		{
			"three criteria unbracketed",
			"select Last_Name from Contacts where (Modified_Time > " + ts +
				" and id > '1' and id < '9') order by Modified_Time asc, id asc",
			"SYNTAX_ERROR",
		},
		{"criteria on another field",
			"select Last_Name from Contacts where (Last_Name = 'Jansen') order by Modified_Time asc, id asc", "SYNTAX_ERROR"},
		{"order by id only", "select Last_Name from Contacts where (Modified_Time > " + ts + ") order by id asc limit 10",
			"SYNTAX_ERROR"},
		{"order descending",
			"select Last_Name from Contacts where (Modified_Time > " + ts + ") order by Modified_Time desc, id desc limit 10",
			"SYNTAX_ERROR"},
		{"no order", "select Last_Name from Contacts where (Modified_Time > " + ts + ") limit 10", "SYNTAX_ERROR"},
		{
			"offset",
			"select Last_Name from Contacts where (Modified_Time > " + ts +
				") order by Modified_Time asc, id asc limit 10 offset 20",
			"SYNTAX_ERROR",
		},
		{"upper bound only",
			"select Last_Name from Contacts where (Modified_Time <= " + ts + ") order by Modified_Time asc, id asc",
			"SYNTAX_ERROR"},
		{
			"keyset with mismatched times",
			"select Last_Name from Contacts where ((Modified_Time > " + ts +
				") or ((Modified_Time = '2024-01-02T00:00:00+01:00') and (id > '5'))) order by Modified_Time asc, id asc",
			"SYNTAX_ERROR",
		},
		{
			"or of two lower bounds",
			"select Last_Name from Contacts where ((Modified_Time > " + ts +
				") or (id > '5')) order by Modified_Time asc, id asc",
			"SYNTAX_ERROR",
		},
		{"select star", "select * from Contacts where (Modified_Time > " + ts + ") order by Modified_Time asc, id asc",
			"SYNTAX_ERROR"},
		{"bad datetime",
			"select Last_Name from Contacts where (Modified_Time > 'yesterday') order by Modified_Time asc, id asc",
			"SYNTAX_ERROR"},
		{"unterminated string",
			"select Last_Name from Contacts where (Modified_Time > '2024) order by Modified_Time asc, id asc", "SYNTAX_ERROR"},
		{"unbalanced brackets",
			"select Last_Name from Contacts where ((Modified_Time > " + ts + ") order by Modified_Time asc, id asc",
			"SYNTAX_ERROR"},
		{
			"trailing junk",
			"select Last_Name from Contacts where (Modified_Time > " + ts +
				") order by Modified_Time asc, id asc limit 10 please",
			"SYNTAX_ERROR",
		},
		{"not a select", "delete from Contacts", "SYNTAX_ERROR"},
		{"unknown column",
			"select Shoe_Size from Contacts where (Modified_Time > " + ts + ") order by Modified_Time asc, id asc",
			"INVALID_QUERY"},
		{"unknown module",
			"select Last_Name from Leads where (Modified_Time > " + ts + ") order by Modified_Time asc, id asc",
			"INVALID_QUERY"},
		{"limit over 2000",
			"select Last_Name from Contacts where (Modified_Time > " + ts + ") order by Modified_Time asc, id asc limit 2001",
			"LIMIT_EXCEEDED"},
		{
			"too many columns",
			"select " + strings.Repeat("Last_Name, ",
				50) + "Email from Contacts where (Modified_Time > " + ts + ") order by Modified_Time asc, id asc",
			"LIMIT_EXCEEDED",
		},
		{
			"order by over 10 fields",
			"select Last_Name from Contacts where (Modified_Time > " + ts + ") order by Modified_Time asc, id asc, " +
				strings.Join(
					strings.Fields("Last_Name First_Name Email Phone Mobile Title Department Fax Created_Time"),
					", ",
				),
			"LIMIT_EXCEEDED",
		},
		{"order by a field twice",
			"select Last_Name from Contacts where (Modified_Time > " + ts + ") order by Modified_Time asc, id asc, id asc",
			"DUPLICATE_DATA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.coql(tok, tc.query)
			wantError(t, resp, body, http.StatusBadRequest, tc.code)
		})
	}
	t.Run("missing select_query", func(t *testing.T) {
		resp, body := f.call("POST", "/crm/v8/coql", tok, map[string]string{})
		wantError(t, resp, body, http.StatusBadRequest, "REQUIRED_PARAM_MISSING")
	})
	t.Run("rejections cost nothing", func(t *testing.T) {
		if c := f.sim.Credits(); c != 0 {
			t.Errorf("credits %d", c)
		}
	})
}

func TestCOQLAcceptedShapes(t *testing.T) {
	const t1, t2 = "'2024-01-01T00:00:00+01:00'", "'2024-02-01T00:00:00Z'"
	tests := []struct {
		name, where  string
		lower, upper key
	}{
		{"from, bracketed", "(Modified_Time >= " + t1 + ")", key{1704063600e9, minKey.id}, maxKey},
		{"from, bare", "Modified_Time >= " + t1, key{1704063600e9, minKey.id}, maxKey},
		{"after", "(Modified_Time > " + t1 + ")", key{1704063600e9, maxKey.id}, maxKey},
		{"keyset", "((Modified_Time > " + t1 + ") or ((Modified_Time = " + t1 + ") and (id > '77')))", key{1704063600e9, 77},
			maxKey},
		{"keyset, operands swapped", "((((id > 77) and (Modified_Time = " + t1 + "))) or (Modified_Time > " + t1 + "))",
			key{1704063600e9, 77}, maxKey},
		{"after and upper", "((Modified_Time > " + t1 + ") and (Modified_Time <= " + t2 + "))", key{1704063600e9, maxKey.id},
			key{1706745600e9, maxKey.id}},
		{"upper first", "((Modified_Time < " + t2 + ") and (Modified_Time >= " + t1 + "))", key{1704063600e9, minKey.id},
			key{1706745600e9, minKey.id}},
		{
			"keyset and upper",
			"(((Modified_Time > " + t1 + ") or ((Modified_Time = " + t1 + ") and (id > '77'))) and (Modified_Time <= " + t2 +
				"))",
			key{1704063600e9, 77},
			key{1706745600e9, maxKey.id},
		},
		{"keywords in any case", "((Modified_Time > " + t1 + ") AND (Modified_Time <= " + t2 + "))",
			key{1704063600e9, maxKey.id}, key{1706745600e9, maxKey.id}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := parseCOQL(
				"SELECT Last_Name, Account_Name.id FROM Contacts WHERE " + tc.where + " ORDER BY Modified_Time ASC, id LIMIT 2000")
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if q.limit != 2000 || q.module != "Contacts" || fmt.Sprint(q.columns) != "[Last_Name Account_Name.id]" {
				t.Errorf("query %+v", q)
			}
			lower, upper, ok := rangeOf(q.where)
			if !ok || lower != tc.lower || upper != tc.upper {
				t.Errorf("range (%v, %v] ok=%v, want (%v, %v]", lower, upper, ok, tc.lower, tc.upper)
			}
		})
	}
}

func TestCOQLCredits(t *testing.T) {
	f := newFixture(t, Options{Contacts: 50, Accounts: 2})
	tok := f.login().AccessToken
	for _, tc := range []struct {
		limit int
		want  int64
	}{{1, 1}, {200, 1}, {201, 2}, {1000, 2}, {1001, 3}, {2000, 3}} {
		before := f.sim.Credits()
		resp, body := f.coql(tok, firstPageQuery(time.Unix(0, 0), tc.limit))
		if resp.StatusCode != 200 {
			t.Fatalf("HTTP %d %s", resp.StatusCode, truncate(body))
		}
		if got := f.sim.Credits() - before; got != tc.want {
			t.Errorf("limit %d cost %d credits, want %d", tc.limit, got, tc.want)
		}
	}
	// An empty answer still costs by its limit.
	before := f.sim.Credits()
	resp, _ := f.coql(tok, firstPageQuery(time.Now().Add(1000*time.Hour), 2000))
	if resp.StatusCode != http.StatusNoContent || f.sim.Credits()-before != 3 {
		t.Errorf("empty answer: HTTP %d, %d credits", resp.StatusCode, f.sim.Credits()-before)
	}
}

// Renaming or deleting an account leaves its contacts' Modified_Time
// alone, as in Zoho; "Account_Name in (...)" finds the contacts that name
// the account, a deleted one included.
func TestCOQLContactsOfAccounts(t *testing.T) {
	f := newFixture(t, Options{Contacts: 300, Accounts: 20})
	byAccount := map[string][]string{}
	modified := map[string]any{}
	for id, rec := range f.sim.Records("Contacts") {
		modified[id] = rec["Modified_Time"]
		if acc, ok := rec["Account_Name"].(map[string]any); ok {
			byAccount[acc["id"].(string)] = append(byAccount[acc["id"].(string)], id)
		}
	}
	var renamed, deleted string
	for acc, contacts := range byAccount {
		if len(contacts) == 0 {
			continue
		}
		switch {
		case renamed == "":
			renamed = acc
		case deleted == "":
			deleted = acc
		}
	}
	if deleted == "" {
		t.Fatal("fewer than two accounts have contacts")
	}
	f.clock.Advance(time.Hour)
	if err := f.sim.Update("Accounts", renamed, map[string]any{"Account_Name": "Renamed B.V."}); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.Delete("Accounts", deleted); err != nil {
		t.Fatal(err)
	}
	for id, rec := range f.sim.Records("Contacts") {
		if rec["Modified_Time"] != modified[id] {
			t.Fatalf("contact %s: Modified_Time %v became %v", id, modified[id], rec["Modified_Time"])
		}
	}

	tok := f.login().AccessToken
	query := fmt.Sprintf(
		"select Last_Name, Account_Name, Account_Name.Account_Name, Modified_Time from Contacts where (Account_Name in "+
			"('%s', %s)) order by Modified_Time asc, id asc limit 2000",
		renamed, deleted)
	resp, body := f.coql(tok, query)
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP %d %s", resp.StatusCode, truncate(body))
	}
	p := decode[coqlPage](t, body)
	got := map[string]bool{}
	for _, row := range p.Data {
		id := row["id"].(string)
		got[id] = true
		acc, _ := row["Account_Name"].(map[string]any)
		switch {
		case slices.Contains(byAccount[renamed], id):
			if acc["name"] != "Renamed B.V." || row["Account_Name.Account_Name"] != "Renamed B.V." {
				t.Errorf("contact %s of the renamed account: %v", id, row)
			}
		case slices.Contains(byAccount[deleted], id):
			if acc != nil || row["Account_Name.Account_Name"] != nil {
				t.Errorf("contact %s of the deleted account still shows it: %v", id, row)
			}
		default:
			t.Errorf("contact %s names neither account: %v", id, row)
		}
	}
	if len(got) != len(byAccount[renamed])+len(byAccount[deleted]) {
		t.Errorf("%d contacts, want %d", len(got), len(byAccount[renamed])+len(byAccount[deleted]))
	}

	// And-ed with keyset bounds, it pages.
	first := p.Data[0]
	query = fmt.Sprintf(
		"select Last_Name from Contacts where ((Account_Name in ('%s', '%s')) and ((Modified_Time > '%s') or "+
			"((Modified_Time = '%s') and (id > %s)))) order by Modified_Time asc, id asc limit 2000",
		renamed, deleted, first["Modified_Time"], first["Modified_Time"], first["id"])
	if resp, body = f.coql(tok, query); resp.StatusCode != 200 {
		t.Fatalf("keyset: HTTP %d %s", resp.StatusCode, truncate(body))
	}
	if n := len(decode[coqlPage](t, body).Data); n != len(got)-1 {
		t.Errorf("after the first row: %d rows, want %d", n, len(got)-1)
	}

	ids := make([]string, 51)
	for i := range ids {
		ids[i] = fmt.Sprint(5725767000050000001 + i)
	}
	repeated := slices.Repeat([]string{ids[0]}, 51)
	for _, bad := range []string{
		"(Account_Name in (" + strings.Join(ids, ", ") + "))",
		// Zoho counts the values written, not the distinct ones.
		"(Account_Name in (" + strings.Join(repeated, ", ") + "))",
		"(Last_Name in ('1'))",
		"(Account_Name in ('Acme'))",
	} {
		resp, body := f.coql(tok, "select Last_Name from Contacts where "+bad+" order by Modified_Time asc, id asc limit 10")
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d %s", bad, resp.StatusCode, truncate(body))
		}
	}
}
