package console

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/state"
)

func TestParseListQuery(t *testing.T) {
	for _, c := range []struct {
		query string
		want  listQuery
		err   string
	}{
		{"", listQuery{Page: 1}, ""},
		{"state=failed&q=+acme+&page=2&refresh=off", listQuery{State: StateFailed, Search: "acme", Page: 2, NoRefresh: true}, ""},
		{"state=needs-authorization&page=010000", listQuery{State: StateNeedsGrant, Page: MaxPage}, ""},
		{"other=ignored", listQuery{Page: 1}, ""},
		{"state=broken", listQuery{}, "There is no state"},
		{"state=FAILED", listQuery{}, "There is no state"},
		{"page=0", listQuery{}, "whole number from 1 to 10000"},
		{"page=-1", listQuery{}, "whole number"},
		{"page=%2B2", listQuery{}, "whole number"},
		{"page=10001", listQuery{}, "whole number"},
		{"page=99999999999999999999", listQuery{}, "whole number"},
		{"page=2x", listQuery{}, "whole number"},
		{"q=" + strings.Repeat("é", MaxSearch), listQuery{Search: strings.Repeat("é", MaxSearch), Page: 1}, ""},
		{"q=" + strings.Repeat("x", MaxSearch+1), listQuery{}, "longer than 100 characters"},
		{"q=%ff", listQuery{}, "not valid text"},
		{"refresh=on", listQuery{}, `refresh takes only "off"`},
	} {
		v, err := url.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseListQuery(v)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want one saying %q", c.query, err, c.err)
			}
		case err != nil:
			t.Errorf("%q: %v", c.query, err)
		case got != c.want:
			t.Errorf("%q: %+v, want %+v", c.query, got, c.want)
		}
	}
}

func TestListQueryURLs(t *testing.T) {
	q := listQuery{State: StateFailed, Search: "a&b c", Page: 3, NoRefresh: true}
	for got, want := range map[string]string{
		q.URL():                        "/?page=3&q=a%26b+c&refresh=off&state=failed",
		q.WithState(""):                "/?q=a%26b+c&refresh=off",
		q.WithPage(1):                  "/?q=a%26b+c&refresh=off&state=failed",
		q.WithRefresh(true):            "/?page=3&q=a%26b+c&state=failed",
		listQuery{Page: 1}.URL():       "/",
		listQuery{Page: 1}.WithPage(2): "/?page=2",
	} {
		if got != want {
			t.Errorf("URL %q, want %q", got, want)
		}
	}
	// Every URL the page links to reads back as the query it was made of.
	v, _ := url.ParseQuery(strings.TrimPrefix(q.URL(), "/?"))
	if back, err := parseListQuery(v); err != nil || back != q {
		t.Errorf("%s reads back as %+v, %v", q.URL(), back, err)
	}
}

// fleet makes n idle pipelines tenant-0000 and on, with sources
// source.generator.tenant-NNNN, and makes some failing and others paused.
func fleet(n int, failing map[int]time.Time, paused ...int) []Pipeline {
	ps := make([]Pipeline, n)
	for i := range ps {
		name := fmt.Sprintf("tenant-%04d", i)
		ps[i] = Pipeline{Name: name, Source: "source.generator." + name, State: StateIdle}
	}
	for i, since := range failing {
		ps[i].State = StateFailed
		ps[i].Last = state.Latest{Run: state.Run{ID: 3, Outcome: state.OutcomeFailed}, Failures: 2, FailingSince: since}
	}
	for _, i := range paused {
		ps[i].State = StatePaused
	}
	// The host hands them over in any order.
	for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
		ps[i], ps[j] = ps[j], ps[i]
	}
	return ps
}

