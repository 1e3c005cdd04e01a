package rogersim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/connector/roger365/ingest"
)

const testKey = "test-key"

func newSim(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	opts.Keys = append(opts.Keys, testKey)
	if opts.Replicators == nil {
		opts.Replicators = []Replicator{
			{ID: "r1", Name: "Zoho contacts", SourceType: "zoho", Entity: "Contacts"},
			{ID: "r2", Name: "Zoho accounts", SourceType: "zoho", Entity: "Accounts"},
		}
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, ts.URL
}

type response struct {
	status int
	header http.Header
	body   map[string]any
}

func call(t *testing.T, method, url, key string, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	out := response{status: resp.StatusCode, header: resp.Header}
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			// Arrays and other bodies are checked through the Go API instead.
			out.body = map[string]any{"raw": string(raw)}
		}
	}
	return out
}

func contact(id string, numbers ...string) ingest.Contact {
	c := ingest.Contact{
		SourceID:    id,
		Kind:        "contact",
		DisplayName: "Person " + id,
		Company:     "Acme",
		URL:         "https://crm.example/" + id,
		UpdatedAt:   "2026-01-02T03:04:05Z",
		Phones:      []ingest.Phone{},
	}
	for _, n := range numbers {
		c.Phones = append(c.Phones, ingest.Phone{Type: "work", Number: n})
	}
	return c
}

func put(stream string, gen uint64, contacts ...ingest.Contact) map[string]any {
	return map[string]any{"stream": stream, "generation": gen, "contacts": contacts}
}

func statuses(t *testing.T, r response) []string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %v", r.status, r.body)
	}
	var out []string
	for _, item := range r.body["results"].([]any) {
		m := item.(map[string]any)
		s := m["status"].(string)
		if e, ok := m["error"]; ok {
			s += ": " + e.(string)
		}
		out = append(out, s)
	}
	return out
}

func TestUpsertResultsAndValidation(t *testing.T) {
	s, url := newSim(t, Options{})
	u := url + "/v1/replicators/r1/contacts"

	changed := contact("2", "+31201234568")
	changed.DisplayName = "Renamed"
	noPhone := contact("4")
	steps := []struct {
		name string
		body any
		want []string
	}{
		{"new contacts", put("contacts", 1, contact("1", "+31201234567"), contact("2", "+31201234568")),
			[]string{"created", "created"}},
		{"same and changed", put("contacts", 1, contact("1", "+31201234567"), changed), []string{"unchanged", "updated"}},
		{"per-item rejections", put("contacts", 1,
			contact("", "+31201234567"),
			contact("3", "020-1234567"),
			contact("3", "+0201234567"),
			contact("3", "+3"),
			contact("3", "+1234567890123456"),
			noPhone,
		), []string{
			"rejected: source_id is required",
			"rejected: phones[0].number is not an E.164 number (+ followed by 2 to 15 digits, no leading 0)",
			"rejected: phones[0].number is not an E.164 number (+ followed by 2 to 15 digits, no leading 0)",
			"rejected: phones[0].number is not an E.164 number (+ followed by 2 to 15 digits, no leading 0)",
			"rejected: phones[0].number is not an E.164 number (+ followed by 2 to 15 digits, no leading 0)",
			"created",
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got := statuses(t, call(t, http.MethodPut, u, testKey, st.body))
			if strings.Join(got, "|") != strings.Join(st.want, "|") {
				t.Errorf("results\n got %q\nwant %q", got, st.want)
			}
		})
	}
	if n := len(s.Contacts("r1")); n != 3 {
		t.Errorf("stored %d contacts, want 3", n)
	}

	big := make([]ingest.Contact, ingest.MaxBatch+1)
	for i := range big {
		big[i] = contact(fmt.Sprint("b", i), "+31201234567")
	}
	whole := []struct {
		name, method, url, key string
		body                   any
		status                 int
		code                   string
	}{
		{"batch over 500", http.MethodPut, u, testKey, put("contacts", 1, big...), 400, "too_many_contacts"},
		{"no stream", http.MethodPut, u, testKey, put("", 1, contact("9")), 400, "invalid_request"},
		{"not JSON", http.MethodPut, u, testKey, "[", 400, "invalid_json"},
		{"unknown replicator", http.MethodPut, url + "/v1/replicators/nope/contacts", testKey,
			put("contacts", 1, contact("9")), 404, "not_found"},
		{"no key", http.MethodPut, u, "", put("contacts", 1, contact("9")), 401, "unauthorized"},
		{"wrong key", http.MethodGet, url + "/v1/replicators/r1", "other", nil, 401, "unauthorized"},
		{"sweep without generation", http.MethodPost, u + ":sweep", testKey, map[string]any{"stream": "contacts"}, 400,
			"invalid_request"},
		{"unknown path", http.MethodGet, url + "/v2/things", testKey, nil, 404, "not_found"},
	}
	for _, c := range whole {
		t.Run(c.name, func(t *testing.T) {
			r := call(t, c.method, c.url, c.key, c.body)
			if r.status != c.status || r.body["error"] != c.code {
				t.Errorf("got %d %v, want %d %s", r.status, r.body, c.status, c.code)
			}
		})
	}
	if n := len(s.Contacts("r1")); n != 3 {
		t.Errorf("refused requests changed the phonebook: %d contacts", n)
	}

	r := call(t, http.MethodGet, url+"/v1/replicators/r2", testKey, nil)
	if r.status != 200 || r.body["name"] != "Zoho accounts" || r.body["source_type"] != "zoho" ||
		r.body["entity"] != "Accounts" ||
		r.body["id"] != "r2" {
		t.Errorf("get replicator: %d %v", r.status, r.body)
	}
}

