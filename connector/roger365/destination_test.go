package roger365

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/replicatorhq/replicator/connector/roger365/ingest"
	"github.com/replicatorhq/replicator/connector/roger365/rogersim"
	"github.com/replicatorhq/replicator/internal/logbuf"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/schemas"
)

func TestSpec(t *testing.T) {
	s, err := New(nil).Spec(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "roger365" || s.Version != "1.0.0" {
		t.Errorf("spec %s %s", s.Name, s.Version)
	}
	want := map[string]string{
		"api_url": `"https://api.roger365.io"`, "api_key": "", "replicator_id": "", "default_region": "",
		"batch_size": "500", "skip_without_phone": "true", "concurrency": "2", "strict": "false",
	}
	for name, def := range want {
		a, ok := s.Attribute(name)
		if !ok {
			t.Errorf("attribute %s missing", name)
			continue
		}
		if string(a.Default) != def {
			t.Errorf("%s default %s, want %s", name, a.Default, def)
		}
	}
	if a, _ := s.Attribute("api_key"); !a.Required || !a.Sensitive {
		t.Errorf("api_key must be required and sensitive: %+v", a)
	}
	if a, _ := s.Attribute("replicator_id"); !a.Required {
		t.Error("replicator_id must be required")
	}
	// The tags hold these constants' values; they must not drift apart.
	if a, _ := s.Attribute("api_url"); string(a.Default) != strconv.Quote(DefaultAPIURL) {
		t.Errorf("api_url default %s, want DefaultAPIURL %q", a.Default, DefaultAPIURL)
	}
	if a, _ := s.Attribute("batch_size"); string(a.Default) != strconv.Itoa(ingest.MaxBatch) ||
		!strings.Contains(a.Description, "1 to "+strconv.Itoa(ingest.MaxBatch)+".") {
		t.Errorf("batch_size default %s (%s), want ingest.MaxBatch %d", a.Default, a.Description, ingest.MaxBatch)
	}
	if a, _ := s.Attribute("concurrency"); !strings.Contains(a.Description, "1 to "+strconv.Itoa(maxConcurrency)+".") {
		t.Errorf("concurrency described as %q, want its bound %d", a.Description, maxConcurrency)
	}
	if len(s.Config) != len(want) {
		t.Errorf("%d attributes, want %d", len(s.Config), len(want))
	}
}

func TestConfig(t *testing.T) {
	cfg, err := parseConfig(
		json.RawMessage(
			`{"api_key":"k","replicator_id":"r","default_region":"de","api_url":"http://127.0.0.1:1/","batch_size":null}`))
	if err != nil {
		t.Fatal(err)
	}
	want := config{
		APIURL:           "http://127.0.0.1:1",
		APIKey:           "k",
		ReplicatorID:     "r",
		DefaultRegion:    "de",
		BatchSize:        500,
		SkipWithoutPhone: true,
		Concurrency:      2,
	}
	if cfg != want {
		t.Errorf("config %+v, want %+v", cfg, want)
	}

	// Plain http is fine to this machine, https anywhere.
	for _, u := range []string{
		"http://localhost:8080", "http://LOCALHOST.", "http://127.0.0.2:9/x", "http://[::1]:7000", "https://api.roger365.io",
		"https://10.0.0.7",
	} {
		_, err := parseConfig(json.RawMessage(fmt.Sprintf(`{"api_key":"k","replicator_id":"r","api_url":%q}`, u)))
		if err != nil {
			t.Errorf("api_url %s refused: %v", u, err)
		}
	}

	cases := []struct {
		config string
		want   []string
	}{
		// Types, required attributes and unknown ones are checked by
		// plugin/config, one at a time; values by the destination, all at once.
		{`{}`, []string{"api_key is required"}},
		{`{"api_key":"k"}`, []string{"replicator_id is required"}},
		{`{"api_key":"","replicator_id":"","batch_size":0}`,
			[]string{"api_key is required", "replicator_id is required", "batch_size must be"}},
		{`{"api_key":"k","replicator_id":"r","batch_size":0}`,
			[]string{"batch_size must be a whole number from 1 to 500, got 0"}},
		{`{"api_key":"k","replicator_id":"r","batch_size":501}`,
			[]string{"batch_size must be a whole number from 1 to 500, got 501"}},
		{`{"api_key":"k","replicator_id":"r","batch_size":2.5}`, []string{"batch_size takes a whole number, got 2.5"}},
		{`{"api_key":"k","replicator_id":"r","batch_size":"big"}`, []string{`batch_size takes a number, got "big"`}},
		{`{"api_key":"k","replicator_id":"r","concurrency":17}`,
			[]string{"concurrency must be a whole number from 1 to 16, got 17"}},
		{`{"api_key":"k","replicator_id":"r","concurrency":0}`,
			[]string{"concurrency must be a whole number from 1 to 16, got 0"}},
		{`{"api_key":"k","replicator_id":"r","default_region":5}`, []string{`default_region takes a string, got 5`}},
		{`{"api_key":"k","replicator_id":"r","api_url":"ftp://example"}`,
			[]string{`api_url must be an https URL such as https://api.roger365.io, got "ftp://example"`}},
		{
			`{"api_key":"k","replicator_id":"r","api_url":"http://api.roger365.io/"}`,
			[]string{
				`api_url "http://api.roger365.io" uses plain http, which would send the api_key unencrypted: write ` +
					`"https://api.roger365.io" (plain http is accepted only to a loopback host`,
			},
		},
		{`{"api_key":"k","replicator_id":"r","api_url":"HTTP://127.0.0.1.example.com:8080/v1"}`,
			[]string{`write "https://127.0.0.1.example.com:8080/v1"`}},
		{`{"api_key":"k","replicator_id":"r","api_url":"http://10.0.0.7"}`,
			[]string{`api_url "http://10.0.0.7" uses plain http`}},
		{`{"api_key":"k","replicator_id":"r","api_url":"http://ops:` + testKey + `@roger.example"}`,
			[]string{`api_url "http://ops:xxxxx@roger.example" uses plain http`}},
		{`{"api_key":"k","replicator_id":"r","strict":"yes"}`, []string{`strict takes true or false, got "yes"`}},
		{`{"api_key":1,"replicator_id":"r"}`, []string{"api_key takes a string, got a value of another type (not shown"}},
		{`{"api_key":"k","replicator_id":"r","batchsize":5}`, []string{`unknown attribute "batchsize"`}},
		{`[1]`, []string{"roger365 config: the configuration is not a JSON object"}},
	}
	for _, c := range cases {
		_, err := parseConfig(json.RawMessage(c.config))
		if err == nil {
			t.Errorf("%s: accepted", c.config)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.config, err, w)
			}
		}
		if strings.Contains(err.Error(), testKey) {
			t.Errorf("error shows the key: %v", err)
		}
	}
}

