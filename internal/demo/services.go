package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// api talks to the simulators: the Zoho simulator's admin API, which stands
// in for a person working in the CRM, and ROGER365's lookup API, which a
// phone system calls when a call comes in.
type api struct {
	http     *http.Client
	zoho     string // base URL of zoho-sim
	roger    string // base URL of roger365-sim
	rogerKey string
	repID    string // the ROGER365 replicator the pipeline writes into
}

// call sends a JSON request and decodes a JSON answer into out (when not
// nil); any status but 2xx is an error carrying the answer's text.
func (a *api) call(ctx context.Context, method, u string, body, out any, auth bool) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encoding the request to %s: %w", u, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+a.rogerKey)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, req.URL.Path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, req.URL.Path, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, req.URL.Path, err)
	}
	return nil
}

// zohoClient is what the Zoho simulator's admin API says about its Self
// Client and URLs.
type zohoClient struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	DC           string `json:"dc"`
	AccountsURL  string `json:"accounts_url"`
	APIURL       string `json:"api_url"`
	OrgDomain    string `json:"org_domain"`
}

func (a *api) zohoClient(ctx context.Context) (zohoClient, error) {
	var c zohoClient
	err := a.call(ctx, "GET", a.zoho+"/admin/client", nil, &c, false)
	return c, err
}

// grantCode has the simulator issue a one-time grant code, as the Self
// Client page of Zoho's API console does.
func (a *api) grantCode(ctx context.Context, scopes []string) (string, error) {
	var out struct {
		Code string `json:"code"`
	}
	if err := a.call(ctx, "POST", a.zoho+"/admin/grant-codes", map[string]any{"scopes": scopes}, &out, false); err != nil {
		return "", err
	}
	if out.Code == "" {
		return "", fmt.Errorf("zoho-sim issued an empty grant code")
	}
	return out.Code, nil
}

func (a *api) zohoCount(ctx context.Context, module string) (int, error) {
	var out struct {
		Count int `json:"count"`
	}
	err := a.call(ctx, "GET", a.zoho+"/admin/records/"+module, nil, &out, false)
	return out.Count, err
}

func (a *api) zohoRecord(ctx context.Context, module, id string) (map[string]any, error) {
	var rec map[string]any
	err := a.call(ctx, "GET", a.zoho+"/admin/records/"+module+"/"+url.PathEscape(id), nil, &rec, false)
	return rec, err
}

func (a *api) zohoUpdate(ctx context.Context, module, id string, fields map[string]any) error {
	return a.call(ctx, "PATCH", a.zoho+"/admin/records/"+module+"/"+url.PathEscape(id), fields, nil, false)
}

func (a *api) zohoCreate(ctx context.Context, module string, fields map[string]any) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	if err := a.call(ctx, "POST", a.zoho+"/admin/records/"+module, fields, &out, false); err != nil {
		return "", err
	}
	return out.ID, nil
}

func (a *api) zohoDelete(ctx context.Context, module, id string) error {
	return a.call(ctx, "DELETE", a.zoho+"/admin/records/"+module+"/"+url.PathEscape(id), nil, nil, false)
}

// entry is one contact in the ROGER365 phonebook.
type entry struct {
	Stream  string `json:"stream"`
	Contact struct {
		SourceID    string `json:"source_id"`
		Kind        string `json:"kind"`
		DisplayName string `json:"display_name"`
		Company     string `json:"company"`
		Phones      []struct {
			Type   string `json:"type"`
			Number string `json:"number"`
		} `json:"phones"`
		URL string `json:"url"`
	} `json:"contact"`
}

// phonebook lists the replicator's contacts, ordered by source id so the
// demo picks the same people every time.
func (a *api) phonebook(ctx context.Context) ([]entry, error) {
	var out []entry
	if err := a.call(ctx, "GET", a.roger+"/admin/replicators/"+url.PathEscape(a.repID)+"/contacts", nil, &out, false); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Contact.SourceID < out[j].Contact.SourceID })
	return out, nil
}

// match is one answer of ROGER365's lookup.
type match struct {
	DisplayName string `json:"display_name"`
	Company     string `json:"company"`
	URL         string `json:"url"`
	SourceID    string `json:"source_id"`
	PhoneType   string `json:"phone_type"`
}

// lookup asks ROGER365 who calls from an E.164 number.
func (a *api) lookup(ctx context.Context, e164 string) ([]match, error) {
	var out struct {
		Matches []match `json:"matches"`
	}
	err := a.call(ctx, "GET", a.roger+"/v1/lookup?number="+url.QueryEscape(e164), nil, &out, true)
	return out.Matches, err
}
