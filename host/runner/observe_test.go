package runner

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/replicatorhq/replicator/host/metrics"
)

// The metrics see, per stream, what a run read and what the destination
// acknowledged, and when each stream's checkpoint was stored.
func TestObserverCountsPerStream(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	p := generatorPipeline(t, dir, `{"count":1500,"checkpoint_every":200,"streams":["contacts","accounts"]}`)
	m := metrics.New(metrics.Options{})
	run, err := Run(context.Background(), p, store, fence(t, store), Options{Observer: m.Pipeline("p")})
	if err != nil || run.Outcome != "succeeded" {
		t.Fatalf("run: %+v, %v", run, err)
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := string(b)
	for _, stream := range []string{"contacts", "accounts"} {
		for _, kind := range []string{"read", "written"} {
			want := fmt.Sprintf(`replicator_records_total{kind=%q,pipeline="p",stream=%q} 1500`, kind, stream)
			if !strings.Contains(out, want+"\n") {
				t.Errorf("scrape lacks %s", want)
			}
		}
		if !strings.Contains(out, fmt.Sprintf(`replicator_checkpoint_lag_seconds{pipeline="p",stream=%q}`, stream)) {
			t.Errorf("no checkpoint lag for %s", stream)
		}
	}
}