func TestCheck(t *testing.T) {
	f := newFixture(t)
	d := testDestination(t)
	ctx := context.Background()
	good := []contract.Stream{contactStream("contacts", 1).Stream}

	resp, err := d.Check(ctx, contract.CheckRequest{Config: f.config(nil), Streams: good})
	if err != nil {
		t.Fatal(err)
	}
	if want := "ROGER365 replicator rep-1 (Zoho CRM, zoho Contacts) accepts contacts at " + f.url; resp.Message != want {
		t.Errorf("message %q, want %q", resp.Message, want)
	}
	// default_region no longer reads numbers; a configuration that sets it is told so.
	resp, err = d.Check(ctx,
		contract.CheckRequest{Config: f.config(map[string]any{"default_region": "NL"}), Streams: good})
	if err != nil || !strings.HasSuffix(resp.Message, "; "+ignoredRegion) {
		t.Errorf("message %q (%v), want it to end with the note that default_region is ignored", resp.Message, err)
	}

	badSchema := contract.Stream{
		Name:   "deals",
		Schema: json.RawMessage(`{"type":"object","properties":{"source_id":{"type":"string"}},"required":["source_id"]}`),
	}
	cases := []struct {
		name   string
		config json.RawMessage
		stream []contract.Stream
		want   string
	}{
		{"bad key", f.config(map[string]any{"api_key": "wrong"}), good, "the api_key was refused: send a valid API key"},
		{"unknown replicator", f.config(map[string]any{"replicator_id": "nope"}), good,
			`replicator nope does not exist: replicator "nope" is not configured`},
		{"not contacts", f.config(nil), []contract.Stream{good[0], badSchema},
			`stream "deals" is not a canonical contact stream, which roger365 needs: property "kind" is missing; `},
		{"bad config", f.config(map[string]any{"batch_size": 0}), good, "batch_size must be a whole number from 1 to 500"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := d.Check(ctx, contract.CheckRequest{Config: c.config, Streams: c.stream})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), testKey) {
				t.Error("the error shows the key")
			}
		})
	}
}

