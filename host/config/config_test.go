package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// writeFiles creates files (name → content) in a fresh folder and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loadSource writes src as main.hcl and loads it.
func loadSource(t *testing.T, src string) (*Config, hcl.Diagnostics) {
	t.Helper()
	dir := writeFiles(t, map[string]string{"main.hcl": src})
	return Load(filepath.Join(dir, "main.hcl"))
}

func diagsText(c *Config, diags hcl.Diagnostics) string {
	var b bytes.Buffer
	if err := c.WriteDiagnostics(&b, diags); err != nil {
		return "writing diagnostics failed: " + err.Error()
	}
	return b.String()
}

const example = `replicator {
  state_file = "state/replicator.db"
}
source "zoho" "eu" {
  domain        = "eu"
  client_id     = env("CONFIG_TEST_CLIENT_ID")
  client_secret = file("secrets/zoho-secret")
}
destination "roger365" "main" {
  api_key       = env("CONFIG_TEST_API_KEY")
  replicator_id = "r-1"
}
pipeline "contacts" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = ["contacts", "accounts"]
  interval    = "15m"
  full_refresh_every = "24h"
}
pipeline "manual" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = ["contacts"]
}
`

func TestLoadValid(t *testing.T) {
	c, diags := loadSource(t, example)
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", diagsText(c, diags))
	}
	dir := filepath.Dir(c.Path)
	if c.Dir != dir {
		t.Errorf("Dir = %q, want %q", c.Dir, dir)
	}
	if want := filepath.Join(dir, "state", "replicator.db"); c.StateFile != want {
		t.Errorf("StateFile = %q, want %q", c.StateFile, want)
	}
	if len(c.Sources) != 1 || len(c.Destinations) != 1 || len(c.Pipelines) != 2 {
		t.Fatalf("got %d sources, %d destinations, %d pipelines; want 1, 1, 2",
			len(c.Sources), len(c.Destinations), len(c.Pipelines))
	}
	for _, ref := range []string{"zoho.eu", "source.zoho.eu"} {
		s, ok := c.Source(ref)
		if !ok || s.Ref() != "source.zoho.eu" || s.Kind != KindSource || s.Type != "zoho" || s.Name != "eu" {
			t.Errorf("Source(%q) = %+v, %v", ref, s, ok)
		}
	}
	if _, ok := c.Source("roger365.main"); ok {
		t.Error("Source found a destination")
	}
	d, ok := c.Destination("destination.roger365.main")
	if !ok || d.Ref() != "destination.roger365.main" {
		t.Errorf("Destination = %+v, %v", d, ok)
	}

	p, ok := c.Pipeline("contacts")
	if !ok {
		t.Fatal("pipeline contacts missing")
	}
	if p.Source != c.Sources[0] || p.Destination != c.Destinations[0] {
		t.Error("pipeline connectors are not the declared blocks")
	}
	if !slices.Equal(p.Streams, []string{"contacts", "accounts"}) {
		t.Errorf("Streams = %q", p.Streams)
	}
	if p.Interval != 15*time.Minute {
		t.Errorf("Interval = %v, want 15m", p.Interval)
	}
	if p.DeclRange.Start.Line != 13 {
		t.Errorf("DeclRange line = %d, want 13", p.DeclRange.Start.Line)
	}
	if p.FullRefreshEvery != 24*time.Hour {
		t.Errorf("FullRefreshEvery = %v, want 24h", p.FullRefreshEvery)
	}
	manual, _ := c.Pipeline("manual")
	if manual == nil || manual.Interval != 0 || manual.FullRefreshEvery != 0 {
		t.Errorf("manual pipeline = %+v, want interval 0 and no periodic full refresh", manual)
	}
	if _, ok := c.Pipeline("nope"); ok {
		t.Error("Pipeline found an undeclared name")
	}
}

