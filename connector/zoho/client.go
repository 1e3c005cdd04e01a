package zoho

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// tuning holds the client's timing; tests shorten it.
type tuning struct {
	callTimeout     time.Duration // one API call, body included
	downloadTimeout time.Duration // one bulk result download
	tokenTimeout    time.Duration // one accounts server call
	retryBase       time.Duration // first backoff; doubles per retry
	retryMax        time.Duration // longest single backoff
	retryAfterMax   time.Duration // longest Retry-After honoured before giving up
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
		retryAfterMax:   5 * time.Minute,
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

// apiError is an error answer of the CRM API.
type apiError struct {
	Status  int
	Code    string
	Message string
	Details json.RawMessage
	Call    string // method and path
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("%s: Zoho answered HTTP %d", e.Call, e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// rejectedToken are the codes of an access token Zoho no longer takes:
// expired, revoked, or deleted as the oldest past a refresh token's live
// ones (INVALID_OAUTHTOKEN on Zoho CRM's token validity page).
var rejectedToken = []string{"INVALID_TOKEN", "INVALID_OAUTHTOKEN"}

func isCode(err error, codes ...string) bool {
	var ae *apiError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.Code == c {
			return true
		}
	}
	return false
}

// client calls the CRM API: it adds the token, caps concurrency, retries
// throttled and failed calls and counts credits.
type client struct {
	base    string
	httpc   *http.Client
	tokens  *tokens
	credits *credits
	tune    tuning
	sem     chan struct{}
	log     hclog.Logger
}

func newClient(base string, httpc *http.Client, tk *tokens, cr *credits, tune tuning, log hclog.Logger) *client {
	return &client{base: base, httpc: httpc, tokens: tk, credits: cr, tune: tune, sem: make(chan struct{}, tune.concurrency), log: log}
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
	// idempotent calls are retried after network errors too.
	idempotent bool
}

func (r request) name() string { return r.method + " " + r.path }

// getJSON performs r and decodes a 2xx JSON answer into out. It returns the
// status, so that callers can tell 204 and 304 (no body) apart.
func (c *client) getJSON(ctx context.Context, r request, out any) (int, error) {
	status := 0
	err := c.do(ctx, r, func(resp *http.Response) error {
		status = resp.StatusCode
		if resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified || out == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			return nil
		}
		dec := json.NewDecoder(resp.Body)
		// Record values keep their exact digits (19-digit ids, currency).
		dec.UseNumber()
		if err := dec.Decode(out); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("%s: reading Zoho's answer: %w", r.name(), err)
		}
		return nil
	})
	return status, err
}

// do performs r and hands a successful (2xx or 304) response to handle
// before the call's timeout ends.
func (c *client) do(ctx context.Context, r request, handle func(*http.Response) error) error {
	if err := c.credits.reserve(r.cost); err != nil {
		return err
	}
	charged := false
	defer func() { c.credits.settle(r.cost, charged) }()

	refreshed := false
	lastStatus := 0 // of the last answered try, for the warnings
	for attempt := 1; ; attempt++ {
		tok, err := c.tokens.access(ctx)
		if err != nil {
			return err
		}
		resp, cancel, err := c.send(ctx, r, tok)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !r.idempotent {
				return fmt.Errorf("%s: %w", r.name(), err)
			}
			if attempt >= c.tune.attempts {
				return fmt.Errorf("%s: %w (gave up after %d tries)", r.name(), err, attempt)
			}
			// A warning, not debug: a storm that ends in a failed run
			// shows in the log before the failure does.
			c.log.Warn("Zoho call failed; retrying", "call", r.name(), "attempt", attempt, "max_attempts", c.tune.attempts, "last_status", lastStatus, "error", err)
			if err := sleep(ctx, c.backoff(attempt)); err != nil {
				return err
			}
			continue
		}
		if left, first := c.credits.noteLeft(resp.Header.Get(creditsHeader)); first {
			c.log.Warn("Zoho reports that more than half of the org's daily Zoho API credits are spent; the run stops at a checkpoint before they run out", "zoho_credits_left", left)
		}
		status := resp.StatusCode
		lastStatus = status
		if status < 300 || status == http.StatusNotModified {
			charged = true
			err := handle(resp)
			resp.Body.Close()
			cancel()
			return err
		}
		apiErr := readAPIError(resp, r.name())
		cancel()
		switch {
		case status == http.StatusUnauthorized && isCode(apiErr, rejectedToken...) && !refreshed:
			// Revoked or expired early: one fresh token, one more try.
			refreshed = true
			c.log.Info("Zoho rejected the access token; getting a new one", "call", r.name())
			if _, err := c.tokens.refresh(ctx, tok); err != nil {
				return err
			}
			attempt--
			continue
		case status == http.StatusUnauthorized && isCode(apiErr, rejectedToken...):
			return fmt.Errorf("%w (a freshly minted access token was rejected too: %s)", apiErr, reconnect(c.tokens.cfg.connect))
		case status == http.StatusTooManyRequests || status >= 500:
			if attempt >= c.tune.attempts {
				return fmt.Errorf("%w (gave up after %d tries)", apiErr, attempt)
			}
			wait := c.backoff(attempt)
			if ra, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				if ra > c.tune.retryAfterMax {
					return fmt.Errorf("%w: Zoho asks to wait %v before the next call; run again later", apiErr, ra.Round(time.Second))
				}
				wait = max(ra, wait)
			}
			c.log.Warn("Zoho is busy; retrying", "call", r.name(), "attempt", attempt, "max_attempts", c.tune.attempts, "status", status, "code", apiErr.Code, "wait", wait)
			if err := sleep(ctx, wait); err != nil {
				return err
			}
		default:
			// Zoho charges answered calls only.
			return apiErr
		}
	}
}

// send performs one try of r; the returned cancel ends its timeout.
func (c *client) send(ctx context.Context, r request, token string) (*http.Response, context.CancelFunc, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	timeout := c.tune.callTimeout
	if r.download {
		timeout = c.tune.downloadTimeout
	}
	cctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	cancel := func() {
		cancelTimeout()
		<-c.sem
	}
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			cancel()
			return nil, nil, fmt.Errorf("encoding the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(cctx, r.method, u, body)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Zoho-oauthtoken "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.httpc.Do(req)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return resp, cancel, nil
}

// readAPIError reads Zoho's error body: {"code","message","details"} or the
// same inside {"data":[...]} or, from the Notification API, {"watch":[...]}.
func readAPIError(resp *http.Response, call string) *apiError {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &apiError{Status: resp.StatusCode, Call: call}
	var body struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Details json.RawMessage `json:"details"`
		Data    []itemError     `json:"data"`
		Watch   []itemError     `json:"watch"`
	}
	if json.Unmarshal(b, &body) == nil {
		e.Code, e.Message, e.Details = body.Code, body.Message, body.Details
		for _, items := range [][]itemError{body.Data, body.Watch} {
			if e.Code == "" && len(items) > 0 {
				e.Code, e.Message, e.Details = items[0].Code, items[0].Message, items[0].Details
			}
		}
	}
	if e.Code == "" && e.Message == "" {
		e.Message = strings.TrimSpace(string(b))
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

// backoff is the jittered exponential wait before try attempt+1.
func (c *client) backoff(attempt int) time.Duration {
	d := c.tune.retryBase << min(attempt-1, 20)
	if d > c.tune.retryMax || d <= 0 {
		d = c.tune.retryMax
	}
	return d/2 + rand.N(d/2+1)
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

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