func TestCheckRetriesTransientFailures(t *testing.T) {
	f := newFixture(t)
	f.sim.SetFault(rogersim.Faults{ServerErrors: 2})
	if _, err := testDestination(t).Check(context.Background(), contract.CheckRequest{Config: f.config(nil)}); err != nil {
		t.Fatal(err)
	}
	if n := f.sim.Requests()[rogersim.EndpointGetReplicator]; n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestWriteSendsContacts(t *testing.T) {
	f := newFixture(t)
	var (
		mu     sync.Mutex
		bodies [][]byte
	)
	f.setIntercept(func(r *http.Request, body []byte) {
		if r.Method == http.MethodPut {
			mu.Lock()
			bodies = append(bodies, body)
			mu.Unlock()
		}
	})
	in := newInput(
		records(person("contacts", "1", "Lovelace", "020-1234567", "06-12345678"),
			person("contacts", "2", "Hopper", "+49 30 12345678")),
		checkpoint(1, "contacts"),
	)
	err := testDestination(t).Write(context.Background(), writeReq(f.config(nil), contactStream("contacts", 3)), in)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 {
		t.Fatalf("%d upsert requests, want 1", len(bodies))
	}
	var sent struct {
		Stream     string           `json:"stream"`
		Generation uint64           `json:"generation"`
		Contacts   []map[string]any `json:"contacts"`
	}
	if err := json.Unmarshal(bodies[0], &sent); err != nil {
		t.Fatal(err)
	}
	if sent.Stream != "contacts" || sent.Generation != 3 || len(sent.Contacts) != 2 {
		t.Fatalf("request %s", bodies[0])
	}
	first := sent.Contacts[0]
	if _, ok := first["attributes"]; ok {
		t.Error("attributes were sent")
	}
	phones, _ := json.Marshal(first["phones"]) // map keys come out sorted
	if string(phones) != `[{"number":"+31201234567","type":"work"},{"number":"+31612345678","type":"mobile"}]` {
		t.Errorf("phones sent as %s", phones)
	}
	wantFields := map[string]any{
		"source_id": "1", "kind": "contact", "display_name": "Lovelace", "first_name": "Ada", "last_name": "Lovelace",
		"company": "Acme BV", "url": "https://crm.example/1", "updated_at": "2026-03-04T05:06:07Z",
	}
	for k, v := range wantFields {
		if first[k] != v {
			t.Errorf("%s sent as %v, want %v", k, first[k], v)
		}
	}
	if emails, _ := json.Marshal(first["emails"]); string(emails) != `["1@example.com"]` {
		t.Errorf("emails sent as %s", emails)
	}
	if got := in.acked(); !slices.Equal(got, []uint64{1}) {
		t.Errorf("acks %v", got)
	}
	if in.count(countCreated) != 2 {
		t.Errorf("counts %v", in.counts)
	}
	m := f.sim.Lookup("+493012345678")
	if len(m) != 1 || m[0].SourceID != "2" || m[0].ReplicatorID != testReplicator || m[0].PhoneType != "work" {
		t.Errorf("lookup %+v", m)
	}
}

// A number its source could not read never reaches the phonebook by a
// guess, whatever default_region says; one with its own international
// prefix does. End to end, through the destination into rogersim's lookups.
func TestNoGuessedNumbers(t *testing.T) {
	// A source in the Netherlands read a, b and c; d's and e's source could
	// not read their numbers.
	f := newFixture(t)
	in := newInput(records(
		person("contacts", "a", "A", "020-1234567"),
		person("contacts", "b", "B", "+49 30 12345678"),
		person("contacts", "c", "C", "ask reception", "06-12345678"),
		contactWithPhones("contacts",
			"d", "D", schemas.Phone{Type: schemas.PhoneWork, Raw: "030 1234567"},
			schemas.Phone{Type: schemas.PhoneMobile, Raw: "0044 20 7946 0958"}),
		contactWithPhones("contacts", "e", "E", schemas.Phone{Type: schemas.PhoneWork, Raw: "(030) 123 45 68"}),
	))
	d, logged := loggedDestination(t)
	err := d.Write(
		context.Background(),
		writeReq(f.config(map[string]any{"default_region": "NL"}), contactStream("contacts", 1)),
		in,
	)
	if err != nil {
		t.Fatal(err)
	}
	if w := logged.Lines("[WARN]", ignoredRegion); len(w) != 1 {
		t.Errorf("%d warnings that default_region is ignored, want 1", len(w))
	}
	for number, id := range map[string]string{
		"+31201234567": "a", "+493012345678": "b", "+31612345678": "c", "+442079460958": "d",
	} {
		if m := f.sim.Lookup(number); len(m) != 1 || m[0].SourceID != id {
			t.Errorf("lookup %s: %+v, want %s", number, m, id)
		}
	}
	// 030 1234567 read as Dutch would be Utrecht: a stranger's line.
	for _, number := range []string{"+31301234567", "+31301234568"} {
		if m := f.sim.Lookup(number); len(m) != 0 {
			t.Errorf("lookup %s found %+v: a number the source could not read was guessed", number, m)
		}
	}
	if d := f.stored("contacts")["d"]; len(d.Contact.Phones) != 1 {
		t.Errorf("d stored with phones %+v, want only its international one", d.Contact.Phones)
	}
	if _, ok := f.stored("contacts")["e"]; ok {
		t.Error("a contact with only a number its source could not read was stored")
	}
	if in.count(countSkipped) != 1 || in.count(countUnparseable) != 1 || in.count(countUnread) != 2 ||
		in.count(countCreated) != 4 {
		t.Errorf("counts %v", in.counts)
	}
}

func TestWithoutPhone(t *testing.T) {
	f := newFixture(t)
	d := testDestination(t)
	ctx := context.Background()
	streams := []contract.WriteStream{contactStream("contacts", 1)}
	// Stored with a number first; once the number is gone the contact is
	// removed rather than left matching its old number.
	err := d.Write(ctx, writeReq(f.config(nil), streams...),
		newInput(records(person("contacts", "x", "X", "020-1234567"))))
	if err != nil {
		t.Fatal(err)
	}
	in := newInput(records(person("contacts", "x", "X", "unknown")), checkpoint(5, "contacts"))
	if err := d.Write(ctx, writeReq(f.config(nil), streams...), in); err != nil {
		t.Fatal(err)
	}
	if len(f.stored("contacts")) != 0 || in.count(countSkipped) != 1 || in.count(countDeleted) != 1 || in.lastAck() != 5 {
		t.Errorf("stored %v, counts %v, acks %v", f.stored("contacts"), in.counts, in.acked())
	}
	// With skip_without_phone = false it is stored without numbers and matches nothing.
	in = newInput(records(person("contacts", "y", "Y", "unknown")))
	if err := d.Write(ctx, writeReq(f.config(map[string]any{"skip_without_phone": false}), streams...), in); err != nil {
		t.Fatal(err)
	}
	y, ok := f.stored("contacts")["y"]
	if !ok || len(y.Contact.Phones) != 0 || in.count(countSkipped) != 0 || in.count(countUnparseable) != 1 {
		t.Errorf("stored %+v %v, counts %v", y, ok, in.counts)
	}
}

func TestDeletesAndOrder(t *testing.T) {
	f := newFixture(t)
	// Hold back every request that carries a first version, so a later
	// request for the same contact would overtake it if nothing kept order.
	f.setIntercept(func(r *http.Request, body []byte) {
		if bytes.Contains(body, []byte("first version")) {
			time.Sleep(100 * time.Millisecond)
		}
	})
	streams := []contract.WriteStream{contactStream("contacts", 1)}
	in := newInput(records(person("contacts", "gone", "first version", "020-1111111"),
		person("contacts", "other1", "Other", "020-2222222"), deletion("contacts", "gone"),
		person("contacts", "twice", "first version", "020-3333333"), person("contacts", "other2", "Other", "020-4444444"),
		person("contacts", "twice", "second version", "020-3333334"), deletion("contacts", "back"),
		person("contacts", "back", "Back again", "020-5555555")), checkpoint(1, "contacts"))
	cfg := f.config(map[string]any{"batch_size": 1, "concurrency": 8})
	err := testDestination(t).Write(context.Background(), writeReq(cfg, streams...), in)
	if err != nil {
		t.Fatal(err)
	}
	got := f.stored("contacts")
	if _, ok := got["gone"]; ok {
		t.Error("an upsert overtook the later delete of the same contact")
	}
	if got["twice"].Contact.DisplayName != "second version" {
		t.Errorf("an older version overtook the newer: %+v", got["twice"])
	}
	if m := f.sim.Lookup("+31203333333"); len(m) != 0 {
		t.Errorf("the old number still matches: %v", m)
	}
	if _, ok := got["back"]; !ok {
		t.Error("a delete overtook the later upsert")
	}
	if len(got) != 4 || in.lastAck() != 1 {
		t.Errorf("stored %d contacts, acks %v", len(got), in.acked())
	}
}

func TestSweepAfterFullRefresh(t *testing.T) {
	f := newFixture(t)
	d := testDestination(t)
	ctx := context.Background()
	first := newInput(
		records(person("contacts", "a", "A", "020-1000001"),
			person("contacts", "b", "B", "020-1000002"), person("contacts", "c", "C", "020-1000003"),
			person("accounts", "x", "X", "020-1000009")),
		checkpoint(1, "contacts"),
		fullRefresh(2, "contacts", 1),
		fullRefresh(3, "accounts", 1),
	)
	err := d.Write(
		ctx,
		writeReq(f.config(nil), contactStream("contacts", 1), contactStream("accounts", 1)),
		first,
	)
	if err != nil {
		t.Fatal(err)
	}
	if first.lastAck() != 3 {
		t.Fatalf("acks %v", first.acked())
	}

	// Generation 2 of contacts no longer has b; accounts is not refreshed.
	second := newInput(records(person("contacts", "a", "A", "020-1000001")),
		checkpoint(4, "contacts"), records(person("contacts", "c", "C renamed", "020-1000003")),
		fullRefresh(5, "contacts", 2))
	var atAck []string
	second.onAck = func(id uint64) {
		if id == 5 {
			for id := range f.stored("contacts") {
				atAck = append(atAck, id)
			}
		}
	}
	if err := d.Write(
		ctx, writeReq(f.config(map[string]any{"batch_size": 1}), contactStream("contacts", 2)), second,
	); err != nil {
		t.Fatal(err)
	}
	slices.Sort(atAck)
	if !slices.Equal(atAck, []string{"a", "c"}) {
		t.Errorf("contacts when the full refresh was acknowledged: %v, want [a c]", atAck)
	}
	if _, ok := f.stored("accounts")["x"]; !ok {
		t.Error("the sweep of contacts removed an account")
	}
	if second.count(countSwept) != 1 || second.lastAck() != 5 || second.count(countUnchanged) != 1 ||
		second.count(countUpdated) != 1 {
		t.Errorf("counts %v, acks %v", second.counts, second.acked())
	}
	if n := f.sim.Requests()[rogersim.EndpointSweepContacts]; n != 3 {
		t.Errorf("%d sweeps, want 3", n)
	}
}

func TestDroppedConnectionAfterApply(t *testing.T) {
	f := newFixture(t)
	f.sim.SetFault(rogersim.Faults{DropAfterApply: 1})
	var msgs []contract.Message
	for i := range 1200 {
		msgs = append(msgs, records(person("contacts", fmt.Sprint("p", i), "P", fmt.Sprintf("020-%07d", 1000000+i))))
	}
	msgs = append(msgs, checkpoint(1, "contacts"))
	in := newInput(msgs...)
	err := testDestination(t).Write(context.Background(), writeReq(f.config(nil), contactStream("contacts", 1)), in)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.stored("contacts")); n != 1200 {
		t.Errorf("%d contacts stored, want 1200", n)
	}
	// Three batches and one retry of the dropped one, whose contacts were
	// already there when it was repeated.
	if n := f.sim.Requests()[rogersim.EndpointPutContacts]; n != 4 {
		t.Errorf("%d upsert requests, want 4", n)
	}
	if in.count(countCreated) != 700 || in.count(countUnchanged) != 500 || in.lastAck() != 1 {
		t.Errorf("counts %v, acks %v", in.counts, in.acked())
	}
}

