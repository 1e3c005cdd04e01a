package zoho

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/schemas"
)

func TestFullSyncWithBulkRead(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 2500, Accounts: 300, Seed: 7, BulkPageSize: 1000})
	h.authorize(allScopes...)
	before := h.sim.Credits()
	cat := h.catalog()
	out := h.mustRead(contract.ReadStream{Name: "contacts", Generation: 3},
		contract.ReadStream{Name: "accounts", Generation: 5})

	for _, st := range cat.Streams {
		valid := validator(t, st)
		module := map[string]string{"contacts": "Contacts", "accounts": "Accounts"}[st.Name]
		var keys []string
		for _, r := range out.records {
			if r.Stream != st.Name {
				continue
			}
			keys = append(keys, r.Key)
			if err := valid(r.Data); err != nil {
				t.Fatalf("%s record %s does not match the schema: %v\n%s", st.Name, r.Key, err, r.Data)
			}
		}
		if got, want := sorted(keys), simIDs(h.sim, module); !slices.Equal(got, want) {
			t.Errorf("%s: read %d records, the org has %d", st.Name, len(got), len(want))
		}
	}
	// Accounts are read first, whatever the order asked for: contacts
	// follow them.
	if want := []contract.FullRefreshComplete{
		{Stream: "accounts", Generation: 5}, {Stream: "contacts", Generation: 3},
	}; !slices.Equal(
		out.full,
		want,
	) {
		t.Errorf("full refresh completions %+v, want %+v", out.full, want)
	}
	spent := h.sim.Credits() - before
	if out.counts["api_credits"] != spent {
		t.Errorf("reported %d credits, the org charged %d", out.counts["api_credits"], spent)
	}
	// 3 + 1 jobs at 50 credits, plus polls, downloads and metadata.
	if spent > 4*50+4*8+5 {
		t.Errorf("a full sync of 2,800 records cost %d credits", spent)
	}
	t.Logf("credits: %d, calls: %v", spent, h.sim.Calls())

	// Bulk Read gives a lookup as an id unless its name is asked for: every
	// contact shows its account's name, every owner has a name.
	companies := 0
	for _, r := range out.records {
		var c schemas.Contact
		if err := json.Unmarshal(r.Data, &c); err != nil {
			t.Fatal(err)
		}
		if owner, _ := c.Attributes["Owner"].(map[string]any); owner["name"] == nil || owner["email"] == nil {
			t.Fatalf("%s %s: owner %v lacks name or email", r.Stream, r.Key, owner)
		}
		if r.Stream != "contacts" {
			continue
		}
		rec, _ := h.sim.Record("Contacts", r.Key)
		want := ""
		if acc, ok := rec["Account_Name"].(map[string]any); ok {
			want = acc["name"].(string)
		}
		if c.Company != want {
			t.Fatalf("contact %s: company %q, want %q", r.Key, c.Company, want)
		}
		if want != "" {
			companies++
		}
	}
	if companies == 0 {
		t.Error("no contact has a company")
	}
}

func contactID(i int) string { return strconv.FormatInt(5725767000200000001+int64(i), 10) }

// A run that dies between two bulk pages resumes at the next page: no page
// is read twice and none is skipped, and the resumed sync completes with
// the generation it began with.
func TestCrashBetweenBulkPagesResumesAtTheNextPage(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 2500, Seed: 3, BulkPageSize: 1000})
	h.authorize(allScopes...)
	ctx, cancel := context.WithCancel(context.Background())
	first := &memOut{onCheckpoint: func(int) { cancel() }}
	err := h.readInto(ctx, first, nil, contract.ReadStream{Name: "contacts", Generation: 4})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after the crash: %v, want context.Canceled", err)
	}
	if len(first.checkpoints) != 1 || len(first.records) != 1000 || len(first.full) != 0 {
		t.Fatalf("first run: %d checkpoints, %d records, %d completions",
			len(first.checkpoints), len(first.records), len(first.full))
	}

	second := h.mustRead(contract.ReadStream{Name: "contacts", State: first.checkpoints[0].state, Generation: 5})
	seen := map[string]bool{}
	for _, k := range first.keys(contract.Upsert) {
		seen[k] = true
	}
	for _, k := range second.keys(contract.Upsert) {
		if seen[k] {
			t.Fatalf("record %s was read again after the resume", k)
		}
		seen[k] = true
	}
	for _, id := range simIDs(h.sim, "Contacts") {
		if !seen[id] {
			t.Fatalf("record %s was skipped", id)
		}
	}
	if want := []contract.FullRefreshComplete{{Stream: "contacts", Generation: 4}}; !slices.Equal(second.full, want) {
		t.Errorf("completions %+v, want %+v: the resumed sync must keep its generation", second.full, want)
	}
	if n := h.sim.Calls()["bulk/create"]; n != 3 {
		t.Errorf("%d bulk jobs for 3 pages", n)
	}
}

