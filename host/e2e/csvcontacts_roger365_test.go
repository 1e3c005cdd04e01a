//go:build unix

package e2e

import (
	"fmt"
	"maps"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/replicatorhq/replicator/connector/roger365/rogersim"
)

// The CSV contacts source feeds the ROGER365 destination under the host:
// a first sync stores every number the source could read and none it
// could not, an incremental one only what changed, and a full refresh
// removes the rows deleted from the file.
func TestCSVContactsIntoROGER365(t *testing.T) {
	roger, err := rogersim.New(rogersim.Options{Keys: []string{rogerKey}, Replicators: []rogersim.Replicator{{ID: "sheet", Name: "Sheet", SourceType: "csv", Entity: "contacts"}}})
	if err != nil {
		t.Fatal(err)
	}
	rs := httptest.NewServer(roger.Handler())
	t.Cleanup(func() { rs.Close(); _ = roger.Close() })
	t.Setenv("ROGER365_API_KEY", rogerKey)
	w := newWorkspace(t, fmt.Sprintf(`
source "csvcontacts" "sheet" {
  path             = "contacts.csv"
  default_region   = "NL"
  checkpoint_every = 2
}

destination "roger365" "phonebook" {
  api_url       = %q
  api_key       = env("ROGER365_API_KEY")
  replicator_id = "sheet"
}

pipeline "sheet" {
  source      = source.csvcontacts.sheet
  destination = destination.roger365.phonebook
  streams     = ["contacts"]
}
`, rs.URL), "replicator-source-csvcontacts", "replicator-destination-roger365")
	phonebook := func() map[string]string {
		out := map[string]string{}
		for _, c := range roger.Contacts("sheet") {
			out[c.Contact.SourceID] = c.Contact.DisplayName
			for _, p := range c.Contact.Phones {
				out[c.Contact.SourceID] += " " + p.Number
			}
		}
		return out
	}
	check := func(when string, want map[string]string) {
		t.Helper()
		if got := phonebook(); !maps.Equal(got, want) {
			t.Errorf("%s: phonebook %v, want %v", when, got, want)
		}
	}

	// 4's number has no country and its country column none either: the
	// source leaves it unread and the destination does not guess it.
	w.write("contacts.csv", "id,updated_at,first_name,last_name,phone,country\n"+
		"1,2026-05-01T10:00:00Z,Ada,Lovelace,020 123 4567,\n"+
		"2,2026-05-01T10:00:00Z,Alan,Turing,030 1234567,DE\n"+
		"3,2026-05-01T11:00:00Z,Grace,Hopper,+1 202 555 0143,\n"+
		"4,2026-05-01T11:00:00Z,Edsger,Dijkstra,0612345678,Atlantis\n")
	w.mustRun("validate")
	w.mustRun("init")
	w.mustRun("sync", "sheet")
	check("first sync", map[string]string{"1": "Ada Lovelace +31201234567", "2": "Alan Turing +49301234567", "3": "Grace Hopper +12025550143"})

	// 1 changes, 3 is deleted from the file: an incremental sync reads 1.
	w.write("contacts.csv", "id,updated_at,first_name,last_name,phone,country\n"+
		"1,2026-05-02T09:00:00Z,Ada,King,020 123 4567,\n"+
		"2,2026-05-01T10:00:00Z,Alan,Turing,030 1234567,DE\n"+
		"4,2026-05-01T11:00:00Z,Edsger,Dijkstra,0612345678,Atlantis\n")
	w.mustRun("sync", "sheet")
	check("incremental sync", map[string]string{"1": "Ada King +31201234567", "2": "Alan Turing +49301234567", "3": "Grace Hopper +12025550143"})

	w.mustRun("sync", "-full-refresh", "sheet")
	check("full refresh", map[string]string{"1": "Ada King +31201234567", "2": "Alan Turing +49301234567"})
	// The run history says why numbers were left out, on both sides.
	st := w.mustRun("status", "sheet")
	for _, counter := range []string{"phones_unknown_country", "unread_numbers", "swept"} {
		if !strings.Contains(st.stdout, counter) {
			t.Errorf("status lacks counter %s:\n%s", counter, st.stdout)
		}
	}
}
