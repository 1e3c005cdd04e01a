package zoho

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// coqlLog keeps the module and LIMIT of every COQL query sent to the
// simulator.
type coqlLog struct {
	mu      sync.Mutex
	queries []string // "Contacts 200"
}

var coqlShape = regexp.MustCompile(`from (\w+) .* limit (\d+)$`)

func (l *coqlLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/crm/v8/coql" {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var q struct {
				SelectQuery string `json:"select_query"`
			}
			_ = json.Unmarshal(body, &q)
			if m := coqlShape.FindStringSubmatch(q.SelectQuery); m != nil {
				l.mu.Lock()
				l.queries = append(l.queries, m[1]+" "+m[2])
				l.mu.Unlock()
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (l *coqlLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.queries
	l.queries = nil
	return out
}

// COQL pages start at the 200-row price (1 credit) and grow to 1,000 (2)
// and 2,000 (3) only while pages come back full: a window with a few
// changes costs 1 credit, not 3.
func TestCOQLPagesStartAtTheSmallestBand(t *testing.T) {
	var log coqlLog
	h := newHarnessWith(t, zohosim.Options{Contacts: 4000, Seed: 2}, log.wrap)
	h.authorize(allScopes...)
	start := func(i int) json.RawMessage {
		mt := parseTime(mustRecord(t, h, i)["Modified_Time"].(string))
		return json.RawMessage(
			fmt.Sprintf(`{"v":1,"cursor":{"modified_time":%q,"id":%q},"deleted_since":%q,"accounts_since":%q}`,
				mt.Format(time.RFC3339), contactID(i), h.clock.Now().Add(-time.Hour).Format(time.RFC3339),
				h.clock.Now().Add(-time.Hour).Format(time.RFC3339)),
		)
	}
	for _, tc := range []struct {
		name  string
		from  int // records after this one are read
		pages []string
	}{
		{"a few changes", 3994, []string{"Contacts 200"}},
		{"exactly a page", 3799, []string{"Contacts 200"}},
		{"a page and one", 3798, []string{"Contacts 200", "Contacts 1000"}},
		{"many", 0, []string{"Contacts 200", "Contacts 1000", "Contacts 2000", "Contacts 2000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log.take()
			out := h.mustRead(contract.ReadStream{Name: "contacts", State: start(tc.from), Generation: 2})
			if got := len(out.keys(contract.Upsert)); got != 3999-tc.from {
				t.Errorf("read %d records, want %d", got, 3999-tc.from)
			}
			// The account changes are read too, from a page of 200.
			want := append(slices.Clone(tc.pages), "Accounts 200")
			if got := log.take(); !slices.Equal(got, want) {
				t.Errorf("COQL queries %v, want %v", got, want)
			}
		})
	}
}
