package zoho

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	pluginconfig "github.com/replicatorhq/replicator/plugin/config"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/schemas/phone"
)

// dataCentre holds the hosts of one Zoho data centre.
type dataCentre struct {
	code     string
	accounts string // accounts server host
	tld      string // suffix of the API hosts: www.zohoapis.<tld>
	crm      string // CRM web host of production orgs
}

// dataCentres lists Zoho's data centres in the order they are probed.
func dataCentres() []dataCentre {
	return []dataCentre{
		{"us", "accounts.zoho.com", "com", "crm.zoho.com"}, {"eu", "accounts.zoho.eu", "eu", "crm.zoho.eu"},
		{"in", "accounts.zoho.in", "in", "crm.zoho.in"}, {"au", "accounts.zoho.com.au", "com.au", "crm.zoho.com.au"},
		{"jp", "accounts.zoho.jp", "jp", "crm.zoho.jp"}, {"cn", "accounts.zoho.com.cn", "com.cn", "crm.zoho.com.cn"},
		{"ca", "accounts.zohocloud.ca", "ca", "crm.zohocloud.ca"}, {"sa", "accounts.zoho.sa", "sa", "crm.zoho.sa"},
		{"uk", "accounts.zoho.uk", "uk", "crm.zoho.uk"},
	}
}

func findDC(code string) (dataCentre, bool) {
	for _, dc := range dataCentres() {
		if dc.code == code {
			return dc, true
		}
	}
	return dataCentre{}, false
}

func dcCodes() []string {
	var codes []string
	for _, dc := range dataCentres() {
		codes = append(codes, dc.code)
	}
	return codes
}

// Environments of a Zoho org and the prefix of their API host.
var envPrefixes = map[string]string{
	"production": "www",
	"sandbox":    "sandbox",
	"developer":  "developer",
}

// apiHost is the API host of an environment in a data centre.
func (dc dataCentre) apiHost(env string) string {
	return envPrefixes[env] + ".zohoapis." + dc.tld
}

// ownsAPIHost reports whether host is one of the data centre's API hosts,
// of any environment.
func (dc dataCentre) ownsAPIHost(host string) bool {
	for _, p := range envPrefixes {
		if host == p+".zohoapis."+dc.tld {
			return true
		}
	}
	return false
}

// crmHost is the host of the CRM web client for an environment; sandboxes
// live on their own host.
func (dc dataCentre) crmHost(env string) string {
	if env == "sandbox" {
		return "crmsandbox" + strings.TrimPrefix(dc.crm, "crm")
	}
	return dc.crm
}

// config is the configuration of a source "zoho" block, declared once:
// the Spec's attributes and the decoding both come from its tags.
type config struct {
	Domain           string   `config:"domain" description:"Zoho data centre of the org: us, eu, in, au, jp, cn, ca, sa, uk. Needed to authorize with a grant code; a source connected from a connect page gets it from Zoho."`
	Environment      string   `config:"environment" default:"production" description:"Org environment: production, sandbox or developer."`
	ClientID         string   `config:"client_id" description:"Client ID of the Self Client in the Zoho API console, to authorize with a grant code; not for a source connected from a connect page."`
	ClientSecret     string   `config:"client_secret,sensitive" description:"Client secret of the Self Client, with client_id."`
	CRMURL           string   `config:"crm_url" description:"Base URL of the org in the CRM web client, e.g. https://crm.zoho.eu/crm/org20001234; read from the org API (scope ZohoCRM.org.READ) when absent."`
	RecordURL        string   `config:"record_url" description:"Template of a record's link with {SourceId}, {Module} and {crm_url}; default {crm_url}/tab/{Module}/{SourceId}."`
	DefaultRegion    string   `config:"default_region" description:"Region (ISO 3166 code such as NL or US) for phone numbers written without a country code when the record's country does not say; default the org's country from the org API (scope ZohoCRM.org.READ)."`
	StartTime        string   `config:"start_time" description:"RFC 3339 time; records last modified before it are not read."`
	MaxCreditsPerRun *float64 `config:"max_credits_per_run" description:"Stop a run at a checkpoint before it spends more Zoho API credits than this."`
	FullSyncMethod   string   `config:"full_sync_method" default:"auto" description:"How full syncs read a module: auto (the records API below about 11,000 records, Bulk Read above, whichever costs fewer credits), bulk_read or records_api."`
	Notifications    bool     `config:"notifications" default:"false" description:"Have Zoho call the replicator host when contacts or accounts change, so that they reach the destination seconds later; needs the scope ZohoCRM.notifications.ALL in the grant and the host's public_url, an https address Zoho can reach. The pipeline's interval stays the safety net for lost callbacks."`
	AccountsURL      string   `config:"accounts_url" description:"For tests only: base URL of the accounts server; {dc} is replaced by a data centre code. https, or http to localhost or a loopback address only."`
	APIURL           string   `config:"api_url" description:"For tests only: base URL of the CRM API. https, or http to localhost or a loopback address only."`

	dc        dataCentre
	connect   contract.ConnectKind // how the credentials in use were made
	startTime time.Time
	maxCredit int64 // 0: no limit
}

