//go:build unix

package e2e

import (
	"strings"
	"testing"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
)

// TestAuthorizeReadsCodeFromStandardInput: `authorize -code -` takes the
// grant code from standard input, so that it never shows in the process
// list, and asks nothing.
func TestAuthorizeReadsCodeFromStandardInput(t *testing.T) {
	f := newCRMFixture(t, zohosim.Options{Contacts: 10, Accounts: 2, Seed: 3})
	f.w.mustRun("init")
	cmd := f.w.command(t.Context(), "authorize", "-code", "-", "zoho.crm")
	cmd.Stdin = strings.NewReader(f.sim.IssueGrantCode(zohoScopes...) + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("authorize -code -: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Authorized source.zoho.crm") {
		t.Fatalf("authorize output:\n%s", out)
	}
	if strings.Contains(string(out), "Paste the grant code") || strings.Contains(string(out), "process list") {
		t.Errorf("authorize -code - prompted or warned:\n%s", out)
	}
	// The stored credentials work.
	r := f.w.mustRun("check", crmPipeline)
	if !strings.Contains(r.stdout, "source.zoho.crm: ok") {
		t.Errorf("check after authorize:\n%s", r.stdout)
	}
}
