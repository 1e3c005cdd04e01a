package console

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on the pipelines page's query.
const (
	// PageSize is how many pipelines a page shows.
	PageSize = 50
	// MaxPage bounds the page number a URL may ask for.
	MaxPage = 10000
	// MaxSearch bounds the search, in characters.
	MaxSearch = 100
	// RefreshEvery is how often a page reloads itself unless its URL
	// says refresh=off.
	RefreshEvery = 10 * time.Second
)

// Query parameters the pages take, and the only value refresh takes.
const (
	paramState   = "state"
	paramSearch  = "q"
	paramPage    = "page"
	paramRefresh = "refresh"
	paramQueued  = "queued"
	refreshOff   = "off"
)

// listQuery is what the pipelines page shows, as its URL says:
// /?state=failed&q=acme&page=2&refresh=off.
type listQuery struct {
	State  string // one of States, or "" for every state
	Search string
	Page   int // from 1
	// NoRefresh stops the page reloading itself.
	NoRefresh bool
}

// queryError is a query value that is not allowed; its message says what is.
type queryError struct{ msg string }

func (e *queryError) Error() string { return e.msg }

// parseListQuery checks every value the pipelines page takes from its URL
// (or from a form that returns to it) against what is allowed.
func parseListQuery(v url.Values) (listQuery, error) {
	q := listQuery{Page: 1}
	if s := v.Get(paramState); s != "" {
		if !slices.Contains(States(), s) {
			return q, &queryError{fmt.Sprintf("There is no state %q. The states are: %s.", s, strings.Join(States(), ", "))}
		}
		q.State = s
	}
	s := strings.TrimSpace(v.Get(paramSearch))
	switch {
	case !utf8.ValidString(s):
		return q, &queryError{"The search is not valid text (UTF-8)."}
	case utf8.RuneCountInString(s) > MaxSearch:
		return q, &queryError{fmt.Sprintf("The search is longer than %d characters.", MaxSearch)}
	}
	q.Search = s
	if p := v.Get(paramPage); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > MaxPage || strings.TrimLeft(p, "0123456789") != "" {
			return q, &queryError{fmt.Sprintf("The page must be a whole number from 1 to %d.", MaxPage)}
		}
		q.Page = n
	}
	var err error
	q.NoRefresh, err = parseRefresh(v)
	return q, err
}

// parseRefresh reads refresh=off, the one value refresh takes.
func parseRefresh(v url.Values) (off bool, err error) {
	switch r := v.Get(paramRefresh); r {
	case "":
		return false, nil
	case refreshOff:
		return true, nil
	default:
		return false, &queryError{fmt.Sprintf("refresh takes only %q, which stops the page reloading itself.", refreshOff)}
	}
}

// values is the query as URL values, without what is the default.
func (q listQuery) values() url.Values {
	v := url.Values{}
	if q.State != "" {
		v.Set(paramState, q.State)
	}
	if q.Search != "" {
		v.Set(paramSearch, q.Search)
	}
	if q.Page > 1 {
		v.Set(paramPage, strconv.Itoa(q.Page))
	}
	if q.NoRefresh {
		v.Set(paramRefresh, refreshOff)
	}
	return v
}

// URL is the pipelines page of the query.
func (q listQuery) URL() string {
	if v := q.values(); len(v) > 0 {
		return "/?" + v.Encode()
	}
	return "/"
}

// WithState is the URL of the first page of state s ("" for every state),
// with the same search.
func (q listQuery) WithState(s string) string {
	q.State, q.Page = s, 1
	return q.URL()
}

// WithPage is the URL of page n.
func (q listQuery) WithPage(n int) string {
	q.Page = n
	return q.URL()
}

// WithRefresh is the URL of the same page reloading itself, or not.
func (q listQuery) WithRefresh(on bool) string {
	q.NoRefresh = !on
	return q.URL()
}

// stateCount is how many pipelines one state has.
type stateCount struct {
	State string
	N     int
}

// listing is one page of pipelines, as the query selects them.
type listing struct {
	Query  listQuery
	Counts []stateCount // per state, of the pipelines the search matches
	// Matching are the pipelines the search and the state select; Total
	// those the search matches, whatever their state.
	Matching, Total int
	Pages           int
	Pipelines       []Pipeline
}

// list selects, sorts and pages ps as q asks. The query's page is moved
// to the last page when it is past it.
func list(ps []Pipeline, q listQuery) listing {
	search := strings.ToLower(q.Search)
	counts := map[string]int{}
	var sel []Pipeline
	total := 0
	for i := range ps {
		p := &ps[i]
		if search != "" && !strings.Contains(strings.ToLower(p.Name), search) && !strings.Contains(strings.ToLower(p.Source), search) {
			continue
		}
		total++
		counts[p.State]++
		if q.State == "" || p.State == q.State {
			sel = append(sel, *p)
		}
	}
	slices.SortFunc(sel, failingFirst)
	l := listing{Query: q, Matching: len(sel), Total: total, Pages: max(1, (len(sel)+PageSize-1)/PageSize)}
	for _, s := range States() {
		l.Counts = append(l.Counts, stateCount{State: s, N: counts[s]})
	}
	l.Query.Page = min(q.Page, l.Pages)
	from := (l.Query.Page - 1) * PageSize
	l.Pipelines = sel[from:min(from+PageSize, len(sel))]
	return l
}

// failingFirst orders the pipelines that are failing first, the one
// failing longest first, then the rest; each by name.
func failingFirst(a, b Pipeline) int {
	if a.Failing() != b.Failing() {
		if a.Failing() {
			return -1
		}
		return 1
	}
	if a.Failing() {
		if c := a.Last.FailingSince.Compare(b.Last.FailingSince); c != 0 {
			return c
		}
	}
	return cmp.Compare(a.Name, b.Name)
}

// PrevURL is the URL of the page before; NextURL of the page after.
func (l *listing) PrevURL() string { return l.Query.WithPage(l.Query.Page - 1) }
func (l *listing) NextURL() string { return l.Query.WithPage(l.Query.Page + 1) }
