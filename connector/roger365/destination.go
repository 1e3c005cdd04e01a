// Package roger365 is the ROGER365 destination: it writes canonical contact
// records (schemas.Contact) into a ROGER365 CRM replicator's phonebook, so
// that an incoming call shows the CRM name and a link to the record.
//
// ROGER365 publishes no ingest API; the destination speaks the modelled
// contract of package ingest, which its simulator (rogersim) serves, and
// api_url points it elsewhere.
//
// Records are sent in batches of up to ingest.MaxBatch with the run's
// generation, with several requests in flight. A checkpoint is acknowledged
// once every batch before it got a 2xx answer; a full refresh ends with a
// sweep that removes the entries the run did not write. Requests that touch
// the same contact never overtake each other, so an upsert and a later
// delete keep their order. Each contact carries its updated_at, so ROGER365
// refuses a late writer's older version (answered stale, counted, not an
// error).
package roger365

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/httpapi"
	"github.com/replicatorhq/replicator/schemas"
)

// Version is the connector's own version.
const Version = "1.0.0"

// Destination writes contacts to ROGER365. The host calls one method at a
// time; Write runs its requests on goroutines of its own.
type Destination struct {
	log hclog.Logger

	// Tuning that tests shorten.
	retry        httpapi.Options // retry bounds and the timeout of an attempt
	checkTimeout time.Duration   // for all of Check's retries
	linger       time.Duration   // how long a partial batch may hold up a checkpoint
}

var _ contract.Destination = (*Destination)(nil)

// New returns the destination, logging to log (nil discards).
func New(log hclog.Logger) *Destination {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Destination{
		log:          log,
		retry:        defaultRetry(),
		checkTimeout: 30 * time.Second,
		linger:       500 * time.Millisecond,
	}
}

// Spec describes the destination and its configuration.
func (d *Destination) Spec(ctx context.Context) (contract.Spec, error) {
	return spec(), nil
}

// Check proves the key works, the replicator exists and every stream carries
// canonical contacts.
func (d *Destination) Check(ctx context.Context, req contract.CheckRequest) (contract.CheckResponse, error) {
	cfg, err := parseConfig(req.Config)
	if err != nil {
		return contract.CheckResponse{}, err
	}
	if err := checkStreams(req.Streams); err != nil {
		return contract.CheckResponse{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.checkTimeout)
	defer cancel()
	retry := d.retry
	retry.MaxElapsed = min(retry.MaxElapsed, d.checkTimeout)
	c, err := newClient(cfg, retry, d.log)
	if err != nil {
		return contract.CheckResponse{}, err
	}
	defer c.close()
	info, err := c.getReplicator(ctx)
	if err != nil {
		return contract.CheckResponse{}, explain(cfg, err)
	}
	msg := fmt.Sprintf("ROGER365 replicator %s", info.ID)
	if info.Name != "" {
		msg += fmt.Sprintf(" (%s", info.Name)
		if info.SourceType != "" || info.Entity != "" {
			msg += ", " + strings.TrimSpace(info.SourceType+" "+info.Entity)
		}
		msg += ")"
	}
	msg += " accepts contacts at " + cfg.APIURL
	if cfg.DefaultRegion != "" {
		msg += "; " + ignoredRegion
	}
	return contract.CheckResponse{Message: msg}, nil
}

// checkStreams names every stream whose schema is not the canonical contact.
func checkStreams(streams []contract.Stream) error {
	var errs []error
	for _, s := range streams {
		if problems := schemas.CheckContactSchema(s.Schema); len(problems) > 0 {
			errs = append(
				errs,
				fmt.Errorf("stream %q is not a canonical contact stream, which roger365 needs: %s",
					s.Name, strings.Join(problems, "; ")),
			)
		}
	}
	return errors.Join(errs...)
}

// explain turns the API's refusals into what the user should fix.
func explain(cfg config, err error) error {
	status, detail, ok := refusal(err)
	if !ok {
		return fmt.Errorf("reaching ROGER365 at %s: %w", cfg.APIURL, err)
	}
	switch status {
	case http.StatusUnauthorized:
		return fmt.Errorf("the api_key was refused: %s; check the key in ROGER365", detail)
	case http.StatusForbidden:
		return fmt.Errorf("the api_key may not write to replicator %s: %s", cfg.ReplicatorID, detail)
	case http.StatusNotFound:
		return fmt.Errorf("replicator %s does not exist: %s; check replicator_id against the CRM replicators in ROGER365",
			cfg.ReplicatorID, detail)
	}
	return err
}

// Write sends the records of in to ROGER365 and acknowledges checkpoints
// once everything before them is stored.
func (d *Destination) Write(ctx context.Context, req contract.WriteRequest, in contract.Input) error {
	cfg, err := parseConfig(req.Config)
	if err != nil {
		return err
	}
	var schemaStreams []contract.Stream
	for _, s := range req.Streams {
		schemaStreams = append(schemaStreams, s.Stream)
	}
	if err := checkStreams(schemaStreams); err != nil {
		return err
	}
	if cfg.DefaultRegion != "" {
		d.log.Warn(ignoredRegion)
	}
	c, err := newClient(cfg, d.retry, d.log)
	if err != nil {
		return err
	}
	defer c.close()
	w, err := newWriter(d, cfg, c, req.Streams, in)
	if err != nil {
		return err
	}
	return w.run(ctx)
}
