//go:build unix

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
	"github.com/replicatorhq/replicator/internal/logbuf"
)

// chromiumPath finds the browser the console test drives. CI installs
// Debian's chromium (.ci/run); the test fails rather than skips without it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("REPLICATOR_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: install Debian's chromium package (.ci/run does), or set REPLICATOR_CHROMIUM to a Chromium binary")
	return ""
}

// newBrowser starts headless Chromium for the test, with the extra
// options, and returns its context, ended after timeout.
func newBrowser(t *testing.T, timeout time.Duration, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	browser := chromiumPath(t)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), append(append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 800),
	), opts...)...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelCtx)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancel)
	return ctx
}

// tab is the browser tab a test drives.
type tab struct {
	t   *testing.T
	ctx context.Context
}

// do runs steps in the tab, failing the test with what they were for.
func (b tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// text returns the text of the element sel selects.
func (b tab) text(sel string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("reading %s: %v", sel, err)
	}
	return v
}

// servedAt finds the console's address in replicator run's log.
var servedAt = regexp.MustCompile(`health checks are served: url=(http://[^/\s]+)/`)

// consoleURL waits for replicator run to say where it serves its console,
// and returns that address.
func consoleURL(t *testing.T, log *logbuf.Buffer) string {
	t.Helper()
	waitLog(t, log, "health checks are served", 1)
	m := servedAt.FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("the log does not say where the console is served:\n%s", log.String())
	}
	return m[1]
}

