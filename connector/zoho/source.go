// Package zoho is the Zoho CRM source: it reads the Contacts and Accounts
// modules as canonical contacts (package schemas), with Bulk Read for full
// syncs, COQL for changes and the deleted-records API for deletions.
package zoho

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/connector/zoho/internal/country"
	pluginconfig "github.com/replicatorhq/replicator/plugin/config"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/keyset"
	"github.com/replicatorhq/replicator/schemas"
)

// Version is the connector's version.
const Version = "1.0.0"

// Source is the Zoho CRM source connector.
type Source struct {
	log       hclog.Logger
	tune      tuning
	now       func() time.Time // the clock incremental windows follow
	countries *country.Index

	mu  sync.Mutex
	run *runShared // nil until a call of the run needs it
}

// runShared is what the calls of one run share. The host starts the plugin
// for a run and calls Discover, then Read: the credits Discover spends
// count toward the run's max_credits_per_run and reach its api_credits
// with Read's, and the fields metadata is read once per stream.
type runShared struct {
	credits *credits
	modules map[string]*module // by API base URL and module
}

// newRunShared returns what the calls of one run share, empty.
func newRunShared() *runShared {
	return &runShared{credits: &credits{}, modules: map[string]*module{}}
}

// shared returns the run's shared state, with the budget of cfg.
func (s *Source) shared(cfg *config) *runShared {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run == nil {
		s.run = newRunShared()
	}
	s.run.credits.max.Store(cfg.maxCredit)
	return s.run
}

// endRun forgets the run's credits and metadata once Read has reported
// them, so that a later run starts afresh.
func (s *Source) endRun() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.run = nil
}

var _ contract.Source = (*Source)(nil)

// New returns the source; log receives its progress and warnings.
func New(log hclog.Logger) *Source {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Source{log: log, tune: defaultTuning(), now: time.Now, countries: country.New()}
}

// Spec describes the connector and its configuration.
func (s *Source) Spec(context.Context) (contract.Spec, error) {
	return contract.Spec{
		Name:        "zoho",
		Version:     Version,
		Description: "Zoho CRM Contacts and Accounts as canonical contacts (streams: " + streamNames() + ").",
		Config:      pluginconfig.MustAttributes[config](),
		Grant:       "a grant code from the Self Client in the Zoho API console, with the scopes of your streams",
		Connect:     connectMethods(),
		// Watch subscribes when the configuration sets notifications.
		ChangeSignals: &changeSignals,
	}, nil
}

// Authorize exchanges a grant for a refresh token: the grant code of the
// configuration's Self Client, the code Zoho's consent page sent back
// (ConnectWeb), or the form of a customer's own Self Client (ConnectForm).
func (s *Source) Authorize(ctx context.Context, req contract.AuthorizeRequest) (contract.AuthorizeResponse, error) {
	cfg, err := parseConfig(req.Config)
	if err != nil {
		return contract.AuthorizeResponse{}, err
	}
	var cr credentials
	switch req.Connect {
	case "":
		if err := cfg.requireSelfClient(); err != nil {
			return contract.AuthorizeResponse{}, err
		}
		cr, err = authorize(ctx, cfg, s.tokenHTTP(), req.Grant, s.now(), consoleAdvice)
	case contract.ConnectWeb:
		cr, err = s.authorizeWeb(ctx, cfg, req)
	case contract.ConnectForm:
		cr, err = s.authorizeForm(ctx, cfg, req.Params)
	default:
		err = fmt.Errorf("the zoho source is connected through %q or %q, not %q",
			contract.ConnectWeb, contract.ConnectForm, req.Connect)
	}
	if err != nil {
		return contract.AuthorizeResponse{}, err
	}
	org, b, orgErr := s.connectedOrg(ctx, cfg, cr)
	if orgErr != nil {
		s.log.Warn("connected, but could not read which org", "error", orgErr)
	}
	if b == nil {
		if b, err = json.Marshal(cr); err != nil {
			return contract.AuthorizeResponse{}, fmt.Errorf("encoding the credentials: %w", err)
		}
	}
	s.log.Info("authorized", "dc", cfg.dc.code, "connect", string(cr.Connect), "scopes", strings.Join(cr.Scopes, ","))
	return contract.AuthorizeResponse{Credentials: b, Message: grantMessage(cfg, cr, org, orgErr)}, nil
}

