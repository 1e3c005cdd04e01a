//go:build unix

package e2e

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
)

// The provider of TestConsoleTriageInBrowser: triageTenants pipelines, of
// which triageFailing fail (their source's plugin exits after 3 records)
// and the triageUnauthorized from triageFirstZoho on read a Zoho source
// that has no credentials yet.
const (
	triageTenants      = 2000
	triageFirstZoho    = 1900
	triageUnauthorized = 15
)

// triageFailing fail in this order, so that the oldest failure is not
// the first by name.
var triageFailing = []string{"tenant-1500", "tenant-0042", "tenant-0777"}

// triageConfig is the provider's configuration: generator -> jsonl
// pipelines that run only when asked (a host with an interval on each
// would run all 2,000 within its first minute), the failing ones with a
// source that crashes, and the Zoho ones.
func triageConfig(sim *zohosim.Server, simURL string) string {
	var b strings.Builder
	b.WriteString("host {\n  listen        = \"127.0.0.1:0\"\n  console_token = env(\"REPLICATOR_CONSOLE_TOKEN\")\n}\n")
	for i := range triageTenants {
		name := fmt.Sprintf("tenant-%04d", i)
		source := "generator"
		switch {
		case i >= triageFirstZoho && i < triageFirstZoho+triageUnauthorized:
			source = "zoho"
			fmt.Fprintf(&b, `source "zoho" %q {
  domain        = %q
  client_id     = %q
  client_secret = env("ZOHO_CLIENT_SECRET")
  accounts_url  = "%s/accounts/{dc}"
  api_url       = %q
}
`, name, sim.DC(), sim.ClientID(), simURL, simURL)
		case slices.Contains(triageFailing, name):
			fmt.Fprintf(&b, "source \"generator\" %q {\n  count      = 10\n  fail_after = 3\n}\n", name)
		default:
			fmt.Fprintf(&b, "source \"generator\" %q {\n  count = 5\n}\n", name)
		}
		fmt.Fprintf(&b, `destination "jsonl" %[1]q {
  path = "out-%[1]s.jsonl"
}
pipeline %[1]q {
  source      = source.%[2]s.%[1]s
  destination = destination.jsonl.%[1]s
  streams     = [%[3]q]
}
`, name, source, map[bool]string{true: "contacts", false: "items"}[source == "zoho"])
	}
	return b.String()
}