func TestLoadHost(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "replicator.hcl")
	src := "host {\n  max_concurrent_runs = 3\n  call_timeout = \"45s\"\n  failure_backoff_max = \"2h\"\n" +
		"  metrics_listen = \"127.0.0.1:9100\"\n  metrics_token = env(\"REPLICATOR_METRICS_TOKEN\")\n}\n"
	t.Setenv("REPLICATOR_METRICS_TOKEN", "metrics-token-0123456789")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, diags := Load(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	// Two warm plugins per run slot unless warm_plugins says.
	want := Host{MaxConcurrentRuns: 3, CallTimeout: 45 * time.Second, StallTimeout: DefaultStallTimeout,
		WarmPlugins: 6, WarmIdle: DefaultWarmIdle,
		FailureBackoffMax: 2 * time.Hour, MetricsListen: "127.0.0.1:9100", MetricsToken: "metrics-token-0123456789"}
	if !reflect.DeepEqual(c.Host, want) {
		t.Errorf("host = %+v, want %+v", c.Host, want)
	}

	if err := os.WriteFile(path, []byte("# nothing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, _ = Load(path); !reflect.DeepEqual(c.Host, DefaultHost()) {
		t.Errorf("host without a block = %+v, want the defaults %+v", c.Host, DefaultHost())
	}
}

func TestLoadDefaultStateFile(t *testing.T) {
	c, diags := loadSource(t, `source "zoho" "eu" {}`)
	if diags.HasErrors() {
		t.Fatal(diagsText(c, diags))
	}
	if want := filepath.Join(c.Dir, DefaultStateFile); c.StateFile != want {
		t.Errorf("StateFile = %q, want %q", c.StateFile, want)
	}
	if !filepath.IsAbs(c.StateFile) {
		t.Errorf("StateFile %q is not absolute", c.StateFile)
	}
}

// conns declares the connectors the pipeline cases refer to, on lines 1–2.
const conns = `source "zoho" "eu" {}
destination "roger365" "main" {}
`

// diagCase is a configuration that Load refuses with one error of summary
// at line and col of main.hcl.
type diagCase struct {
	name    string
	src     string
	summary string
	line    int
	col     int
}

// loadDiagnosticsCases are also seeds of FuzzLoad.
func loadDiagnosticsCases() []diagCase {
	return []diagCase{
		{
			name:    "syntax error",
			src:     "source \"zoho\" \"eu\" {\n  domain = \n}\n",
			summary: "Invalid expression",
			line:    2, col: 12,
		},
		{
			name:    "unknown block type",
			src:     conns + "sink \"x\" {}\n",
			summary: "Unsupported block type",
			line:    3, col: 1,
		},
		{
			name:    "unknown top-level attribute",
			src:     conns + "colour = \"red\"\n",
			summary: "Unsupported argument",
			line:    3, col: 1,
		},
		{
			name:    "unknown replicator attribute",
			src:     "replicator {\n  state = \"x.db\"\n}\n",
			summary: "Unsupported argument",
			line:    2, col: 3,
		},
		{
			name:    "duplicate replicator block",
			src:     "replicator {}\nreplicator {}\n",
			summary: "Duplicate replicator block",
			line:    2, col: 1,
		},
		{
			name:    "state_file of wrong type",
			src:     "replicator {\n  state_file = [\"a\"]\n}\n",
			summary: "Invalid state_file",
			line:    2, col: 16,
		},
		{
			name:    "duplicate host block",
			src:     "host {}\nhost {}\n",
			summary: "Duplicate host block",
			line:    2, col: 1,
		},
		{
			name:    "max_concurrent_runs of zero",
			src:     "host {\n  max_concurrent_runs = 0\n}\n",
			summary: "Invalid max_concurrent_runs",
			line:    2, col: 25,
		},
		{
			name:    "max_concurrent_runs not whole",
			src:     "host {\n  max_concurrent_runs = 2.5\n}\n",
			summary: "Invalid max_concurrent_runs",
			line:    2, col: 25,
		},
		{
			name:    "call_timeout without unit",
			src:     "host {\n  call_timeout = \"30\"\n}\n",
			summary: "Invalid call_timeout",
			line:    2, col: 18,
		},
		{
			name:    "listen without a port",
			src:     "host {\n  listen = \"127.0.0.1\"\n}\n",
			summary: "Invalid listen",
			line:    2, col: 12,
		},
		{
			name:    "metrics_listen without a port",
			src:     "host {\n  metrics_listen = \"9100\"\n}\n",
			summary: "Invalid metrics_listen",
			line:    2, col: 20,
		},
		{
			name:    "metrics_token too short",
			src:     "host {\n  metrics_token = \"abc\"\n}\n",
			summary: "metrics_token too short",
			line:    2, col: 19,
		},
		{
			name:    "failure_backoff_max without unit",
			src:     "host {\n  failure_backoff_max = \"6\"\n}\n",
			summary: "Invalid failure_backoff_max",
			line:    2, col: 25,
		},
		{
			name:    "console_token too short",
			src:     "host {\n  console_token = \"abc\"\n}\n",
			summary: "console_token too short",
			line:    2, col: 19,
		},
		{
			name:    "stall_timeout too short",
			src:     "host {\n  stall_timeout = \"10ms\"\n}\n",
			summary: "Stall_timeout too short",
			line:    2, col: 19,
		},
		{
			name:    "source with one label",
			src:     "source \"zoho\" {}\n",
			summary: "Missing name for source",
			line:    1, col: 15,
		},
		{
			name:    "invalid connector name",
			src:     "source \"zoho\" \"e u\" {}\n",
			summary: "Invalid source name",
			line:    1, col: 15,
		},
		{
			name:    "duplicate source",
			src:     conns + "source \"zoho\" \"eu\" {\n}\n",
			summary: "Duplicate source block",
			line:    3, col: 1,
		},
		{
			name:    "duplicate destination",
			src:     conns + "\ndestination \"roger365\" \"main\" {}\n",
			summary: "Duplicate destination block",
			line:    4, col: 1,
		},
		{
			name: "duplicate pipeline",
			src: conns + `pipeline "p" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = ["contacts"]
}
pipeline "p" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = ["accounts"]
}
`,
			summary: "Duplicate pipeline block",
			line:    8, col: 1,
		},
		{
			name: "unknown pipeline attribute",
			src: conns + `pipeline "p" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = ["contacts"]
  schedule    = "hourly"
}
`,
			summary: "Unsupported argument",
			line:    7, col: 3,
		},
		{
			name: "missing required pipeline attribute",
			src: conns + `pipeline "p" {
  source  = source.zoho.eu
  streams = ["contacts"]
}
`,
			summary: "Missing required argument",
			line:    3, col: 14,
		},
		{
			name: "undeclared source",
			src: conns + `pipeline "p" {
  source      = source.zoho.us
  destination = destination.roger365.main
  streams     = ["contacts"]
}
`,
			summary: "Reference to undeclared source",
			line:    4, col: 17,
		},
		{
			name: "undeclared destination",
			src: conns + `pipeline "p" {
  source      = source.zoho.eu
  destination = destination.roger365.test
  streams     = ["contacts"]
}
`,
			summary: "Reference to undeclared destination",
			line:    5, col: 17,
		},
		{
			name: "destination given as source",
			src: conns + `pipeline "p" {
  source      = destination.roger365.main
  destination = destination.roger365.main
  streams     = ["contacts"]
}
`,
			summary: "A destination is given where a source is expected",
			line:    4, col: 17,
		},
		{
			name: "source given as destination",
			src: conns + `pipeline "p" {
  source      = source.zoho.eu
  destination = source.zoho.eu
  streams     = ["contacts"]
}
`,
			summary: "A source is given where a destination is expected",
			line:    5, col: 17,
		},
		{
			name: "quoted reference",
			src: conns + `pipeline "p" {
  source      = "source.zoho.eu"
  destination = destination.roger365.main
  streams     = ["contacts"]
}
`,
			summary: "Invalid source reference",
			line:    4, col: 17,
		},
		{
			name: "reference without kind",
			src: conns + `pipeline "p" {
  source      = source.zoho.eu
  destination = roger365.main
  streams     = ["contacts"]
}
`,
			summary: "Invalid destination reference",
			line:    5, col: 17,
		},
		{
			name: "reference too short",
			src: conns + `pipeline "p" {
  source      = source.zoho
  destination = destination.roger365.main
  streams     = ["contacts"]
}
`,
			summary: "Invalid source reference",
			line:    4, col: 17,
		},
		{
			name: "streams not a list",
			src: conns + `pipeline "p" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = "contacts"
}
`,
			summary: "Invalid streams value",
			line:    6, col: 17,
		},
		{
			name: "empty streams",
			src: conns + `pipeline "p" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = []
}
`,
			summary: "Empty streams list",
			line:    6, col: 17,
		},
		{
			name: "stream listed twice",
			src: conns + `pipeline "p" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = ["contacts", "contacts"]
}
`,
			summary: "Duplicate stream",
			line:    6, col: 17,
		},
		{
			name: "unparseable interval",
			src: conns + `pipeline "p" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = ["contacts"]
  interval    = "15 minutes"
}
`,
			summary: "Invalid interval",
			line:    7, col: 17,
		},
		{
			name: "interval without unit",
			src: conns + `pipeline "p" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = ["contacts"]
  interval    = 15
}
`,
			summary: "Invalid interval",
			line:    7, col: 17,
		},
		{
			name: "interval under a second",
			src: conns + `pipeline "p" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = ["contacts"]
  interval    = "500ms"
}
`,
			summary: "Interval too short",
			line:    7, col: 17,
		},
		{
			name: "full_refresh_every in days",
			src: conns + `pipeline "p" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = ["contacts"]
  full_refresh_every = "1d"
}
`,
			summary: "Invalid full_refresh_every",
			line:    7, col: 24,
		},
		{
			name: "full_refresh_every not a string",
			src: conns + `pipeline "p" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = ["contacts"]
  full_refresh_every = true
}
`,
			summary: "Invalid full_refresh_every",
			line:    7, col: 24,
		},
		{
			name: "full_refresh_every under a minute",
			src: conns + `pipeline "p" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = ["contacts"]
  full_refresh_every = "30s"
}
`,
			summary: "Full_refresh_every too short",
			line:    7, col: 24,
		},
		{
			name: "env of unset variable",
			src: conns + `pipeline "p" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = ["contacts"]
  interval    = env("CONFIG_TEST_SURELY_UNSET")
}
`,
			summary: "Environment variable CONFIG_TEST_SURELY_UNSET is not set",
			line:    7, col: 17,
		},
		{
			name: "invalid pipeline name",
			src: conns + `pipeline "my pipeline" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = ["contacts"]
}
`,
			summary: "Invalid pipeline name",
			line:    3, col: 10,
		},
		{
			name: "for expression",
			src: conns + `pipeline "p" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = [for s in ["contacts"] : s]
}
`,
			summary: "Unsupported expression",
			line:    6, col: 17,
		},
		{
			name:    "for directive",
			src:     "replicator {\n  state_file = \"%{ for s in [\"a\"] }${s}%{ endfor }.db\"\n}\n",
			summary: "Unsupported expression",
			line:    2, col: 17,
		},
		{
			name:    "operator",
			src:     "host {\n  max_concurrent_runs = 2 * 4\n}\n",
			summary: "Unsupported expression",
			line:    2, col: 25,
		},
		{
			name:    "conditional",
			src:     "host {\n  call_timeout = true ? \"1m\" : \"2m\"\n}\n",
			summary: "Unsupported expression",
			line:    2, col: 18,
		},
		{
			name:    "if directive",
			src:     "replicator {\n  state_file = \"%{ if true }a%{ endif }.db\"\n}\n",
			summary: "Unsupported expression",
			line:    2, col: 17,
		},
		{
			name:    "index",
			src:     "replicator {\n  state_file = [\"a.db\"][0]\n}\n",
			summary: "Unsupported expression",
			line:    2, col: 16,
		},
		{
			name:    "splat",
			src:     "replicator {\n  state_file = [\"a.db\"][*]\n}\n",
			summary: "Unsupported expression",
			line:    2, col: 16,
		},
		{
			name:    "number too long",
			src:     "host {\n  max_concurrent_runs = " + strings.Repeat("1", MaxNumberLength+1) + "\n}\n",
			summary: "Number too long",
			line:    2, col: 25,
		},
		{
			name:    "number too large",
			src:     "replicator {\n  state_file = 1e400\n}\n",
			summary: "Number out of range",
			line:    2, col: 16,
		},
		{
			name:    "number too close to zero",
			src:     "replicator {\n  state_file = -1.5e-400\n}\n",
			summary: "Number out of range",
			line:    2, col: 17,
		},
		{
			name:    "heredoc of too many lines",
			src:     "replicator {\n  state_file = <<EOT\n" + strings.Repeat("x\n", MaxStringPieces+1) + "EOT\n}\n",
			summary: "String in too many pieces",
			// the heredoc's lines start on line 3
			line: 3 + MaxStringPieces, col: 1,
		},
		{
			name:    "string of too many $ signs",
			src:     "replicator {\n  state_file = \"" + strings.Repeat("$", MaxStringPieces+1) + "\"\n}\n",
			summary: "String in too many pieces",
			line:    2, col: 17 + MaxStringPieces,
		},
	}
}

func TestLoadDiagnostics(t *testing.T) {
	for _, tt := range loadDiagnosticsCases() {
		t.Run(tt.name, func(t *testing.T) {
			c, diags := loadSource(t, tt.src)
			if c == nil {
				t.Fatal("Load returned no Config")
			}
			errs := diags.Errs()
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1:\n%s", len(errs), diagsText(c, diags))
			}
			d := diags[0]
			for _, x := range diags {
				if x.Severity == hcl.DiagError {
					d = x
				}
			}
			if d.Summary != tt.summary {
				t.Errorf("summary = %q, want %q", d.Summary, tt.summary)
			}
			if d.Detail == "" {
				t.Error("diagnostic has no detail")
			}
			if d.Subject == nil {
				t.Fatal("diagnostic has no subject")
			}
			if got, want := fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column), fmt.Sprintf("%d:%d", tt.line, tt.col); got != want {
				t.Errorf("subject at %s, want %s", got, want)
			}
			if filepath.Base(d.Subject.Filename) != "main.hcl" {
				t.Errorf("subject file = %q, want main.hcl", d.Subject.Filename)
			}
		})
	}
}