func names(ps []Pipeline) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func TestListSortsFailingFirstAndPages(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	// 1702 fails longest, then 0004 and 1900 since the same time (by
	// name), then 0300; 0005 is failing but paused.
	ps := fleet(2000, map[int]time.Time{300: t0.Add(time.Hour), 1900: t0, 4: t0, 1702: t0.Add(-time.Hour)}, 5, 6)
	ps[len(ps)-1-5].Last = state.Latest{Failures: 1, FailingSince: t0.Add(-2 * time.Hour)}

	l := list(ps, listQuery{Page: 1})
	if l.Total != 2000 || l.Matching != 2000 || l.Pages != 40 || len(l.Pipelines) != PageSize {
		t.Fatalf("all: total %d, matching %d, %d pages of which the first has %d", l.Total, l.Matching, l.Pages, len(l.Pipelines))
	}
	want := []string{"tenant-0005", "tenant-1702", "tenant-0004", "tenant-1900", "tenant-0300", "tenant-0000", "tenant-0001", "tenant-0002", "tenant-0003", "tenant-0006"}
	if got := names(l.Pipelines[:len(want)]); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("first page starts %v, want the failing ones, longest failing first, then the rest by name: %v", got, want)
	}
	counts := map[string]int{}
	for _, c := range l.Counts {
		counts[c.State] = c.N
	}
	if len(l.Counts) != len(States()) || counts[StateFailed] != 4 || counts[StatePaused] != 2 || counts[StateIdle] != 1994 {
		t.Errorf("counts %+v", l.Counts)
	}

	failed := list(ps, listQuery{State: StateFailed, Page: 1})
	if got := names(failed.Pipelines); fmt.Sprint(got) != "[tenant-1702 tenant-0004 tenant-1900 tenant-0300]" || failed.Matching != 4 || failed.Pages != 1 {
		t.Errorf("failed: %v (%d matching, %d pages)", got, failed.Matching, failed.Pages)
	}

	last := list(ps, listQuery{Page: 40})
	if len(last.Pipelines) != PageSize || last.Pipelines[PageSize-1].Name != "tenant-1999" {
		t.Errorf("last page ends with %s", last.Pipelines[len(last.Pipelines)-1].Name)
	}
	// A page past the last shows the last.
	if past := list(ps, listQuery{Page: 41}); past.Query.Page != 40 || len(past.Pipelines) != PageSize {
		t.Errorf("page 41 of 40 shows page %d with %d pipelines", past.Query.Page, len(past.Pipelines))
	}
	if empty := list(nil, listQuery{State: StateFailed, Page: 3}); empty.Pages != 1 || empty.Query.Page != 1 || len(empty.Pipelines) != 0 {
		t.Errorf("no pipelines: %+v", empty)
	}
}

func TestListSearches(t *testing.T) {
	ps := fleet(2000, map[int]time.Time{1234: time.Now()})
	ps[0].Source = "source.zoho.ACME"
	// By name or source, whatever the case; the counts are of what
	// matches the search, whatever the state filter.
	l := list(ps, listQuery{Search: "acme", Page: 1})
	if got := names(l.Pipelines); fmt.Sprint(got) != "[tenant-1999]" || l.Total != 1 {
		t.Errorf("search acme: %v (%d)", got, l.Total)
	}
	l = list(ps, listQuery{Search: "TENANT-123", State: StateIdle, Page: 1})
	if l.Total != 10 || l.Matching != 9 || l.Pipelines[0].Name != "tenant-1230" {
		t.Errorf("search TENANT-123 among the idle: %d matching of %d, first %s", l.Matching, l.Total, l.Pipelines[0].Name)
	}
	for _, c := range l.Counts {
		if c.State == StateFailed && c.N != 1 {
			t.Errorf("failed among those matching TENANT-123: %d, want 1", c.N)
		}
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                        "0 ms",
		37 * time.Millisecond:    "37 ms",
		999 * time.Millisecond:   "999 ms",
		1250 * time.Millisecond:  "1.2 s",
		59 * time.Second:         "59.0 s",
		61500 * time.Millisecond: "1m2s",
		2 * time.Hour:            "2h0m0s",
	} {
		if got := duration(d); got != want {
			t.Errorf("duration(%s) = %q, want %q", d, got, want)
		}
	}
}
