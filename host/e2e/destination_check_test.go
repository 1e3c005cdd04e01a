//go:build unix

package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
)

// TestRefusedDestinationSpendsNoSourceCredits: a run whose ROGER365
// destination refuses its configuration (a replicator_id ROGER365 does not
// know) fails on the destination's check, before the Zoho source is asked
// anything: the org's credits are untouched, run after run.
func TestRefusedDestinationSpendsNoSourceCredits(t *testing.T) {
	f := newCRMFixture(t, zohosim.Options{Contacts: 20, Accounts: 4, Seed: 5})
	f.w.mustRun("init")
	f.authorize()
	hcl, err := os.ReadFile(f.w.path("replicator.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	f.w.write("replicator.hcl", strings.Replace(string(hcl), `"`+crmReplicator+`"`, `"no-such-replicator"`, 1))
	f.sim.ResetCredits()
	for range 2 {
		r := f.w.run("sync", crmPipeline)
		if r.code == 0 {
			t.Fatalf("sync with an unknown replicator succeeded:\n%s", r.stdout)
		}
		if !strings.Contains(r.stderr, "destination.roger365.phonebook") || !strings.Contains(r.stderr, "no-such-replicator") {
			t.Errorf("the error does not name the destination and its replicator:\n%s", r.stderr)
		}
	}
	if n := f.sim.Credits(); n != 0 {
		t.Errorf("the Zoho source spent %d credits on runs whose destination refused its configuration, want 0", n)
	}
	if calls := f.sim.Calls(); len(calls) != 0 {
		t.Errorf("Zoho got calls on runs whose destination refused its configuration: %v", calls)
	}
	if n := f.storedContacts("contacts"); n != 0 {
		t.Errorf("%d contacts stored", n)
	}
}
