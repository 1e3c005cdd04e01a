package zoho

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/schemas"
)

// Renaming or deleting an account leaves its contacts' Modified_Time alone;
// the next incremental run still gives them the current company, or none,
// and a contact moved to another account shows the new one.
func TestAccountChangesReachTheirContacts(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 400, Accounts: 80, Seed: 5})
	h.authorize(allScopes...)
	full := h.mustRead(contract.ReadStream{Name: "contacts", Generation: 1})
	state := full.lastState("contacts")

	byAccount := map[string][]string{}
	for id, rec := range h.sim.Records("Contacts") {
		if acc, ok := rec["Account_Name"].(map[string]any); ok {
			byAccount[acc["id"].(string)] = append(byAccount[acc["id"].(string)], id)
		}
	}
	var accounts []string
	for acc, contacts := range byAccount {
		if len(contacts) >= 2 {
			accounts = append(accounts, acc)
		}
	}
	slices.Sort(accounts)
	if len(accounts) < 2 {
		t.Fatalf("only %d accounts with two contacts", len(accounts))
	}
	renamed, deleted := accounts[0], accounts[1]
	moved := byAccount[renamed][0]
	other := h.sim.Create("Accounts", map[string]any{"Account_Name": "Ziel GmbH"})

	h.clock.Add(time.Minute)
	if err := h.sim.Update("Contacts", moved, map[string]any{"Account_Name": other}); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.Update("Accounts", renamed, map[string]any{"Account_Name": "Hernoemd B.V."}); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.Delete("Accounts", deleted); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(2 * time.Minute)
	calls := h.sim.Calls()["coql"]
	out := h.mustRead(contract.ReadStream{Name: "contacts", State: state, Generation: 2})

	last := map[string]schemas.Contact{}
	for _, r := range out.records {
		if r.Op != contract.Upsert {
			t.Fatalf("%s %s", r.Op, r.Key)
		}
		var c schemas.Contact
		if err := json.Unmarshal(r.Data, &c); err != nil {
			t.Fatal(err)
		}
		last[r.Key] = c
	}
	want := map[string]string{moved: "Ziel GmbH"}
	for _, id := range byAccount[renamed][1:] {
		want[id] = "Hernoemd B.V."
	}
	for _, id := range byAccount[deleted] {
		want[id] = ""
	}
	for id, company := range want {
		c, ok := last[id]
		if !ok {
			t.Errorf("contact %s was not read again", id)
			continue
		}
		if c.Company != company {
			t.Errorf("contact %s: company %q, want %q", id, c.Company, company)
		}
	}
	if len(last) != len(want) {
		t.Errorf("%d contacts read, want %d", len(last), len(want))
	}
	// The changes, the changed accounts, and one query for their contacts.
	if n := h.sim.Calls()["coql"] - calls; n != 3 {
		t.Errorf("%d COQL calls, want 3", n)
	}
	state = next(state, out)

	// Nothing changed since: nothing is read again.
	h.clock.Add(2 * time.Minute)
	out = h.mustRead(contract.ReadStream{Name: "contacts", State: state, Generation: 3})
	if len(out.records) != 0 {
		t.Errorf("%d records read again with nothing changed", len(out.records))
	}
	state = next(state, out)

	// Sixty changed accounts take two batches of queries for their
	// contacts: the first batch's contacts fill a page of 200 and spill
	// into a second one, the second batch's fit one page.
	h.clock.Add(time.Minute)
	for _, acc := range simIDs(h.sim, "Accounts")[:60] {
		if err := h.sim.Update("Accounts", acc, map[string]any{"Website": "https://example.nl"}); err != nil {
			t.Fatal(err)
		}
	}
	h.clock.Add(2 * time.Minute)
	calls = h.sim.Calls()["coql"]
	h.mustRead(contract.ReadStream{Name: "contacts", State: state, Generation: 4})
	if n := h.sim.Calls()["coql"] - calls; n != 5 {
		t.Errorf("%d COQL calls for 60 changed accounts, want 5", n)
	}
}

// A contacts checkpoint written before accounts were followed has no
// accounts_since: the next incremental run follows accounts from where its
// deletions were read, so a rename since then still reaches the contacts.
func TestAccountChangesFromAnOlderCheckpoint(t *testing.T) {
	h := newHarness(t, zohosim.Options{Contacts: 200, Accounts: 40, Seed: 9})
	h.authorize(allScopes...)
	full := h.mustRead(contract.ReadStream{Name: "contacts", Generation: 1})
	var older map[string]any
	if err := json.Unmarshal(full.lastState("contacts"), &older); err != nil {
		t.Fatal(err)
	}
	if _, ok := older["accounts_since"]; !ok {
		t.Fatalf("the checkpoint %v has no accounts_since to leave out", older)
	}
	delete(older, "accounts_since")
	state, _ := json.Marshal(older)

	byAccount := map[string][]string{}
	for id, rec := range h.sim.Records("Contacts") {
		if acc, ok := rec["Account_Name"].(map[string]any); ok {
			byAccount[acc["id"].(string)] = append(byAccount[acc["id"].(string)], id)
		}
	}
	var renamed string
	for acc := range byAccount {
		renamed = acc
		break
	}
	h.clock.Add(time.Minute)
	if err := h.sim.Update("Accounts", renamed, map[string]any{"Account_Name": "Hernoemd B.V."}); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(2 * time.Minute)
	out := h.mustRead(contract.ReadStream{Name: "contacts", State: state, Generation: 2})
	read := map[string]string{}
	for _, r := range out.records {
		var c schemas.Contact
		if err := json.Unmarshal(r.Data, &c); err != nil {
			t.Fatal(err)
		}
		read[r.Key] = c.Company
	}
	for _, id := range byAccount[renamed] {
		if read[id] != "Hernoemd B.V." {
			t.Errorf("contact %s of the renamed account: read again %v, company %q", id, read[id] != "", read[id])
		}
	}
	if !json.Valid(out.lastState("contacts")) || !strings.Contains(string(out.lastState("contacts")), "accounts_since") {
		t.Errorf("the next checkpoint does not follow accounts: %s", out.lastState("contacts"))
	}
}
