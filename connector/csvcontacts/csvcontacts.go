// Package csvcontacts is a source of canonical contacts read from a CSV file.
package csvcontacts

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/replicatorhq/replicator/plugin/config"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/keyset"
	"github.com/replicatorhq/replicator/schemas"
	"github.com/replicatorhq/replicator/schemas/phone"
)

// Config is the source's configuration, declared once.
type Config struct {
	Path            string `config:"path,required" description:"CSV file whose first row names its columns: id and updated_at (required), first_name, last_name, company, phone, country, email."`
	DefaultRegion   string `config:"default_region" description:"ISO 3166 code, such as NL, for phone numbers without a country code in rows whose country column is empty."`
	CheckpointEvery uint   `config:"checkpoint_every" default:"1000" description:"Contacts between checkpoints; 0 checkpoints only at the end of the file."`
}

// Source reads contacts from a CSV file.
type Source struct {
	contract.UnimplementedSource
	log hclog.Logger
}

// New returns a source logging to log.
func New(log hclog.Logger) *Source { return &Source{log: log} }

// Spec describes the source and its configuration.
func (s *Source) Spec(context.Context) (contract.Spec, error) {
	return contract.Spec{Name: "csvcontacts", Version: "1.0.0", Description: "Reads contacts from a CSV file.", Config: config.MustAttributes[Config]()}, nil
}

// Check proves the configuration is valid and the file readable.
func (s *Source) Check(_ context.Context, req contract.CheckRequest) (contract.CheckResponse, error) {
	_, contacts, _, err := s.load(req.Config)
	return contract.CheckResponse{Message: fmt.Sprintf("%d contacts", len(contacts))}, err
}

// Discover offers one stream of canonical contacts.
func (s *Source) Discover(context.Context, contract.DiscoverRequest) (contract.DiscoverResponse, error) {
	return contract.DiscoverResponse{Catalog: contract.Catalog{Streams: []contract.Stream{{Name: "contacts", Schema: schemas.ContactSchema(),
		PrimaryKey: []string{"source_id"}, CursorField: []string{"updated_at"}, Modes: []contract.SyncMode{contract.FullRefresh, contract.Incremental}}}}}, nil
}

// Read emits the contacts after the checkpoint's cursor, or all, in (updated_at, id) order.
func (s *Source) Read(ctx context.Context, req contract.ReadRequest, out contract.Output) error {
	cfg, contacts, counts, err := s.load(req.Config)
	for name, n := range counts {
		err = cmp.Or(err, out.Count(ctx, name, n))
	}
	for _, rs := range req.Streams {
		st := struct {
			keyset.Cursor
			FullRefresh bool `json:"full_refresh,omitempty"`
		}{FullRefresh: rs.State == nil}
		if rs.State != nil && json.Unmarshal(rs.State, &st) != nil {
			return fmt.Errorf("state %s is not a csvcontacts checkpoint; reset the stream to read the file again", rs.State)
		}
		checkpoint := func() error { b, _ := json.Marshal(st); return out.Checkpoint(ctx, rs.Name, b) }
		for i, c := range contacts {
			if err = cmp.Or(err, ctx.Err()); err != nil || !st.Advance(keyset.Cursor{UpdatedAt: c.UpdatedAt, ID: c.SourceID}) {
				continue
			}
			data, _ := json.Marshal(c) // a Contact always marshals
			if err = out.Emit(ctx, contract.Record{Stream: rs.Name, Key: c.SourceID, Data: data, SourceTime: c.UpdatedAt}); err == nil && cfg.CheckpointEvery > 0 && uint(i+1)%cfg.CheckpointEvery == 0 {
				err = checkpoint()
			}
		}
		if err == nil && st.FullRefresh { // before the last checkpoint, which ends the refresh
			err, st.FullRefresh = out.FullRefreshComplete(ctx, rs.Name, rs.Generation), false
		}
		if err == nil {
			err = checkpoint()
		}
	}
	return err
}

// load reads the file's contacts in (updated_at, id) order, an id's last row winning.
func (s *Source) load(raw json.RawMessage) (cfg Config, _ []schemas.Contact, _ map[string]int64, err error) {
	if cfg, err = config.Decode[Config](raw); err != nil {
		return cfg, nil, nil, fmt.Errorf("csvcontacts config: %w", err)
	} else if cfg.DefaultRegion != "" && !phone.KnownRegion(cfg.DefaultRegion) {
		return cfg, nil, nil, fmt.Errorf("csvcontacts config: default_region %q is not a region phone numbers know: use an ISO 3166 code such as NL, DE, GB or US", cfg.DefaultRegion)
	}
	data, err := os.ReadFile(cfg.Path)
	r := csv.NewReader(strings.NewReader(string(data)))
	r.FieldsPerRecord, r.LazyQuotes = -1, true // short rows lack their last cells; a stray quote is text
	header, herr := r.Read()
	for i, h := range header {
		header[i] = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF")))
	}
	if err = cmp.Or(err, herr); err != nil || !slices.Contains(header, "id") || !slices.Contains(header, "updated_at") {
		return cfg, nil, nil, fmt.Errorf("reading the header row of %s, which names the columns (id,updated_at,first_name,phone,...): %w", cfg.Path, cmp.Or(err, fmt.Errorf("no id or no updated_at in %q", header)))
	}
	byID, counts := map[string]schemas.Contact{}, map[string]int64{}
	for row, err := r.Read(); !errors.Is(err, io.EOF); row, err = r.Read() {
		if err != nil {
			return cfg, nil, nil, fmt.Errorf("reading %s: %w", cfg.Path, err)
		}
		v := map[string]string{} // a short row's missing cells read as ""
		for i, cell := range row[:min(len(row), len(header))] {
			v[header[i]] = strings.TrimSpace(cell)
		}
		c := schemas.Contact{SourceID: v["id"], Kind: schemas.KindContact, FirstName: v["first_name"], LastName: v["last_name"], Company: v["company"], Emails: strings.Fields(v["email"])}
		c.UpdatedAt, err = time.Parse(time.RFC3339, v["updated_at"])
		if line, _ := r.FieldPos(0); c.SourceID == "" || err != nil {
			counts["rows_left_out"]++
			s.log.Warn("row left out: it needs an id, and an updated_at in RFC 3339 such as 2026-05-01T10:00:00Z", "line", line, "id", c.SourceID, "updated_at", v["updated_at"])
			continue
		} else if _, dup := byID[c.SourceID]; dup {
			counts["duplicate_ids"]++
			s.log.Warn("id seen again: this later row replaces the earlier one", "line", line, "id", c.SourceID)
		}
		if p, why := phone.Read("", v["phone"], v["country"], cfg.DefaultRegion); why != phone.Empty {
			c.Phones = schemas.PhoneList{p}
			counts["phones_"+why.String()]++ // phones_ok, or why a number is absent
		}
		c.UpdatedAt, c.DisplayName = c.UpdatedAt.UTC(), cmp.Or(strings.TrimSpace(c.FirstName+" "+c.LastName), c.Company, v["email"])
		byID[c.SourceID] = c
	}
	return cfg, slices.SortedFunc(maps.Values(byID), func(a, b schemas.Contact) int {
		return keyset.Compare(keyset.Cursor{UpdatedAt: a.UpdatedAt, ID: a.SourceID}, keyset.Cursor{UpdatedAt: b.UpdatedAt, ID: b.SourceID})
	}), counts, nil
}