// TestConsoleInBrowser drives the console of `replicator run` in headless
// Chromium as an operator would: log in with the token, authorize the Zoho
// source with a pasted grant code (a used one first, which must be refused
// with what to do), press "Sync now" and watch the pipeline succeed.
func TestConsoleInBrowser(t *testing.T) {
	chromiumPath(t)
	f := newCRMFixture(t, zohosim.Options{Contacts: 300, Accounts: 60, Seed: 11, BulkStepDelay: -1})
	const token = "e2e-console-token-7d1f"
	t.Setenv("REPLICATOR_CONSOLE_TOKEN", token)
	cfg, err := os.ReadFile(f.w.path("replicator.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	// Hourly, so that only "Sync now" runs it while the test watches.
	hcl := strings.Replace(string(cfg), `streams     = ["contacts", "accounts"]`,
		`streams     = ["contacts", "accounts"]
  interval    = "1h"`, 1)
	// A port the system chooses, which the log then names: one chosen
	// here and closed could be taken by another process before run binds it.
	hcl += "\nhost {\n  listen        = \"127.0.0.1:0\"\n  console_token = env(\"REPLICATOR_CONSOLE_TOKEN\")\n}\n"
	f.w.write("replicator.hcl", hcl)
	f.w.mustRun("init")

	_, runLog := f.w.startRun()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replicator run:\n%s", runLog.String())
		}
	})
	base := consoleURL(t, runLog)

	ctx := newBrowser(t, 3*time.Minute)

	must, text := tab{t, ctx}.do, tab{t, ctx}.text

	// Log in: a wrong token first.
	must("open the console", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("token")))
	must("log in with a wrong token",
		chromedp.SendKeys(chromedp.ID("token"), "not-the-token"),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS(".problem")))
	if body := text(".problem"); !strings.Contains(body, "not the console token") {
		t.Errorf("a wrong token shows %q", body)
	}
	must("log in",
		chromedp.SetValue(chromedp.ID("token"), token),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS("table")))
	if body := text("main"); !strings.Contains(body, "source.zoho.crm has no credentials yet") {
		t.Fatalf("the pipelines page does not ask to authorize the source:\n%s", body)
	}
	// The first run, due at start, failed for want of credentials, and the
	// page says so.
	for deadline := time.Now().Add(time.Minute); ; {
		must("reload the pipelines page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("table")))
		if body := text("#pipeline-" + crmPipeline); strings.Contains(body, "failed") {
			if !strings.Contains(body, "authorize") {
				t.Errorf("the failed run's first line does not say to authorize:\n%s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first run without credentials is not shown as failed:\n%s", text("main"))
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A code Zoho does not know (mistyped, expired or used) is refused
	// with what to do.
	used := "1000.0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef"
	must("open the authorize form",
		chromedp.Click(chromedp.CSS(`a[href="/sources/source.zoho.crm/authorize"]`)),
		chromedp.WaitVisible(chromedp.ID("code")))
	must("paste a used code",
		chromedp.SendKeys(chromedp.ID("code"), used),
		chromedp.Submit(chromedp.ID("code")),
		chromedp.WaitVisible(chromedp.ID("error")))
	body := text("#error")
	if !strings.Contains(body, "expired or was already used") || !strings.Contains(body, "Generate a new one") {
		t.Errorf("a used code shows %q, which does not say what happened and what to do", body)
	}
	if page := text("html"); strings.Contains(page, f.sim.ClientSecret()) {
		t.Fatal("the console shows the client secret")
	}

	// A fresh code authorizes the source and shows the granted scopes.
	must("paste a fresh code",
		chromedp.SetValue(chromedp.ID("code"), f.sim.IssueGrantCode(zohoScopes...)),
		chromedp.Submit(chromedp.ID("code")),
		chromedp.WaitVisible(chromedp.ID("granted")))
	if body := text("#granted"); !strings.Contains(body, "ZohoCRM.modules.contacts.READ") || !strings.Contains(body, "contacts") {
		t.Errorf("the granted message %q does not name the scopes and streams", body)
	}

	// Sync now, and watch the pipeline succeed with its counts.
	row := "#pipeline-" + crmPipeline
	must("press Sync now",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(row)),
		chromedp.Submit(chromedp.CSS(row+" form")),
		chromedp.WaitVisible(chromedp.CSS(row)))
	deadline := time.Now().Add(2 * time.Minute)
	for {
		must("open the pipelines page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(row)))
		body = text(row)
		if strings.Contains(body, "succeeded") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pipeline did not succeed within two minutes; its row:\n%s", body)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if n := f.storedContacts("contacts"); n == 0 {
		t.Errorf("the phonebook holds no contacts after the sync the console shows as succeeded")
	}
	if !strings.Contains(body, "360") {
		t.Errorf("the row does not show the 360 records read:\n%s", body)
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("taking a screenshot: %v", err)
	}
	png := filepath.Join(t.TempDir(), "console.png")
	if err := os.WriteFile(png, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if dst := os.Getenv("REPLICATOR_CONSOLE_SCREENSHOT"); dst != "" {
		if err := os.WriteFile(dst, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot: %s", png)
}

// TestConsoleLoginURLInBrowser opens the login URL a console without a
// configured token prints, as its operator would: the browser lands on the
// pipelines page with the token neither in its address bar nor in the
// tab's history. A name that resolves to 127.0.0.1 (what a DNS rebinding
// page makes of its own name) reads nothing from the console.
func TestConsoleLoginURLInBrowser(t *testing.T) {
	chromiumPath(t)
	w := newWorkspace(t, tenantConfig("alpha", 10, "1h")+"\nhost {\n  listen = \"127.0.0.1:0\"\n}\n")
	w.mustRun("init")
	_, runLog := w.startRun()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replicator run:\n%s", runLog.String())
		}
	})
	base := consoleURL(t, runLog)
	waitLog(t, runLog, "/login?token=", 1)
	m := regexp.MustCompile(`url=(http://\S+/login\?token=(\S+))`).FindStringSubmatch(runLog.String())
	if m == nil {
		t.Fatalf("no login URL in the log:\n%s", runLog.String())
	}
	login, token := m[1], m[2]
	_, port, _ := strings.Cut(strings.TrimPrefix(base, "http://"), ":")

	ctx := newBrowser(t, 2*time.Minute, chromedp.Flag("host-resolver-rules", "MAP rebind.example 127.0.0.1"))
	must := tab{t, ctx}.do
	must("open the login URL", chromedp.Navigate(login), chromedp.WaitVisible(chromedp.ID("pipeline-alpha")))
	if at, err := chromedp.Run(ctx, chromedp.Location()); err != nil || at != base+"/" {
		t.Errorf("after the login URL the browser is at %q (%v), want %s/", at, err, base)
	}
	history, err := chromedp.Run(ctx, chromedp.NavigationEntries())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range history.Entries {
		if strings.Contains(e.URL, token) {
			t.Errorf("the tab's history keeps the token: %s", e.URL)
		}
	}

	must("open the console by another name", chromedp.Navigate("http://rebind.example:"+port+"/metrics"))
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, "does not answer to the name") || strings.Contains(body, "replicator_") {
		t.Errorf("/metrics by a name that resolves to 127.0.0.1 shows:\n%s", body)
	}
}
