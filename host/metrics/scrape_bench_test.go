package metrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/state"
)

// BenchmarkScrape scrapes a host of 1,000 pipelines that each ran once,
// with the gauges a host shows of every pipeline,
// as internal/bench's metrics_scrape_ms does over HTTP; it is here to
// profile the scrape without a host around it.
func BenchmarkScrape(b *testing.B) {
	m := New(Options{Load: func() (int, int) { return 0, 0 }})
	start := time.Now()
	for i := range 1000 {
		p := fmt.Sprintf("tenant-%04d", i)
		m.Configure(p, Config{Source: "source.generator." + p, Interval: time.Hour})
		m.Records(p, "items", "read", 10)
		m.Records(p, "items", "written", 10)
		r := state.Run{ID: 1, Pipeline: p, Started: start, Ended: start.Add(time.Second), Outcome: state.OutcomeSucceeded}
		if err := m.RunEnded(context.Background(), nil, r); err != nil {
			b.Fatal(err)
		}
		m.PluginStarted(p, "source")
		m.PluginStarted(p, "destination")
		m.Checkpointed(p, "items", start)
	}
	h := m.Handler()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	for b.Loop() {
		h.ServeHTTP(discard{http.Header{}}, req)
	}
}

// discard is a response writer that keeps nothing, so that the benchmark
// measures the scrape rather than a growing buffer.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return io.Discard.Write(b) }
func (d discard) WriteHeader(int)             {}
