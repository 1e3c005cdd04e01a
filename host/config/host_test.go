package config

import (
	"github.com/hashicorp/hcl/v2"
	"slices"
	"testing"
	"time"
)

func TestAllowedHosts(t *testing.T) {
	c, diags := loadSource(t, "host {\n  allowed_hosts = [\"Replicator.Example.com.\", \"192.0.2.10\", \"[2001:DB8::1]\", \"replicator.example.com\", \"2001:db8::2\"]\n}\n")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := []string{"replicator.example.com", "192.0.2.10", "2001:db8::1", "2001:db8::2"}
	if !slices.Equal(c.Host.AllowedHosts, want) {
		t.Errorf("allowed_hosts = %q, want %q", c.Host.AllowedHosts, want)
	}
	if c, _ := loadSource(t, "host {}\n"); len(c.Host.AllowedHosts) != 0 {
		t.Errorf("allowed_hosts by default = %q, want none", c.Host.AllowedHosts)
	}
}

func TestAllowedHostsRefusesWhatIsNotAName(t *testing.T) {
	for _, bad := range []string{
		`"*"`, `"*.example.com"`, `"https://replicator.example.com"`, `"replicator.example.com:443"`,
		`"replicator.example.com/console"`, `""`, `"."`, `"a..b"`, `"-a.example"`, `"a-.example"`, `"a b"`,
		`"fe80::1%eth0"`, `"ex\u0430mple.com"`, `"replicator.example.com"`,
	} {
		src := "host {\n  allowed_hosts = [" + bad + "]\n}\n"
		if bad == `"replicator.example.com"` {
			src = "host {\n  allowed_hosts = \"replicator.example.com\"\n}\n" // a string, not a list
		}
		c, diags := loadSource(t, src)
		errs := diags.Errs()
		if len(errs) != 1 || diags[0].Summary != "Invalid allowed_hosts" || diags[0].Subject.Start.Line != 2 {
			t.Errorf("allowed_hosts = [%s]: diagnostics %s, want one Invalid allowed_hosts on line 2", bad, diagsText(c, diags))
		}
	}
}

func TestPublicURL(t *testing.T) {
	for src, want := range map[string]string{
		`"https://replicator.example.com/"`:    "https://replicator.example.com",
		`"https://replicator.example.com/rep"`: "https://replicator.example.com/rep",
		`"http://127.0.0.1:8080"`:              "http://127.0.0.1:8080",
		`"http://[::1]:8080"`:                  "http://[::1]:8080",
		`"http://localhost:8080"`:              "http://localhost:8080",
	} {
		c, diags := loadSource(t, "host {\n  public_url = "+src+"\n}\n")
		if diags.HasErrors() || c.Host.PublicURL != want {
			t.Errorf("public_url = %s: %q, %s; want %q", src, c.Host.PublicURL, diagsText(c, diags), want)
		}
	}
	if c, _ := loadSource(t, "host {}\n"); c.Host.PublicURL != "" {
		t.Errorf("public_url by default = %q, want none", c.Host.PublicURL)
	}
}

func TestPublicURLRefusesWhatZohoCannotCallSafely(t *testing.T) {
	for _, bad := range []string{
		`"http://replicator.example.com"`, `"http://192.0.2.10:8080"`, `"replicator.example.com"`,
		`"ftp://replicator.example.com"`, `"https://"`, `"https://replicator.example.com/?k=v"`,
		`"https://user:pw@replicator.example.com"`, `"https://replicator.example.com/#x"`, `""`, `1`,
	} {
		c, diags := loadSource(t, "host {\n  public_url = "+bad+"\n}\n")
		errs := diags.Errs()
		if len(errs) != 1 || diags[0].Summary != "Invalid public_url" || diags[0].Subject.Start.Line != 2 {
			t.Errorf("public_url = %s: diagnostics %s, want one Invalid public_url on line 2", bad, diagsText(c, diags))
		}
	}
}

