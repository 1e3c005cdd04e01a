// Package csvcontacts is a source of canonical contacts read from a CSV
// file. It is the worked example of docs/writing-a-connector.md: this file
// is the shape every source has (configuration, Spec, Check, Discover,
// Read with checkpoints); file.go is what is particular to CSV files.
package csvcontacts

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/config"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/keyset"
	"github.com/replicatorhq/replicator/schemas"
	"github.com/replicatorhq/replicator/schemas/phone"
)

// Config is the source's configuration, declared once: config.MustAttributes
// makes the Spec's attributes of it, and config.Decode fills it from the
// JSON the host sends, defaults applied and types checked.
type Config struct {
	// The file is read whole on every call, so a changed file is seen by
	// the next run without anything to reset.
	Path string `config:"path,required" description:"CSV file whose first row names the columns: id, updated_at, ..."`

	// A number written without its country code is read in the row's
	// country, or in this region when the row names none.
	DefaultRegion string `config:"default_region" description:"ISO 3166 code (NL) for phones in rows without a country."`

	// A checkpoint bounds what a run stopped halfway reads again.
	CheckpointEvery uint `config:"checkpoint_every" default:"1000" description:"Contacts per checkpoint; 0: at the end."`
}

// decodeConfig decodes the configuration and checks what its types cannot
// say.
func decodeConfig(raw json.RawMessage) (Config, error) {
	cfg, err := config.Decode[Config](raw)
	if err != nil {
		return Config{}, fmt.Errorf("csvcontacts config: %w", err)
	}
	if cfg.DefaultRegion != "" && !phone.KnownRegion(cfg.DefaultRegion) {
		return Config{}, fmt.Errorf("csvcontacts config: default_region %q is not a region phone numbers know: "+
			"use an ISO 3166 code such as NL, DE, GB or US", cfg.DefaultRegion)
	}
	return cfg, nil
}

// Source reads contacts from a CSV file. It keeps nothing between calls:
// the host hands each call the configuration and the stream's state.
type Source struct {
	// Embedded so that methods added to contract.Source later, such as
	// Authorize for sources with OAuth, have a default.
	contract.UnimplementedSource
	log hclog.Logger
}

// New returns a source logging to log; its main passes it to
// plugin.ServeSource.
func New(log hclog.Logger) *Source {
	return &Source{log: log}
}

// Spec describes the source and its configuration.
func (s *Source) Spec(context.Context) (contract.Spec, error) {
	return contract.Spec{
		Name:        "csvcontacts",
		Version:     "1.0.0",
		Description: "Reads contacts from a CSV file.",
		Config:      config.MustAttributes[Config](),
	}, nil
}

// Check proves the configuration is valid and the file readable.
func (s *Source) Check(_ context.Context, req contract.CheckRequest) (contract.CheckResponse, error) {
	cfg, err := decodeConfig(req.Config)
	if err != nil {
		return contract.CheckResponse{}, err
	}
	f, err := load(cfg, s.log)
	if err != nil {
		return contract.CheckResponse{}, err
	}
	return contract.CheckResponse{Message: fmt.Sprintf("%d contacts in %s", len(f.contacts), cfg.Path)}, nil
}

// stream is the name of the one stream the source offers.
const stream = "contacts"

// Discover offers one stream of canonical contacts, so that any phonebook
// destination takes it as it is.
func (s *Source) Discover(context.Context, contract.DiscoverRequest) (contract.DiscoverResponse, error) {
	contacts := contract.Stream{
		Name:        stream,
		Schema:      schemas.ContactSchema(),
		PrimaryKey:  []string{"source_id"},
		CursorField: []string{"updated_at"},
		Modes:       []contract.SyncMode{contract.FullRefresh, contract.Incremental},
	}
	return contract.DiscoverResponse{Catalog: contract.Catalog{Streams: []contract.Stream{contacts}}}, nil
}

