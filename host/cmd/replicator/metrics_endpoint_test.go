package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

const metricsToken = "test-metrics-token-0123456789"

// TestMetricsToken: with metrics_token, /metrics takes that token and no
// longer the console's, so that a scraper holds no key to the console.
func TestMetricsToken(t *testing.T) {
	t.Setenv("REPLICATOR_METRICS_TOKEN", metricsToken)
	f := newConsoleFixtureWith(t, consoleSetup{host: tokenHost + `  metrics_token = env("REPLICATOR_METRICS_TOKEN")` + "\n"})
	code, _, body := f.get("/metrics", "Authorization", "Bearer "+metricsToken)
	if code != http.StatusOK || !strings.Contains(body, `replicator_pipeline_interval_seconds{pipeline="hourly"} 3600`) {
		t.Errorf("/metrics with the metrics token: %d\n%.500s", code, body)
	}
	if code, _, body := f.get("/metrics", "Authorization", "Bearer "+consoleToken); code != http.StatusUnauthorized || !strings.Contains(body, "metrics_token") {
		t.Errorf("/metrics with the console token: %d %q", code, body)
	}
	if code, _, _ := f.get("/metrics"); code != http.StatusUnauthorized {
		t.Errorf("/metrics without a token: %d", code)
	}
	// The metrics token opens no console page.
	if code, _, _ := f.get("/", "Authorization", "Bearer "+metricsToken); code == http.StatusOK {
		t.Errorf("the pipelines page with the metrics token: %d", code)
	}
}

// metricsAt finds the address of metrics_listen in replicator run's log.
var metricsAt = regexp.MustCompile(`/metrics is served [^:]*: url=(http://\S+/metrics)`)

// TestMetricsListen: metrics_listen serves /metrics on an address of its
// own without a token, and nothing else there; the console keeps its
// /metrics behind the console token. With metrics_token too, the address
// of its own takes that token.
func TestMetricsListen(t *testing.T) {
	for _, withToken := range []bool{false, true} {
		t.Run(map[bool]string{false: "open", true: "token"}[withToken], func(t *testing.T) {
			host := tokenHost + `  metrics_listen = "127.0.0.1:0"` + "\n"
			if withToken {
				t.Setenv("REPLICATOR_METRICS_TOKEN", metricsToken)
				host += `  metrics_token = env("REPLICATOR_METRICS_TOKEN")` + "\n"
			}
			f := newConsoleFixtureWith(t, consoleSetup{host: host})
			m := metricsAt.FindStringSubmatch(f.log.String())
			if m == nil {
				t.Fatalf("no metrics address in the log:\n%s", f.log.String())
			}
			get := func(url string, token string) (int, string) {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			code, body := get(m[1], "")
			switch {
			case withToken && code != http.StatusUnauthorized:
				t.Errorf("metrics_listen with metrics_token, without a token: %d", code)
			case !withToken && (code != http.StatusOK || !strings.Contains(body, `replicator_pipeline_interval_seconds{pipeline="hourly"}`)):
				t.Errorf("metrics_listen without a token: %d\n%.500s", code, body)
			}
			if withToken {
				if code, body := get(m[1], metricsToken); code != http.StatusOK || !strings.Contains(body, "replicator_pipeline_interval_seconds") {
					t.Errorf("metrics_listen with metrics_token: %d\n%.500s", code, body)
				}
			}
			if code, _ := get(strings.TrimSuffix(m[1], "metrics")+"healthz", ""); code != http.StatusNotFound {
				t.Errorf("metrics_listen serves /healthz: %d", code)
			}
			// The console's /metrics still takes its own token, or the
			// console token when there is no metrics_token.
			token := consoleToken
			if withToken {
				token = metricsToken
			}
			if code, _, _ := f.get("/metrics", "Authorization", "Bearer "+token); code != http.StatusOK {
				t.Errorf("the console's /metrics: %d", code)
			}
		})
	}
}