func TestWarmPlugins(t *testing.T) {
	for src, want := range map[string]Host{
		"host {}\n":                              {WarmPlugins: 2 * DefaultMaxConcurrentRuns(), WarmIdle: DefaultWarmIdle},
		"host {\n  max_concurrent_runs = 5\n}\n": {WarmPlugins: 10, WarmIdle: DefaultWarmIdle},
		"host {\n  warm_plugins = 0\n  max_concurrent_runs = 5\n}\n": {WarmPlugins: 0, WarmIdle: DefaultWarmIdle},
		"host {\n  warm_plugins = 40\n  warm_idle = \"10s\"\n}\n":    {WarmPlugins: 40, WarmIdle: 10 * time.Second},
	} {
		c, diags := loadSource(t, src)
		if diags.HasErrors() || c.Host.WarmPlugins != want.WarmPlugins || c.Host.WarmIdle != want.WarmIdle {
			t.Errorf("%q: warm_plugins %d, warm_idle %s, %s; want %d, %s", src, c.Host.WarmPlugins, c.Host.WarmIdle,
				diagsText(c, diags), want.WarmPlugins, want.WarmIdle)
		}
	}
	for _, bad := range []string{"warm_plugins = -1", "warm_plugins = 1.5", `warm_idle = "1ms"`} {
		c, diags := loadSource(t, "host {\n  "+bad+"\n}\n")
		if !diags.HasErrors() {
			t.Errorf("%s: no error, %+v", bad, c.Host)
		}
	}
}

func TestPublicURLAndConnect(t *testing.T) {
	t.Setenv("ZOHO_WEB_SECRET", "s3cret")
	t.Setenv("API_TOKEN", "0123456789abcdef0123")
	src := "host {\n  public_url = \"https://Replicator.example.com/\"\n  api_token = env(\"API_TOKEN\")\n" +
		"  connect \"zoho\" {\n    client_id = \"1000.ABC\"\n    client_secret = env(\"ZOHO_WEB_SECRET\")\n  }\n}\n"
	c, diags := loadSource(t, src)
	if diags.HasErrors() || len(diags) != 0 {
		t.Fatal(diagsText(c, diags))
	}
	if c.Host.PublicURL != "https://replicator.example.com" {
		t.Errorf("public_url = %q", c.Host.PublicURL)
	}
	if got := c.Host.Connect["zoho"]; got != (OAuthClient{ID: "1000.ABC", Secret: "s3cret"}) {
		t.Errorf("connect zoho = %+v", got)
	}
	if c.Host.APIToken != "0123456789abcdef0123" {
		t.Errorf("api_token = %q", c.Host.APIToken)
	}
}

func TestConnectBlockRefused(t *testing.T) {
	for _, tc := range []struct{ src, summary string }{
		{"connect \"zoho\" {\n  client_id = \"a\"\n}", "Missing required argument"},
		{"connect \"zoho\" {\n  client_id = \"a\"\n  client_secret = \"b\"\n}\nconnect \"zoho\" {\n  client_id = \"a\"\n  client_secret = \"b\"\n}", "Duplicate connect block"},
		{"api_token = \"short\"", "api_token too short"},
	} {
		c, diags := loadSource(t, "host {\n"+tc.src+"\n}\n")
		var errs []*hcl.Diagnostic
		for _, d := range diags {
			if d.Severity == hcl.DiagError {
				errs = append(errs, d)
			}
		}
		if len(errs) != 1 || errs[0].Summary != tc.summary {
			t.Errorf("%s: %s, want %q", tc.src, diagsText(c, diags), tc.summary)
		}
	}
	// A secret written in the file is warned of.
	_, diags := loadSource(t, "host {\nconnect \"zoho\" {\n  client_id = \"a\"\n  client_secret = \"b\"\n}\n}\n")
	if len(diags) != 1 || diags[0].Summary != `Secret "client_secret" written in the configuration` {
		t.Errorf("a written client_secret: %v", diags)
	}
}
