package roger365

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/connector/roger365/ingest"
	"github.com/replicatorhq/replicator/plugin/httpapi"
)

// service names ROGER365 in errors and retry warnings.
const service = "ROGER365"

// defaultRetry bounds a request's retries: up to 8 attempts within two
// minutes, each attempt within 30 seconds.
func defaultRetry() httpapi.Options {
	return httpapi.Options{
		MaxAttempts: 8,
		MaxElapsed:  2 * time.Minute,
		MinWait:     500 * time.Millisecond,
		MaxWait:     30 * time.Second,
		Timeout:     30 * time.Second,
	}
}

// client speaks the ingest API for one replicator.
type client struct {
	api        *httpapi.Client
	transport  *http.Transport
	replicator string
}

// newClient returns the client of cfg's replicator. retry gives the retry
// bounds and the attempt timeout; the rest of the options come from cfg.
func newClient(cfg config, retry httpapi.Options, log hclog.Logger) (*client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// One idle connection per request in flight, so that none is redialled.
	tr.MaxIdleConnsPerHost = cfg.Concurrency + 2
	o := retry
	o.BaseURL = cfg.APIURL
	o.Service = service
	o.Tokens = httpapi.Bearer(cfg.APIKey)
	o.Log = log
	o.UserAgent = "replicator-roger365/" + Version
	o.Transport = tr
	api, err := httpapi.New(o)
	if err != nil {
		return nil, err
	}
	return &client{api: api, transport: tr, replicator: cfg.ReplicatorID}, nil
}

func (c *client) close() { c.transport.CloseIdleConnections() }

// call sends body to endpoint e of the configured replicator and decodes
// the answer into out. Every ingest call is idempotent (package ingest), so
// network failures and 5xx answers are retried for every method.
func (c *client) call(ctx context.Context, e ingest.Endpoint, body, out any) error {
	req := httpapi.Request{Method: e.Method(), Path: e.Path(c.replicator), Body: body, Idempotent: true}
	return c.api.JSON(ctx, req, out)
}

func (c *client) getReplicator(ctx context.Context) (ingest.Replicator, error) {
	var info ingest.Replicator
	err := c.call(ctx, ingest.GetReplicator, nil, &info)
	return info, err
}

// refusal reads ROGER365's error body from a *httpapi.StatusError: its
// status and its detail (or code), when err is one.
func refusal(err error) (status int, detail string, ok bool) {
	var se *httpapi.StatusError
	if !errors.As(err, &se) {
		return 0, "", false
	}
	var b ingest.ErrorBody
	if json.Unmarshal(se.Body, &b) != nil || (b.Detail == "" && b.Error == "") {
		return se.Status, http.StatusText(se.Status), true
	}
	if b.Detail == "" {
		return se.Status, b.Error, true
	}
	return se.Status, b.Detail, true
}