// grantMessage tells the user which org the credentials reach and what
// the granted scopes allow.
func grantMessage(cfg *config, cr credentials, org orgFacts, orgErr error) string {
	var b strings.Builder
	switch {
	case isCode(orgErr, "OAUTH_SCOPE_MISMATCH"):
		fmt.Fprintf(&b, "Authorized Zoho CRM (%s, %s); which org is not known without ZohoCRM.org.READ.", cfg.dc.code,
			cfg.Environment)
	case orgErr != nil:
		fmt.Fprintf(&b, "Authorized Zoho CRM (%s, %s), but which org could not be read: %v.", cfg.dc.code, cfg.Environment,
			orgErr)
	case org.crmURL != "":
		fmt.Fprintf(&b, "Connected to the Zoho CRM org %q (data centre %s, %s) at %s.", org.name, cfg.dc.code,
			cfg.Environment, org.crmURL)
	default:
		fmt.Fprintf(&b, "Connected to the Zoho CRM org %q (data centre %s, %s).", org.name, cfg.dc.code, cfg.Environment)
	}
	if len(cr.Scopes) == 0 {
		b.WriteString(" Zoho did not list the granted scopes; run check to see which streams they allow.")
		return b.String()
	}
	fmt.Fprintf(&b, " Granted scopes: %s.", strings.Join(cr.Scopes, ", "))
	for _, info := range streamInfos() {
		missing, bulk := scopesMissing(cr, info)
		switch {
		case len(missing) > 0:
			fmt.Fprintf(&b, " %s: not readable, lacks %s.", info.name, strings.Join(missing, ", "))
		case !bulk:
			fmt.Fprintf(&b,
				" %s: readable; full syncs use the records API (ZohoCRM.bulk.READ not granted, so they spend more credits).",
				info.name)
		default:
			fmt.Fprintf(&b, " %s: readable.", info.name)
		}
	}
	if has, _ := cr.hasScope(scopeOrg); !has && cfg.needsOrg() {
		b.WriteString(" ZohoCRM.org.READ is not granted: set crm_url and default_region in the configuration.")
	}
	if missing, _ := notifyScopesMissing(cr); missing && cfg.Notifications {
		b.WriteString(" " + scopeNotifications + " is not granted: notifications cannot be turned on, " +
			"and changes arrive at the pipeline's interval.")
	}
	return b.String()
}

// session is what one call needs to talk to the API.
type session struct {
	cfg     *config
	tokens  *tokens
	client  *client
	credits *credits
	run     *runShared
}

func (s *Source) tokenHTTP() *http.Client {
	return &http.Client{Timeout: s.tune.tokenTimeout}
}

// open opens a session for a call of the run with stored credentials:
// Discover and Read share its credits and metadata. provider is the
// provider's OAuth client the host passes.
func (s *Source) open(rawCfg, rawCreds json.RawMessage, provider *contract.OAuthClient) (*session, error) {
	return s.openWith(rawCfg, rawCreds, provider, s.shared)
}

// openWith opens a session whose calls share what shared returns.
func (s *Source) openWith(rawCfg, rawCreds json.RawMessage, provider *contract.OAuthClient,
	shared func(*config) *runShared) (*session, error) {
	cfg, err := parseConfig(rawCfg)
	if err != nil {
		return nil, err
	}
	cr, err := parseCredentials(rawCreds, cfg)
	if err != nil {
		return nil, err
	}
	if err := cfg.useCredentials(cr, provider); err != nil {
		return nil, err
	}
	if cr.APIDomain != "" {
		if err := checkAPIDomain(cfg.dc, cr.APIDomain); err != nil {
			return nil, err
		}
	}
	return s.newSession(cfg, cr, shared(cfg))
}

// newSession talks to the API with credentials cr, counting credits in run.
func (s *Source) newSession(cfg *config, cr credentials, run *runShared) (*session, error) {
	tk := newTokens(cfg, cr, s.tokenHTTP(), s.now, s.tune.mintWait)
	base := cfg.APIURL
	if base == "" {
		// The token's api_domain is checked to be one of the data
		// centre's hosts; the environment picks which one.
		base = "https://" + cfg.dc.apiHost(cfg.Environment)
	}
	c, err := newClient(base, tk, run.credits, s.tune, s.log)
	if err != nil {
		return nil, err
	}
	return &session{cfg: cfg, tokens: tk, client: c, credits: run.credits, run: run}, nil
}