// Bulk Read, the records API and COQL deliver the same canonical records.
func TestEveryReadPathYieldsTheSameRecords(t *testing.T) {
	opts := zohosim.Options{Contacts: 450, Accounts: 120, Seed: 11, BulkPageSize: 200}
	byKey := func(out *memOut) map[string]string {
		m := map[string]string{}
		for _, r := range out.records {
			m[r.Stream+"/"+r.Key] = string(r.Data)
		}
		return m
	}
	streams := func(state json.RawMessage) []contract.ReadStream {
		return []contract.ReadStream{
			{Name: "contacts", State: state, Generation: 1},
			{Name: "accounts", State: state, Generation: 1},
		}
	}

	bulk := newHarness(t, opts)
	bulk.authorize(allScopes...)
	want := byKey(bulk.mustRead(streams(nil)...))

	records := newHarness(t, opts)
	records.src.tune.maxColumns = 12 // several field groups, merged by id
	records.authorize(
		slices.DeleteFunc(slices.Clone(allScopes), func(s string) bool { return s == "ZohoCRM.bulk.READ" })...)
	out := records.mustRead(streams(nil)...)
	if n := records.sim.Calls()["bulk/create"]; n != 0 {
		t.Errorf("%d bulk jobs without the bulk scope", n)
	}
	if len(out.full) != 2 {
		t.Errorf("records API sync: completions %+v", out.full)
	}
	compare(t, "records API", want, byKey(out))

	coql := newHarness(t, opts)
	coql.src.tune.maxColumns = 12
	coql.authorize(allScopes...)
	from := json.RawMessage(
		`{"v":1,"cursor":{"modified_time":"2000-01-01T00:00:00Z"},"deleted_since":"2026-03-02T09:00:00Z"}`)
	compare(t, "COQL", want, byKey(coql.mustRead(streams(from)...)))
}

func compare(t *testing.T, path string, want, got map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d records, bulk read %d", path, len(got), len(want))
	}
	for k, w := range want {
		if g := got[k]; g != w {
			t.Errorf("%s: record %s differs\nbulk: %s\n%s: %s", path, k, w, path, g)
			return
		}
	}
}

