package zohosim

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the org's time zone must load on hosts without zoneinfo
)

// Defaults applied by New to zero Options fields.
const (
	DefaultDC            = "eu"
	DefaultClientID      = "1000.ZOHOSIMCLIENT0000000000000000"
	DefaultClientSecret  = "zohosim-client-secret"
	DefaultBulkStepDelay = 50 * time.Millisecond
	DefaultGrantCodeTTL  = 3 * time.Minute
	DefaultBulkPageSize  = 200000
	DefaultMaxConcurrent = 10
	// maxGenerated bounds Options.Contacts and Options.Accounts so generated
	// ids never reach the range of ids handed to created records.
	maxGenerated = 100_000_000
)

// Options configures a simulated Zoho CRM org.
type Options struct {
	// DC is the data centre the org lives in (us, eu, in, au, jp, cn, ca, sa,
	// uk); default "eu". The accounts servers of other DCs answer every
	// request with {"error":"invalid_client"}.
	DC string
	// ClientID and ClientSecret are the self client's credentials the
	// accounts server accepts; defaults DefaultClientID and DefaultClientSecret.
	ClientID, ClientSecret string
	// WebClients are server-based applications registered with Multi-DC,
	// whose users consent on the authorization endpoint's page; more can
	// be registered with RegisterWebClient or the admin API.
	WebClients []WebClient
	// Contacts and Accounts are the numbers of generated records.
	Contacts, Accounts int
	// Seed selects the generated data set.
	Seed int64
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Epoch is the Modified_Time of the first generated record of each
	// module; generated records follow ten seconds apart (ties included).
	// Zero puts the last generated record about a day before Now at New.
	Epoch time.Time
	// BulkStepDelay is how long a Bulk Read job stays in each of ADDED,
	// QUEUED and IN PROGRESS, by the real clock. Zero means
	// DefaultBulkStepDelay; negative means jobs complete at once.
	BulkStepDelay time.Duration
	// GrantCodeTTL is how long an issued grant code can be exchanged;
	// default 3 minutes.
	GrantCodeTTL time.Duration
	// BulkPageSize is the number of rows per Bulk Read job; default 200,000.
	BulkPageSize int
	// MaxConcurrent is how many CRM API calls may run at once before the
	// next gets 429 TOO_MANY_REQUESTS; zero means DefaultMaxConcurrent (an
	// Enterprise org), negative means no limit.
	MaxConcurrent int
	// DailyCredits is the org's API credits per rolling 24 hours; once
	// half are spent, answers carry X-API-CREDITS-REMAINING. Zero means an
	// Enterprise org's 50,000 plus 1,000 per user licence; negative means
	// no allowance and no header.
	DailyCredits int64
	// APIHosts are host names the CRM API answers at besides the org's
	// API hosts (www., sandbox. and developer.zohoapis.<tld>), loopback
	// addresses and localhost; a call to any other host is 400
	// INVALID_HOST, as Zoho answers a call not made to its API domain.
	APIHosts []string
	// Logger, when set, gets one line per request: method, path without the
	// query (queries can carry tokens), status and duration.
	Logger *log.Logger
	// BulkOwnerNamesRefusal, when set, makes Bulk Read refuse a job that
	// asks for an owner's dotted columns but id (Owner.first_name,
	// Owner.email, ...), which Zoho's docs do not list, with this code:
	// FIELD_NOT_AVAILABLE, FIELD_NOT_SUPPORTED, INVALID_REQUEST or
	// JOIN_LIMIT_EXCEEDED (the Refusal* constants).
	BulkOwnerNamesRefusal string
	// NotifyClient sends the Notification API's callbacks; default a
	// client with a 10-second timeout.
	NotifyClient *http.Client
	// BulkRefusalsNameNoField leaves details empty when Bulk Read refuses
	// a job for one of its fields; by default details names the field and
	// its module ({"api_name","module"}). Zoho documents both.
	BulkRefusalsNameNoField bool
}

