// Package httpcontacts is a source of canonical contacts read from the
// contacts API its README describes; package apisim stands in for the API.
package httpcontacts

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/config"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/httpapi"
	"github.com/replicatorhq/replicator/plugin/incremental"
	"github.com/replicatorhq/replicator/plugin/keyset"
	"github.com/replicatorhq/replicator/schemas"
	"github.com/replicatorhq/replicator/schemas/phone"
)

// Config is the source's configuration, declared once.
type Config struct {
	APIURL string `config:"api_url,required" description:"The API's address, such as https://contacts.example.com."`
	Token  string `config:"token,required,sensitive" description:"API token, sent as a bearer token."`
}

// Source reads contacts from the API.
type Source struct {
	contract.UnimplementedSource
	log hclog.Logger
	now func() time.Time // the clock; tests move it
}

// New returns a source logging to log.
func New(log hclog.Logger) *Source { return &Source{log: log, now: time.Now} }

// Spec describes the source and its configuration.
func (s *Source) Spec(context.Context) (contract.Spec, error) {
	return contract.Spec{
		Name:        "httpcontacts",
		Version:     "1.0.0",
		Description: "Reads contacts from a contacts API over HTTP.",
		Config:      config.MustAttributes[Config](),
	}, nil
}

// Check proves the configuration valid and the token accepted.
func (s *Source) Check(ctx context.Context, req contract.CheckRequest) (contract.CheckResponse, error) {
	api, err := s.connect(req.Config)
	if err != nil {
		return contract.CheckResponse{}, err
	}
	if err := api.Get(ctx, "/v1/contacts", url.Values{"limit": {"1"}}, nil); err != nil {
		return contract.CheckResponse{}, err
	}
	return contract.CheckResponse{Message: "the contacts API accepts the token"}, nil
}

// Discover offers one stream of canonical contacts.
func (s *Source) Discover(context.Context, contract.DiscoverRequest) (contract.DiscoverResponse, error) {
	contacts := contract.Stream{
		Name:        "contacts",
		Schema:      schemas.ContactSchema(),
		PrimaryKey:  []string{"source_id"},
		CursorField: []string{"updated_at"},
		Modes:       []contract.SyncMode{contract.FullRefresh, contract.Incremental},
	}
	return contract.DiscoverResponse{Catalog: contract.Catalog{Streams: []contract.Stream{contacts}}}, nil
}

// Read reads each stream from its checkpoint.
func (s *Source) Read(ctx context.Context, req contract.ReadRequest, out contract.Output) error {
	api, err := s.connect(req.Config)
	if err != nil {
		return err
	}
	// The API sorts ties on updated_at by id as text; it lists a change within the default lag.
	opts := incremental.Options{IDs: keyset.TextIDs, Now: s.now}
	for _, rs := range req.Streams {
		if err := incremental.Run(ctx, rs, out, opts, lists{api}); err != nil {
			return fmt.Errorf("reading %s: %w", rs.Name, err)
		}
	}
	return nil
}

// connect decodes the configuration and makes the API's client.
func (s *Source) connect(raw json.RawMessage) (*httpapi.Client, error) {
	cfg, err := config.Decode[Config](raw)
	if err != nil {
		return nil, fmt.Errorf("httpcontacts config: %w", err)
	}
	api, err := httpapi.New(httpapi.Options{BaseURL: cfg.APIURL, Tokens: httpapi.Bearer(cfg.Token), Log: s.log})
	if err != nil {
		return nil, fmt.Errorf("httpcontacts config: api_url: %w", err)
	}
	return api, nil
}

// lists lists the API's deletions and changed contacts, for incremental.Run.
type lists struct{ api *httpapi.Client }

// page is a page of one of the API's lists, of 100 entries.
type page[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor"`
}

func (p page[T]) Next() string { return p.NextCursor }

// deletion is an entry of GET /v1/contacts/deleted.
type deletion struct {
	ID        string    `json:"id"`
	DeletedAt time.Time `json:"deleted_at"`
}

// Deletions emits a delete for each contact deleted since since.
func (l lists) Deletions(ctx context.Context, r *incremental.Read, since time.Time) error {
	query := url.Values{"deleted_since": {since.Format(time.RFC3339Nano)}}
	return httpapi.Pages(ctx, l.api, "/v1/contacts/deleted", query, "cursor", func(p page[deletion]) (bool, error) {
		for _, d := range p.Data {
			if err := r.Delete(ctx, d.ID, d.DeletedAt); err != nil {
				return false, err
			}
		}
		return true, nil
	})
}

// apiContact is an entry of GET /v1/contacts.
type apiContact struct {
	ID        string    `json:"id"`
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
	Company   string    `json:"company"`
	Emails    []string  `json:"emails"`
	Country   string    `json:"country"`
	URL       string    `json:"url"`
	UpdatedAt time.Time `json:"updated_at"`
	Phones    []struct {
		Label  string `json:"label"`
		Number string `json:"number"`
	} `json:"phones"`
}

// Records emits the contacts changed since the last read, checkpointing each page.
func (l lists) Records(ctx context.Context, r *incremental.Read) error {
	query := url.Values{}
	if since := r.Since(); !since.IsZero() {
		query.Set("updated_since", since.Format(time.RFC3339Nano))
	}
	return httpapi.Pages(ctx, l.api, "/v1/contacts", query, "cursor", func(p page[apiContact]) (bool, error) {
		for _, c := range p.Data {
			more, err := upsert(ctx, r, c)
			if err != nil || !more {
				return false, err
			}
		}
		return true, r.Checkpoint(ctx)
	})
}

// upsert emits c; false means the read of contacts is done.
func upsert(ctx context.Context, r *incremental.Read, c apiContact) (bool, error) {
	key := keyset.Cursor{UpdatedAt: c.UpdatedAt, ID: c.ID}
	return r.Upsert(ctx, key, func() any { return canonical(r, c) })
}

// canonical is c as a canonical contact.
func canonical(r *incremental.Read, c apiContact) schemas.Contact {
	return schemas.Contact{
		SourceID:    c.ID,
		Kind:        schemas.KindContact,
		DisplayName: displayName(c),
		FirstName:   c.FirstName,
		LastName:    c.LastName,
		Company:     c.Company,
		Emails:      c.Emails,
		Phones:      phones(r, c),
		URL:         c.URL,
		UpdatedAt:   c.UpdatedAt.UTC(),
	}
}

// displayName is the name, else the company, else the emails.
func displayName(c apiContact) string {
	return cmp.Or(strings.TrimSpace(c.FirstName+" "+c.LastName), c.Company, strings.Join(c.Emails, ", "))
}

// phones reads c's numbers with its country, counting why any is unread.
func phones(r *incremental.Read, c apiContact) schemas.PhoneList {
	var out schemas.PhoneList
	for _, p := range c.Phones {
		number, why := phone.Read(p.Label, p.Number, c.Country, "")
		if why != phone.Empty {
			out = append(out, number)
			r.Count("phones_"+why.String(), 1) // phones_ok, or why a number is absent
		}
	}
	return out
}
