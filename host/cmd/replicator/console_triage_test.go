package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// waitPage loads path until its body satisfies ok, for up to a minute,
// and returns that body.
func (f *consoleFixture) waitPage(path, what string, ok func(body string) bool) string {
	f.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		_, _, body := f.get(path)
		if ok(body) {
			return body
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s: not within a minute; %s shows:\n%s", what, path, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var runRow = regexp.MustCompile(`(?s)<tr id="run-(\d+)">(.*?)</tr>`)

// runs returns the rows of a pipeline's page's runs, by run ID.
func runs(body string) map[int]string {
	out := map[int]string{}
	for _, m := range runRow.FindAllStringSubmatch(body, -1) {
		id, _ := strconv.Atoi(m[1])
		out[id] = m[2]
	}
	return out
}

// succeededRuns says whether a pipeline's page shows n runs that
// succeeded and none underway: the host has ended a run's plugins too.
func succeededRuns(n int) func(string) bool {
	return func(body string) bool {
		return strings.Count(body, `<span class="state succeeded">succeeded</span>`) == n && !strings.Contains(body, `id="state">running`)
	}
}

// act presses one of a pipeline page's buttons and checks where the
// browser is sent.
func (f *consoleFixture) act(pipeline, action, wantLocation string) {
	f.t.Helper()
	code, h, body := f.post("/pipelines/"+pipeline+"/"+action, url.Values{"csrf": {f.csrf()}, "back": {"pipeline"}})
	if code != http.StatusSeeOther || h.Get("Location") != wantLocation {
		f.t.Fatalf("%s %s: %d to %q, want %q\n%s", action, pipeline, code, h.Get("Location"), wantLocation, body)
	}
}

// TestConsoleShowsAFailure: a failed run shows its whole error and the
// last lines its plugins logged, and the failed filter finds it.
func TestConsoleShowsAFailure(t *testing.T) {
	f := newConsoleFixtureWith(t, consoleSetup{host: tokenHost, extra: `
source "generator" "crashing" {
  count      = 10
  fail_after = 3
}
pipeline "broken" {
  source      = source.generator.crashing
  destination = destination.jsonl.manual
  streams     = ["items"]
}
source "generator" "twice" {
  streams = ["a", "a"]
}
pipeline "undiscoverable" {
  source      = source.generator.twice
  destination = destination.jsonl.manual
  streams     = ["a"]
}
`})
	f.login()
	f.act("broken", "sync", "/pipelines/broken?queued=run")
	failed := func(b string) bool {
		return strings.Contains(b, `id="error"`) && strings.Contains(b, `id="state">failed`)
	}
	body := f.waitPage("/pipelines/broken", "the run fails", failed)
	for _, want := range []string{
		`id="failing">Failing since`,
		"exited (exit status 3)",
		"[WARN] fail_after reached; exiting with status 3 as configured records=3", // in the error, and in the source's lines
		`<pre class="log" id="log-source">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the failed pipeline's page lacks %q:\n%s", want, body)
		}
	}
	lines := regexp.MustCompile(`(?s)id="log-source">(.*?)</pre>`).FindStringSubmatch(body)
	if lines == nil || !strings.Contains(lines[1], "fail_after reached") {
		t.Errorf("the source's last lines are not shown: %q", lines)
	}

	// A run that failed before it read (its source's Discover failed)
	// keeps its plugins' lines too.
	f.act("undiscoverable", "sync", "/pipelines/undiscoverable?queued=run")
	body = f.waitPage("/pipelines/undiscoverable", "the run fails", failed)
	if !strings.Contains(body, `streams lists &#34;a&#34; twice`) || !strings.Contains(body, `id="log-source"`) {
		t.Errorf("the page of a pipeline whose source's Discover failed:\n%s", body)
	}

	_, _, list := f.get("/?state=failed")
	if !strings.Contains(list, `id="pipeline-broken"`) || strings.Contains(list, `id="pipeline-manual"`) ||
		!strings.Contains(list, `id="count-failed">failed <b>2</b>`) || !strings.Contains(list, "exited (exit status 3)") {
		t.Errorf("the failed pipelines' page:\n%s", list)
	}
	// The search matches sources too.
	if _, _, list := f.get("/?q=CRASHING"); !strings.Contains(list, `id="pipeline-broken"`) || strings.Contains(list, `id="pipeline-hourly"`) {
		t.Errorf("a search for the source's name:\n%s", list)
	}
}

// TestConsoleQueryIsChecked: every value of the pipelines page's URL is
// checked, and what is shown of it is escaped.
func TestConsoleQueryIsChecked(t *testing.T) {
	f := newConsoleFixture(t)
	f.login()
	for query, want := range map[string]string{
		"state=nothing":                 "There is no state",
		"page=0":                        "whole number from 1 to 10000",
		"page=1e3":                      "whole number",
		"refresh=maybe":                 "refresh takes only",
		"q=" + strings.Repeat("a", 101): "longer than 100",
	} {
		if code, _, body := f.get("/?" + query); code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("/?%s: %d, want 400 saying %q:\n%s", query, code, want, body)
		}
	}
	if code, _, body := f.get("/pipelines/manual?queued=all"); code != http.StatusBadRequest {
		t.Errorf("/pipelines/manual?queued=all: %d\n%s", code, body)
	}
	code, _, body := f.get("/?q=" + url.QueryEscape(`<script>alert(1)</script>`) + "&refresh=off")
	if code != http.StatusOK || strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") {
		t.Errorf("a search with markup: %d\n%s", code, body)
	}
	if strings.Contains(body, `http-equiv="refresh"`) || !strings.Contains(body, `id="start-refresh"`) {
		t.Errorf("refresh=off still reloads the page, or has no link to start again:\n%s", body)
	}
	// A form's way back is checked as the page's own query is.
	code, _, _ = f.post("/pipelines/manual/sync", url.Values{"csrf": {f.csrf()}, "state": {"nothing"}})
	if code != http.StatusBadRequest {
		t.Errorf("sync with a way back to an unknown state: %d", code)
	}
	code, h, _ := f.post("/pipelines/manual/sync", url.Values{"csrf": {f.csrf()}, "state": {"idle"}, "q": {"man"}, "refresh": {"off"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/?q=man&queued=manual&refresh=off&state=idle" {
		t.Errorf("sync from a filtered page: %d to %q", code, h.Get("Location"))
	}
}

// TestConsoleQueuedNoticeClearsWhenTheRunStarts: "A run is queued" is
// shown while the run waits for a slot, not once it has started.
func TestConsoleQueuedNoticeClearsWhenTheRunStarts(t *testing.T) {
	f := newConsoleFixtureWith(t, consoleSetup{host: tokenHost + "  max_concurrent_runs = 1\n", extra: `
source "generator" "slow" {
  count            = 40
  checkpoint_every = 1
  delay_ms         = 50
}
pipeline "slow" {
  source      = source.generator.slow
  destination = destination.jsonl.manual
  streams     = ["items"]
}
`})
	f.login()
	// The hourly pipeline's first run, due at start, is out of the way.
	f.waitPage("/pipelines/hourly", "hourly's first run", succeededRuns(1))
	f.act("slow", "sync", "/pipelines/slow?queued=run")
	f.waitPage("/pipelines/slow", "slow runs", func(b string) bool { return strings.Contains(b, `id="state">running`) })
	code, h, _ := f.post("/pipelines/manual/sync", url.Values{"csrf": {f.csrf()}})
	if code != http.StatusSeeOther || h.Get("Location") != "/?queued=manual" {
		t.Fatalf("sync now: %d to %q", code, h.Get("Location"))
	}
	_, _, body := f.get("/?queued=manual")
	if !strings.Contains(body, "A run of manual is queued.") || !strings.Contains(body, `class="state queued">queued`) {
		t.Errorf("while slow runs in the one slot, manual's run is not shown as queued:\n%s", body)
	}
	f.waitPage("/pipelines/manual", "manual's run", succeededRuns(1))
	if _, _, body := f.get("/?queued=manual"); strings.Contains(body, "is queued") {
		t.Errorf("the notice still says queued after the run:\n%s", body)
	}
}

// TestConsolePauseAndResume: a paused pipeline is not run at its slots
// nor by Sync now; resumed after missing a slot, it runs at once.
func TestConsolePauseAndResume(t *testing.T) {
	f := newConsoleFixtureWith(t, consoleSetup{host: tokenHost, extra: `
destination "jsonl" "often" {
  path = "often.jsonl"
}
pipeline "often" {
  source      = source.generator.g
  destination = destination.jsonl.often
  streams     = ["items"]
  interval    = "1s"
}
`})
	f.login()
	f.waitPage("/pipelines/often", "often's first run", func(b string) bool { return len(runs(b)) > 0 })
	f.act("often", "pause", "/pipelines/often")
	body := f.waitPage("/pipelines/often", "no run underway", func(b string) bool { return !strings.Contains(b, `id="state">running`) })
	if !strings.Contains(body, `id="paused">Paused since`) || !strings.Contains(body, `id="state">paused`) || !strings.Contains(body, `id="resume"`) {
		t.Errorf("the paused pipeline's page:\n%s", body)
	}
	code, _, msg := f.post("/pipelines/often/sync", url.Values{"csrf": {f.csrf()}})
	if code != http.StatusConflict || !strings.Contains(msg, "paused; resume it first") {
		t.Errorf("sync now of a paused pipeline: %d\n%s", code, msg)
	}
	// Two slots pass, skipped.
	before := len(runs(body))
	skipped := strings.Count(f.log.String(), "pipeline is paused; its run is skipped: pipeline=often")
	for deadline := time.Now().Add(time.Minute); strings.Count(f.log.String(), "pipeline is paused; its run is skipped: pipeline=often") < skipped+2; {
		if time.Now().After(deadline) {
			t.Fatal("no run of the paused pipeline was skipped within a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, _, body = f.get("/pipelines/often")
	if n := len(runs(body)); n != before {
		t.Errorf("%d runs while paused, want %d", n, before)
	}
	if _, _, list := f.get("/?state=paused"); !strings.Contains(list, `id="pipeline-often"`) || !strings.Contains(list, `id="count-paused">paused <b>1</b>`) {
		t.Errorf("the paused pipelines' page:\n%s", list)
	}

	f.act("often", "resume", "/pipelines/often")
	f.waitPage("/pipelines/often", "a run after resuming", func(b string) bool { return len(runs(b)) > before && !strings.Contains(b, `id="paused"`) })
}

// TestConsoleFullRefresh: "Full refresh" queues a run that reads every
// stream from the start.
func TestConsoleFullRefresh(t *testing.T) {
	f := newConsoleFixture(t)
	f.login()
	f.act("manual", "sync", "/pipelines/manual?queued=run")
	f.waitPage("/pipelines/manual", "the first run", succeededRuns(1))
	f.act("manual", "sync", "/pipelines/manual?queued=run")
	body := f.waitPage("/pipelines/manual", "the second run", succeededRuns(2))
	if r := runs(body); !strings.Contains(r[2], "resumed items") || strings.Contains(r[1], "resumed") {
		t.Fatalf("run 1 is not a full refresh or run 2 did not resume:\n%s", body)
	}
	f.act("manual", "full-refresh", "/pipelines/manual?queued=full-refresh")
	body = f.waitPage("/pipelines/manual", "the full refresh", succeededRuns(3))
	if r := runs(body); strings.Contains(r[3], "resumed") || !strings.Contains(r[3], `data-label="Written">500</td>`) {
		t.Errorf("the run asked for with Full refresh resumed from its checkpoint:\n%s", r[3])
	}
}
