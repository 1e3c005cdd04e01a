//go:build unix

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
)

// TestConnectLinkInBrowser drives a connect link in headless Chromium as
// a customer would: open it, choose "Connect with Zoho", accept on Zoho's
// consent page as a user of the EU data centre, come back to the org and
// the streams; the first run copies the contacts with record links built
// from the org. Then a second link, through the Self Client form.
func TestConnectLinkInBrowser(t *testing.T) {
	chromiumPath(t)
	f := newConnectFixture(t, zohosim.Options{Contacts: 40, Accounts: 8, Seed: 25, DC: "eu"})
	ctx := newBrowser(t, 3*time.Minute)
	b := tab{t, ctx}
	must, text := b.do, b.text

	link := f.link("72h")
	must("open the connect link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("connect-web")))
	if got := text("#for"); !strings.Contains(got, "source.zoho.crm") || !strings.Contains(got, crmPipeline) {
		t.Errorf("the connect page says it is for %q", got)
	}
	if got := text("#scopes"); !strings.Contains(got, "ZohoCRM.modules.contacts.READ") || !strings.Contains(got, "ZohoCRM.org.READ") {
		t.Errorf("the connect page's scopes: %q", got)
	}
	since := time.Now()
	must("choose Connect with Zoho", chromedp.Click(chromedp.ID("connect-web")), chromedp.WaitVisible(chromedp.ID("accept")))
	must("accept on Zoho's consent page", chromedp.Click(chromedp.ID("accept")), chromedp.WaitVisible(chromedp.ID("connected")))
	got := text("#connected")
	for _, want := range []string{"Connected to the Zoho CRM org", "data centre eu", "contacts: readable", "accounts: readable"} {
		if !strings.Contains(got, want) {
			t.Errorf("after connecting the page says %q, without %q", got, want)
		}
	}
	if got := text("#started"); !strings.Contains(got, crmPipeline) {
		t.Errorf("the page does not say the first run started: %q", got)
	}
	if run := f.waitRun(since); run["outcome"] != "succeeded" {
		t.Fatalf("the first run after connecting: %v", run)
	}
	f.checkRecordLinks()

	// The used link says so.
	must("open the used link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("error")))
	if got := text("#error"); !strings.Contains(got, "works only once") {
		t.Errorf("the used link says %q", got)
	}

	// A second link, through the customer's own Self Client.
	link = f.link("24h")
	must("open the second link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("connect-form")))
	if got := text("#reconnect"); !strings.Contains(got, "connected already") {
		t.Errorf("the second link's page does not say the source is connected: %q", got)
	}
	since = time.Now()
	must("fill in the Self Client form",
		chromedp.SendKeys(chromedp.ID("f-client_id"), f.sim.ClientID()),
		chromedp.SendKeys(chromedp.ID("f-client_secret"), f.sim.ClientSecret()),
		chromedp.SendKeys(chromedp.ID("f-data_centre"), "eu"),
		chromedp.SendKeys(chromedp.ID("f-grant_code"), f.sim.IssueGrantCode(zohoScopes...)),
		chromedp.Click(chromedp.ID("connect-form-submit")),
		chromedp.WaitVisible(chromedp.ID("connected")))
	if got := text("#connected"); !strings.Contains(got, "Connected to the Zoho CRM org") {
		t.Errorf("after the form the page says %q", got)
	}
	if run := f.waitRun(since); run["outcome"] != "succeeded" {
		t.Fatalf("the run after the form: %v", run)
	}
	if !f.connected() {
		t.Error("not connected")
	}
}