// Generated records share Modified_Time in runs of five; the cursor is set
// so that every COQL page border falls inside such a run. The read resumes
// from a checkpoint in the JSON shape the connector has always written.
func TestCOQLPagesSplitRecordsSharingAModifiedTime(t *testing.T) {
	const n, limit = 700, 200
	for _, columns := range []int{50, 12} {
		t.Run(fmt.Sprintf("%d columns", columns), func(t *testing.T) {
			h := newHarness(t, zohosim.Options{Contacts: n, Seed: 5})
			h.src.tune.maxColumns = columns
			h.src.tune.coqlLimit = limit
			h.authorize(allScopes...)
			mt := func(i int) time.Time { return parseTime(mustRecord(t, h, i)["Modified_Time"].(string)) }
			for _, border := range []int{36 + limit, 36 + 2*limit, 36 + 3*limit} {
				if !mt(border-1).Equal(mt(border)) || !mt(border).Equal(mt(border+1)) {
					t.Fatalf("records %d-%d do not share a Modified_Time; the simulator changed", border-1, border+1)
				}
			}
			// A checkpoint as the connector has always written it.
			state := json.RawMessage(fmt.Sprintf(`{"v":1,"cursor":{"modified_time":%q,"id":%q},"deleted_since":%q}`,
				mt(36).Format(time.RFC3339), contactID(36), h.clock.Now().Add(-time.Hour).Format(time.RFC3339)))
			out := h.mustRead(contract.ReadStream{Name: "contacts", State: state, Generation: 2})
			got := out.keys(contract.Upsert)
			var want []string
			for i := 37; i < n; i++ {
				want = append(want, contactID(i))
			}
			if !slices.Equal(got, want) {
				t.Fatalf("read %d records, want %d in (Modified_Time, id) order; first difference at %d",
					len(got), len(want), firstDiff(got, want))
			}
			// Four pages, and one query for accounts changed since the
			// checkpoint's deletions were read: a checkpoint written before
			// accounts were followed starts following them there.
			if calls := h.sim.Calls()["coql"]; columns == 50 && calls != 5 {
				t.Errorf("%d COQL calls for 4 pages and the changed accounts", calls)
			}
			if len(out.checkpoints) < 4 {
				t.Errorf("%d checkpoints for 4 pages", len(out.checkpoints))
			}
			// and writes its checkpoints in the same shape.
			var last struct {
				Cursor map[string]string `json:"cursor"`
			}
			if err := json.Unmarshal(out.lastState("contacts"), &last); err != nil {
				t.Fatal(err)
			}
			if want := contactID(n - 1); len(last.Cursor) != 2 || last.Cursor["id"] != want ||
				parseTime(last.Cursor["modified_time"]).IsZero() {
				t.Errorf("last checkpoint's cursor %v, want modified_time and id %s", last.Cursor, want)
			}
		})
	}
}

func mustRecord(t *testing.T, h *harness, i int) map[string]any {
	t.Helper()
	r, ok := h.sim.Record("Contacts", contactID(i))
	if !ok {
		t.Fatalf("no contact %d", i)
	}
	return r
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestIncrementalReadsChangesAndDeletions(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 300, Accounts: 40, Seed: 9})
	h.authorize(allScopes...)
	full := h.mustRead(contract.ReadStream{Name: "contacts", Generation: 1})
	state := full.lastState("contacts")

	// Nothing changed: nothing is read.
	h.clock.Add(2 * time.Minute)
	out := h.mustRead(contract.ReadStream{Name: "contacts", State: state, Generation: 2})
	if len(out.records) != 0 {
		t.Fatalf("an unchanged org gave %d records", len(out.records))
	}
	state = next(state, out)

	err := h.sim.Update("Contacts",
		contactID(5), map[string]any{"Mobile": "06 12345678", "Mailing_Country": "Deutschland"})
	if err != nil {
		t.Fatal(err)
	}
	created := h.sim.Create("Contacts", map[string]any{"Last_Name": "Nieuw", "Phone": "020 555 0101"})
	if created == "" {
		t.Fatal("create refused")
	}
	if err := h.sim.Delete("Contacts", contactID(7)); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.DeletePermanently("Contacts", contactID(8)); err != nil {
		t.Fatal(err)
	}
	// Within the lag the changes are not read yet...
	out = h.mustRead(contract.ReadStream{Name: "contacts", State: state, Generation: 3})
	if len(out.records) != 0 {
		t.Fatalf("changes younger than the lag were read: %d records", len(out.records))
	}
	state = next(state, out)
	// ...a little later they are.
	h.clock.Add(2 * time.Minute)
	out = h.mustRead(contract.ReadStream{Name: "contacts", State: state, Generation: 4})
	if got, want := sorted(out.keys(contract.Upsert)), sorted([]string{contactID(5), created}); !slices.Equal(got, want) {
		t.Errorf("upserts %v, want %v", got, want)
	}
	if got, want := sorted(out.keys(contract.Delete)), []string{contactID(7), contactID(8)}; !slices.Equal(got, want) {
		t.Errorf("deletes %v, want %v", got, want)
	}
	for _, r := range out.records {
		if r.Key != contactID(5) {
			continue
		}
		var c schemas.Contact
		_ = json.Unmarshal(r.Data, &c)
		// A German record: 06 is read as a German number now.
		if !slices.Contains(c.Phones, schemas.Phone{Type: "mobile", Number: "+49612345678", Raw: "06 12345678"}) {
			t.Errorf("changed record's phones: %+v", c.Phones)
		}
	}
	if len(out.full) != 0 {
		t.Error("an incremental read completed a full refresh")
	}
	state = next(state, out)
	h.clock.Add(2 * time.Minute)
	if out := h.mustRead(contract.ReadStream{Name: "contacts", State: state, Generation: 5}); len(out.records) != 0 {
		t.Errorf("the next run read %d records again", len(out.records))
	}
}

