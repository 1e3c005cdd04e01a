package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkScrape scrapes a host of 1,000 pipelines that each ran once,
// as internal/bench's metrics_scrape_ms does over HTTP; it is here to
// profile the scrape without a host around it.
func BenchmarkScrape(b *testing.B) {
	m := New(func() (int, int) { return 0, 0 })
	start := time.Now()
	for i := range 1000 {
		p := fmt.Sprintf("tenant-%04d", i)
		m.Records(p, "items", "read", 10)
		m.Records(p, "items", "written", 10)
		m.RunEnded(p, "succeeded", start, start.Add(time.Second))
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