func TestAcksOnlyAfterSuccess(t *testing.T) {
	f := newFixture(t)
	f.sim.SetFault(rogersim.Faults{ServerErrors: 2, ServerErrorStatus: 502})
	var msgs []contract.Message
	var violations atomic.Int32
	sent := map[uint64]int{} // checkpoint id -> contacts written before it
	n := 0
	for cp := uint64(1); cp <= 6; cp++ {
		for range 70 {
			msgs = append(msgs, records(person("contacts", fmt.Sprint("p", n), "P", fmt.Sprintf("020-%07d", 2000000+n))))
			n++
		}
		msgs = append(msgs, checkpoint(cp, "contacts"))
		sent[cp] = n
	}
	in := newInput(msgs...)
	in.onAck = func(id uint64) {
		stored := f.stored("contacts")
		for i := range sent[id] {
			if _, ok := stored[fmt.Sprint("p", i)]; !ok {
				violations.Add(1)
			}
		}
	}
	d := testDestination(t)
	cfg := f.config(map[string]any{"batch_size": 100, "concurrency": 3})
	if err := d.Write(context.Background(), writeReq(cfg, contactStream("contacts", 1)), in); err != nil {
		t.Fatal(err)
	}
	acks := in.acked()
	if violations.Load() != 0 || len(acks) == 0 || acks[len(acks)-1] != 6 || !slices.IsSorted(acks) {
		t.Errorf("acks %v with %d contacts missing at ack time", acks, violations.Load())
	}

	// When the errors outlast the retries, the run fails and nothing is acknowledged.
	f.sim.SetFault(rogersim.Faults{ServerErrors: 1000})
	in = newInput(records(person("contacts", "late", "Late", "020-3000000")), checkpoint(7, "contacts"))
	err := d.Write(context.Background(),
		writeReq(cfg, contactStream("contacts", 1)), in)
	if err == nil || !strings.Contains(err.Error(), "ROGER365 answered 503 Service Unavailable") ||
		!strings.Contains(err.Error(), "gave up after 6 attempts") {
		t.Errorf("error %v", err)
	}
	if len(in.acked()) != 0 {
		t.Errorf("acknowledged %v after a failed batch", in.acked())
	}
}

