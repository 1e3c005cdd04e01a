package config

import (
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	pluginconfig "github.com/replicatorhq/replicator/plugin/config"
)

// Defaults of the host block.
const (
	// DefaultCallTimeout bounds each control call to a plugin: Spec,
	// Authorize, Check and Discover.
	DefaultCallTimeout = 2 * time.Minute
	// DefaultStallTimeout is how long a run may go without progress (no
	// record, checkpoint or acknowledgement) before it is ended as failed.
	DefaultStallTimeout = 10 * time.Minute
	// DefaultWarmIdle is how long a pipeline's plugin processes are kept
	// running after its run, for a run soon after (one woken by a
	// callback) to use.
	DefaultWarmIdle = time.Minute
	// DefaultFailureBackoffMax is the longest a failing pipeline waits
	// between runs: its interval doubles with each failure in a row up to
	// this. Six hours keeps a broken tenant to a few runs a day, and one
	// fixed outside the configuration (an API key renewed at the service)
	// running again the same working day.
	DefaultFailureBackoffMax = 6 * time.Hour
)

// Host holds the settings of the host process itself, from the host block.
type Host struct {
	// MaxConcurrentRuns bounds the runs in flight under `replicator run`.
	MaxConcurrentRuns int
	CallTimeout       time.Duration
	StallTimeout      time.Duration
	// FailureBackoffMax bounds how long a failing pipeline waits between
	// runs (see schedule.Backoff).
	FailureBackoffMax time.Duration
	// Listen is the address of the console, /metrics and the health
	// endpoints under `replicator run`; empty for none.
	Listen string
	// ConsoleToken opens the console and authorises /metrics; a secret.
	// Empty means the host makes one at start.
	ConsoleToken string
	// MetricsToken, when set, is the bearer token /metrics takes instead
	// of ConsoleToken; a secret.
	MetricsToken string
	// MetricsListen, when set, is an address of its own where /metrics
	// is served, without a token unless MetricsToken is set.
	MetricsListen string
	// AllowedHosts are the names the console answers to in a request's
	// Host header besides loopback names and the address it is reached
	// at: lower case, without a port, brackets or a final dot.
	AllowedHosts []string
	// PublicURL is the address customers' browsers and services (such
	// as Zoho's callbacks) reach the host at, without a final slash:
	// https, or http for a loopback host. Empty for none.
	PublicURL string
	// WarmPlugins bounds the plugin processes kept running between runs
	// (two per pipeline); 0 keeps none. By default two per run slot.
	WarmPlugins int
	// WarmIdle is how long they are kept after a run.
	WarmIdle time.Duration
	// APIToken authorises the portal API (/api/v1); a secret. Empty means
	// no API.
	APIToken string
	// Connect are the providers' OAuth clients customers connect sources
	// through, by source type.
	Connect map[string]OAuthClient
}

// OAuthClient is an OAuth client the provider registered with a service,
// from a connect block of the host block. Secret is a secret.
type OAuthClient struct {
	ID, Secret string
}

// DefaultHost returns the settings a configuration without a host block has.
func DefaultHost() Host {
	return Host{
		MaxConcurrentRuns: DefaultMaxConcurrentRuns(),
		CallTimeout:       DefaultCallTimeout,
		StallTimeout:      DefaultStallTimeout,
		WarmPlugins:       2 * DefaultMaxConcurrentRuns(),
		WarmIdle:          DefaultWarmIdle,
		FailureBackoffMax: DefaultFailureBackoffMax,
	}
}

// DefaultMaxConcurrentRuns is max_concurrent_runs when the host block does
// not set it: two runs per CPU. A run is mostly waiting on the network, and
// each run in flight costs two plugin processes.
func DefaultMaxConcurrentRuns() int {
	return 2 * runtime.NumCPU()
}

func hostSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "max_concurrent_runs"},
			{Name: "call_timeout"},
			{Name: "stall_timeout"},
			{Name: "failure_backoff_max"},
			{Name: "listen"},
			{Name: "console_token"},
			{Name: "metrics_token"},
			{Name: "metrics_listen"},
			{Name: "allowed_hosts"},
			{Name: "public_url"},
			{Name: "warm_plugins"},
			{Name: "warm_idle"},
			{Name: "api_token"},
		},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "connect", LabelNames: []string{"type"}},
		},
	}
}

func connectSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "client_id", Required: true},
			{Name: "client_secret", Required: true},
		},
	}
}