// parseConfig decodes the JSON configuration the host passes (defaults,
// types and required attributes are plugin/config's) and validates what
// the types cannot say.
func parseConfig(raw json.RawMessage) (*config, error) {
	decoded, err := pluginconfig.Decode[config](raw)
	if err != nil {
		return nil, fmt.Errorf("reading the zoho source configuration: %w", err)
	}
	c := &decoded
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	c.Domain = strings.ToLower(strings.TrimSpace(c.Domain))
	if dc, ok := findDC(c.Domain); ok {
		c.dc = dc
	} else if c.Domain != "" {
		bad("domain %q is not a Zoho data centre: use one of %s", c.Domain, strings.Join(dcCodes(), ", "))
	}
	c.Environment = strings.ToLower(strings.TrimSpace(c.Environment))
	if c.Environment == "" {
		c.Environment = "production"
	}
	if _, ok := envPrefixes[c.Environment]; !ok {
		bad("environment %q is unknown: use production, sandbox or developer", c.Environment)
	}
	if c.CRMURL != "" {
		c.CRMURL = strings.TrimRight(c.CRMURL, "/")
		if u, err := url.Parse(c.CRMURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			bad("crm_url %q is not a URL: use the org's address in the CRM web client, e.g. https://crm.zoho.eu/crm/org20001234",
				c.CRMURL)
		}
	}
	if c.RecordURL != "" && !strings.Contains(c.RecordURL, "{SourceId}") {
		bad("record_url %q lacks {SourceId}: the link must name the record", c.RecordURL)
	}
	c.DefaultRegion = strings.ToUpper(strings.TrimSpace(c.DefaultRegion))
	if c.DefaultRegion != "" && !phone.KnownRegion(c.DefaultRegion) {
		bad("default_region %q is not a region phone numbers know: use an ISO 3166 code such as NL, DE, GB or US",
			c.DefaultRegion)
	}
	if c.StartTime != "" {
		t, err := time.Parse(time.RFC3339, c.StartTime)
		if err != nil {
			bad("start_time %q is not an RFC 3339 time such as 2024-01-31T00:00:00Z", c.StartTime)
		}
		c.startTime = t
	}
	if c.MaxCreditsPerRun != nil {
		m := *c.MaxCreditsPerRun
		if m < 1 || m != float64(int64(m)) {
			bad("max_credits_per_run must be a whole number of at least 1, not %v", m)
		}
		c.maxCredit = int64(m)
	}
	c.FullSyncMethod = strings.ToLower(strings.TrimSpace(c.FullSyncMethod))
	switch c.FullSyncMethod {
	case "":
		c.FullSyncMethod = fullSyncAuto
	case fullSyncAuto, fullSyncBulk, fullSyncRecords:
	default:
		bad("full_sync_method %q is unknown: use %s, %s or %s", c.FullSyncMethod, fullSyncAuto, fullSyncBulk, fullSyncRecords)
	}
	for name, v := range map[string]string{"accounts_url": c.AccountsURL, "api_url": c.APIURL} {
		if v == "" {
			continue
		}
		if problem := serviceURLProblem(name, v); problem != "" {
			bad("%s", problem)
		}
	}
	c.AccountsURL = strings.TrimRight(c.AccountsURL, "/")
	c.APIURL = strings.TrimRight(c.APIURL, "/")
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, fmt.Errorf("zoho source configuration: %s", strings.Join(problems, "; "))
	}
	return c, nil
}

// serviceURLProblem says what is wrong with the URL of a service the
// source sends tokens or secrets to, "" when nothing is. Plain http is
// accepted only to a loopback host (a simulator on this machine): anywhere
// else a typo would send them unencrypted.
func serviceURLProblem(name, v string) string {
	u, err := url.Parse(strings.ReplaceAll(v, "{dc}", "eu"))
	if err != nil || u.Host == "" {
		return fmt.Sprintf("%s %q is not a URL: write it like https://host/path", name, v)
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		if pluginconfig.IsLoopbackHost(u.Hostname()) {
			return ""
		}
		return fmt.Sprintf(
			"%s %q uses plain http to %s, which would send Zoho tokens unencrypted: use %s (plain http is accepted only to "+
				"localhost or a loopback address)",
			name, v, u.Hostname(), "https://"+v[len("http://"):])
	}
	return fmt.Sprintf("%s %q is not an https URL: write it like https://%s", name, v, u.Host)
}