// Server is a simulated Zoho CRM org. Its methods are safe for concurrent use.
type Server struct {
	opts    Options
	now     func() time.Time
	loc     *time.Location
	apiHost string // the real API host of the org's DC
	org     orgInfo
	users   []user
	modules map[string]*module // by lower-case api name
	order   []*module          // Contacts, Accounts
	handler http.Handler
	notify  *notifier // channels of the Notification API, with their own lock

	mu     sync.Mutex
	nextID int64 // ids for created records and bulk jobs
	codes  map[string]*grantCode
	// webClients are the server-based applications by client id.
	webClients map[string]*WebClient
	consents   map[string]*consent // consent pages not yet answered, by id
	// offlineGiven marks the clients that were given a refresh token, for
	// access_type=offline without prompt=consent.
	offlineGiven map[string]bool
	refreshes    map[string]*refreshToken
	refOrder     []*refreshToken // issue order, for the 20-per-user limit
	// newRefreshes are when refresh tokens were issued, for the limit
	// of five a minute.
	newRefreshes []time.Time
	access       map[string]*accessToken
	faults       map[string]*Fault
	credits      int64
	spends       []spend // the last 24 hours' credits, by minute
	calls        map[string]int64
	inflight     int
	jobs         map[string]*bulkJob
	downloads    []time.Time // successful bulk downloads, for 10 a minute
}

// dcInfo is one Zoho data centre.
type dcInfo struct {
	accounts string // accounts server host
	api      string // API host
	web      string // CRM web host
}

// dataCentres lists Zoho's data centres by their short names.
var dataCentres = map[string]dcInfo{
	"us": {"accounts.zoho.com", "www.zohoapis.com", "crm.zoho.com"},
	"eu": {"accounts.zoho.eu", "www.zohoapis.eu", "crm.zoho.eu"},
	"in": {"accounts.zoho.in", "www.zohoapis.in", "crm.zoho.in"},
	"au": {"accounts.zoho.com.au", "www.zohoapis.com.au", "crm.zoho.com.au"},
	"jp": {"accounts.zoho.jp", "www.zohoapis.jp", "crm.zoho.jp"},
	"cn": {"accounts.zoho.com.cn", "www.zohoapis.com.cn", "crm.zoho.com.cn"},
	"ca": {"accounts.zohocloud.ca", "www.zohoapis.ca", "crm.zohocloud.ca"},
	"sa": {"accounts.zoho.sa", "www.zohoapis.sa", "crm.zoho.sa"},
	"uk": {"accounts.zoho.uk", "www.zohoapis.uk", "crm.zoho.uk"},
}