// Read emits, for each requested stream, the contacts after its
// checkpoint, or all of them when it has none.
func (s *Source) Read(ctx context.Context, req contract.ReadRequest, out contract.Output) error {
	cfg, err := decodeConfig(req.Config)
	if err != nil {
		return err
	}
	f, err := load(cfg, s.log)
	if err != nil {
		return err
	}
	// The counters say what the file holds, so they go out on every read,
	// incremental ones too; the host keeps them in the run's history.
	for name, n := range f.counts {
		if err := out.Count(ctx, name, n); err != nil {
			return fmt.Errorf("reporting counter %s: %w", name, err)
		}
	}
	for _, rs := range req.Streams {
		if err := readStream(ctx, cfg, f.contacts, rs, out); err != nil {
			return err
		}
	}
	return nil
}

// state is a checkpoint of the stream.
type state struct {
	// Cursor is the (updated_at, id) of the last contact emitted; the next
	// read starts after it. Ordering by the time alone would skip or
	// repeat contacts that share a time.
	keyset.Cursor
	// FullRefresh says that a full refresh is under way, so that one
	// resumed from a checkpoint still ends with its full-refresh-complete.
	FullRefresh bool `json:"full_refresh,omitempty"`
}

// readState decodes a stream's state; no state is a full refresh from
// the start.
func readState(raw json.RawMessage) (state, error) {
	if raw == nil {
		return state{FullRefresh: true}, nil
	}
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		return state{}, fmt.Errorf("state %s is not a csvcontacts checkpoint; reset the stream to read the file again: %w",
			raw, err)
	}
	return st, nil
}

// readStream emits the contacts after the stream's cursor; contacts are
// in (updated_at, id) order, the cursor's. It checkpoints every
// CheckpointEvery contacts and at the end.
func readStream(
	ctx context.Context, cfg Config, contacts []schemas.Contact, rs contract.ReadStream, out contract.Output,
) error {
	st, err := readState(rs.State)
	if err != nil {
		return err
	}
	emitted := uint(0)
	for _, c := range contacts {
		// Contacts before the cursor reach no Output call, which would
		// return the context's error: a cancelled read must still stop.
		if err := ctx.Err(); err != nil {
			return err
		}
		if !st.Advance(cursorOf(c)) {
			continue // read before
		}
		if err := emit(ctx, out, rs.Name, c); err != nil {
			return err
		}
		emitted++
		if cfg.CheckpointEvery > 0 && emitted%cfg.CheckpointEvery == 0 {
			if err := checkpoint(ctx, out, rs.Name, st); err != nil {
				return err
			}
		}
	}
	// The full-refresh-complete goes before the last checkpoint: once that
	// checkpoint is stored, the refresh is over and its state says so.
	if st.FullRefresh {
		if err := out.FullRefreshComplete(ctx, rs.Name, rs.Generation); err != nil {
			return fmt.Errorf("ending the full refresh of %s: %w", rs.Name, err)
		}
		st.FullRefresh = false
	}
	return checkpoint(ctx, out, rs.Name, st)
}

// cursorOf is a contact's place in the stream's order.
func cursorOf(c schemas.Contact) keyset.Cursor {
	return keyset.Cursor{UpdatedAt: c.UpdatedAt, ID: c.SourceID}
}

// emit sends a contact as an upsert of the stream name.
func emit(ctx context.Context, out contract.Output, name string, c schemas.Contact) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encoding contact %s: %w", c.SourceID, err)
	}
	rec := contract.Record{Stream: name, Key: c.SourceID, Data: data, SourceTime: c.UpdatedAt}
	if err := out.Emit(ctx, rec); err != nil {
		return fmt.Errorf("emitting contact %s: %w", c.SourceID, err)
	}
	return nil
}

// checkpoint sends the state of the stream name. The host stores it once
// the destination holds everything emitted before it.
func checkpoint(ctx context.Context, out contract.Output, name string, st state) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encoding the checkpoint of %s: %w", name, err)
	}
	if err := out.Checkpoint(ctx, name, b); err != nil {
		return fmt.Errorf("checkpointing %s: %w", name, err)
	}
	return nil
}