func TestDeleteAndSweep(t *testing.T) {
	s, url := newSim(t, Options{})
	u := url + "/v1/replicators/r1/contacts"
	statuses(
		t,
		call(t,
			http.MethodPut, u, testKey,
			put("contacts", 1, contact("a", "+31201111111"), contact("b", "+31202222222"), contact("c", "+31203333333"))),
	)
	statuses(t, call(t, http.MethodPut, u, testKey, put("accounts", 1, contact("x", "+31204444444"))))
	statuses(t,
		call(t, http.MethodPut, url+"/v1/replicators/r2/contacts", testKey, put("contacts", 1, contact("a", "+31201111111"))))

	r := call(t, http.MethodPost, u+":delete", testKey,
		map[string]any{"stream": "contacts", "source_ids": []string{"a", "missing"}})
	if r.status != 200 || r.body["deleted"] != 1.0 {
		t.Fatalf("delete: %d %v", r.status, r.body)
	}
	// Generation 2 rewrites c only; the sweep removes b but not the other
	// stream or the other replicator.
	statuses(t, call(t, http.MethodPut, u, testKey, put("contacts", 2, contact("c", "+31203333333"))))
	r = call(t, http.MethodPost, u+":sweep", testKey, map[string]any{"stream": "contacts", "generation": 2})
	if r.status != 200 || r.body["removed"] != 1.0 {
		t.Fatalf("sweep: %d %v", r.status, r.body)
	}
	var got []string
	for _, c := range s.Contacts("r1") {
		got = append(got, fmt.Sprintf("%s/%s@%d", c.Stream, c.Contact.SourceID, c.Generation))
	}
	if want := "accounts/x@1 contacts/c@2"; strings.Join(got, " ") != want {
		t.Errorf("after sweep %v, want %s", got, want)
	}
	if len(s.Contacts("r2")) != 1 {
		t.Error("the sweep touched another replicator")
	}
	if m := s.Lookup("+31202222222"); len(m) != 0 {
		t.Errorf("a swept contact still matches: %v", m)
	}
	if m := s.Lookup("+31201111111"); len(m) != 1 || m[0].ReplicatorID != "r2" {
		t.Errorf("deleted contact's number: %v", m)
	}
}