// New builds a simulated org from opts, filling defaults.
func New(opts Options) (*Server, error) {
	if opts.DC == "" {
		opts.DC = DefaultDC
	}
	dc, ok := dataCentres[opts.DC]
	if !ok {
		return nil, fmt.Errorf("unknown data centre %q: use one of us, eu, in, au, jp, cn, ca, sa, uk", opts.DC)
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.Contacts < 0 || opts.Contacts > maxGenerated || opts.Accounts < 0 || opts.Accounts > maxGenerated {
		return nil, fmt.Errorf("record counts must be between 0 and %d (got %d contacts, %d accounts)",
			maxGenerated, opts.Contacts, opts.Accounts)
	}
	if r := opts.BulkOwnerNamesRefusal; r != "" && !slices.Contains(fieldRefusals, r) {
		return nil, fmt.Errorf("BulkOwnerNamesRefusal %q is not a Bulk Read field refusal: use one of %s",
			r, strings.Join(fieldRefusals, ", "))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BulkStepDelay == 0 {
		opts.BulkStepDelay = DefaultBulkStepDelay
	}
	if opts.GrantCodeTTL <= 0 {
		opts.GrantCodeTTL = DefaultGrantCodeTTL
	}
	if opts.BulkPageSize <= 0 {
		opts.BulkPageSize = DefaultBulkPageSize
	}
	if opts.DailyCredits == 0 {
		opts.DailyCredits = enterpriseCredits + enterpriseCreditsPerUser*int64(len(simUsers))
	}
	if opts.MaxConcurrent == 0 {
		opts.MaxConcurrent = DefaultMaxConcurrent
	}
	loc, err := time.LoadLocation(orgTimeZone)
	if err != nil {
		return nil, fmt.Errorf("loading the org time zone %s: %w", orgTimeZone, err)
	}
	if opts.Epoch.IsZero() {
		span := time.Duration(max(opts.Contacts, opts.Accounts)) * genStride
		opts.Epoch = opts.Now().UTC().Truncate(time.Hour).Add(-span - 24*time.Hour)
	}
	s := &Server{
		opts:         opts,
		now:          opts.Now,
		loc:          loc,
		apiHost:      dc.api,
		nextID:       createdIDBase,
		codes:        map[string]*grantCode{},
		webClients:   map[string]*WebClient{},
		consents:     map[string]*consent{},
		offlineGiven: map[string]bool{},
		refreshes:    map[string]*refreshToken{},
		access:       map[string]*accessToken{},
		faults:       map[string]*Fault{},
		calls:        map[string]int64{},
		jobs:         map[string]*bulkJob{},
		notify:       newNotifier(opts.NotifyClient),
	}
	s.org = newOrg(opts.Seed)
	s.users = simUsers
	s.initModules()
	for _, c := range opts.WebClients {
		if err := s.RegisterWebClient(c); err != nil {
			return nil, err
		}
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the HTTP handler serving the accounts servers, the CRM API
// and the admin API.
//
// Admin API (no auth; for tests and demos):
//
//	POST   /admin/grant-codes            {"scopes":[...]} -> {"code","expires_in"}
//	POST   /admin/web-clients            {"name","redirect_uris":[...]} -> {"client_id","client_secret"}
//	GET    /admin/client                 -> {"client_id","client_secret","dc","accounts_url","api_url"}
//	POST   /admin/records/{Module}       {field: value} -> 201 {"id"}
//	GET    /admin/records/{Module}       -> {"count"}
//	GET    /admin/records/{Module}/{id}  -> the record
//	PATCH  /admin/records/{Module}/{id}  {field: value} -> {"id"}
//	DELETE /admin/records/{Module}/{id}  [?permanent=true] -> {"id"}
//	POST   /admin/faults                 {"kind","count","delay":"2s","retry_after":"1s"}
//	DELETE /admin/faults                 clear all faults
//	POST   /admin/access-tokens/revoke   every access token becomes invalid
//	GET    /admin/credits                -> {"credits","calls":{...},"left_today"}
//	DELETE /admin/credits                reset credits, call counts and the day's credits
//	GET    /admin/notifications          -> {"channels":[...],"callbacks":[...]}
//	POST   /admin/notifications/faults   {"delay":"2s","drop":1,"duplicate":1,"reorder":3}
//	DELETE /admin/notifications/faults   clear them; held callbacks are sent
//	POST   /admin/notifications/expire   every channel expires now
func (s *Server) Handler() http.Handler { return s.handler }

// OrgDomainName returns the org's domain name, "org<zgid>", as used in
// record links.
func (s *Server) OrgDomainName() string { return s.org.DomainName }

// OrgID returns the org's id.
func (s *Server) OrgID() string { return s.org.ID }

// APIDomain returns the API domain token responses carry, e.g.
// "https://www.zohoapis.eu".
func (s *Server) APIDomain() string { return "https://" + s.apiHost }

// DC returns the data centre the org lives in.
func (s *Server) DC() string { return s.opts.DC }

// ClientID returns the client id the accounts server accepts.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret returns the client secret the accounts server accepts.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// apiError is Zoho's error body.
type apiError struct {
	Code    string         `json:"code"`
	Details map[string]any `json:"details"`
	Message string         `json:"message"`
	Status  string         `json:"status"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, status int, code, message string, details map[string]any) {
	if details == nil {
		details = map[string]any{}
	}
	writeJSON(w, status, apiError{Code: code, Details: details, Message: message, Status: "error"})
}

// errNotFound and errDeleted tell admin callers why a change was refused.
var (
	errNotFound = errors.New("no such record")
	errDeleted  = errors.New("the record is deleted")
)