// update returns the credentials to hand back, nil when unchanged.
func (ss *session) update() json.RawMessage {
	b, _ := ss.tokens.takeUpdate()
	return b
}

// Discover lists the streams with schemas built from the fields metadata.
func (s *Source) Discover(ctx context.Context, req contract.DiscoverRequest) (contract.DiscoverResponse, error) {
	ss, err := s.open(req.Config, req.Credentials, req.Client)
	if err != nil {
		return contract.DiscoverResponse{}, err
	}
	var cat contract.Catalog
	var problems []string
	for _, info := range streamInfos() {
		mod, err := s.fields(ctx, ss, info)
		if isCode(err, "OAUTH_SCOPE_MISMATCH") {
			s.log.Warn("leaving a stream out of the catalog: its fields cannot be read",
				"stream", info.name, "needs", "ZohoCRM.settings.fields.READ and "+info.moduleRd)
			problems = append(problems, fmt.Sprintf("%s needs ZohoCRM.settings.fields.READ and %s", info.name, info.moduleRd))
			continue
		}
		if err != nil {
			return contract.DiscoverResponse{Credentials: ss.update()}, readError(err, ss.cfg)
		}
		schema, err := mod.schema()
		if err != nil {
			return contract.DiscoverResponse{Credentials: ss.update()}, err
		}
		cat.Streams = append(cat.Streams, contract.Stream{
			Name:        info.name,
			Schema:      schema,
			PrimaryKey:  []string{"source_id"},
			CursorField: []string{"updated_at"},
			Modes:       []contract.SyncMode{contract.FullRefresh, contract.Incremental},
		})
	}
	if len(cat.Streams) == 0 {
		return contract.DiscoverResponse{
				Credentials: ss.update(),
			}, fmt.Errorf("no stream's fields can be read (%s): %s",
				strings.Join(problems, "; "), ss.cfg.regrant("those scopes"))
	}
	return contract.DiscoverResponse{Catalog: cat, Credentials: ss.update()}, nil
}

// Read reads the requested streams one after another.
func (s *Source) Read(ctx context.Context, req contract.ReadRequest, out contract.Output) (err error) {
	ss, err := s.open(req.Config, req.Credentials, req.Client)
	if err != nil {
		return err
	}
	defer func() {
		// Credentials and credits reach the host whatever happened,
		// Discover's credits with Read's.
		if ferr := flush(context.WithoutCancel(ctx), out, ss.tokens, ss.credits); ferr != nil && err == nil {
			err = ferr
		}
		s.endRun()
	}()
	for _, rs := range req.Streams {
		if _, ok := findStream(rs.Name); !ok {
			return fmt.Errorf("the zoho source has no stream %q: use %s", rs.Name, streamNames())
		}
	}
	crmURL, region := ss.cfg.CRMURL, ss.cfg.DefaultRegion
	if ss.cfg.needsOrg() {
		org, err := s.org(ctx, ss)
		if err != nil {
			return s.stopOrFail(err, ss)
		}
		crmURL = cmp.Or(crmURL, org.crmURL)
		region = cmp.Or(region, org.region)
		if crmURL == "" && ss.cfg.linksNeedCRM() {
			return errors.New("the org API did not name the org's domain: set crm_url")
		}
		if region == "" {
			return errors.New("the org API did not name the org's country: set default_region")
		}
	}
	run := &runRead{
		conv: converter{countries: s.countries, defaultRegion: region, urlTemplate: ss.cfg.RecordURL, crmURL: crmURL},
		end:  keyset.End(s.now(), lag),
	}
	streams := slices.Clone(req.Streams)
	if len(streams) > 1 {
		// Accounts first: the contacts stream follows the accounts they
		// read (accountsRead).
		slices.SortStableFunc(streams, func(a, b contract.ReadStream) int { return readRank(a) - readRank(b) })
		run.accounts = newAccountsRead()
	}
	for _, rs := range streams {
		err := s.readStream(ctx, ss, out, rs, run)
		var be *budgetError
		switch {
		case errors.Is(err, errStopped):
			s.log.Info("run stopped early; the next run continues from the last checkpoint",
				"credits_spent", ss.credits.spent.Load())
			return nil
		case errors.As(err, &be):
			be.warn(s.log)
			return nil
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			return fmt.Errorf("reading stream %s: %w", rs.Name, readError(err, ss.cfg))
		}
	}
	s.log.Info("read done", "streams", len(req.Streams), "credits_spent", ss.credits.spent.Load())
	return nil
}