func TestLookup(t *testing.T) {
	s, url := newSim(t, Options{})
	twice := contact("p", "+31201234567", "+31612345678")
	twice.Phones = append(twice.Phones, ingest.Phone{Type: "mobile", Number: "+31612345678"})
	twice.Phones[1].Type = "mobile"
	statuses(t,
		call(t, http.MethodPut, url+"/v1/replicators/r1/contacts", testKey, put("contacts", 1, twice, contact("none"))))
	statuses(
		t,
		call(t,
			http.MethodPut, url+"/v1/replicators/r2/contacts", testKey, put("accounts", 1, contact("acme", "+31201234567"))),
	)

	r := call(t, http.MethodGet, url+"/v1/lookup?number=%2B31201234567", testKey, nil)
	if r.status != 200 {
		t.Fatalf("lookup: %d %v", r.status, r.body)
	}
	matches := r.body["matches"].([]any)
	if len(matches) != 2 {
		t.Fatalf("matches %v, want one per replicator", matches)
	}
	first := matches[0].(map[string]any)
	want := map[string]any{
		"display_name":  "Person p",
		"company":       "Acme",
		"url":           "https://crm.example/p",
		"source_id":     "p",
		"replicator_id": "r1",
		"phone_type":    "work",
	}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("match %s = %v, want %v", k, first[k], v)
		}
	}
	// The same number twice in one contact matches once; an unencoded +
	// (a space after decoding) is accepted for shell users.
	r = call(t, http.MethodGet, url+"/v1/lookup?number=+31612345678", testKey, nil)
	if m := r.body["matches"].([]any); len(m) != 1 || m[0].(map[string]any)["phone_type"] != "mobile" {
		t.Errorf("duplicate number matches: %v", r.body)
	}
	for _, bad := range []string{"0201234567", "%2B0", "", "abc"} {
		if r := call(t, http.MethodGet, url+"/v1/lookup?number="+bad, testKey, nil); r.status != 400 ||
			r.body["error"] != "invalid_number" {
			t.Errorf("lookup %q: %d %v", bad, r.status, r.body)
		}
	}
	if r := call(t, http.MethodGet, url+"/v1/lookup?number=%2B31201234567", "", nil); r.status != 401 {
		t.Errorf("lookup without key: %d", r.status)
	}
	// A changed number moves in the index.
	moved := contact("acme", "+31209999999")
	statuses(t, call(t, http.MethodPut, url+"/v1/replicators/r2/contacts", testKey, put("accounts", 1, moved)))
	if m := s.Lookup("+31201234567"); len(m) != 1 || m[0].SourceID != "p" {
		t.Errorf("old number still matches the moved contact: %v", m)
	}
	if m := s.Lookup("+31209999999"); len(m) != 1 || m[0].SourceID != "acme" {
		t.Errorf("new number: %v", m)
	}
}

func TestPersistenceAcrossRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "phonebook.json")
	opts := Options{DataFile: file, Keys: []string{testKey}, Replicators: []Replicator{{ID: "r1", Name: "One"}}}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	u := ts.URL + "/v1/replicators/r1/contacts"
	statuses(t,
		call(t, http.MethodPut, u, testKey, put("contacts", 7, contact("a", "+31201111111"), contact("b", "+31202222222"))))
	if err := s.AddReplicator(Replicator{ID: "r9", Name: "Added later"}); err != nil {
		t.Fatal(err)
	}
	ts.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The replicator added at run time survives, without being configured again.
	s2, url := newSim(t, Options{DataFile: file, Replicators: []Replicator{{ID: "r1", Name: "One"}}})
	got := s2.Contacts("r1")
	if len(got) != 2 || got[0].Generation != 7 || got[0].Contact.DisplayName != "Person a" {
		t.Fatalf("after restart: %+v", got)
	}
	if m := s2.Lookup("+31202222222"); len(m) != 1 || m[0].SourceID != "b" {
		t.Errorf("lookup after restart: %v", m)
	}
	if r := call(t, http.MethodGet, url+"/v1/replicators/r9", testKey, nil); r.status != 200 {
		t.Errorf("replicator added at run time: %d", r.status)
	}
	// So do the times: an older version is still refused.
	older := contact("a", "+31201111111")
	older.DisplayName, older.UpdatedAt = "Older", "2026-01-02T03:04:04Z"
	if got := statuses(
		t, call(t, http.MethodPut, url+"/v1/replicators/r1/contacts", testKey, put("contacts", 7, older)),
	); got[0] != "stale" {
		t.Errorf("older version after restart: %q, want stale", got)
	}
	// Generations survive too: a sweep in generation 8 removes both.
	r := call(t, http.MethodPost, url+"/v1/replicators/r1/contacts:sweep", testKey,
		map[string]any{"stream": "contacts", "generation": 8})
	if r.body["removed"] != 2.0 {
		t.Errorf("sweep after restart: %v", r.body)
	}
}