func TestLoadMissingPath(t *testing.T) {
	c, diags := Load(filepath.Join(t.TempDir(), "nope.hcl"))
	if c == nil || !diags.HasErrors() || diags[0].Summary != "Cannot read the configuration" {
		t.Fatalf("Load of a missing file: %v", diags)
	}
}

func TestLoadFolder(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"connectors.hcl": conns,
		"pipelines.hcl": `pipeline "p" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = ["contacts"]
}
`,
		"notes.txt":   "not configuration {",
		"sub/x.hcl":   "broken {",
		".hidden.hcl": "broken {",
	})
	c, diags := Load(dir)
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", diagsText(c, diags))
	}
	if c.Dir != dir || c.Path != dir {
		t.Errorf("Dir, Path = %q, %q; want both %q", c.Dir, c.Path, dir)
	}
	p, ok := c.Pipeline("p")
	if !ok || p.Source.Ref() != "source.zoho.eu" || p.Destination.Ref() != "destination.roger365.main" {
		t.Fatalf("pipeline across files = %+v, %v", p, ok)
	}

	// A duplicate in the second file names the first file's block.
	if err := os.WriteFile(filepath.Join(dir, "more.hcl"), []byte("\nsource \"zoho\" \"eu\" {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, diags = Load(dir)
	if len(diags) != 1 || diags[0].Summary != "Duplicate source block" {
		t.Fatalf("want one duplicate diagnostic, got:\n%s", diagsText(c, diags))
	}
	if got := diags[0].Subject; filepath.Base(got.Filename) != "more.hcl" || got.Start.Line != 2 {
		t.Errorf("subject = %s, want more.hcl line 2", got)
	}
	if !strings.Contains(diags[0].Detail, "connectors.hcl:1") {
		t.Errorf("detail %q does not point at the first declaration", diags[0].Detail)
	}
}

func TestLoadEmptyFolder(t *testing.T) {
	c, diags := Load(t.TempDir())
	if c == nil || !diags.HasErrors() || diags[0].Summary != "No configuration files" {
		t.Fatalf("Load of an empty folder: %v", diags)
	}
}

func TestWriteDiagnostics(t *testing.T) {
	c, diags := loadSource(t, conns+`pipeline "p" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = ["contacts"]
  interval    = "5x"
}
`)
	if !diags.HasErrors() {
		t.Fatal("want an error")
	}
	out := diagsText(c, diags)
	for _, want := range []string{
		"Error: Invalid interval",
		"main.hcl line 7",
		`   7:   interval    = "5x"`,
		`Write it with a unit`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("output has colour codes:\n%s", out)
	}
}

// zohoSpec is a connector schema using every attribute type.
var zohoSpec = contract.Spec{
	Name:    "zoho",
	Version: "1.0.0",
	Config: []contract.Attribute{
		{Name: "domain", Type: contract.TypeString, Default: json.RawMessage(`"com"`)},
		{Name: "client_id", Type: contract.TypeString, Required: true},
		{Name: "client_secret", Type: contract.TypeString, Sensitive: true},
		{Name: "page_size", Type: contract.TypeNumber, Default: json.RawMessage(`200`)},
		{Name: "include_deleted", Type: contract.TypeBool, Default: json.RawMessage(`false`)},
		{Name: "modules", Type: contract.TypeStringList, Default: json.RawMessage(`["Contacts","Accounts"]`)},
		{Name: "labels", Type: contract.TypeStringMap},
	},
}

func TestDecode(t *testing.T) {
	t.Setenv("CONFIG_TEST_CLIENT_ID", "id-from-env")
	const secret = "s3cr3t-value"
	tests := []struct {
		name     string
		body     string // the source block's body, from line 2
		files    map[string]string
		want     string // JSON; empty when an error is expected
		severity hcl.DiagnosticSeverity
		summary  string
		line     int
		col      int
	}{
		{
			name: "defaults",
			body: `client_id = "abc"`,
			want: `{"client_id":"abc","domain":"com","include_deleted":false,"modules":["Contacts","Accounts"],"page_size":200}`,
		},
		{
			name: "all given",
			body: `
  client_id       = "abc"
  domain          = "eu"
  page_size       = 12.5
  include_deleted = true
  modules         = []
  labels          = { team = "sales" }`,
			want: `{"client_id":"abc","domain":"eu","include_deleted":true,"labels":{"team":"sales"},"modules":[],"page_size":12.5}`,
		},
		{
			name: "env",
			body: `client_id = env("CONFIG_TEST_CLIENT_ID")`,
			want: `{"client_id":"id-from-env","domain":"com","include_deleted":false,"modules":["Contacts","Accounts"],"page_size":200}`,
		},
		{
			name:  "file relative to config",
			body:  "client_id = \"abc\"\n  client_secret = file(\"secrets/zoho\")",
			files: map[string]string{"secrets/zoho": secret + "\n"},
			want:  `{"client_id":"abc","client_secret":"` + secret + `","domain":"com","include_deleted":false,"modules":["Contacts","Accounts"],"page_size":200}`,
		},
		{
			name:     "unreadable file",
			body:     "client_id = \"abc\"\n  client_secret = file(\"secrets/missing\")",
			severity: hcl.DiagError,
			summary:  "Cannot read file",
			line:     3, col: 19,
		},
		{
			name:     "env unset",
			body:     `client_id = env("CONFIG_TEST_SURELY_UNSET")`,
			severity: hcl.DiagError,
			summary:  "Environment variable CONFIG_TEST_SURELY_UNSET is not set",
			line:     2, col: 15,
		},
		{
			name:     "wrong type",
			body:     "client_id = \"abc\"\n  page_size = \"many\"",
			severity: hcl.DiagError,
			summary:  "Incorrect attribute value type",
			line:     3, col: 15,
		},
		{
			name:     "missing required",
			body:     `domain = "eu"`,
			severity: hcl.DiagError,
			summary:  "Missing required argument",
			line:     1, col: 20,
		},
		{
			name:     "required given null",
			body:     `client_id = null`,
			severity: hcl.DiagError,
			summary:  `Attribute "client_id" is null`,
			line:     2, col: 15,
		},
		{
			name:     "unknown attribute",
			body:     "client_id = \"abc\"\n  region = \"eu\"",
			severity: hcl.DiagError,
			summary:  "Unsupported argument",
			line:     3, col: 3,
		},
		{
			name:     "sensitive literal",
			body:     "client_id = \"abc\"\n  client_secret = \"" + secret + "\"",
			want:     `{"client_id":"abc","client_secret":"` + secret + `","domain":"com","include_deleted":false,"modules":["Contacts","Accounts"],"page_size":200}`,
			severity: hcl.DiagWarning,
			summary:  `Secret "client_secret" written in the configuration`,
			line:     3, col: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"main.hcl": "source \"zoho\" \"eu\" {\n  " + tt.body + "\n}\n"}
			for k, v := range tt.files {
				files[k] = v
			}
			c, diags := Load(filepath.Join(writeFiles(t, files), "main.hcl"))
			if len(diags) > 0 {
				t.Fatalf("Load: %s", diagsText(c, diags))
			}
			src, _ := c.Source("zoho.eu")
			got, diags := src.Decode(zohoSpec)
			if string(got) != tt.want {
				t.Errorf("config = %s, want %s\n%s", got, tt.want, diagsText(c, diags))
			}
			if tt.summary == "" {
				if len(diags) > 0 {
					t.Errorf("unexpected diagnostics:\n%s", diagsText(c, diags))
				}
				return
			}
			if len(diags) != 1 {
				t.Fatalf("got %d diagnostics, want 1:\n%s", len(diags), diagsText(c, diags))
			}
			d := diags[0]
			if d.Severity != tt.severity || d.Summary != tt.summary {
				t.Errorf("diagnostic = %v %q, want %v %q", d.Severity, d.Summary, tt.severity, tt.summary)
			}
			if d.Subject == nil {
				t.Fatal("diagnostic has no subject")
			}
			if got, want := fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column), fmt.Sprintf("%d:%d", tt.line, tt.col); got != want {
				t.Errorf("subject at %s, want %s", got, want)
			}
			if out := diagsText(c, diags); strings.Contains(out, secret) {
				t.Errorf("diagnostics print the secret:\n%s", out)
			}
		})
	}
}

