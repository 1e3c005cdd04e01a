package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// call is one request and its attempts. Its methods are go-retryablehttp's
// hooks for this request, so the attempt count, the start and the wait
// decided belong to the request rather than to the shared Client.
type call struct {
	c          *Client
	http       *http.Client // c's, or a copy with the request's timeout
	name       string       // method and path, for errors and warnings
	idempotent bool
	start      time.Time
	attempts   int
	wait       time.Duration // before the next attempt
	gaveUp     string        // why retries stopped, when they did
}

// retrying is the go-retryablehttp client that runs the attempts.
func (k *call) retrying() *retryablehttp.Client {
	return &retryablehttp.Client{
		HTTPClient: k.http,
		// checkRetry stops at MaxAttempts itself, saying so.
		RetryMax:     k.c.o.MaxAttempts,
		CheckRetry:   k.checkRetry,
		Backoff:      func(time.Duration, time.Duration, int, *http.Response) time.Duration { return k.wait },
		ErrorHandler: closeAnswer,
		PrepareRetry: k.c.authorize,
	}
}

// checkRetry decides, after each attempt, whether to try again and when.
func (k *call) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	k.attempts++
	if resp != nil && k.c.o.OnResponse != nil {
		k.c.o.OnResponse(resp)
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if !k.retryable(ctx, resp, err) {
		return false, nil
	}
	if k.attempts >= k.c.o.MaxAttempts {
		k.gaveUp = fmt.Sprintf("gave up after %d attempts", k.attempts)
		return false, nil
	}
	wait, asked := k.c.backoff(k.attempts, resp)
	if elapsed := time.Since(k.start); elapsed+wait > k.c.o.MaxElapsed {
		k.gaveUp = k.outOfTime(elapsed, wait, asked)
		return false, nil
	}
	k.wait = wait
	k.warn(resp, err)
	return true, nil
}

// retryable says whether an attempt's outcome may turn out otherwise the
// next time.
func (k *call) retryable(ctx context.Context, resp *http.Response, err error) bool {
	if err != nil {
		// A request that failed on the way may have been applied.
		if !k.idempotent || errors.Is(err, ErrPlainHTTP) {
			return false
		}
		// go-retryablehttp knows the errors that stay: bad certificates,
		// schemes and headers, too many redirects.
		retry, _ := retryablehttp.ErrorPropagatedRetryPolicy(ctx, resp, err)
		return retry
	}
	switch status := resp.StatusCode; {
	case status == http.StatusTooManyRequests, status == http.StatusServiceUnavailable:
		return true // the service did not take the request
	case status >= 500 && status != http.StatusNotImplemented:
		return k.idempotent
	}
	return false
}

// warn says, before a retry, what failed and what happens next. A warning,
// not debug: a storm of retries that ends in a failed run must show in the
// log at the level operators run at.
func (k *call) warn(resp *http.Response, err error) {
	args := []any{"call", k.name, "attempt", k.attempts, "max_attempts", k.c.o.MaxAttempts}
	if resp != nil {
		args = append(args, "status", resp.StatusCode)
	} else {
		args = append(args, "status", "no answer", "error", stripURL(err).Error())
	}
	args = append(args, "wait", k.wait.String())
	k.c.o.Log.Warn(k.c.o.Service+" call failed; retrying", args...)
}

// outOfTime says why no retry starts: its wait would end past MaxElapsed.
func (k *call) outOfTime(elapsed, wait, asked time.Duration) string {
	if asked > 0 && asked == wait {
		return fmt.Sprintf("%s asks to wait %s (Retry-After), past the %s this connector retries for: run again later",
			k.c.o.Service, asked, k.c.o.MaxElapsed)
	}
	return fmt.Sprintf("gave up after %d attempts in %s", k.attempts, elapsed.Round(time.Millisecond))
}

// failed is the error of a request that got no answer to return.
func (k *call) failed(err error) error {
	err = stripURL(err)
	if k.gaveUp != "" {
		return fmt.Errorf("%s: %w (%s)", k.name, err, k.gaveUp)
	}
	return fmt.Errorf("%s: %w", k.name, err)
}

// statusError is the error of an answer of status 400 or more.
func (k *call) statusError(resp *http.Response) error {
	return &StatusError{
		Service: k.c.o.Service,
		Call:    k.name,
		Status:  resp.StatusCode,
		Body:    readError(resp),
		GaveUp:  k.gaveUp,
	}
}

// closeAnswer ends a request that failed with an error: go-retryablehttp
// passes the last answer, if any, which nobody reads now.
func closeAnswer(resp *http.Response, err error, _ int) (*http.Response, error) {
	if resp != nil {
		resp.Body.Close()
	}
	return nil, err
}

// stripURL drops the URL net/http puts in its errors: the call's name says
// which request it was, and a query may carry what logs should not.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// backoff is the wait before attempt n+1: what the service asked for with
// Retry-After, and at least a jittered exponential backoff, so that many
// clients told the same time do not come back at once. asked is the
// Retry-After, zero when there was none.
func (c *Client) backoff(n int, resp *http.Response) (wait, asked time.Duration) {
	step := c.o.MinWait << min(n-1, 30)
	if step <= 0 || step > c.o.MaxWait {
		step = c.o.MaxWait
	}
	wait = step/2 + rand.N(step/2+1)
	if resp != nil {
		if ra, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok && ra >= wait {
			return ra, ra
		}
	}
	return wait, 0
}

// retryAfter reads a Retry-After header, in seconds or as an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 32); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
