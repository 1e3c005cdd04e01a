package roger365

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/replicatorhq/replicator/connector/roger365/ingest"
)

// retryPolicy bounds how long a request keeps being retried.
type retryPolicy struct {
	attempts   int           // tries in all, the first included
	maxElapsed time.Duration // no retry starts after this much time
	base       time.Duration // first backoff
	max        time.Duration // largest backoff
}

var defaultRetry = retryPolicy{attempts: 8, maxElapsed: 2 * time.Minute, base: 500 * time.Millisecond, max: 30 * time.Second}

// apiError is a response ROGER365 will not change its mind about.
type apiError struct {
	Status int
	Code   string
	Detail string
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("ROGER365 answered %d", e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// transientError is a response or failure worth retrying.
type transientError struct {
	err        error
	status     int           // the HTTP status; 0 when there was no answer
	retryAfter time.Duration // from Retry-After; 0 when absent
}

// lastStatus names what the failed attempt got, for the retry warning.
func (e *transientError) lastStatus() string {
	if e.status == 0 {
		return "no answer"
	}
	return strconv.Itoa(e.status)
}

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// client speaks the ingest API for one replicator.
type client struct {
	base       string // api_url without a trailing slash
	key        string
	replicator string
	http       *http.Client
	retry      retryPolicy
	log        hclog.Logger
	bufs       sync.Pool // *bytes.Buffer for response bodies
}

func newClient(cfg config, retry retryPolicy, timeout time.Duration, log hclog.Logger) *client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          maxConcurrency + 4,
		MaxIdleConnsPerHost:   cfg.Concurrency + 2, // keep one connection per request in flight
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &client{
		base:       cfg.APIURL,
		key:        cfg.APIKey,
		replicator: cfg.ReplicatorID,
		http:       &http.Client{Transport: tr, Timeout: timeout},
		retry:      retry,
		log:        log,
		bufs:       sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
}

func (c *client) close() { c.http.CloseIdleConnections() }

// call sends one request to endpoint e of the configured replicator.
func (c *client) call(ctx context.Context, e ingest.Endpoint, body []byte, out any) error {
	return c.do(ctx, e.Method(), e.Path(c.replicator), body, out)
}

func (c *client) getReplicator(ctx context.Context) (ingest.Replicator, error) {
	var info ingest.Replicator
	err := c.call(ctx, ingest.GetReplicator, nil, &info)
	return info, err
}

// do sends one request, retrying 429, 5xx and connection failures with
// jittered exponential backoff that honours Retry-After, and decodes a 2xx
// body into out. The body is sent as is on every attempt; every call is
// idempotent, so a retry after a lost response does no harm.
func (c *client) do(ctx context.Context, method, path string, body []byte, out any) error {
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := c.once(ctx, method, path, body, out)
		var te *transientError
		if err == nil || !errors.As(err, &te) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt >= c.retry.attempts {
			return fmt.Errorf("%s %s failed %d times: %w", method, path, attempt, err)
		}
		wait := c.backoff(attempt)
		if te.retryAfter > wait {
			wait = te.retryAfter
		}
		if time.Since(start)+wait > c.retry.maxElapsed {
			return fmt.Errorf("%s %s still failing after %s (next retry in %s would pass the %s limit): %w",
				method, path, time.Since(start).Round(time.Millisecond), wait.Round(time.Millisecond), c.retry.maxElapsed, err)
		}
		// A warning, not debug: a storm of these that ends in a failed
		// run must leave a trace at the level operators run at.
		c.log.Warn("ROGER365 request failed, retrying", "method", method, "path", path,
			"failed_attempts", attempt, "max_attempts", c.retry.attempts, "last_status", te.lastStatus(), "wait", wait, "reason", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// backoff is the wait before retry n (1-based): half of an exponentially
// growing step plus a random part of the other half, so clients spread out.
func (c *client) backoff(n int) time.Duration {
	step := c.retry.base << min(n-1, 30)
	if step <= 0 || step > c.retry.max {
		step = c.retry.max
	}
	return step/2 + rand.N(step/2+1)
}

func (c *client) once(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body) // NewRequest sets GetBody and ContentLength from it
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("building the request for %s: %w", path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "replicator-roger365/"+Version)

	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &transientError{err: fmt.Errorf("%s %s: %w", method, path, stripURL(err))}
	}
	buf := c.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer c.bufs.Put(buf)
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &transientError{err: fmt.Errorf("reading the answer to %s %s: %w", method, path, err)}
	}

	switch st := resp.StatusCode; {
	case st >= 200 && st <= 299:
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(buf.Bytes(), out); err != nil {
			return fmt.Errorf("ROGER365 answered %s %s with unexpected JSON: %w", method, path, err)
		}
		return nil
	case st == http.StatusTooManyRequests || st >= 500:
		return &transientError{err: errorFrom(st, buf.Bytes()), status: st, retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	default:
		return errorFrom(st, buf.Bytes())
	}
}

// errorFrom reads the API's error body.
func errorFrom(status int, body []byte) *apiError {
	e := &apiError{Status: status}
	var b ingest.ErrorBody
	if json.Unmarshal(body, &b) == nil {
		e.Code, e.Detail = b.Error, b.Detail
	} else if s := strings.TrimSpace(string(body)); s != "" {
		e.Detail = truncate(s, 200)
	} else {
		e.Detail = http.StatusText(status)
	}
	return e
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// stripURL drops the URL net/http puts in its errors; the path is already
// in the message and the query never carries secrets, but this keeps
// messages short.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