// requireSelfClient checks what authorizing with a grant code, or using
// credentials made that way, takes from the configuration: the data centre
// (which stored credentials also tell) and the Self Client.
func (c *config) requireSelfClient() error {
	var problems []string
	if c.dc.code == "" {
		problems = append(problems,
			fmt.Sprintf("domain is required: set it to the org's data centre (%s)", strings.Join(dcCodes(), ", ")))
	}
	if strings.TrimSpace(c.ClientID) == "" {
		problems = append(problems, "client_id is required: copy it from the Self Client in the Zoho API console")
	}
	if strings.TrimSpace(c.ClientSecret) == "" {
		problems = append(problems, "client_secret is required: copy it from the Self Client's Client Secret tab")
	}
	if len(problems) > 0 {
		return fmt.Errorf("zoho source configuration: %s", strings.Join(problems, "; "))
	}
	return nil
}

// useCredentials takes from stored credentials what the configuration of
// a source connected from a connect page leaves out: the data centre, and
// the OAuth client their refresh token belongs to. That is the provider's
// server-based client for ConnectWeb, passed by the host with every call
// and never stored; the customer's own Self Client, stored with the
// credentials, for ConnectForm; the configuration's Self Client otherwise.
func (c *config) useCredentials(cr credentials, provider *contract.OAuthClient) error {
	if err := c.useDC(cr); err != nil {
		return err
	}
	c.connect = cr.Connect
	switch cr.Connect {
	case contract.ConnectWeb:
		switch {
		case provider == nil || provider.ID == "":
			return fmt.Errorf(
				"this source was connected through the provider's Zoho client (client id %s), which the host must pass with "+
					"every call: configure that client in the host",
				cr.ClientID)
		case provider.ID != cr.ClientID:
			return fmt.Errorf(
				"this source was connected through the Zoho client %s, but the host passes client %s, which cannot refresh its "+
					"tokens: connect the source again from a new connect link",
				cr.ClientID, provider.ID)
		}
		c.ClientID, c.ClientSecret = provider.ID, provider.Secret
	case contract.ConnectForm:
		c.ClientID, c.ClientSecret = cr.ClientID, cr.ClientSecret
	default:
		return c.requireSelfClient()
	}
	return nil
}

// useDC takes the data centre from stored credentials when the
// configuration does not name it.
func (c *config) useDC(cr credentials) error {
	if c.Domain != "" {
		return nil
	}
	dc, ok := findDC(cr.DC)
	if !ok {
		return fmt.Errorf("the stored Zoho credentials name no known data centre (%q) and domain is not set: %s",
			cr.DC, reconnect(cr.Connect))
	}
	c.dc = dc
	return nil
}

// reconnect says how to get new credentials, the way the old ones were
// made.
func reconnect(how contract.ConnectKind) string {
	if how != "" {
		return "connect the source again from a new connect link"
	}
	return "generate a new grant code in the Zoho API console and run authorize again"
}

// regrant says how to get a grant with the scopes named.
func (c *config) regrant(scopes string) string {
	if c.connect == contract.ConnectWeb {
		return "connect the source again from a new connect link, which asks for " + scopes
	}
	how := "run authorize again"
	if c.connect == contract.ConnectForm {
		how = "connect the source again from a new connect link"
	}
	return fmt.Sprintf("generate a new grant code in the Zoho API console (%s, Self Client) with the scopes %s and %s",
		apiConsole(c.dc), scopes, how)
}

// needsOrg reports whether reads need the org API: for the record links
// when crm_url is absent, or for the default region.
func (c *config) needsOrg() bool {
	return (c.CRMURL == "" && c.linksNeedCRM()) || c.DefaultRegion == ""
}

// linksNeedCRM reports whether record links are built from crm_url.
func (c *config) linksNeedCRM() bool {
	return c.RecordURL == "" || strings.Contains(c.RecordURL, "{crm_url}")
}

// accountsBase is the accounts server's base URL for a data centre; ok is
// false when an accounts_url override cannot address other data centres.
func (c *config) accountsBase(dc dataCentre) (string, bool) {
	if c.AccountsURL == "" {
		return "https://" + dc.accounts, true
	}
	if strings.Contains(c.AccountsURL, "{dc}") {
		return strings.ReplaceAll(c.AccountsURL, "{dc}", dc.code), true
	}
	return c.AccountsURL, dc.code == c.dc.code
}

func (c *config) tokenURL() string {
	base, _ := c.accountsBase(c.dc)
	return base + "/oauth/v2/token"
}