// next is the state the host keeps after a run: its last checkpoint, or
// the state it had when the run made none.
// Zoho's deleted-records API pages by page and per_page only, reaching
// 2,000 records: past them the run turns to a full sync, which finds every
// deletion, instead of paging on with a page_token Zoho does not document.
func TestMoreDeletionsThanListedMeanAFullSync(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 2200, Accounts: 5, Seed: 9})
	h.authorize(allScopes...)
	state := h.mustRead(contract.ReadStream{Name: "contacts", Generation: 1}).lastState("contacts")
	ids := simIDs(h.sim, "Contacts")
	for _, id := range ids[:2001] {
		if err := h.sim.Delete("Contacts", id); err != nil {
			t.Fatal(err)
		}
	}
	h.clock.Add(2 * time.Minute)
	calls := h.sim.Calls()["deleted"]
	out := h.mustRead(contract.ReadStream{Name: "contacts", State: state, Generation: 2})
	if n := h.sim.Calls()["deleted"] - calls; n != 10 {
		t.Errorf("%d pages of deleted records read, want the 10 of 200 that reach 2,000", n)
	}
	var st streamState
	if err := json.Unmarshal(out.lastState("contacts"), &st); err != nil || st.Full == nil {
		t.Fatalf("checkpoint %s, want a full sync next", out.lastState("contacts"))
	}
	h.clock.Add(time.Minute)
	out = h.mustRead(contract.ReadStream{Name: "contacts", State: out.lastState("contacts"), Generation: 3})
	if got, want := sorted(out.keys(contract.Upsert)), simIDs(h.sim, "Contacts"); !slices.Equal(got, want) ||
		len(out.full) != 1 {
		t.Errorf("the full sync read %d records of %d, completed %d times", len(got), len(want), len(out.full))
	}
}

func next(state json.RawMessage, out *memOut) json.RawMessage {
	if len(out.checkpoints) == 0 {
		return state
	}
	return out.checkpoints[len(out.checkpoints)-1].state
}

func TestOrgSuppliesLinkBaseAndDefaultRegion(t *testing.T) {
	h := newHarness(t, zohosim.Options{})
	// A number of both countries: a landline in Roermond, a mobile in Belgium.
	id := h.sim.Create("Contacts", map[string]any{"Last_Name": "Bakker", "Phone": "0475 12 34 56"})
	read := func(changes map[string]any) schemas.Contact {
		t.Helper()
		out, err := h.read(context.Background(), changes, contract.ReadStream{Name: "contacts", Generation: 1})
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if len(out.records) != 1 {
			t.Fatalf("%d records", len(out.records))
		}
		var c schemas.Contact
		_ = json.Unmarshal(out.records[0].Data, &c)
		return c
	}

	h.authorize(allScopes...)
	c := read(map[string]any{"default_region": nil})
	if c.URL != "https://crm.zoho.eu/crm/"+h.sim.OrgDomainName()+"/tab/Contacts/"+id ||
		c.Phones[0].Number != "+31475123456" {
		t.Errorf("from the org: url %s, phones %+v", c.URL, c.Phones)
	}

	// Without ZohoCRM.org.READ the configuration says it all, and the org
	// API is not called.
	h.authorize(slices.DeleteFunc(slices.Clone(allScopes), func(s string) bool { return s == "ZohoCRM.org.READ" })...)
	orgCalls := h.sim.Calls()["org"]
	c = read(map[string]any{"default_region": "BE", "record_url": "https://links.example/{Module}?id={SourceId}"})
	if c.URL != "https://links.example/Contacts?id="+id || c.Phones[0].Number != "+32475123456" {
		t.Errorf("from the configuration: url %s, phones %+v", c.URL, c.Phones)
	}
	if h.sim.Calls()["org"] != orgCalls {
		t.Error("the org API was called although the configuration says it all")
	}
	_, err := h.read(context.Background(), nil, contract.ReadStream{Name: "contacts", Generation: 1})
	if err == nil || !strings.Contains(err.Error(), "OAUTH_SCOPE_MISMATCH") {
		t.Errorf("Read needing the org API without its scope: %v", err)
	}
}

