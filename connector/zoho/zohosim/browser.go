package zohosim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// Consent plays the user's part of a server-based application's
// authorization, as a browser would, for tests without one: it opens
// authURL (the authorization endpoint and its query), answers the consent
// page with Accept or Reject, and returns where the simulator sends the
// browser back to: the redirect URI with the answer in its query. An error
// page instead of the consent page (an unknown client, an unregistered
// redirect URI) is an error carrying the page's words.
func Consent(ctx context.Context, authURL string, accept bool) (*url.URL, error) {
	httpc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, fmt.Errorf("opening the authorization URL: %w", err)
	}
	page, back, err := browse(httpc, req)
	if err != nil || back != nil {
		return back, err
	}
	form, err := consentForm(page)
	if err != nil {
		return nil, err
	}
	action, err := req.URL.Parse(form.action)
	if err != nil {
		return nil, fmt.Errorf("the consent form's action %q: %w", form.action, err)
	}
	answer := "reject"
	if accept {
		answer = "accept"
	}
	body := url.Values{"consent_id": {form.id}, "approve": {answer}}.Encode()
	post, err := http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, back, err = browse(httpc, post)
	if err == nil && back == nil {
		err = errors.New("the consent form's answer sent the browser nowhere")
	}
	return back, err
}

// browse sends req and returns the page it answers, or where it redirects.
func browse(httpc *http.Client, req *http.Request) (*html.Node, *url.URL, error) {
	resp, err := httpc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode == http.StatusFound && loc != "" {
		back, err := req.URL.Parse(loc)
		return nil, back, err
	}
	page, err := html.Parse(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the page of %s: %w", req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("Zoho Accounts answered HTTP %d: %s: %s",
			resp.StatusCode, pageText(find(page, "id", "error")), pageText(find(page, "id", "message")))
	}
	return page, nil, nil
}

type consentAnswer struct{ action, id string }

func consentForm(page *html.Node) (consentAnswer, error) {
	f := find(page, "id", "consent")
	if f == nil {
		return consentAnswer{}, errors.New("the page holds no consent form")
	}
	in := find(f, "name", "consent_id")
	if in == nil {
		return consentAnswer{}, errors.New("the consent form holds no consent_id")
	}
	return consentAnswer{action: attr(f, "action"), id: attr(in, "value")}, nil
}

// find returns the first element under n whose attribute key is val.
func find(n *html.Node, key, val string) *html.Node {
	if n == nil {
		return nil
	}
	if n.Type == html.ElementNode && attr(n, key) == val {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := find(c, key, val); f != nil {
			return f
		}
	}
	return nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func pageText(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return strings.TrimSpace(b.String())
}
