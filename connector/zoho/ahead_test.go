package zoho

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/keyset"
)

// aheadOrg is an org read in full and once incrementally by a source with
// notifications on, with changes made a second ago: a contact changed, one
// created and one deleted, and an account renamed.
type aheadOrg struct {
	h       *harness
	states  map[string]json.RawMessage
	changed string // the contact changed
	created string // the contact created
	deleted string // the contact deleted
	account string // the account renamed
	// contacts are the renamed account's contacts.
	contacts []string
}

func newAheadOrg(t *testing.T) *aheadOrg {
	t.Helper()
	h := newHarness(t, zohosim.Options{Contacts: 200, Accounts: 30, Seed: 9})
	h.cfg["notifications"] = true
	h.authorize(allScopes...)
	o := &aheadOrg{h: h, states: map[string]json.RawMessage{"contacts": nil, "accounts": nil}}
	h.run(o.states, 1)
	h.clock.Add(2 * time.Minute)
	// Nothing changed: reading ahead costs what an idle run costs.
	before := h.sim.Credits()
	if out := h.run(o.states, 2); len(out.records) != 0 || h.sim.Credits()-before != 4 {
		t.Fatalf("an idle run read %d records for %d credits, want none for 4", len(out.records),
			h.sim.Credits()-before)
	}

	o.account = simIDs(h.sim, "Accounts")[4]
	for id, c := range h.sim.Records("Contacts") {
		if l, _ := c["Account_Name"].(map[string]any); l != nil && l["id"] == o.account {
			o.contacts = append(o.contacts, id)
		}
	}
	if len(o.contacts) == 0 {
		t.Fatal("the account has no contacts; pick another")
	}
	o.changed, o.deleted = contactID(5), contactID(7)
	if slices.Contains(o.contacts, o.changed) || slices.Contains(o.contacts, o.deleted) {
		t.Fatal("a changed contact belongs to the renamed account; pick others")
	}
	if err := h.sim.Update("Contacts", o.changed, map[string]any{"Last_Name": "Gewijzigd"}); err != nil {
		t.Fatal(err)
	}
	o.created = h.sim.Create("Contacts", map[string]any{"Last_Name": "Nieuw", "Phone": "020 555 0101"})
	if o.created == "" {
		t.Fatal("create refused")
	}
	if err := h.sim.Delete("Contacts", o.deleted); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.Update("Accounts", o.account, map[string]any{"Account_Name": "Hernoemd B.V."}); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(time.Second)
	return o
}

// checkWindow checks that each stream's checkpoint stays at or before the
// end of the run's window, though the run read past it.
func (o *aheadOrg) checkWindow(t *testing.T) {
	t.Helper()
	end := keyset.End(o.h.clock.Now(), lag)
	for name, raw := range o.states {
		st, err := parseState(raw)
		if err != nil {
			t.Fatal(err)
		}
		if st.Cursor == nil || st.Cursor.Modified.After(end) {
			t.Errorf("%s: cursor %+v past the window's end %s", name, st.Cursor, end)
		}
		if !st.DeletedSince.Equal(end) {
			t.Errorf("%s: deleted_since %s, want the window's end %s", name, st.DeletedSince, end)
		}
		if name == "contacts" && !st.AccountsSince.Equal(end) {
			t.Errorf("contacts: accounts_since %s, want the window's end %s", st.AccountsSince, end)
		}
	}
}

// upserts returns the upserted records by key, the last of each.
func upserts(out *memOut) map[string]contract.Record {
	m := map[string]contract.Record{}
	for _, r := range out.records {
		if r.Op == contract.Upsert {
			m[r.Key] = r
		}
	}
	return m
}

// With notifications, a run woken by a callback a second after a change
// reads it, though it is younger than the lag, with the same calls an
// idle run makes; the checkpoint stays at the window's end.
func TestNotifiedRunReadsAChangeMadeASecondAgo(t *testing.T) {
	o := newAheadOrg(t)
	h := o.h
	calls := h.sim.Calls()
	out := h.run(o.states, 3)

	got := upserts(out)
	for _, id := range []string{o.changed, o.created, o.account} {
		if _, ok := got[id]; !ok {
			t.Errorf("record %s changed a second ago was not read", id)
		}
	}
	if !strings.Contains(string(got[o.changed].Data), "Gewijzigd") {
		t.Errorf("the changed contact: %s", got[o.changed].Data)
	}
	for _, id := range o.contacts {
		if !strings.Contains(string(got[id].Data), `"company":"Hernoemd B.V."`) {
			t.Errorf("contact %s of the account renamed a second ago lacks the new company: %s", id, got[id].Data)
		}
	}
	if d := out.keys(contract.Delete); !slices.Equal(d, []string{o.deleted}) {
		t.Errorf("deletes %v, want %v", d, []string{o.deleted})
	}
	// Changed accounts, changed contacts, contacts of the changed account:
	// as many calls as when the changes are older than the lag.
	if d := diffCalls(calls, h.sim.Calls()); d["coql"] != 3 || d["deleted"] != 2 || len(d) != 2 {
		t.Errorf("calls %v, want 3 COQL queries and 2 pages of deletions", d)
	}
	o.checkWindow(t)
}

// The next run reads what was read ahead again, with the same SourceTime,
// and a write stamped inside the lag that becomes visible only after a
// run read past it is not skipped: the cursor never passed it.
func TestReadAheadLosesNoLateWrite(t *testing.T) {
	o := newAheadOrg(t)
	h := o.h
	first := upserts(h.run(o.states, 3))

	// A save Zoho stamped 30 seconds ago, before the records read ahead,
	// committed only now.
	stamped := h.clock.Now().Add(-30 * time.Second).Truncate(time.Second)
	late, err := h.sim.CreateRecord("Contacts",
		map[string]any{"Last_Name": "Laat", "Phone": "020 555 0102", "Modified_Time": stamped.Format(time.RFC3339)})
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Add(time.Second)
	out := h.run(o.states, 4)
	again := upserts(out)
	if _, ok := again[late]; !ok {
		t.Errorf("the write stamped inside the lag and visible late was not read")
	}
	for _, id := range []string{o.changed, o.created} {
		r, ok := again[id]
		if !ok {
			t.Errorf("record %s read ahead was not read again", id)
			continue
		}
		if !r.SourceTime.Equal(first[id].SourceTime) {
			t.Errorf("record %s read again with SourceTime %s, first %s", id, r.SourceTime, first[id].SourceTime)
		}
	}
	if d := out.keys(contract.Delete); !slices.Equal(d, []string{o.deleted}) {
		t.Errorf("deletes %v, want %v read again", d, []string{o.deleted})
	}
	o.checkWindow(t)

	// Once the window passes them they are read a last time, then no more.
	h.clock.Add(2 * time.Minute)
	if _, ok := upserts(h.run(o.states, 5))[late]; !ok {
		t.Error("the late write was not read when the window passed it")
	}
	h.clock.Add(2 * time.Minute)
	if out := h.run(o.states, 6); len(out.records) != 0 {
		t.Errorf("a run after the window passed every change read %d records", len(out.records))
	}
}