// Should Zoho refuse a Bulk Read job that asks for the owners' dotted
// columns, with any field refusal and whether or not it names the field,
// the job is made again without them, once, with a warning naming what it
// leaves out; owners carry their id alone, companies are still named.
func TestBulkReadWithoutOwnerNames(t *testing.T) {
	for _, code := range []string{
		zohosim.RefusalFieldNotAvailable, zohosim.RefusalFieldNotSupported, zohosim.RefusalInvalidRequest,
		zohosim.RefusalJoinLimitExceeded,
	} {
		for _, unnamed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s unnamed=%v", code, unnamed), func(t *testing.T) {
				h := newHarness(
					t,
					zohosim.Options{
						Contacts:                300,
						Accounts:                30,
						Seed:                    3,
						BulkOwnerNamesRefusal:   code,
						BulkRefusalsNameNoField: unnamed,
					},
				)
				warned := warnings(h.src)
				h.authorize(allScopes...)
				out := h.mustRead(contract.ReadStream{Name: "contacts", Generation: 1})
				if len(out.records) != 300 {
					t.Fatalf("%d records, want 300", len(out.records))
				}
				if n := h.sim.Calls()["bulk/create"]; n != 2 {
					t.Errorf("%d Bulk Read jobs asked for, want the refused one and one without owners' names", n)
				}
				companies := 0
				for _, r := range out.records {
					var c schemas.Contact
					if err := json.Unmarshal(r.Data, &c); err != nil {
						t.Fatal(err)
					}
					if owner, _ := c.Attributes["Owner"].(map[string]any); owner["id"] == nil || owner["name"] != nil {
						t.Fatalf("owner %v, want its id alone", owner)
					}
					if c.Company != "" {
						companies++
					}
				}
				if companies == 0 {
					t.Error("no contact has a company")
				}
				warning := strings.Join(warned(), "\n")
				for _, want := range []string{
					"without the owners' name columns", "Owner.first_name", "Owner.last_name", "Owner.email", code,
				} {
					if !strings.Contains(warning, want) {
						t.Errorf("warning %q lacks %q", warning, want)
					}
				}
			})
		}
	}
}

// extraField makes the fields metadata of Contacts list a field the org
// does not have, which Bulk Read refuses as FIELD_NOT_AVAILABLE.
func extraField(t *testing.T) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/crm/v8/settings/fields" || r.URL.Query().Get("module") != "Contacts" {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var body struct {
				Fields []map[string]any `json:"fields"`
			}
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
				t.Errorf("fields metadata: HTTP %d %s", rec.Code, rec.Body)
			}
			body.Fields = append(
				body.Fields,
				map[string]any{
					"api_name":     "Shoe_Size",
					"field_label":  "Shoe size",
					"data_type":    "text",
					"json_type":    "string",
					"custom_field": true,
				},
			)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(body)
		})
	}
}

// A field refusal of a job that asked for the owners' names makes it again
// without them, once; refused again, the run fails with Zoho's message and
// what to do.
func TestBulkReadRefusalOfAnotherField(t *testing.T) {
	for _, unnamed := range []bool{false, true} {
		t.Run(fmt.Sprintf("unnamed=%v", unnamed), func(t *testing.T) {
			h := newHarnessWith(t, zohosim.Options{Contacts: 50, Accounts: 5, Seed: 3, BulkRefusalsNameNoField: unnamed},
				extraField(t))
			h.authorize(allScopes...)
			out, err := h.read(context.Background(), nil, contract.ReadStream{Name: "contacts", Generation: 1})
			if err == nil {
				t.Fatal("a refused Bulk Read job did not fail the run")
			}
			for _, want := range []string{
				"creating a bulk read job for Contacts",
				`FIELD_NOT_AVAILABLE: Contacts has no field "Shoe_Size"`,
				`set full_sync_method = "records_api"`,
			} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if n := h.sim.Calls()["bulk/create"]; n != 2 {
				t.Errorf("%d Bulk Read jobs asked for, want 2: the first and one without owners' names", n)
			}
			if len(out.records) != 0 {
				t.Errorf("%d records read", len(out.records))
			}
		})
	}
}