// TestConsoleTriageInBrowser is an operator of 2,000 tenants on a phone
// (a 390 px wide screen): the counts say 3 pipelines fail and 15 need
// authorization; the failed filter lists the failing ones, the one
// failing longest first; one of them shows its whole error and its
// plugin's last lines; pausing it takes it out of the failed ones and
// resuming brings it back; a search finds a tenant. No page scrolls
// sideways.
func TestConsoleTriageInBrowser(t *testing.T) {
	chromiumPath(t)
	began := time.Now()
	sim, err := zohosim.New(zohosim.Options{Contacts: 1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	zs := httptest.NewServer(sim.Handler())
	t.Cleanup(zs.Close)
	const token = "e2e-triage-token-5c02d9"
	t.Setenv("REPLICATOR_CONSOLE_TOKEN", token)
	t.Setenv("ZOHO_CLIENT_SECRET", sim.ClientSecret())
	w := newWorkspace(t, triageConfig(sim, zs.URL), "replicator-source-zoho")
	w.mustRun("init")
	for _, name := range triageFailing {
		if r := w.run("sync", name); r.code == 0 || !strings.Contains(r.stderr, "exit status 3") {
			t.Fatalf("sync %s: exit %d, want the failure of a plugin that exited with status 3\n%s", name, r.code, r.stderr)
		}
	}
	prepared := time.Now()
	_, runLog := w.startRun()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replicator run:\n%s", tail(runLog.String()))
		}
	})
	base := consoleURL(t, runLog)

	ctx := newBrowser(t, 3*time.Minute, chromedp.WindowSize(390, 844))
	must, text := tab{t, ctx}.do, tab{t, ctx}.text
	// narrow checks that the page fits the phone's width: nothing makes
	// it scroll sideways.
	narrow := func(page string) {
		t.Helper()
		widths, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
		if err != nil {
			t.Fatal(err)
		}
		if widths[1] != 390 || widths[0] > widths[1] {
			t.Errorf("%s is %d px wide on a %d px screen", page, widths[0], widths[1])
		}
	}
	rows := func() []string {
		t.Helper()
		ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("tbody tr[id]")].map(r => r.id)`))
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}

	must("log in",
		chromedp.EmulateViewport(390, 844, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(3)),
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("counts")))
	loggedIn := time.Now()
	for sel, want := range map[string]string{
		"#count-all":                 "all 2000",
		"#count-failed":              "failed 3",
		"#count-needs-authorization": "needs authorization 15",
		"#count-idle":                "idle 1982",
		"#showing":                   "2000 pipelines, failing ones first; page 1 of 40.",
	} {
		if got := text(sel); got != want {
			t.Errorf("%s reads %q, want %q", sel, got, want)
		}
	}
	if got := text("main"); !strings.Contains(got, "15 sources have no credentials yet") {
		t.Errorf("the pipelines page does not say sources need authorization:\n%s", got)
	}
	if got := rows(); len(got) != 50 || got[0] != "pipeline-tenant-1500" || got[3] != "pipeline-tenant-0000" {
		t.Errorf("the first page has %d rows, starting %v; want 50, the failing ones first", len(got), got[:min(len(got), 4)])
	}
	narrow("the pipelines page")

	// The page reloads itself until asked not to.
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('meta[http-equiv="refresh"]').length`)); n != 1 {
		t.Errorf("the pipelines page has %d refresh tags, want 1", n)
	}
	must("stop reloading", chromedp.Click(chromedp.ID("stop-refresh")), chromedp.WaitVisible(chromedp.ID("start-refresh")))
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('meta[http-equiv="refresh"]').length`)); n != 0 {
		t.Error("the page still reloads itself after Stop reloading")
	}

	// The failures, the one failing longest first.
	must("filter to the failures", chromedp.Click(chromedp.ID("count-failed")), chromedp.WaitVisible(chromedp.CSS("#count-failed.on")))
	if at, _ := chromedp.Run(ctx, chromedp.Location()); at != base+"/?refresh=off&state=failed" {
		t.Errorf("the failed filter is at %s", at)
	}
	want := []string{"pipeline-tenant-1500", "pipeline-tenant-0042", "pipeline-tenant-0777"}
	if got := rows(); !slices.Equal(got, want) {
		t.Errorf("failed pipelines %v, want %v", got, want)
	}
	if row := text("#pipeline-tenant-1500"); !strings.Contains(row, "exited (exit status 3)") || !strings.Contains(row, "failing since") {
		t.Errorf("the failing row does not say why and since when:\n%s", row)
	}
	narrow("the failed pipelines")

	must("open the oldest failure",
		chromedp.Click(chromedp.CSS(`#pipeline-tenant-1500 a[href="/pipelines/tenant-1500"]`)),
		chromedp.WaitVisible(chromedp.ID("error")))
	errText := text("#error")
	for _, want := range []string{"plugin replicator-source-generator exited (exit status 3)", "its last log lines:", "[WARN] fail_after reached; exiting with status 3 as configured records=3"} {
		if !strings.Contains(errText, want) {
			t.Errorf("the whole error lacks %q:\n%s", want, errText)
		}
	}
	if lines := text("#log-source"); !strings.Contains(lines, "[INFO] starting full refresh") || !strings.Contains(lines, "fail_after reached") {
		t.Errorf("the source's last lines:\n%s", lines)
	}
	narrow("a failed pipeline's page")

	must("pause it", chromedp.Click(chromedp.ID("pause")), chromedp.WaitVisible(chromedp.ID("paused")))
	if got := text("#state"); got != "paused" {
		t.Errorf("after Pause the state reads %q", got)
	}
	must("see the failures again", chromedp.Navigate(base+"/?state=failed"), chromedp.WaitVisible(chromedp.ID("counts")))
	if got := rows(); !slices.Equal(got, want[1:]) || text("#count-paused") != "paused 1" {
		t.Errorf("with tenant-1500 paused the failures are %v and %q", got, text("#count-paused"))
	}
	must("resume it",
		chromedp.Navigate(base+"/pipelines/tenant-1500"),
		chromedp.WaitVisible(chromedp.ID("resume")),
		chromedp.Click(chromedp.ID("resume")),
		chromedp.WaitVisible(chromedp.ID("pause")))
	if got := text("#state"); got != "failed" {
		t.Errorf("after Resume the state reads %q", got)
	}

	// A search for a tenant.
	must("search for a tenant",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("search")),
		chromedp.SendKeys(chromedp.ID("search"), "tenant-1234"),
		chromedp.Submit(chromedp.ID("search")),
		// The list before the search has the counts too: wait for the
		// search's page, whose search field holds the query as served.
		chromedp.WaitVisible(chromedp.CSS(`#search[value="tenant-1234"]`)),
		chromedp.WaitVisible(chromedp.CSS("#count-all")))
	if got := rows(); !slices.Equal(got, []string{"pipeline-tenant-1234"}) || text("#count-all") != "all 1" {
		t.Errorf("a search for tenant-1234 shows %v", got)
	}
	narrow("a search")
	t.Logf("took %s: %s to set up 2,000 pipelines and fail 3, %s to start replicator run and log in, %s in the browser",
		time.Since(began).Round(time.Millisecond), prepared.Sub(began).Round(time.Millisecond),
		loggedIn.Sub(prepared).Round(time.Millisecond), time.Since(loggedIn).Round(time.Millisecond))
}
