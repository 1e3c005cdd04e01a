package zoho

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// advice words what to do next about a Self Client's grant code, which the
// operator passes to authorize with the configuration's client, and a
// customer types into a connect page's form with their own.
type advice struct {
	submit string                 // how the code is handed over
	retry  string                 // how to try again
	useDC  func(dc string) string // how to pick another data centre
}

var (
	consoleAdvice = advice{
		submit: "pass the code to authorize",
		retry:  "run authorize again",
		useDC:  func(dc string) string { return fmt.Sprintf("set domain = %q", dc) },
	}
	formAdvice = advice{
		submit: "paste the code into the form",
		retry:  "submit the form again",
		useDC:  func(dc string) string { return fmt.Sprintf("choose data centre %q in the form", dc) },
	}
)

// authorize exchanges a Self Client grant code for a refresh token.
func authorize(ctx context.Context, cfg *config, httpc *http.Client, code string, now time.Time,
	adv advice) (credentials, error) {
	code = strings.TrimSpace(code)
	if code == "" {
		return credentials{}, fmt.Errorf(
			"no grant code given: in the Zoho API console (%s), open the Self Client, choose Generate Code with the scopes of "+
				"your streams, and %s within 3 minutes",
			apiConsole(cfg.dc), adv.submit)
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, httpc)
	tok, err := oauthConfig(cfg, cfg.tokenURL()).Exchange(ctx, code)
	if err != nil {
		return credentials{}, exchangeError(ctx, cfg, err, adv)
	}
	if tok.RefreshToken == "" {
		return credentials{}, fmt.Errorf(
			"Zoho answered the grant code without a refresh token: generate a new code in the Zoho API console (%s) and %s",
			apiConsole(cfg.dc), adv.retry)
	}
	return newCredentials(cfg, tok, now)
}

// newCredentials keeps what a code's exchange answered at now: the tokens,
// the granted scopes, and the data centre with its API domain, once it is
// known to be one of the data centre's.
func newCredentials(cfg *config, tok *oauth2.Token, now time.Time) (credentials, error) {
	domain, _ := tok.Extra("api_domain").(string)
	if err := checkAPIDomain(cfg.dc, domain); err != nil {
		return credentials{}, err
	}
	return credentials{
		RefreshToken: tok.RefreshToken,
		Scopes:       splitScopes(tok.Extra("scope")),
		APIDomain:    domain,
		DC:           cfg.dc.code,
		AccessToken:  tok.AccessToken,
		Expiry:       expiry(tok, now),
		Mints:        []time.Time{now},
	}, nil
}

func splitScopes(v any) []string {
	s, _ := v.(string)
	scopes := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	slices.Sort(scopes)
	return slices.Compact(scopes)
}

func apiConsole(dc dataCentre) string {
	return "https://api-console." + strings.TrimPrefix(dc.accounts, "accounts.")
}

// exchangeError explains a failed grant code exchange.
func exchangeError(ctx context.Context, cfg *config, err error, adv advice) error {
	code, desc, ok := tokenErrorCode(err)
	switch {
	case !ok:
		return fmt.Errorf("exchanging the grant code at %s: %w", cfg.tokenURL(), err)
	case code == "invalid_code":
		return fmt.Errorf(
			"Zoho refused the grant code: it has expired or was already used (codes last about 3 minutes and work once). "+
				"Generate a new one in the Zoho API console (%s, Self Client, Generate Code) and %s right away",
			apiConsole(cfg.dc), adv.retry)
	case code == "invalid_client" || code == "invalid_client_secret":
		return clientError(ctx, cfg, code, adv)
	case isThrottled(code, desc):
		return fmt.Errorf(
			"Zoho is throttling token requests for this client (%s): wait about ten minutes, then generate a new grant code "+
				"and %s",
			desc, adv.retry)
	default:
		return fmt.Errorf("exchanging the grant code: Zoho answered %q %s", code, desc)
	}
}

// clientError explains invalid_client. The usual cause is a client made in
// another data centre, so the other data centres' accounts servers are asked
// about the client with a dummy refresh token: the one that knows the client
// answers invalid_code instead of invalid_client. The user's grant code is
// never sent anywhere else.
func clientError(ctx context.Context, cfg *config, code string, adv advice) error {
	type answer struct {
		dc   dataCentre
		code string
	}
	var (
		mu      sync.Mutex
		answers []answer
		wg      sync.WaitGroup
	)
	for _, dc := range dataCentres() {
		base, ok := cfg.accountsBase(dc)
		if !ok || dc.code == cfg.dc.code {
			continue
		}
		wg.Go(func() {
			src := oauthConfig(cfg, base+"/oauth/v2/token").TokenSource(ctx, &oauth2.Token{RefreshToken: "1000.probe.probe"})
			_, err := src.Token()
			c, _, ok := tokenErrorCode(err)
			if err == nil {
				c, ok = "ok", true
			}
			if ok && c != "invalid_client" {
				mu.Lock()
				answers = append(answers, answer{dc, c})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.SortFunc(answers, func(a, b answer) int { return strings.Compare(a.dc.code, b.dc.code) })
	for _, a := range answers {
		if a.code == "invalid_client_secret" {
			return fmt.Errorf(
				"Zoho's %s data centre does not know client_id, but the %s data centre (%s) does, with another client_secret: "+
					"%s, copy client_secret from the Self Client again, and %s (the same grant code works if it has not expired)",
				cfg.dc.code, a.dc.code, a.dc.accounts, adv.useDC(a.dc.code), adv.retry)
		}
	}
	if len(answers) > 0 {
		a := answers[0]
		return fmt.Errorf(
			"Zoho's %s data centre does not know client_id: the client and its grant code probably belong to the %s data "+
				"centre (%s): %s and %s (the same grant code works if it has not expired)",
			cfg.dc.code, a.dc.code, a.dc.accounts, adv.useDC(a.dc.code), adv.retry)
	}
	if code == "invalid_client_secret" {
		return fmt.Errorf(
			"Zoho refused client_secret: copy it again from the Self Client's Client Secret tab in the Zoho API console (%s)",
			apiConsole(cfg.dc))
	}
	return fmt.Errorf(
		"Zoho's %s data centre does not know this client_id and client_secret (%s): copy both from the Self Client's "+
			"Client Secret tab in the Zoho API console, and check that the data centre is the one where the Self Client was "+
			"made",
		cfg.dc.code, code)
}