// A refusal that is not about fields fails the run at once, with Zoho's
// message and what to do: leaving the owners' names out would not help.
func TestBulkReadRefusalOtherThanAField(t *testing.T) {
	for _, refusal := range []string{
		`{"code":"INVALID_CRITERIA","details":{},"message":"invalid criteria","status":"error"}`,
		`{"code":"CRITERIA_LIMIT_EXCEEDED","details":{},"message":"too many criteria","status":"error"}`,
		`{"code":"MODULE_NOT_SUPPORTED","details":{},"message":"not supported","status":"error"}`,
	} {
		code := strings.Split(refusal, `"`)[3]
		t.Run(code, func(t *testing.T) {
			var jobs atomic.Int32
			refuse := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == "POST" && r.URL.Path == "/crm/bulk/v8/read" {
						jobs.Add(1)
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(http.StatusBadRequest)
						_, _ = w.Write([]byte(refusal))
						return
					}
					next.ServeHTTP(w, r)
				})
			}
			h := newHarnessWith(t, zohosim.Options{Contacts: 20, Accounts: 5, Seed: 3}, refuse)
			h.authorize(allScopes...)
			_, err := h.read(context.Background(), nil, contract.ReadStream{Name: "contacts", Generation: 1})
			if err == nil || !strings.Contains(err.Error(), "Zoho answered HTTP 400 "+code) ||
				!strings.Contains(err.Error(), `full_sync_method = "records_api"`) {
				t.Fatalf("error %v, want Zoho's refusal and what to do", err)
			}
			if n := jobs.Load(); n != 1 {
				t.Errorf("%d Bulk Read jobs asked for, want 1", n)
			}
		})
	}
}

// Phones sent without a number are counted by why, as phones_<reason>,
// in full and incremental runs alike.
func TestUnreadPhonesAreCounted(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 300, Accounts: 20, Seed: 11})
	h.authorize(allScopes...)
	full := h.mustRead(contract.ReadStream{Name: "contacts", Generation: 1})
	checkUnreadCounts(t, "full sync", full)

	var ids []string
	for id := range h.sim.Records("Contacts") {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	h.clock.Add(time.Minute)
	if err := h.sim.Update("Contacts", ids[0], map[string]any{"Phone": "call me"}); err != nil {
		t.Fatal(err)
	}
	// 0800 1234 is a number in the Netherlands, the org's country, but
	// none in Germany, the contact's.
	err := h.sim.Update("Contacts", ids[1], map[string]any{"Phone": "0800 1234", "Mailing_Country": "Deutschland"})
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Add(2 * time.Minute)
	out := h.mustRead(contract.ReadStream{Name: "contacts", State: full.lastState("contacts"), Generation: 2})
	checkUnreadCounts(t, "incremental", out)
	if out.counts["phones_not_a_number"] < 1 || out.counts["phones_invalid"] < 1 {
		t.Errorf("incremental: counters %v, want phones_not_a_number and phones_invalid", out.counts)
	}
}

// checkUnreadCounts checks that the phones_* counters add up to the phones
// sent without a number.
func checkUnreadCounts(t *testing.T, run string, out *memOut) {
	t.Helper()
	var unread, counted int64
	for _, r := range out.records {
		var c schemas.Contact
		if err := json.Unmarshal(r.Data, &c); err != nil {
			t.Fatal(err)
		}
		for _, p := range c.Phones {
			if p.Number == "" {
				unread++
			}
		}
	}
	for name, n := range out.counts {
		if strings.HasPrefix(name, "phones_") {
			counted += n
		}
	}
	if counted != unread || out.counts["phones_ok"] != 0 {
		t.Errorf("%s: %d phones without a number, counters %v", run, unread, out.counts)
	}
}
