package httpcontacts

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/connector/httpcontacts/apisim"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/httpapi"
	"github.com/replicatorhq/replicator/plugin/plugintest"
	"github.com/replicatorhq/replicator/schemas"
)

// A read turns the API's contacts into canonical contacts: a display name
// from the name, the company or the emails; phones read with the
// contact's country, or left without number, counted by why.
func TestCanonicalContacts(t *testing.T) {
	a := newAPI(t)
	a.sim.Put(apisim.Contact{FirstName: "Ada", LastName: "Lovelace", Company: "Analytical Engines",
		Emails: []string{"ada@example.com"}, Country: "GB",
		Phones: []apisim.Phone{{Label: "work", Number: "020 7946 0958"}, {Label: "mobile", Number: ""}}})
	a.sim.Put(apisim.Contact{Company: "Widgets Inc",
		Phones: []apisim.Phone{{Label: "Reception", Number: "+31 20 123 4567"}}})
	a.sim.Put(apisim.Contact{Emails: []string{"x@example.com", "y@example.com"},
		Phones: []apisim.Phone{{Label: "home", Number: "030 1234567"}}})
	a.clock.add(2 * time.Minute)

	src := a.source(quiet())
	rec := read(t, src, a.config(token), nil)
	var got []schemas.Contact
	for _, r := range rec.Records() {
		var c schemas.Contact
		if err := json.Unmarshal(r.Data, &c); err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	want := []struct{ id, display, typ, number, raw string }{
		{"1", "Ada Lovelace", "work", "+442079460958", "020 7946 0958"},
		{"2", "Widgets Inc", "Reception", "+31201234567", "+31 20 123 4567"},
		{"3", "x@example.com, y@example.com", "home", "", "030 1234567"},
	}
	if len(got) != len(want) {
		t.Fatalf("read %d contacts, want %d", len(got), len(want))
	}
	for i, w := range want {
		c := got[i]
		if c.SourceID != w.id || c.DisplayName != w.display || c.Kind != schemas.KindContact ||
			c.URL != "https://contacts.example.com/people/"+w.id || len(c.Phones) != 1 {
			t.Errorf("contact %d: %+v", i, c)
			continue
		}
		if p := c.Phones[0]; p.Type != w.typ || p.Number != w.number || p.Raw != w.raw {
			t.Errorf("contact %s: phone %+v, want %s read from %q as %q", w.id, p, w.typ, w.raw, w.number)
		}
	}
	if counts := rec.Counters(); counts["phones_ok"] != 2 || counts["phones_no_country"] != 1 || len(counts) != 2 {
		t.Errorf("counters %v", counts)
	}
	if fr := rec.FullRefreshCompletes(); len(fr) != 1 || fr[0].Generation != 3 {
		t.Errorf("full-refresh-completes %v", fr)
	}
	// The next read is listed the contacts of the checkpoint's second
	// again; it neither sends nor counts them.
	again := read(t, src, a.config(token), last(t, rec))
	if len(again.Records()) != 0 || len(again.Counters()) != 0 {
		t.Errorf("read again: %d records, counters %v", len(again.Records()), again.Counters())
	}
}

// A contact deleted and created again between two reads comes out
// present: the deletion goes first.
func TestDeletedAndCreatedAgain(t *testing.T) {
	a := newAPI(t)
	ada := a.person("Ada", "Lovelace", "+44 20 7946 0958", "")
	a.person("Alan", "Turing", "+49 30 1234567", "")
	a.clock.add(2 * time.Minute)
	src := a.source(quiet())
	first := read(t, src, a.config(token), nil)

	a.clock.add(time.Minute)
	if err := a.sim.Delete(ada.ID); err != nil {
		t.Fatal(err)
	}
	a.clock.add(time.Second)
	a.sim.Put(apisim.Contact{ID: ada.ID, FirstName: "Ada", LastName: "King"})
	a.clock.add(2 * time.Minute)
	next := read(t, src, a.config(token), last(t, first))

	var got []string
	for _, r := range next.Records() {
		got = append(got, r.Op.String()+" "+r.Key)
	}
	if want := []string{"delete 1", "upsert 1"}; !slices.Equal(got, want) {
		t.Errorf("emitted %v, want %v", got, want)
	}
}

// A 429 with Retry-After is waited out, with a warning that says the
// attempt, the limit and the status.
func TestTooManyRequests(t *testing.T) {
	a := newAPI(t)
	a.person("Ada", "Lovelace", "+44 20 7946 0958", "")
	a.clock.add(2 * time.Minute)
	a.sim.Throttle(1, time.Second)
	var logged strings.Builder
	log := hclog.New(&hclog.LoggerOptions{Output: &logged, JSONFormat: true})

	rec := read(t, a.source(log), a.config(token), nil)
	if len(rec.Records()) != 1 || a.sim.Requests() != 2 {
		t.Errorf("read %d contacts in %d requests", len(rec.Records()), a.sim.Requests())
	}
	var warning map[string]any
	if err := json.Unmarshal([]byte(logged.String()), &warning); err != nil {
		t.Fatalf("log %q: %v", logged.String(), err)
	}
	if warning["attempt"] != 1.0 || warning["max_attempts"] != float64(httpapi.DefaultMaxAttempts) ||
		warning["status"] != 429.0 || warning["call"] != "GET /v1/contacts" {
		t.Errorf("warning %v", warning)
	}
}

func TestConfigErrors(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	for _, c := range []struct {
		config json.RawMessage
		want   string
	}{
		{json.RawMessage(`{"api_url": "https://contacts.example.com"}`), "token is required"},
		{json.RawMessage(`{"api_url": "http://contacts.example.com", "token": "t"}`),
			"api_url: http://contacts.example.com: plain http is allowed only to this machine"},
		{json.RawMessage(`{"api_url": "contacts.example.com", "token": "t"}`), "is not an http(s) URL"},
		{a.config("wrong"), "GET /v1/contacts: 127.0.0.1"},
		{a.config("wrong"), "answered 401 Unauthorized"},
	} {
		_, err := New(quiet()).Check(ctx, contract.CheckRequest{Config: c.config})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Check(%s) = %v, want an error with %q", c.config, err, c.want)
		}
	}
	_, err := New(quiet()).Check(ctx, contract.CheckRequest{Config: a.config(token)})
	if err != nil {
		t.Errorf("Check with the right token: %v", err)
	}
	foreign := []contract.ReadStream{{Name: "contacts", State: json.RawMessage(`{"next":1}`)}}
	err = New(quiet()).Read(ctx, contract.ReadRequest{Config: a.config(token), Streams: foreign}, &plugintest.Recorder{})
	if err == nil || !strings.Contains(err.Error(), "sync -full-refresh") {
		t.Errorf("Read from a foreign checkpoint: %v", err)
	}
}

// A read whose context ends returns its error, having sent nothing more.
func TestReadStopsWhenCancelled(t *testing.T) {
	a := newAPI(t)
	a.person("Ada", "Lovelace", "+44 20 7946 0958", "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := contract.ReadRequest{Config: a.config(token), Streams: []contract.ReadStream{{Name: "contacts"}}}
	if err := New(quiet()).Read(ctx, req, &plugintest.Recorder{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Read = %v, want context.Canceled", err)
	}
}
