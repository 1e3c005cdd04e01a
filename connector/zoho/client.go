package zoho

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/httpapi"
)

// tuning holds the client's timing; tests shorten it.
type tuning struct {
	callTimeout     time.Duration // one API call, body included
	downloadTimeout time.Duration // one bulk result download
	tokenTimeout    time.Duration // one accounts server call
	retryBase       time.Duration // first backoff; doubles per retry
	retryMax        time.Duration // longest single backoff
	retryElapsed    time.Duration // longest a call is retried, Retry-After included
	attempts        int           // tries per call for 429, 5xx and network errors
	maxColumns      int           // fields per records API call or COQL query
	coqlLimit       int           // rows per COQL query
	concurrency     int           // calls in flight at once
	pollBase        time.Duration // first wait for a bulk job
	pollMax         time.Duration // longest wait between bulk job polls
	mintWait        time.Duration // longest wait for a token mint slot
	bulkBatch       int           // bulk read rows a worker converts at a time
	bulkFrom        int64         // records from which a full sync uses Bulk Read; 0: where it costs less
}

func defaultTuning() tuning {
	return tuning{
		callTimeout:     time.Minute,
		downloadTimeout: 30 * time.Minute,
		tokenTimeout:    30 * time.Second,
		retryBase:       time.Second,
		retryMax:        time.Minute,
		retryElapsed:    10 * time.Minute,
		attempts:        10,
		maxColumns:      50,
		coqlLimit:       2000,
		// Below the 5 concurrent calls Zoho's smallest edition allows.
		concurrency: 4,
		pollBase:    2 * time.Second,
		pollMax:     30 * time.Second,
		mintWait:    2 * time.Minute,
		// Enough rows to make handing them over cheap, few enough that
		// the batches in flight stay a few megabytes.
		bulkBatch: 256,
	}
}

// service names Zoho in errors and retry warnings.
const service = "Zoho"

// maxDownloadBytes bounds a Bulk Read result: a zip of up to 200,000 rows
// of a wide module, far past the bound of a page of JSON.
const maxDownloadBytes = 4 << 30

// apiError is an error answer of the CRM API, read from its body.
type apiError struct {
	Status  int
	Code    string
	Message string
	Details json.RawMessage
	Call    string // method and path
	GaveUp  string // why retries stopped, for an answer worth retrying
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("%s: Zoho answered HTTP %d", e.Call, e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.GaveUp != "" {
		msg += " (" + e.GaveUp + ")"
	}
	return msg
}

// rejectedToken are the codes of an access token Zoho no longer takes:
// expired, revoked, or deleted as the oldest past a refresh token's live
// ones (INVALID_OAUTHTOKEN on Zoho CRM's token validity page).
var rejectedToken = []string{"INVALID_TOKEN", "INVALID_OAUTHTOKEN"}

func isCode(err error, codes ...string) bool {
	var ae *apiError
	return errors.As(err, &ae) && slices.Contains(codes, ae.Code)
}

// client calls the CRM API through httpapi, which retries throttled and
// failed calls. It adds what is Zoho's: a cap on calls in flight, the
// credits each call costs and Zoho says are left, and one fresh token
// when Zoho rejects the one it was sent.
type client struct {
	base    string // the API's root, which keys the metadata cache
	api     *httpapi.Client
	tokens  *tokens
	credits *credits
	sem     chan struct{}
	log     hclog.Logger
	// downloadTimeout bounds a Bulk Read download, which takes far longer
	// than a call.
	downloadTimeout time.Duration
}

func newClient(base string, tk *tokens, cr *credits, tune tuning, log hclog.Logger) (*client, error) {
	c := &client{
		base:            base,
		tokens:          tk,
		credits:         cr,
		sem:             make(chan struct{}, tune.concurrency),
		log:             log,
		downloadTimeout: tune.downloadTimeout,
	}
	api, err := httpapi.New(httpapi.Options{
		BaseURL:     base,
		Service:     service,
		Tokens:      tk,
		Log:         log,
		OnResponse:  c.noteCredits,
		MaxAttempts: tune.attempts,
		MaxElapsed:  tune.retryElapsed,
		MinWait:     tune.retryBase,
		MaxWait:     tune.retryMax,
		Timeout:     tune.callTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("the Zoho API at %s: %w", base, err)
	}
	c.api = api
	return c, nil
}

// request is one API call.
type request struct {
	method   string
	path     string // "/crm/v8/Contacts"
	query    url.Values
	body     any // sent as JSON when not nil
	header   http.Header
	cost     int64 // API credits the call spends
	download bool  // the body may be large and slow
	// idempotent calls are retried after network errors and 5xx answers.
	idempotent bool
}

func (r request) name() string { return r.method + " " + r.path }

func (r request) http() httpapi.Request {
	req := httpapi.Request{
		Method:     r.method,
		Path:       r.path,
		Query:      r.query,
		Body:       r.body,
		Header:     r.header,
		Idempotent: r.idempotent,
	}
	return req
}

// getJSON performs r and decodes a 2xx JSON answer into out. It returns the
// status, so that callers can tell 204 and 304 (no body) apart.
func (c *client) getJSON(ctx context.Context, r request, out any) (int, error) {
	status := 0
	err := c.do(ctx, r, func(resp *http.Response) error {
		status = resp.StatusCode
		if status == http.StatusNoContent || status == http.StatusNotModified || out == nil {
			return nil
		}
		dec := json.NewDecoder(resp.Body)
		// Record values keep their exact digits (19-digit ids, currency).
		dec.UseNumber()
		if err := dec.Decode(out); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: reading Zoho's answer: %w", r.name(), err)
		}
		return nil
	})
	return status, err
}

// do performs r within the cap on calls in flight and hands the answer
// (2xx or 304) to handle before the call's timeout ends. Zoho charges
// answered calls only, so the credits booked are returned otherwise.
func (c *client) do(ctx context.Context, r request, handle func(*http.Response) error) error {
	if err := c.credits.reserve(r.cost); err != nil {
		return err
	}
	charged := false
	defer func() { c.credits.settle(r.cost, charged) }()
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.sem }()
	resp, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	charged = true
	return handle(resp)
}