func TestDecodeHidesSecretLines(t *testing.T) {
	// A secret that is also of the wrong type: neither the warning nor the
	// error may print the line that holds it.
	spec := contract.Spec{Name: "x", Config: []contract.Attribute{
		{Name: "token", Type: contract.TypeNumber, Sensitive: true},
		{Name: "key", Type: contract.TypeString, Sensitive: true},
	}}
	c, diags := loadSource(t, "source \"x\" \"y\" {\n  token = \"tok-123\"\n  key = \"key-456\"\n}\n")
	if len(diags) > 0 {
		t.Fatal(diagsText(c, diags))
	}
	_, diags = c.Sources[0].Decode(spec)
	if !diags.HasErrors() || len(diags) != 3 {
		t.Fatalf("want an error and two warnings, got:\n%s", diagsText(c, diags))
	}
	out := diagsText(c, diags)
	for _, s := range []string{"tok-123", "key-456"} {
		if strings.Contains(out, s) {
			t.Errorf("output shows %q:\n%s", s, out)
		}
	}
	for _, want := range []string{"main.hcl line 2", "main.hcl line 3", "source line not shown"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDecodeBadSpec(t *testing.T) {
	c, diags := loadSource(t, "source \"x\" \"y\" {}\n")
	if len(diags) > 0 {
		t.Fatal(diagsText(c, diags))
	}
	for name, attr := range map[string]contract.Attribute{
		"unknown type":  {Name: "a", Type: "set(number)"},
		"wrong default": {Name: "a", Type: contract.TypeNumber, Default: json.RawMessage(`"ten"`)},
	} {
		_, diags := c.Sources[0].Decode(contract.Spec{Name: "x", Config: []contract.Attribute{attr}})
		if !diags.HasErrors() || !strings.Contains(diags[0].Summary, "unusable configuration schema") {
			t.Errorf("%s: diagnostics = %v", name, diags)
		}
	}
}

func TestConsoleTokenWrittenInTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replicator.hcl")
	const secret = "0123456789abcdef-console-secret"
	src := "host {\n  listen        = \"127.0.0.1:8080\"\n  console_token = \"" + secret + "\"\n}\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, diags := Load(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if c.Host.ConsoleToken != secret || c.Host.Listen != "127.0.0.1:8080" {
		t.Errorf("host = %+v", c.Host)
	}
	if len(diags) != 1 || diags[0].Summary != `Secret "console_token" written in the configuration` {
		t.Fatalf("diagnostics %v, want the literal secret warning", diags)
	}
	var b strings.Builder
	if err := c.WriteDiagnostics(&b, diags); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), secret) {
		t.Errorf("the warning shows the secret:\n%s", b.String())
	}
}

// A connector's digest follows its attributes as they evaluate, env()
// included, and nothing else.
func TestConnectorDigest(t *testing.T) {
	src := "source \"zoho\" \"eu\" {\n  domain = \"eu\"\n  client_secret = env(\"DIGEST_SECRET\")\n}\n"
	digest := func() string {
		t.Helper()
		c, diags := loadSource(t, src)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		d, err := c.Sources[0].Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	t.Setenv("DIGEST_SECRET", "one")
	first := digest()
	if again := digest(); again != first {
		t.Errorf("the same configuration has digests %s and %s", first, again)
	}
	t.Setenv("DIGEST_SECRET", "two")
	if changed := digest(); changed == first {
		t.Error("a value env() reads changed, and the digest did not")
	}
}
