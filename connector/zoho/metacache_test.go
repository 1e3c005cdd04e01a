package zoho

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// metaCalls is how many times the org and the fields were read so far.
func metaCalls(h *harness) int64 {
	c := h.sim.Calls()
	return c["org"] + c["settings/fields"]
}

// run is one run as the host makes it: Discover, then Read of the
// streams from their states, which it moves on.
func (h *harness) run(states map[string]json.RawMessage, gen uint64) *memOut {
	h.t.Helper()
	h.catalog()
	var streams []contract.ReadStream
	for _, name := range []string{"contacts", "accounts"} {
		if st, ok := states[name]; ok {
			streams = append(streams, contract.ReadStream{Name: name, State: st, Generation: gen})
		}
	}
	out := h.mustRead(streams...)
	for name := range states {
		if st := out.lastState(name); st != nil {
			states[name] = st
		}
	}
	return out
}

// The org and the fields are read once an hour, not every run: the
// credentials keep them.
func TestMetadataIsCachedForAnHour(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 40, Accounts: 10})
	h.authorize(allScopes...)
	states := map[string]json.RawMessage{"contacts": nil, "accounts": nil}
	h.run(states, 1)
	if n := metaCalls(h); n != 3 {
		t.Fatalf("the first run read the org and the fields %d times, want 3", n)
	}
	for i := range 3 {
		h.clock.Add(10 * time.Minute)
		h.run(states, uint64(2+i))
	}
	if n := metaCalls(h); n != 3 {
		t.Errorf("%d reads of the org and the fields after three more runs within the hour, want none", n-3)
	}
	// A new plugin process, as every run has, finds them in the
	// credentials too.
	h.src = newSource(h)
	h.clock.Add(10 * time.Minute)
	h.run(states, 5)
	if n := metaCalls(h); n != 3 {
		t.Errorf("a new process read the org and the fields again")
	}
	h.clock.Add(21 * time.Minute)
	h.run(states, 6)
	if n := metaCalls(h); n != 6 {
		t.Errorf("after an hour: %d reads of the org and the fields, want 3 more", n-3)
	}
}

// editCache changes the fields the credentials keep for module.
func (h *harness) editCache(module string, edit func([]field) []field) {
	h.t.Helper()
	var cr credentials
	if err := json.Unmarshal(h.creds, &cr); err != nil || cr.Meta == nil {
		h.t.Fatalf("credentials without a metadata cache: %s", h.creds)
	}
	c := cr.Meta.Modules[module]
	c.Fields = edit(c.Fields)
	cr.Meta.Modules[module] = c
	b, err := json.Marshal(cr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.creds = b
}

func cachedFieldNames(t *testing.T, creds json.RawMessage, module string) []string {
	t.Helper()
	var cr credentials
	if err := json.Unmarshal(creds, &cr); err != nil || cr.Meta == nil {
		t.Fatalf("credentials without a metadata cache: %s", creds)
	}
	var names []string
	for _, f := range cr.Meta.Modules[module].Fields {
		names = append(names, f.APIName)
	}
	return names
}

// An administrator adds a phone field while the cache does not know it:
// records changed meanwhile are read without it, and once the cache is
// refreshed they are read again, with it. Nothing is lost to the cache.
func TestRecordsChangedBeforeANewFieldWasKnownAreReadAgain(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 30, Accounts: 5})
	h.authorize(allScopes...)
	h.catalog()
	// The cache as it was before Direct_Line existed.
	h.editCache("Contacts", func(fs []field) []field {
		return slices.DeleteFunc(fs, func(f field) bool { return f.APIName == "Direct_Line" })
	})
	states := map[string]json.RawMessage{"contacts": nil}
	h.run(states, 1)

	h.clock.Add(5 * time.Minute)
	id := simIDs(h.sim, "Contacts")[3]
	if err := h.sim.Update("Contacts", id, map[string]any{"Direct_Line": "+31 30 765 4321"}); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(5 * time.Minute)
	out := h.run(states, 2)
	if got := phoneOf(t, out, id, "+31307654321"); got {
		t.Fatal("the run read Direct_Line, which the cache does not know; the test no longer tests the cache")
	}

	// An hour on, the fields are read again, Direct_Line among them, and
	// the contact changed since the cache's fields were listed comes
	// again, with its new phone.
	h.clock.Add(time.Hour)
	out = h.run(states, 3)
	if !slices.Contains(cachedFieldNames(t, h.creds, "Contacts"), "Direct_Line") {
		t.Fatal("the refreshed cache lacks Direct_Line")
	}
	if !phoneOf(t, out, id, "+31307654321") {
		t.Errorf("contact %s, changed while the cache lacked Direct_Line, was not read again with it", id)
	}
	// Once read with the new fields, the stream does not go back again.
	h.clock.Add(5 * time.Minute)
	if out := h.run(states, 4); len(out.records) != 0 {
		t.Errorf("%d records read again with nothing changed", len(out.records))
	}
}