// send performs r. An access token Zoho rejects (revoked, or expired
// early) is replaced once and r sent again.
func (c *client) send(ctx context.Context, r request) (*http.Response, error) {
	var sent string
	resp, err := c.once(context.WithValue(ctx, sentToken{}, &sent), r)
	if !isCode(err, rejectedToken...) {
		return resp, err
	}
	c.log.Info("Zoho rejected the access token; getting a new one", "call", r.name())
	if _, err := c.tokens.refresh(ctx, sent); err != nil {
		return nil, err
	}
	resp, err = c.once(ctx, r)
	if isCode(err, rejectedToken...) {
		return nil, fmt.Errorf("%w (a freshly minted access token was rejected too: %s)",
			err, reconnect(c.tokens.cfg.connect))
	}
	return resp, err
}

// once performs r, with httpapi's retries; an error answer becomes an
// *apiError.
func (c *client) once(ctx context.Context, r request) (*http.Response, error) {
	req := r.http()
	if r.download {
		req.Timeout, req.MaxBodyBytes = c.downloadTimeout, maxDownloadBytes
	}
	resp, err := c.api.Do(ctx, req)
	var se *httpapi.StatusError
	if errors.As(err, &se) {
		return nil, readAPIError(se)
	}
	return resp, err
}

// noteCredits reads the credits Zoho says the org has left from every
// answer, and warns once a run when Zoho first says so.
func (c *client) noteCredits(resp *http.Response) {
	left, first := c.credits.noteLeft(resp.Header.Get(creditsHeader))
	if first {
		c.log.Warn("Zoho reports that more than half of the org's daily Zoho API credits are spent; "+
			"the run stops at a checkpoint before they run out", "zoho_credits_left", left)
	}
}

// readAPIError reads Zoho's error body: {"code","message","details"} or the
// same inside {"data":[...]} or, from the Notification API, {"watch":[...]}.
func readAPIError(se *httpapi.StatusError) *apiError {
	e := &apiError{Status: se.Status, Call: se.Call, GaveUp: se.GaveUp}
	var body struct {
		itemError
		Data  []itemError `json:"data"`
		Watch []itemError `json:"watch"`
	}
	if json.Unmarshal(se.Body, &body) == nil {
		it := body.itemError
		for _, items := range [][]itemError{body.Data, body.Watch} {
			if it.Code == "" && len(items) > 0 {
				it = items[0]
			}
		}
		e.Code, e.Message, e.Details = it.Code, it.Message, it.Details
	}
	if e.Code == "" && e.Message == "" {
		e.Message = strings.TrimSpace(string(se.Body))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200]
		}
	}
	return e
}

// itemError is one entry of an answer's list of per-item results.
type itemError struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details"`
}

// sleep waits d, or less when ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