// A source that pauses after a checkpoint still gets it acknowledged, though
// the batch before it is far from full.
func TestCheckpointBehindPartialBatch(t *testing.T) {
	f := newFixture(t)
	in := newInput(records(person("contacts", "a", "A", "020-1234567")), checkpoint(1, "contacts"))
	in.hold = make(chan struct{})
	in.onAck = func(uint64) { close(in.hold) }
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := testDestination(t).Write(ctx, writeReq(f.config(nil), contactStream("contacts", 1)), in)
	if err != nil {
		t.Fatalf("the checkpoint was not acknowledged while the input paused: %v", err)
	}
	if in.lastAck() != 1 || len(f.stored("contacts")) != 1 {
		t.Errorf("acks %v", in.acked())
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	f := newFixture(t)
	f.sim.SetFault(rogersim.Faults{RateLimited: 1, RetryAfter: 1})
	in := newInput(records(person("contacts", "a", "A", "020-1234567")), checkpoint(1, "contacts"))
	start := time.Now()
	if err := testDestination(t).Write(
		context.Background(), writeReq(f.config(nil), contactStream("contacts", 1)), in,
	); err != nil {
		t.Fatal(err)
	}
	// The destination's own backoff is milliseconds here; only Retry-After explains a second.
	if d := time.Since(start); d < time.Second {
		t.Errorf("retried after %v, before Retry-After", d)
	}
	if n := f.sim.Requests()[rogersim.EndpointPutContacts]; n != 2 || in.lastAck() != 1 {
		t.Errorf("%d requests, acks %v", n, in.acked())
	}

	// A Retry-After beyond the retry budget fails at once, saying so.
	f.sim.SetFault(rogersim.Faults{RateLimited: 1, RetryAfter: 3600})
	in = newInput(records(person("contacts", "b", "B", "020-1234568")))
	err := testDestination(t).Write(context.Background(), writeReq(f.config(nil), contactStream("contacts", 1)), in)
	if err == nil || !strings.Contains(err.Error(), "asks to wait 1h0m0s (Retry-After), past the 20s") ||
		!strings.Contains(err.Error(), "429") {
		t.Errorf("error %v", err)
	}
}

// Retries are warnings, with how many attempts failed and what the last
// one got, so a storm that ends in a failed run is seen before it fails.
func TestRetriesWarn(t *testing.T) {
	f := newFixture(t)
	streams := []contract.WriteStream{contactStream("contacts", 1)}
	d, logged := loggedDestination(t)
	f.sim.SetFault(rogersim.Faults{ServerErrors: 2, ServerErrorStatus: 502})
	if err := d.Write(
		context.Background(), writeReq(f.config(nil), streams...),
		newInput(records(person("contacts", "a", "A", "020-1234567"))),
	); err != nil {
		t.Fatal(err)
	}
	for _, attempt := range []string{"attempt=1", "attempt=2"} {
		w := logged.Lines("[WARN]", "ROGER365 call failed; retrying", `call="PUT /v1/replicators/rep-1/contacts"`,
			attempt, "max_attempts=6", "status=502")
		if len(w) != 1 {
			t.Errorf("%d warnings with %s and status=502, want 1", len(w), attempt)
		}
	}
	if w := logged.Lines("[WARN]", "retrying"); len(w) != 2 {
		t.Errorf("%d retry warnings, want 2: %q", len(w), w)
	}

	// A storm that outlasts the retries: a warning for each retry, then the error.
	d, logged = loggedDestination(t)
	f.sim.SetFault(rogersim.Faults{RateLimited: 100})
	err := d.Write(context.Background(),
		writeReq(f.config(nil), streams...),
		newInput(records(person("contacts", "b", "B", "020-1234568"))))
	if err == nil || !strings.Contains(err.Error(), "gave up after 6 attempts") || !strings.Contains(err.Error(), "429") {
		t.Fatalf("error %v, want the request to fail after 6 attempts with 429", err)
	}
	if w := logged.Lines("[WARN]", "retrying", "status=429"); len(w) != 5 {
		t.Errorf("%d retry warnings with status=429, want 5", len(w))
	}
	if w := logged.Lines("[WARN]", "retrying", "attempt=5", "max_attempts=6"); len(w) != 1 {
		t.Errorf("no warning for the last retry: %q", logged.Lines("retrying"))
	}
	f.sim.SetFault(rogersim.Faults{})

	// No answer at all is retried and warned about too.
	d, logged = loggedDestination(t)
	cfg := f.config(map[string]any{"api_url": closedURL(t)})
	if err := d.Write(
		context.Background(), writeReq(cfg, streams...), newInput(records(person("contacts", "c", "C", "020-1234569"))),
	); err == nil {
		t.Fatal("a write to a closed port succeeded")
	}
	if w := logged.Lines("[WARN]", "retrying", "status=\"no answer\""); len(w) != 5 {
		t.Errorf("%d retry warnings without an answer, want 5: %q", len(w), logged.Lines("retrying"))
	}
}

func TestRejectedContacts(t *testing.T) {
	f := newFixture(t)
	f.sim.SetFault(rogersim.Faults{RejectIDs: []string{"bad"}})
	msgs := func() []contract.Message {
		return []contract.Message{
			records(person("contacts", "ok", "Fine", "020-1234567"), person("contacts", "bad", "Refused", "020-7654321")),
			checkpoint(1, "contacts"),
		}
	}
	streams := []contract.WriteStream{contactStream("contacts", 1)}
	in := newInput(msgs()...)
	if err := testDestination(t).Write(context.Background(), writeReq(f.config(nil), streams...), in); err != nil {
		t.Fatalf("a rejection failed a non-strict run: %v", err)
	}
	if in.count(countRejected) != 1 || in.count(countCreated) != 1 || in.lastAck() != 1 {
		t.Errorf("counts %v, acks %v", in.counts, in.acked())
	}

	in = newInput(msgs()...)
	strict := f.config(map[string]any{"strict": true})
	err := testDestination(t).Write(context.Background(), writeReq(strict, streams...), in)
	if err == nil ||
		!strings.Contains(err.Error(),
			`ROGER365 rejected contact "bad" of stream "contacts": refused by the simulator's injected fault (strict = true`) {
		t.Errorf("strict error %v", err)
	}
	if len(in.acked()) != 0 || in.count(countRejected) != 1 {
		t.Errorf("strict: acks %v, counts %v", in.acked(), in.counts)
	}

	// A record that is no contact at all is rejected here, by the same rules.
	junk := contract.Record{Stream: "contacts", Key: "j", Data: json.RawMessage(`{"source_id": 5}`)}
	in = newInput(records(junk, person("contacts", "after", "After", "020-1234569")))
	if err := testDestination(t).Write(context.Background(), writeReq(f.config(nil), streams...), in); err != nil ||
		in.count(countRejected) != 1 {
		t.Errorf("unreadable record: %v, counts %v", err, in.counts)
	}
	in = newInput(records(junk))
	if err := testDestination(t).Write(
		context.Background(), writeReq(f.config(map[string]any{"strict": true}), streams...), in,
	); err == nil ||
		!strings.Contains(err.Error(), `record "j" of stream "contacts" cannot be written`) {
		t.Errorf("strict unreadable record: %v", err)
	}
}

// A host that lost its claim on a pipeline may still deliver a batch after
// its successor wrote a newer version of the same contact. The phonebook
// keeps the newer one; the late writer's run succeeds, even with strict,
// and counts the older contact as stale. The time is the record's
// updated_at, or its SourceTime where the data carries none.
func TestOlderVersionFromALateWriter(t *testing.T) {
	newer := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	older := newer.Add(-time.Hour)
	// version is contact 1 named name, changed in the source at at.
	type version func(name string, at time.Time) contract.Record
	withData := func(name string, updatedAt time.Time) contract.Record {
		r := person("contacts", "1", name, "020-1234567")
		var c schemas.Contact
		if err := json.Unmarshal(r.Data, &c); err != nil {
			t.Fatal(err)
		}
		c.UpdatedAt = updatedAt
		r.Data, _ = json.Marshal(c)
		return r
	}
	cases := []struct {
		name    string
		version version
	}{
		{"updated_at", func(name string, at time.Time) contract.Record { return withData(name, at) }},
		{"source time, no updated_at", func(name string, at time.Time) contract.Record {
			r := withData(name, time.Time{})
			var m map[string]any
			_ = json.Unmarshal(r.Data, &m)
			delete(m, "updated_at")
			r.Data, _ = json.Marshal(m)
			r.SourceTime = at
			return r
		}},
		{"source time, zero updated_at", func(name string, at time.Time) contract.Record {
			r := withData(name, time.Time{})
			r.SourceTime = at
			return r
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			successor := newInput(records(c.version("Newer", newer)), checkpoint(1, "contacts"))
			req := writeReq(f.config(nil), contactStream("contacts", 6))
			err := testDestination(t).Write(context.Background(), req, successor)
			if err != nil {
				t.Fatal(err)
			}
			late := newInput(records(c.version("Older", older)), checkpoint(1, "contacts"))
			d := testDestination(t)
			logs := &logbuf.Buffer{}
			d.log = hclog.New(&hclog.LoggerOptions{Output: io.MultiWriter(testWriter{t}, logs), Level: hclog.Debug})
			if err := d.Write(
				context.Background(), writeReq(f.config(map[string]any{"strict": true}), contactStream("contacts", 5)), late,
			); err != nil {
				t.Fatalf("the late writer's run failed: %v", err)
			}
			if m := f.sim.Lookup("+31201234567"); len(m) != 1 || m[0].DisplayName != "Newer" {
				t.Errorf("lookup %+v, want the newer version", m)
			}
			if late.count(countStale) != 1 || late.count(countUpdated) != 0 || late.count(countRejected) != 0 ||
				late.lastAck() != 1 {
				t.Errorf("late writer: counts %v, acks %v", late.counts, late.acked())
			}
			if lines := logs.Lines("[DEBUG]", "ROGER365 holds a newer version of a contact", "source_id=1"); len(lines) != 1 {
				t.Errorf("debug lines %q in:\n%s", lines, logs)
			}
			if warns := logs.Lines("[WARN]"); len(warns) != 0 {
				t.Errorf("a stale contact was warned about: %q", warns)
			}
		})
	}
}

func TestWriteRefusals(t *testing.T) {
	f := newFixture(t)
	d := testDestination(t)
	ctx := context.Background()
	deals := contract.WriteStream{
		Stream:     contract.Stream{Name: "deals", Schema: json.RawMessage(`{"type":"object"}`)},
		Generation: 1,
	}
	cases := []struct {
		name    string
		config  json.RawMessage
		streams []contract.WriteStream
		msgs    []contract.Message
		want    string
	}{
		{"schema", f.config(nil), []contract.WriteStream{deals}, nil,
			`stream "deals" is not a canonical contact stream, which roger365 needs: property "source_id" is missing`},
		{"unopened stream", f.config(nil), []contract.WriteStream{contactStream("contacts", 1)},
			[]contract.Message{records(person("people", "1", "P", "020-1234567"))},
			`a message for stream "people" arrived, but the write was opened for contacts`},
		{"bad key", f.config(map[string]any{"api_key": "wrong"}), []contract.WriteStream{contactStream("contacts", 1)},
			[]contract.Message{records(person("contacts", "1", "P", "020-1234567"))},
			"writing contacts of stream contacts: the api_key was refused"},
		{"unknown replicator", f.config(map[string]any{"replicator_id": "gone"}),
			[]contract.WriteStream{contactStream("contacts", 1)}, []contract.Message{records(deletion("contacts", "1"))},
			"deleting contacts of stream contacts: replicator gone does not exist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := newInput(c.msgs...)
			err := d.Write(ctx, contract.WriteRequest{Config: c.config, Streams: c.streams}, in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestWriteStopsWithContext(t *testing.T) {
	f := newFixture(t)
	f.sim.SetFault(rogersim.Faults{Delay: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	in := newInput(records(person("contacts", "a", "A", "020-1234567")), checkpoint(1, "contacts"))
	in.onAck = func(uint64) { t.Error("acknowledged a write that never happened") }
	done := make(chan error, 1)
	go func() {
		done <- testDestination(t).Write(ctx, writeReq(f.config(nil), contactStream("contacts", 1)), in)
	}()
	for f.sim.Requests()[rogersim.EndpointPutContacts] == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a cancelled write reported success")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Write did not return after its context was cancelled")
	}
}

// The canonical schema the sources publish must pass this destination's check.
func TestCanonicalSchemaAccepted(t *testing.T) {
	if err := checkStreams([]contract.Stream{{Name: "contacts", Schema: schemas.ContactSchema()}}); err != nil {
		t.Fatal(err)
	}
}