// phoneOf reports whether the run emitted record id with the number.
func phoneOf(t *testing.T, out *memOut, id, number string) bool {
	t.Helper()
	for _, r := range out.records {
		if r.Key == id && r.Op == contract.Upsert && strings.Contains(string(r.Data), `"number":"`+number+`"`) {
			return true
		}
	}
	return false
}

// An administrator deletes a field the cache still names: Zoho refuses
// the query, and the run reads the fields again and goes on, whether it
// reads changes (COQL) or everything (Bulk Read).
func TestACachedFieldZohoRefusesIsReadAgain(t *testing.T) {
	for _, full := range []bool{false, true} {
		h := newHarness(t, zohosim.Options{Contacts: 30, Accounts: 5})
		h.authorize(allScopes...)
		states := map[string]json.RawMessage{"contacts": nil}
		h.run(states, 1)
		h.editCache("Contacts", func(fs []field) []field {
			return append(fs, field{APIName: "Gone_Field", Label: "Gone", DataType: "text", Custom: true})
		})
		if full {
			states["contacts"] = nil
		}
		h.clock.Add(5 * time.Minute)
		id := simIDs(h.sim, "Contacts")[0]
		if err := h.sim.Update("Contacts", id, map[string]any{"Title": "Chief"}); err != nil {
			t.Fatal(err)
		}
		h.clock.Add(5 * time.Minute)
		out := h.mustRead(contract.ReadStream{Name: "contacts", State: states["contacts"], Generation: 2})
		if !slices.Contains(out.keys(contract.Upsert), id) {
			t.Errorf("full=%v: the changed contact was not read", full)
		}
		if names := cachedFieldNames(t, h.creds, "Contacts"); slices.Contains(names, "Gone_Field") {
			t.Errorf("full=%v: the cache still names the deleted field", full)
		}
	}
}

// An incremental run of contacts and accounts with nothing changed costs
// four credits: a COQL page of 200 and a page of deletions for each
// module. The accounts the contacts follow are those the accounts stream
// read in the same run, and a renamed account still reaches its contacts.
func TestIdleRunOfBothStreamsCostsFourCredits(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 200, Accounts: 30})
	h.authorize(allScopes...)
	states := map[string]json.RawMessage{"contacts": nil, "accounts": nil}
	h.run(states, 1)
	for i := range 3 {
		h.clock.Add(2 * time.Minute)
		before, calls := h.sim.Credits(), h.sim.Calls()
		out := h.run(states, uint64(2+i))
		if spent := h.sim.Credits() - before; spent != 4 || out.counts["api_credits"] != 4 {
			t.Errorf("idle run %d cost %d credits (api_credits %d), want 4; calls %v",
				i+1, spent, out.counts["api_credits"], diffCalls(calls, h.sim.Calls()))
		}
		if len(out.records) != 0 {
			t.Errorf("idle run %d read %d records", i+1, len(out.records))
		}
	}

	// A renamed account: its contacts come with the new company name, and
	// no query asks again which accounts changed.
	acc := simIDs(h.sim, "Accounts")[4]
	var contacts []string
	for id, c := range h.sim.Records("Contacts") {
		if l, _ := c["Account_Name"].(map[string]any); l != nil && l["id"] == acc {
			contacts = append(contacts, id)
		}
	}
	if len(contacts) == 0 {
		t.Fatal("the account has no contacts; pick another")
	}
	h.clock.Add(time.Minute)
	if err := h.sim.Update("Accounts", acc, map[string]any{"Account_Name": "Renamed B.V."}); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(2 * time.Minute)
	calls := h.sim.Calls()
	out := h.run(states, 9)
	for _, id := range contacts {
		found := false
		for _, r := range out.records {
			found = found || r.Key == id && strings.Contains(string(r.Data), `"company":"Renamed B.V."`)
		}
		if !found {
			t.Errorf("contact %s of the renamed account was not read again with its new company", id)
		}
	}
	// Changed accounts, changed contacts, contacts of the changed account.
	if d := diffCalls(calls, h.sim.Calls()); d["coql"] != 3 || d["deleted"] != 2 {
		t.Errorf("calls %v, want 3 COQL queries and 2 pages of deletions", d)
	}
}

func diffCalls(before, after map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for k, v := range after {
		if n := v - before[k]; n != 0 {
			d[k] = n
		}
	}
	return d
}
