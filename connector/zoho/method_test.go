package zoho

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// A full sync reads a small module through the records API and a large one
// through Bulk Read, whichever Zoho's record count (a string in its OpenAPI
// file) says costs less. The bench's zoho_small_full_credits measures a
// small org too.
func TestFullSyncMethodByCount(t *testing.T) {
	for _, tc := range []struct {
		name               string
		contacts, accounts int
		jobs, credits      int64 // Bulk Read jobs; credits at most
	}{
		// Bulk Read for the contacts (about 56), three records API pages
		// for the accounts, two counts, metadata and the org.
		{"large contacts", 15000, 500, 1, 70},
		// 10 and 1 records API pages, two counts, metadata and the org.
		{"small org", 2000, 200, 0, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, zohosim.Options{Contacts: tc.contacts, Accounts: tc.accounts})
			h.src.tune.bulkFrom = 0
			h.authorize(allScopes...)
			before := h.sim.Credits()
			h.catalog()
			out := h.mustRead(contract.ReadStream{Name: "contacts", Generation: 1},
				contract.ReadStream{Name: "accounts", Generation: 1})
			spent := h.sim.Credits() - before
			calls := h.sim.Calls()
			if calls["bulk/create"] != tc.jobs || calls["count"] != 2 {
				t.Errorf("%d Bulk Read jobs and %d counts, want %d and one per stream",
					calls["bulk/create"], calls["count"], tc.jobs)
			}
			if got, want := len(out.records), tc.contacts+tc.accounts; got != want {
				t.Errorf("%d records, want %d", got, want)
			}
			if spent > tc.credits || out.counts["api_credits"] != spent {
				t.Errorf("the org charged %d credits, want at most %d; api_credits %d",
					spent, tc.credits, out.counts["api_credits"])
			}
		})
	}
}

// full_sync_method overrides the choice, without counting.
func TestFullSyncMethodAttribute(t *testing.T) {
	for _, tc := range []struct{ method, want string }{{"bulk_read", "bulk/create"}, {"records_api", "records"}} {
		t.Run(tc.method, func(t *testing.T) {
			h := newHarness(t, zohosim.Options{Contacts: 300, Accounts: 5})
			h.src.tune.bulkFrom = 0
			h.authorize(allScopes...)
			out, err := h.read(t.Context(),
				map[string]any{"full_sync_method": tc.method}, contract.ReadStream{Name: "contacts", Generation: 1})
			if err != nil {
				t.Fatal(err)
			}
			calls := h.sim.Calls()
			if calls[tc.want] == 0 || calls["count"] != 0 || len(out.records) != 300 {
				t.Errorf("%d records, calls %v", len(out.records), calls)
			}
		})
	}
	fast := `{"domain":"eu","client_id":"1","client_secret":"s","full_sync_method":"fast"}`
	if _, err := parseConfig([]byte(fast)); err == nil ||
		!strings.Contains(err.Error(), `full_sync_method "fast" is unknown: use auto, bulk_read or records_api`) {
		t.Errorf("an unknown full_sync_method: %v", err)
	}
}

// The break-even: the records API below about 11,000 records of one field
// group, Bulk Read above.
func TestFullSyncCredits(t *testing.T) {
	r := &reader{
		mod:  &module{streamInfo: streamInfos()[0], fields: []field{{APIName: "Last_Name", DataType: "text"}}},
		tune: testTuning(),
	}
	for _, tc := range []struct {
		n           int64
		records     int64
		bulk        int64
		recordsWins bool
	}{
		{0, 1, 56, true},
		{5000, 25, 56, true},
		{11000, 55, 56, true},
		{11400, 57, 56, false},
		{1000000, 5000, 5 * 56, false},
	} {
		records, bulk := r.fullSyncCredits(tc.n)
		if records != tc.records || bulk != tc.bulk || (records < bulk) != tc.recordsWins {
			t.Errorf("%d records: records API %d, Bulk Read %d; want %d and %d", tc.n, records, bulk, tc.records, tc.bulk)
		}
	}
}

// Zoho's count is a string in its OpenAPI file; a number is read too.
func TestCountReadsAStringOrANumber(t *testing.T) {
	for _, tc := range []struct {
		body string
		want int64
		ok   bool
	}{
		{`{"count":"55"}`, 55, true},
		{`{"count":55}`, 55, true},
		{`{"count":"0"}`, 0, true},
		{`{"count":"5.5"}`, 0, false},
		{`{"count":"-1"}`, 0, false},
		{`{"count":"many"}`, 0, false},
		{`{"count":true}`, 0, false},
	} {
		var body struct {
			Count count `json:"count"`
		}
		err := json.Unmarshal([]byte(tc.body), &body)
		if (err == nil) != tc.ok || (tc.ok && int64(body.Count) != tc.want) {
			t.Errorf("%s: count %d, error %v", tc.body, body.Count, err)
		}
	}
}
