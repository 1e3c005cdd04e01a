package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/internal/promtool"
)

// The shipped alert rules and dashboard, in the repository's monitoring
// folder. `make test` runs promtool's own checks and tests of the rules.
const (
	alertsFile    = "../../monitoring/alerts.yml"
	dashboardFile = "../../monitoring/grafana-dashboard.json"
)

// exportedNames returns the names a scrape can hold, with a histogram's
// series names: every family made to show.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	m := New(Options{Load: func() (int, int) { return 0, 0 }, Ready: func(context.Context) error { return nil }})
	m.Configure("p", Config{Source: "source.zoho.p", Interval: time.Hour, CreditsPerRun: 10})
	m.Records("p", "s", "read", 1)
	m.Checkpointed("p", "s", time.Now())
	m.PluginStarted("p", "source")
	m.PluginCrashed("p")
	if err := m.RunEnded(context.Background(), nil, state.Run{Pipeline: "p", Outcome: state.OutcomeSucceeded,
		Counters: map[string]int64{"source.api_credits": 1, "source.tokens_minted": 1}}); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for line := range strings.SplitSeq(scrape(t, m), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[1] == "TYPE" {
			names[f[2]] = true
			if f[3] == "histogram" {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					names[f[2]+suffix] = true
				}
			}
		}
	}
	for f := range famCount {
		if !names[m.fam[f].name] {
			t.Fatalf("the scrape lacks family %s: make it show", m.fam[f].name)
		}
	}
	return names
}

var metricName = regexp.MustCompile(`\breplicator_[a-z_]+`)

// Every replicator_ name the rules and the dashboard use is one the host
// exports.
func TestMonitoringUsesExportedNames(t *testing.T) {
	names := exportedNames(t)
	for _, file := range []string{alertsFile, dashboardFile} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		used := metricName.FindAllString(string(b), -1)
		if len(used) == 0 {
			t.Errorf("%s uses no metric", file)
		}
		for _, n := range used {
			if !names[n] {
				t.Errorf("%s uses %s, which the host does not export", file, n)
			}
		}
	}
}

// dashboard is what an import of the dashboard needs of it.
type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name, Type string
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		GridPos struct {
			X, Y, W, H int
		} `json:"gridPos"`
		Datasource *struct{ Type, UID string } `json:"datasource"`
		Targets    []struct {
			Expr  string `json:"expr"`
			RefID string `json:"refId"`
		} `json:"targets"`
	} `json:"panels"`
}

// The dashboard holds what an import needs: a uid, the data source as a
// variable, panels with distinct ids on a 24-column grid, and queries that
// are PromQL once Grafana has put its variables in (promtool parses them,
// as a recording rule each).
func TestDashboardImports(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		t.Errorf("uid %q, title %q, schemaVersion %d: an import needs all three", d.UID, d.Title, d.SchemaVersion)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" {
		t.Error("the data source is not a variable: an import would be bound to one Prometheus")
	}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W < 1 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q is off the grid: %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not query the data source variable", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			expr := strings.NewReplacer(`"$job"`, `".*"`, `"$pipeline"`, `".*"`, "$__rate_interval", "5m").Replace(q.Expr)
			fmt.Fprintf(&rules, "      - record: panel_%d_%s\n        expr: %s\n", p.ID, q.RefID, yamlQuote(expr))
		}
	}
	file := filepath.Join(t.TempDir(), "dashboard.yml")
	if err := os.WriteFile(file, []byte(rules.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool.Path(t), "check", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("the dashboard's queries are not PromQL: %v\n%s\n%s", err, out, rules.String())
	}
}

// yamlQuote quotes s for YAML, whose double-quoted strings are JSON's.
func yamlQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