func TestPersistsWhileRunning(t *testing.T) {
	file := filepath.Join(t.TempDir(), "phonebook.json")
	_, url := newSim(t, Options{DataFile: file, PersistEvery: 10 * time.Millisecond})
	statuses(t,
		call(t, http.MethodPut, url+"/v1/replicators/r1/contacts", testKey, put("contacts", 1, contact("a", "+31201111111"))))
	deadline := time.Now().Add(10 * time.Second)
	for {
		other := newStore()
		if err := other.loadFile(file); err != nil {
			t.Fatal(err)
		}
		if len(other.contacts("r1")) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the data file was not written while running")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSyncWrites(t *testing.T) {
	file := filepath.Join(t.TempDir(), "phonebook.json")
	_, url := newSim(t, Options{DataFile: file, SyncWrites: true, PersistEvery: time.Hour})
	statuses(t,
		call(t, http.MethodPut, url+"/v1/replicators/r1/contacts", testKey, put("contacts", 1, contact("a", "+31201111111"))))
	other := newStore()
	if err := other.loadFile(file); err != nil {
		t.Fatal(err)
	}
	if len(other.contacts("r1")) != 1 {
		t.Error("the acknowledged write is not in the data file")
	}
}

func TestFaults(t *testing.T) {
	s, url := newSim(t, Options{})
	u := url + "/v1/replicators/r1/contacts"
	body := put("contacts", 1, contact("a", "+31201111111"))

	s.SetFault(Faults{RateLimited: 1, RetryAfter: 3, ServerErrors: 2, ServerErrorStatus: 502})
	r := call(t, http.MethodPut, u, testKey, body)
	if r.status != 429 || r.header.Get("Retry-After") != "3" || r.body["error"] != "rate_limited" {
		t.Errorf("first: %d %v %v", r.status, r.header, r.body)
	}
	for range 2 {
		if r := call(t, http.MethodGet, url+"/v1/replicators/r1", testKey, nil); r.status != 502 {
			t.Errorf("5xx fault: %d", r.status)
		}
	}
	if len(s.Contacts("r1")) != 0 {
		t.Error("a faulted request was applied")
	}
	statuses(t, call(t, http.MethodPut, u, testKey, body))

	// Dropped after apply: the client sees a broken connection, the change is there.
	s.SetFault(Faults{DropAfterApply: 1})
	b, _ := json.Marshal(put("contacts", 1, contact("b", "+31202222222")))
	req, _ := http.NewRequest(http.MethodPut, u, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+testKey)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped request got a response: %d", resp.StatusCode)
	}
	if len(s.Contacts("r1")) != 2 {
		t.Error("the dropped request was not applied")
	}
	if got := statuses(
		t, call(t, http.MethodPut, u, testKey, put("contacts", 1, contact("b", "+31202222222"))),
	); got[0] != "unchanged" {
		t.Errorf("repeat after drop: %v", got)
	}

	// Delay, switched through the admin API.
	r = call(t, http.MethodPut, url+"/admin/faults", "", map[string]any{"delay_ms": 50, "server_errors": 1})
	if r.status != 200 || r.body["delay_ms"] != 50.0 || r.body["server_errors"] != 1.0 {
		t.Fatalf("admin faults: %d %v", r.status, r.body)
	}
	if r := call(t, http.MethodGet, url+"/v1/lookup?number=%2B31201111111", testKey, nil); r.status != 503 {
		t.Errorf("admin-armed 5xx: %d", r.status)
	}
	start := time.Now()
	call(t, http.MethodGet, url+"/v1/lookup?number=%2B31201111111", testKey, nil)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("a delayed request took %v", d)
	}
	if r := call(t, http.MethodDelete, url+"/admin/faults", "", nil); r.body["delay_ms"] != 0.0 {
		t.Errorf("clearing faults: %v", r.body)
	}

	// Rejections by source id, for destinations' handling of per-item results.
	s.SetFault(Faults{RejectIDs: []string{"z"}})
	if got := statuses(
		t,
		call(t, http.MethodPut, u, testKey, put("contacts", 1, contact("z", "+31209999999"), contact("y", "+31208888888"))),
	); strings.Join(
		got,
		"|",
	) != "rejected: refused by the simulator's injected fault|created" {
		t.Errorf("reject fault: %q", got)
	}
	s.SetFault(Faults{})

	want := map[string]int64{
		EndpointPutContacts:    5,
		EndpointGetReplicator:  2,
		EndpointLookup:         2,
		EndpointDeleteContacts: 0,
		EndpointSweepContacts:  0,
	}
	got := s.Requests()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("requests[%s] = %d, want %d", k, got[k], v)
		}
	}
	if r := call(t, http.MethodGet, url+"/admin/requests", "", nil); r.body[EndpointPutContacts] != 5.0 {
		t.Errorf("admin requests: %v", r.body)
	}
}