func (c *Config) decodeHost(b *hcl.Block, ctx *hcl.EvalContext) hcl.Diagnostics {
	content, diags := b.Body.Content(hostSchema())
	if attr, ok := content.Attributes["max_concurrent_runs"]; ok {
		n, d := decodeCount(attr, ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			c.Host.MaxConcurrentRuns = n
			c.Host.WarmPlugins = 2 * n
		}
	}
	if attr, ok := content.Attributes["warm_plugins"]; ok {
		n, d := decodeWhole(attr, ctx, 0)
		diags = append(diags, d...)
		if !d.HasErrors() {
			c.Host.WarmPlugins = n
		}
	}
	for _, a := range []struct {
		name   string
		dst    *string
		decode func(*hcl.Attribute, *hcl.EvalContext) (string, hcl.Diagnostics)
	}{
		{"listen", &c.Host.Listen, decodeListen},
		{"metrics_listen", &c.Host.MetricsListen, decodeListen},
		{"console_token", &c.Host.ConsoleToken, decodeToken},
		{"metrics_token", &c.Host.MetricsToken, decodeToken},
		{"api_token", &c.Host.APIToken, decodeToken},
	} {
		if attr, ok := content.Attributes[a.name]; ok {
			v, d := a.decode(attr, ctx)
			diags = append(diags, d...)
			if !d.HasErrors() {
				*a.dst = v
			}
		}
	}
	if attr, ok := content.Attributes["public_url"]; ok {
		v, d := decodePublicURL(attr, ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			c.Host.PublicURL = v
		}
	}
	for _, b := range content.Blocks {
		diags = append(diags, c.decodeConnect(b, ctx)...)
	}
	if attr, ok := content.Attributes["allowed_hosts"]; ok {
		v, d := decodeHostNames(attr, ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			c.Host.AllowedHosts = v
		}
	}
	for name, dst := range map[string]*time.Duration{
		"call_timeout":        &c.Host.CallTimeout,
		"stall_timeout":       &c.Host.StallTimeout,
		"warm_idle":           &c.Host.WarmIdle,
		"failure_backoff_max": &c.Host.FailureBackoffMax,
	} {
		attr, ok := content.Attributes[name]
		if !ok {
			continue
		}
		v, d := decodeDuration(attr, ctx, time.Second)
		diags = append(diags, d...)
		if !d.HasErrors() {
			*dst = v
		}
	}
	return diags
}

// checkPublicURL says what is wrong with public_url v, "" when nothing
// is: an absolute https URL without query, fragment or user, or http to a
// loopback address (for tests and a proxy on the same machine).
func checkPublicURL(v string) string {
	const want = `Write it as "https://replicator.example.com", optionally with a path; http is taken only for a loopback address such as "http://127.0.0.1:8080".`
	u, err := url.Parse(v)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return fmt.Sprintf("%q is not an absolute URL. %s", v, want)
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Sprintf("%q has a user, query or fragment; the host adds its own paths to public_url. %s", v, want)
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && pluginconfig.IsLoopbackHost(u.Hostname()):
		return ""
	case u.Scheme == "http":
		return fmt.Sprintf("%q is plain http to a host that is not loopback: connect links, OAuth codes and "+
			"callbacks' secrets pass through it, so it must be https. %s", v, want)
	}
	return fmt.Sprintf("%q has the scheme %q. %s", v, u.Scheme, want)
}

