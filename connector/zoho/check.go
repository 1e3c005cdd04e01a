package zoho

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// Scopes the connector uses.
const (
	scopeBulk   = "ZohoCRM.bulk.READ"
	scopeCOQL   = "ZohoCRM.coql.READ"
	scopeFields = "ZohoCRM.settings.fields.READ"
	scopeOrg    = "ZohoCRM.org.READ"
)

// streamScopes are the scopes a stream cannot do without; Bulk Read is
// optional (full syncs then go through the records API).
func streamScopes(info streamInfo) []string {
	return []string{info.moduleRd, scopeCOQL, scopeFields}
}

// scopesMissing compares a stream's needs with the scopes the grant listed.
// bulk is false when Bulk Read is known not to be granted.
func scopesMissing(cr credentials, info streamInfo) (missing []string, bulk bool) {
	for _, sc := range streamScopes(info) {
		if has, known := cr.hasScope(sc); known && !has {
			missing = append(missing, sc)
		}
	}
	has, known := cr.hasScope(scopeBulk)
	return missing, has || !known
}

// mismatchScopes names the scopes an OAUTH_SCOPE_MISMATCH is about: those
// the error lists, else those of the call's scopes the grant lacks, else
// the call's first scope.
func mismatchScopes(err error, cr credentials, scopes []string) []string {
	var ae *apiError
	if errors.As(err, &ae) && len(ae.Details) > 0 {
		var d struct {
			Scope string `json:"scope"`
		}
		if json.Unmarshal(ae.Details, &d) == nil {
			if named := strings.FieldsFunc(d.Scope, func(r rune) bool { return r == ' ' || r == ',' }); len(named) > 0 {
				return named
			}
		}
	}
	var lack []string
	for _, sc := range scopes {
		if has, known := cr.hasScope(sc); known && !has {
			lack = append(lack, sc)
		}
	}
	if len(lack) > 0 {
		return lack
	}
	return scopes[:1]
}

// Check proves the credentials work and their scopes cover the streams.
func (s *Source) Check(ctx context.Context, req contract.CheckRequest) (contract.CheckResponse, error) {
	ss, err := s.open(req.Config, req.Credentials, req.Client)
	if err != nil {
		return contract.CheckResponse{}, err
	}
	infos, err := requestedStreams(req.Streams)
	if err != nil {
		return contract.CheckResponse{}, err
	}
	var (
		lacks    []string // "<stream> needs <scopes>"
		problems []string
		notes    []string
		want     = map[string]bool{} // every scope the streams need
	)
	cr := ss.tokens.credentials()
	// probe runs a call that needs scopes and sorts its failure: missing
	// scopes are named, another error the API gave is a problem, anything
	// else (token, network) ends the check.
	probe := func(scopes []string, fn func() error) (missing []string, problem string, err error) {
		err = fn()
		var ae *apiError
		switch {
		case err == nil:
			return nil, "", nil
		case isCode(err, "OAUTH_SCOPE_MISMATCH"):
			return mismatchScopes(err, cr, scopes), "", nil
		case isCode(err, "INVALID_HOST"):
			// Every call would meet it: it ends the check.
			return nil, "", err
		case errors.As(err, &ae) && ae.Status != 401:
			return nil, err.Error(), nil
		default:
			return nil, "", err
		}
	}
	if ss.cfg.needsOrg() {
		want[scopeOrg] = true
		var org orgFacts
		missing, problem, err := probe([]string{scopeOrg},
			func() (err error) { org, err = fetchOrg(ctx, ss.client, ss.cfg); return err })
		switch {
		case err != nil:
			return contract.CheckResponse{Credentials: ss.update()}, readError(err, ss.cfg)
		case len(missing) > 0:
			lacks = append(lacks, strings.Join(missing, ", ")+" (or set crm_url and default_region)")
		case problem != "":
			problems = append(problems, problem)
		case ss.cfg.DefaultRegion == "" && org.region == "":
			problems = append(problems, "the org API names no country: set default_region")
		case ss.cfg.CRMURL == "" && org.crmURL == "" && ss.cfg.linksNeedCRM():
			problems = append(problems, "the org API names no domain: set crm_url")
		}
	}
	for _, info := range infos {
		var missing []string
		calls := []struct {
			scopes []string // what the call needs, most likely missing first
			fn     func() error
		}{
			{[]string{scopeFields}, func() error { _, err := fetchFields(ctx, ss.client, info, s.now()); return err }},
			{[]string{info.moduleRd}, func() error {
				q := url.Values{"fields": {"Modified_Time"}, "per_page": {"1"}}
				req := request{method: "GET", path: "/crm/v8/" + info.module, query: q, cost: 1, idempotent: true}
				_, err := ss.client.getJSON(ctx, req, nil)
				return err
			}},
			{[]string{scopeCOQL, info.moduleRd}, func() error {
				q := fmt.Sprintf("select id from %s where (Modified_Time >= '%s') order by Modified_Time asc, id asc limit 1",
					info.module, zohoTime(s.now().AddDate(-30, 0, 0)))
				body := map[string]string{"select_query": q}
				req := request{method: "POST", path: "/crm/v8/coql", body: body, cost: 1, idempotent: true}
				_, err := ss.client.getJSON(ctx, req, nil)
				return err
			}},
		}
		for _, c := range calls {
			for _, sc := range c.scopes {
				want[sc] = true
			}
			lack, problem, err := probe(c.scopes, c.fn)
			switch {
			case err != nil:
				return contract.CheckResponse{Credentials: ss.update()}, readError(err, ss.cfg)
			case problem != "":
				problems = append(problems, fmt.Sprintf("%s: %s", info.name, problem))
			}
			for _, sc := range lack {
				if !slices.Contains(missing, sc) {
					missing = append(missing, sc)
				}
			}
		}
		want[scopeBulk] = true
		_, bulk := scopesMissing(cr, info)
		switch {
		case len(missing) > 0:
			lacks = append(lacks, fmt.Sprintf("%s needs %s", info.name, strings.Join(missing, ", ")))
		case !bulk:
			note := fmt.Sprintf("%s: ready; full syncs read through the records API because %s was not granted "+
				"(more credits, at most 100,000 records)", info.name, scopeBulk)
			notes = append(notes, note)
		default:
			notes = append(notes, fmt.Sprintf("%s: ready", info.name))
		}
	}
	if ss.cfg.Notifications {
		want[scopeNotifications] = true
		switch missing, known := notifyScopesMissing(cr); {
		case missing:
			lacks = append(lacks, "notifications need "+scopeNotifications+" (or set notifications = false)")
		case known:
			notes = append(notes, "notifications: the grant allows them")
		}
	}
	if len(lacks) > 0 || len(problems) > 0 {
		var msg []string
		if len(lacks) > 0 {
			all := make([]string, 0, len(want))
			for sc := range want {
				all = append(all, sc)
			}
			slices.Sort(all)
			regrant := ss.cfg.regrant(strings.Join(all, ","))
			msg = append(msg, fmt.Sprintf("the Zoho grant lacks scopes: %s. To fix it, %s", strings.Join(lacks, "; "), regrant))
		}
		msg = append(msg, problems...)
		return contract.CheckResponse{Credentials: ss.update()}, errors.New(strings.Join(msg, "; "))
	}
	msg := fmt.Sprintf("Zoho CRM (%s, %s) answers. %s.", ss.cfg.dc.code, ss.cfg.Environment, strings.Join(notes, "; "))
	return contract.CheckResponse{Message: msg, Credentials: ss.update()}, nil
}