func TestAdminReplicatorsAndKeys(t *testing.T) {
	s, url := newSim(t, Options{})
	if r := call(
		t, http.MethodPost, url+"/admin/replicators", "",
		Replicator{ID: "r3", Name: "Three", SourceType: "hubspot", Entity: "people"},
	); r.status != 200 {
		t.Fatalf("add replicator: %d %v", r.status, r.body)
	}
	if r := call(t, http.MethodPost, url+"/admin/keys", "", map[string]string{"key": "second"}); r.status != 204 {
		t.Fatalf("add key: %d", r.status)
	}
	r := call(t, http.MethodGet, url+"/v1/replicators/r3", "second", nil)
	if r.status != 200 || r.body["source_type"] != "hubspot" {
		t.Errorf("new replicator with new key: %d %v", r.status, r.body)
	}
	statuses(t,
		call(t, http.MethodPut, url+"/v1/replicators/r3/contacts", "second", put("people", 1, contact("a", "+31201111111"))))
	var listed []StoredContact
	resp, err := http.Get(url + "/admin/replicators/r3/contacts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&listed); err != nil || len(listed) != 1 || listed[0].Stream != "people" {
		t.Errorf("admin contacts: %v %+v", err, listed)
	}
	if len(s.Replicators()) != 3 {
		t.Errorf("replicators: %v", s.Replicators())
	}
}

