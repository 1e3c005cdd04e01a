package httpcontacts

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/connector/httpcontacts/apisim"
	"github.com/replicatorhq/replicator/connector/roger365"
	"github.com/replicatorhq/replicator/connector/roger365/rogersim"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/plugintest"
)

// feed is a destination's Input holding what a source's read sent: its
// records, then its full-refresh-complete, if any, and its last checkpoint.
type feed struct {
	msgs  []contract.Message
	acked uint64
}

func newFeed(t *testing.T, rec *plugintest.Recorder) *feed {
	t.Helper()
	f := &feed{msgs: []contract.Message{{Records: rec.Records()}}}
	for _, fr := range rec.FullRefreshCompletes() {
		fr.ID = 1
		f.msgs = append(f.msgs, contract.Message{FullRefreshComplete: &fr})
	}
	cp := contract.Checkpoint{ID: 2, Stream: "contacts", State: last(t, rec)}
	f.msgs = append(f.msgs, contract.Message{Checkpoint: &cp})
	return f
}

func (f *feed) Next(context.Context) (contract.Message, error) {
	if len(f.msgs) == 0 {
		return contract.Message{}, io.EOF
	}
	m := f.msgs[0]
	f.msgs = f.msgs[1:]
	return m, nil
}

func (f *feed) Ack(_ context.Context, id uint64) error {
	f.acked = id
	return nil
}

func (f *feed) Count(context.Context, string, int64) error { return nil }

// The source feeds the ROGER365 destination, both over the plugin
// protocol: a first read fills the phonebook with every number the source
// could read, and the next one brings a change and a deletion.
func TestFeedsROGER365(t *testing.T) {
	roger, err := rogersim.New(rogersim.Options{Keys: []string{"key"},
		Replicators: []rogersim.Replicator{{ID: "rep", Name: "Contacts", SourceType: "api", Entity: "contacts"}}})
	if err != nil {
		t.Fatal(err)
	}
	rs := httptest.NewServer(roger.Handler())
	t.Cleanup(func() { rs.Close(); _ = roger.Close() })

	a := newAPI(t)
	ada := a.person("Ada", "Lovelace", "+44 20 7946 0958", "")
	alan := a.person("Alan", "Turing", "030 1234567", "DE")
	a.person("Edsger", "Dijkstra", "0612345678", "") // no country: left unread, not guessed
	a.clock.add(2 * time.Minute)

	ctx := context.Background()
	src := plugintest.ConnectSource(t, a.source(quiet()))
	cat, err := src.Discover(ctx, contract.DiscoverRequest{Config: a.config(token)})
	if err != nil {
		t.Fatal(err)
	}
	dst := plugintest.ConnectDestination(t, roger365.New(quiet()))
	dcfg, _ := json.Marshal(map[string]any{"api_url": rs.URL, "api_key": "key", "replicator_id": "rep"})
	if _, err := dst.Check(ctx, contract.CheckRequest{Config: dcfg, Streams: cat.Catalog.Streams}); err != nil {
		t.Fatalf("the destination refuses the source's stream: %v", err)
	}
	sync := func(state json.RawMessage, generation uint64) json.RawMessage {
		t.Helper()
		rec := &plugintest.Recorder{}
		read := contract.ReadRequest{Config: a.config(token),
			Streams: []contract.ReadStream{{Name: "contacts", State: state, Generation: generation}}}
		if err := src.Read(ctx, read, rec); err != nil {
			t.Fatal(err)
		}
		in := newFeed(t, rec)
		write := contract.WriteRequest{Config: dcfg,
			Streams: []contract.WriteStream{{Stream: cat.Catalog.Streams[0], Generation: generation}}}
		if err := dst.Write(ctx, write, in); err != nil {
			t.Fatal(err)
		}
		if in.acked != 2 {
			t.Fatalf("the destination acknowledged up to %d of 2", in.acked)
		}
		return last(t, rec)
	}
	phonebook := func() map[string]string {
		out := map[string]string{}
		for _, c := range roger.Contacts("rep") {
			out[c.Contact.SourceID] = c.Contact.DisplayName
			for _, p := range c.Contact.Phones {
				out[c.Contact.SourceID] += " " + p.Number
			}
		}
		return out
	}

	state := sync(nil, 1)
	want := map[string]string{ada.ID: "Ada Lovelace +442079460958", alan.ID: "Alan Turing +49301234567"}
	if got := phonebook(); !maps.Equal(got, want) {
		t.Errorf("after the first read: %v, want %v", got, want)
	}

	a.clock.add(time.Minute)
	a.sim.Put(apisim.Contact{ID: ada.ID, FirstName: "Ada", LastName: "King",
		Phones: []apisim.Phone{{Label: "work", Number: "+44 20 7946 0958"}}})
	if err := a.sim.Delete(alan.ID); err != nil {
		t.Fatal(err)
	}
	a.clock.add(2 * time.Minute)
	sync(state, 2)
	want = map[string]string{ada.ID: "Ada King +442079460958"}
	if got := phonebook(); !maps.Equal(got, want) {
		t.Errorf("after the incremental read: %v, want %v", got, want)
	}
}