// readRank orders a run's streams: accounts, then the contacts that
// follow them.
func readRank(rs contract.ReadStream) int {
	if info, _ := findStream(rs.Name); info.kind == schemas.KindAccount {
		return 0
	}
	return 1
}

// runRead is what the streams of one Read share.
type runRead struct {
	conv     converter     // the links and the default region, without a module
	end      time.Time     // the end of every incremental window
	accounts *accountsRead // nil unless the run reads contacts and accounts
}

// readStream reads one stream. When Zoho refuses a field of cached
// metadata, because an administrator deleted or renamed it since, the
// fields are read again and the stream read on from its last checkpoint.
func (s *Source) readStream(ctx context.Context, ss *session, out contract.Output, rs contract.ReadStream,
	run *runRead) error {
	info, _ := findStream(rs.Name)
	mod, err := s.fields(ctx, ss, info)
	if err != nil {
		return err
	}
	r := s.reader(ss, out, rs, mod, run)
	err = r.run(ctx)
	if !mod.cached || !isCode(err, fieldRefusals...) {
		return err
	}
	s.log.Info("Zoho refused a field of the cached fields metadata; reading the fields again",
		"stream", rs.Name, "refusal", err)
	if mod, err = s.fetchFields(ctx, ss, info); err != nil {
		return err
	}
	if r.saved != nil {
		rs.State = r.saved
	}
	return s.reader(ss, out, rs, mod, run).run(ctx)
}

// fieldRefusals are the codes with which Zoho refuses a query or a job
// for a field it does not have.
var fieldRefusals = []string{"INVALID_QUERY", "FIELD_NOT_AVAILABLE"}

// reader returns the reader of one stream of the run.
func (s *Source) reader(ss *session, out contract.Output, rs contract.ReadStream, mod *module, run *runRead) *reader {
	c := run.conv
	c.mod = mod
	return &reader{
		cfg: ss.cfg, c: ss.client, tk: ss.tokens, out: out, mod: mod, rs: rs, conv: &c,
		tune: s.tune, now: s.now, log: s.log.With("stream", rs.Name),
		end: run.end, accounts: run.accounts,
	}
}

// stopOrFail ends a run cleanly when err is the credit budget, and fails
// it otherwise.
func (s *Source) stopOrFail(err error, ss *session) error {
	var be *budgetError
	if errors.As(err, &be) {
		be.warn(s.log)
		return nil
	}
	return readError(err, ss.cfg)
}

// readError adds what to do to errors a user can fix.
func readError(err error, cfg *config) error {
	var ae *apiError
	if errors.As(err, &ae) {
		switch ae.Code {
		case "INVALID_HOST":
			return fmt.Errorf(
				"%w: calls must reach Zoho at the data centre's API host, https://%s: check api_url (meant for tests) and any "+
					"proxy between replicator and Zoho",
				err, cfg.dc.apiHost(cfg.Environment))
		case "OAUTH_SCOPE_MISMATCH":
			return fmt.Errorf("%w: the grant lacks a scope this call needs; run check to see which, then %s",
				err, reconnect(cfg.connect))
		case "NO_PERMISSION":
			return fmt.Errorf(
				"%w: the Zoho user who made the grant may not read this; give their profile read access to the module",
				err)
		case "AUTHENTICATION_FAILURE":
			return fmt.Errorf("%w: %s", err, reconnect(cfg.connect))
		}
	}
	return err
}

// requestedStreams returns the stream infos a check covers: the named ones,
// or all when none are named.
func requestedStreams(streams []contract.Stream) ([]streamInfo, error) {
	if len(streams) == 0 {
		return streamInfos(), nil
	}
	var out []streamInfo
	for _, st := range streams {
		info, ok := findStream(st.Name)
		if !ok {
			return nil, fmt.Errorf("the zoho source has no stream %q: use %s", st.Name, streamNames())
		}
		if !slices.ContainsFunc(out, func(i streamInfo) bool { return i.name == info.name }) {
			out = append(out, info)
		}
	}
	return out, nil
}
