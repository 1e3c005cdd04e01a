package zoho

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/schemas"
)

func TestFullSyncWithBulkRead(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 2500, Accounts: 300, Seed: 7, BulkPageSize: 1000})
	h.authorize(allScopes...)
	cat := h.catalog()
	before := h.sim.Credits()
	out := h.mustRead(contract.ReadStream{Name: "contacts", Generation: 3}, contract.ReadStream{Name: "accounts", Generation: 5})

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
	if want := []contract.FullRefreshComplete{{Stream: "contacts", Generation: 3}, {Stream: "accounts", Generation: 5}}; !slices.Equal(out.full, want) {
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

	var c schemas.Contact
	if err := json.Unmarshal(out.records[0].Data, &c); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", out.records[0].Data)
}