func TestStart(t *testing.T) {
	s, err := New(Options{Keys: []string{testKey}, Replicators: []Replicator{{ID: "r1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("URL %q", s.URL())
	}
	if r := call(t, http.MethodGet, s.URL()+"/v1/replicators/r1", testKey, nil); r.status != 200 {
		t.Errorf("started server: %d", r.status)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(s.URL() + "/admin/faults"); err == nil {
		resp.Body.Close()
		t.Error("still serving after Close")
	}
}

// version is contact id with a name and an updated_at ("" leaves it out).
func version(id, name, updatedAt string) ingest.Contact {
	c := contact(id, "+31201234567")
	c.DisplayName, c.UpdatedAt = name, updatedAt
	return c
}

// storedName is the display name the phonebook holds for r1's contact id
// in stream contacts, and its generation.
func storedName(s *Server, id string) (string, uint64) {
	for _, c := range s.Contacts("r1") {
		if c.Stream == "contacts" && c.Contact.SourceID == id {
			return c.Contact.DisplayName, c.Generation
		}
	}
	return "", 0
}

// A version older than the stored one is answered stale and not applied;
// an equal time is not older, and a contact without a time is applied as
// before the contract compared times.
func TestStaleVersions(t *testing.T) {
	s, url := newSim(t, Options{})
	u := url + "/v1/replicators/r1/contacts"
	steps := []struct {
		name    string
		contact ingest.Contact
		status  string
		stored  string
	}{
		{"first", version("p", "Newer", "2026-01-02T10:00:00Z"), "created", "Newer"},
		{"older", version("p", "Older", "2026-01-02T09:59:59.999Z"), "stale", "Newer"},
		{"same version again", version("p", "Newer", "2026-01-02T10:00:00Z"), "unchanged", "Newer"},
		{"same instant in another offset", version("p", "Same instant", "2026-01-02T11:00:00+01:00"), "updated",
			"Same instant"},
		{"older in another offset", version("p", "Older", "2026-01-02T10:59:00+01:00"), "stale", "Same instant"},
		{"newer", version("p", "Newest", "2026-01-02T10:00:00.5Z"), "updated", "Newest"},
		{"without a time", version("p", "Timeless", ""), "updated", "Timeless"},
		{"older than nothing", version("p", "Has a time", "2020-01-01T00:00:00Z"), "updated", "Has a time"},
		{"not RFC 3339", version("p", "Bad time", "2026-01-02 10:00"),
			"rejected: updated_at is not an RFC 3339 time such as 2026-01-02T03:04:05Z", "Has a time"},
	}
	for _, st := range steps {
		got := statuses(t, call(t, http.MethodPut, u, testKey, put("contacts", 1, st.contact)))
		if len(got) != 1 || got[0] != st.status {
			t.Errorf("%s: results %q, want %q", st.name, got, st.status)
		}
		if m := s.Lookup("+31201234567"); len(m) != 1 || m[0].DisplayName != st.stored {
			t.Errorf("%s: lookup %+v, want %q", st.name, m, st.stored)
		}
	}
}

// A host that lost its claim can still deliver its writes and its sweep
// after the successor's. Neither may remove what the successor wrote: its
// late writes never lower an entry's generation below the successor's, so
// the successor's sweep keeps the entry, and its sweep's generation is
// older than the successor's.
func TestLateWriterAfterSuccessor(t *testing.T) {
	s, url := newSim(t, Options{})
	u := url + "/v1/replicators/r1/contacts"
	const t1, t2 = "2026-01-02T09:00:00Z", "2026-01-02T10:00:00Z"
	// The predecessor's earlier run, generation 5.
	statuses(
		t,
		call(t,
			http.MethodPut, u, testKey,
			put("contacts", 5, version("a", "A", t1), version("b", "B old", t1), version("c", "C", t1))),
	)
	// The successor's full refresh, generation 6: b changed, c was deleted in the CRM.
	statuses(t, call(t, http.MethodPut, u, testKey, put("contacts", 6, version("a", "A", t1), version("b", "B new", t2))))
	// The predecessor's late batch and sweep, generation 5.
	if got := statuses(
		t, call(t, http.MethodPut, u, testKey, put("contacts", 5, version("a", "A", t1), version("b", "B old", t1))),
	); strings.Join(
		got,
		" ",
	) != "unchanged stale" {
		t.Errorf("late batch: %q, want unchanged stale", got)
	}
	r := call(t, http.MethodPost, u+":sweep", testKey, map[string]any{"stream": "contacts", "generation": 5})
	if r.body["removed"] != 0.0 {
		t.Errorf("the late sweep removed %v entries, want 0", r.body["removed"])
	}
	// The successor's sweep removes c only.
	if r := call(
		t, http.MethodPost, u+":sweep", testKey, map[string]any{"stream": "contacts", "generation": 6},
	); r.body["removed"] != 1.0 {
		t.Errorf("the successor's sweep removed %v entries, want 1 (c)", r.body["removed"])
	}
	for id, want := range map[string]string{"a": "A", "b": "B new", "c": ""} {
		if name, gen := storedName(s, id); name != want || (want != "" && gen != 6) {
			t.Errorf("%s: stored %q in generation %d, want %q in 6", id, name, gen, want)
		}
	}
}

// A stale answer in a newer generation still shows the contact exists:
// the entry counts as written in that generation, so its sweep keeps it.
func TestStaleContactCountsForItsGeneration(t *testing.T) {
	s, url := newSim(t, Options{})
	u := url + "/v1/replicators/r1/contacts"
	statuses(t, call(t, http.MethodPut, u, testKey, put("contacts", 6, version("b", "B new", "2026-01-02T10:00:00Z"))))
	got := statuses(t,
		call(t, http.MethodPut, u, testKey, put("contacts", 7, version("b", "B old", "2026-01-02T09:00:00Z"))))
	if got[0] != "stale" {
		t.Fatalf("results %q, want stale", got)
	}
	r := call(t, http.MethodPost, u+":sweep", testKey, map[string]any{"stream": "contacts", "generation": 7})
	if r.body["removed"] != 0.0 {
		t.Errorf("the sweep removed %v entries, want 0", r.body["removed"])
	}
	if name, gen := storedName(s, "b"); name != "B new" || gen != 7 {
		t.Errorf("stored %q in generation %d, want %q in 7", name, gen, "B new")
	}
}
