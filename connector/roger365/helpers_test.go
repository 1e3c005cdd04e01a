package roger365

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/replicatorhq/replicator/connector/roger365/rogersim"
	"github.com/replicatorhq/replicator/internal/logbuf"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/httpapi"
	"github.com/replicatorhq/replicator/schemas"
	"github.com/replicatorhq/replicator/schemas/phone"
)

const (
	testKey        = "secret-test-key"
	testReplicator = "rep-1"
)

// fixture is a simulator on loopback. intercept, when set, sees every
// request body before the simulator does.
type fixture struct {
	sim *rogersim.Server
	url string

	mu        sync.Mutex
	intercept func(r *http.Request, body []byte)
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	sim, err := rogersim.New(rogersim.Options{
		Keys:        []string{testKey},
		Replicators: []rogersim.Replicator{{ID: testReplicator, Name: "Zoho CRM", SourceType: "zoho", Entity: "Contacts"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{sim: sim}
	h := sim.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		hook := f.intercept
		f.mu.Unlock()
		if hook != nil {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			hook(r, body)
		}
		h.ServeHTTP(w, r)
	}))
	f.url = ts.URL
	t.Cleanup(func() {
		ts.Close()
		sim.Close()
	})
	return f
}

func (f *fixture) setIntercept(h func(r *http.Request, body []byte)) {
	f.mu.Lock()
	f.intercept = h
	f.mu.Unlock()
}

// config returns the destination's JSON config for the fixture; extra
// attributes are added or override.
func (f *fixture) config(extra map[string]any) json.RawMessage {
	c := map[string]any{"api_url": f.url, "api_key": testKey, "replicator_id": testReplicator}
	for k, v := range extra {
		c[k] = v
	}
	b, _ := json.Marshal(c)
	return b
}

// stored maps source id to the stored contact for one stream.
func (f *fixture) stored(stream string) map[string]rogersim.StoredContact {
	out := map[string]rogersim.StoredContact{}
	for _, c := range f.sim.Contacts(testReplicator) {
		if c.Stream == stream {
			out[c.Contact.SourceID] = c
		}
	}
	return out
}

// testDestination retries fast so fault tests stay quick.
func testDestination(t testing.TB) *Destination {
	d := New(hclog.New(&hclog.LoggerOptions{Output: testWriter{t}, Level: hclog.Debug}))
	d.retry = httpapi.Options{
		MaxAttempts: 6,
		MaxElapsed:  20 * time.Second,
		MinWait:     time.Millisecond,
		MaxWait:     10 * time.Millisecond,
		Timeout:     5 * time.Second,
	}
	d.linger = 10 * time.Millisecond
	return d
}

// loggedDestination is testDestination logging at info, as an operator
// runs the host, into the returned buffer as well as the test's log.
func loggedDestination(t testing.TB) (*Destination, *logbuf.Buffer) {
	buf := &logbuf.Buffer{}
	d := testDestination(t)
	d.log = hclog.New(&hclog.LoggerOptions{Output: io.MultiWriter(testWriter{t}, buf), Level: hclog.Info})
	return d, buf
}

// closedURL is the URL of a loopback port nothing listens on.
func closedURL(t testing.TB) string {
	ts := httptest.NewServer(http.NotFoundHandler())
	u := ts.URL
	ts.Close()
	return u
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// writeReq is the request to write streams with the config cfg.
func writeReq(cfg json.RawMessage, streams ...contract.WriteStream) contract.WriteRequest {
	return contract.WriteRequest{Config: cfg, Streams: streams}
}

func contactStream(name string, gen uint64) contract.WriteStream {
	return contract.WriteStream{
		Stream:     contract.Stream{Name: name, Schema: schemas.ContactSchema(), PrimaryKey: []string{"source_id"}},
		Generation: gen,
	}
}

// person builds an upsert of a canonical contact as a source in the
// Netherlands emits it: each raw text read with region NL, the number left
// absent where that gives no valid number.
func person(stream, id, name string, raws ...string) contract.Record {
	phones := make([]schemas.Phone, 0, len(raws))
	for i, raw := range raws {
		typ := schemas.PhoneWork
		if i == 1 {
			typ = schemas.PhoneMobile
		}
		p, _ := phone.Read(typ, raw, "", "NL")
		phones = append(phones, p)
	}
	return contactWithPhones(stream, id, name, phones...)
}

// contactWithPhones builds an upsert of a canonical contact with phones as given.
func contactWithPhones(stream, id, name string, phones ...schemas.Phone) contract.Record {
	c := schemas.Contact{
		SourceID: id, Kind: schemas.KindContact, DisplayName: name, FirstName: "Ada", LastName: name, Company: "Acme BV",
		Emails: []string{
			id + "@example.com",
		}, URL: "https://crm.example/" + id, UpdatedAt: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC),
		Attributes: map[string]any{"Lead_Source": "Web", "Secret_Note": "not for the phonebook"},
		Phones:     append([]schemas.Phone{}, phones...),
	}
	data, _ := json.Marshal(c)
	return contract.Record{Stream: stream, Key: id, Op: contract.Upsert, Data: data}
}

func deletion(stream, id string) contract.Record {
	return contract.Record{Stream: stream, Key: id, Op: contract.Delete}
}

func records(rs ...contract.Record) contract.Message { return contract.Message{Records: rs} }

func checkpoint(id uint64, stream string) contract.Message {
	return contract.Message{Checkpoint: &contract.Checkpoint{ID: id, Stream: stream, State: json.RawMessage(`{}`)}}
}

func fullRefresh(id uint64, stream string, gen uint64) contract.Message {
	return contract.Message{FullRefreshComplete: &contract.FullRefreshComplete{ID: id, Stream: stream, Generation: gen}}
}

// input feeds messages to Write and records what it acknowledges and counts.
type input struct {
	mu     sync.Mutex
	msgs   []contract.Message
	next   int
	acks   []uint64
	counts map[string]int64
	onAck  func(id uint64) // runs inside Ack, before it returns
	hold   chan struct{}   // when set, the end of input waits until it is closed
}

func newInput(msgs ...contract.Message) *input {
	return &input{msgs: msgs, counts: map[string]int64{}}
}

func (in *input) Next(ctx context.Context) (contract.Message, error) {
	if err := ctx.Err(); err != nil {
		return contract.Message{}, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.next >= len(in.msgs) {
		if in.hold != nil {
			in.mu.Unlock()
			select {
			case <-in.hold:
			case <-ctx.Done():
			}
			in.mu.Lock()
		}
		return contract.Message{}, io.EOF
	}
	in.next++
	return in.msgs[in.next-1], nil
}

func (in *input) Ack(ctx context.Context, id uint64) error {
	in.mu.Lock()
	hook := in.onAck
	in.acks = append(in.acks, id)
	in.mu.Unlock()
	if hook != nil {
		hook(id)
	}
	return nil
}

func (in *input) Count(ctx context.Context, name string, delta int64) error {
	in.mu.Lock()
	in.counts[name] += delta
	in.mu.Unlock()
	return nil
}

func (in *input) acked() []uint64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]uint64(nil), in.acks...)
}

func (in *input) lastAck() uint64 {
	a := in.acked()
	if len(a) == 0 {
		return 0
	}
	return a[len(a)-1]
}

func (in *input) count(name string) int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.counts[name]
}