// decodeListen decodes an address to serve on, such as listen's.
func decodeListen(attr *hcl.Attribute, ctx *hcl.EvalContext) (string, hcl.Diagnostics) {
	v, diags := decodeString(attr, ctx, attr.Name+` takes an address to serve on, such as "127.0.0.1:8080".`)
	if diags.HasErrors() {
		return "", diags
	}
	if _, _, err := net.SplitHostPort(v); err != nil {
		return "", append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + attr.Name,
			Detail:   fmt.Sprintf(`%q is not a host and port. Write it as "127.0.0.1:8080", or ":8080" for every address.`, v),
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	return v, diags
}

// decodeToken decodes a secret token, such as console_token: at least 16
// characters, read with env() or file() rather than written in the file.
func decodeToken(attr *hcl.Attribute, ctx *hcl.EvalContext) (string, hcl.Diagnostics) {
	env := "REPLICATOR_" + strings.ToUpper(attr.Name)
	return decodeSecret(attr, ctx, fmt.Sprintf(`%s takes a token as a string, read with env(%q) or file(%q).`,
		attr.Name, env, strings.ReplaceAll(attr.Name, "_", "-")), 16)
}

// decodeHostNames decodes a list of host names or IP addresses, each
// written as a browser sends it in the Host header, without the port.
func decodeHostNames(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]string, hcl.Diagnostics) {
	v, diags := attr.Expr.Value(ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	invalid := func(detail string) ([]string, hcl.Diagnostics) {
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + attr.Name,
			Detail:   detail,
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	list, err := convert.Convert(v, cty.List(cty.String))
	if err != nil || list.IsNull() || !list.IsWhollyKnown() {
		return invalid(attr.Name + ` takes a list of host names, such as ["replicator.example.com"].`)
	}
	var names []string
	for _, e := range list.AsValueSlice() {
		if e.IsNull() {
			return invalid("Remove the null entry of " + attr.Name + ".")
		}
		name, ok := hostName(e.AsString())
		if !ok {
			return invalid(fmt.Sprintf(`%q is not a host name. Write the name a browser has in its address bar, such as "replicator.example.com" or "192.0.2.10", without a scheme, port, path or wildcard.`, e.AsString()))
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names, diags
}

// hostName returns s as the console compares Host headers (lower case,
// an IPv6 address without brackets, no final dot), or false when s is
// neither an IP address nor a DNS name.
func hostName(s string) (string, bool) {
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil && ip.Zone() == "" {
		return ip.String(), true
	}
	name := strings.ToLower(strings.TrimSuffix(s, "."))
	if name == "" || len(name) > 253 {
		return "", false
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", false
		}
		for _, r := range label {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
				return "", false
			}
		}
	}
	return name, true
}

// decodeString decodes a non-empty string; detail says what to write.
func decodeString(attr *hcl.Attribute, ctx *hcl.EvalContext, detail string) (string, hcl.Diagnostics) {
	v, diags := attr.Expr.Value(ctx)
	if diags.HasErrors() {
		return "", diags
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil || s.IsNull() || !s.IsKnown() || s.AsString() == "" {
		return "", append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + attr.Name,
			Detail:   detail,
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	return s.AsString(), diags
}

// decodeCount decodes a whole number of at least 1.
func decodeCount(attr *hcl.Attribute, ctx *hcl.EvalContext) (int, hcl.Diagnostics) {
	return decodeWhole(attr, ctx, 1)
}

// decodeWhole decodes a whole number of at least least.
func decodeWhole(attr *hcl.Attribute, ctx *hcl.EvalContext, least int64) (int, hcl.Diagnostics) {
	v, diags := attr.Expr.Value(ctx)
	if diags.HasErrors() {
		return 0, diags
	}
	invalid := append(diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid %s", attr.Name),
		Detail:   fmt.Sprintf("%s takes a whole number of at least %d, such as 8.", attr.Name, least),
		Subject:  attr.Expr.Range().Ptr(),
	})
	n, err := convert.Convert(v, cty.Number)
	if err != nil || n.IsNull() || !n.IsKnown() {
		return 0, invalid
	}
	bf := n.AsBigFloat()
	if !bf.IsInt() || bf.Cmp(big.NewFloat(float64(least))) < 0 || bf.Cmp(big.NewFloat(1<<20)) > 0 {
		return 0, invalid
	}
	i, _ := bf.Int64()
	return int(i), diags
}

// decodeSecret decodes a secret string of at least minLen characters,
// warning when it is written in the file; its diagnostics never show the
// line that holds it.
func decodeSecret(attr *hcl.Attribute, ctx *hcl.EvalContext, detail string, minLen int) (string, hcl.Diagnostics) {
	v, d := decodeString(attr, ctx, detail)
	if !d.HasErrors() && len(v) < minLen {
		d = append(d, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  attr.Name + " too short",
			Detail:   fmt.Sprintf("%s must be at least %d characters; make one with `openssl rand -hex 24`.", attr.Name, minLen),
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	if lit, ld := attr.Expr.Value(nil); !ld.HasErrors() && lit.IsKnown() && !lit.IsNull() {
		d = append(d, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  fmt.Sprintf("Secret %q written in the configuration", attr.Name),
			Detail:   attr.Name + ` is a secret, and its value is written in the file, where it ends up in version control and backups. Read it with env("NAME") or file("path") instead.`,
			Subject:  attr.NameRange.Ptr(),
		})
	}
	return v, hideSecretLines(d, []hcl.Range{attr.Range})
}

// decodePublicURL decodes public_url (see checkPublicURL); the final
// slash is dropped, the scheme and host lower-cased.
func decodePublicURL(attr *hcl.Attribute, ctx *hcl.EvalContext) (string, hcl.Diagnostics) {
	v, diags := decodeString(attr, ctx, `public_url takes the https address customers' browsers and services `+
		`such as Zoho reach the host at, such as "https://replicator.example.com".`)
	if diags.HasErrors() {
		return "", diags
	}
	if problem := checkPublicURL(v); problem != "" {
		return "", append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid public_url",
			Detail:   problem,
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	u, _ := url.Parse(v) // checked above
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	return strings.TrimSuffix(u.String(), "/"), diags
}

// decodeConnect decodes a connect block: the provider's OAuth client for
// one source type.
func (c *Config) decodeConnect(b *hcl.Block, ctx *hcl.EvalContext) hcl.Diagnostics {
	typ := b.Labels[0]
	if _, dup := c.Host.Connect[typ]; dup {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Duplicate connect block",
			Detail:   fmt.Sprintf("The host block already has a connect block for %q. Keep one.", typ),
			Subject:  b.DefRange.Ptr(),
		}}
	}
	content, diags := b.Body.Content(connectSchema())
	if diags.HasErrors() {
		return diags
	}
	id, d := decodeString(content.Attributes["client_id"], ctx, `client_id takes the Client ID of the provider's OAuth client, from the service's developer console.`)
	diags = append(diags, d...)
	secret, sd := decodeSecret(content.Attributes["client_secret"], ctx, `client_secret takes the Client Secret of the provider's OAuth client, read with env("NAME") or file("path").`, 1)
	diags = append(diags, sd...)
	if diags.HasErrors() {
		return diags
	}
	if c.Host.Connect == nil {
		c.Host.Connect = map[string]OAuthClient{}
	}
	c.Host.Connect[typ] = OAuthClient{ID: id, Secret: secret}
	return diags
}
