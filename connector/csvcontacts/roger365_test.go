package csvcontacts

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/connector/roger365"
	"github.com/replicatorhq/replicator/connector/roger365/rogersim"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/plugintest"
)

// pipe is the host's part in miniature: it keeps what the source sends as
// the destination's messages, control messages numbered, and takes the
// destination's acknowledgements.
type pipe struct {
	msgs  []contract.Message
	next  int
	ids   uint64
	acked uint64
	count map[string]int64
}

func (p *pipe) Emit(_ context.Context, r contract.Record) error {
	if n := len(p.msgs); n > 0 && p.msgs[n-1].Records != nil {
		p.msgs[n-1].Records = append(p.msgs[n-1].Records, r)
	} else {
		p.msgs = append(p.msgs, contract.Message{Records: []contract.Record{r}})
	}
	return nil
}

func (p *pipe) Checkpoint(_ context.Context, stream string, state json.RawMessage) error {
	p.ids++
	p.msgs = append(p.msgs, contract.Message{Checkpoint: &contract.Checkpoint{ID: p.ids, Stream: stream, State: state}})
	return nil
}

func (p *pipe) FullRefreshComplete(_ context.Context, stream string, gen uint64) error {
	p.ids++
	fr := &contract.FullRefreshComplete{ID: p.ids, Stream: stream, Generation: gen}
	p.msgs = append(p.msgs, contract.Message{FullRefreshComplete: fr})
	return nil
}

func (p *pipe) UpdateCredentials(context.Context, contract.Credentials) error { return nil }

func (p *pipe) Count(_ context.Context, name string, delta int64) error {
	if p.count == nil {
		p.count = map[string]int64{}
	}
	p.count[name] += delta
	return nil
}

func (p *pipe) Next(context.Context) (contract.Message, error) {
	if p.next == len(p.msgs) {
		return contract.Message{}, io.EOF
	}
	p.next++
	return p.msgs[p.next-1], nil
}

func (p *pipe) Ack(_ context.Context, id uint64) error {
	p.acked = id
	return nil
}

// The CSV source feeds the ROGER365 destination, both over the plugin
// protocol, and the phonebook gets every number the source read and none
// it could not: 0612345678 of a row whose country is unknown would be a
// Dutch mobile if the destination guessed.
func TestFeedsROGER365(t *testing.T) {
	sim, err := rogersim.New(rogersim.Options{
		Keys:        []string{"key"},
		Replicators: []rogersim.Replicator{{ID: "rep", Name: "CSV", SourceType: "csv", Entity: "Contacts"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { ts.Close(); sim.Close() })

	ctx := context.Background()
	src := plugintest.ConnectSource(t, New(hclog.NewNullLogger()))
	cat, err := src.Discover(ctx, contract.DiscoverRequest{Config: configFor(writeFile(t, awkward), "")})
	if err != nil {
		t.Fatal(err)
	}
	p := &pipe{}
	req := contract.ReadRequest{
		Config:  configFor(writeFile(t, awkward), `, "default_region": "NL"`),
		Streams: []contract.ReadStream{{Name: "contacts", Generation: 1}},
	}
	if err := src.Read(ctx, req, p); err != nil {
		t.Fatal(err)
	}
	dst := plugintest.ConnectDestination(t, roger365.New(hclog.NewNullLogger()))
	dcfg, _ := json.Marshal(map[string]any{"api_url": ts.URL, "api_key": "key", "replicator_id": "rep"})
	if _, err := dst.Check(ctx, contract.CheckRequest{Config: dcfg, Streams: cat.Catalog.Streams}); err != nil {
		t.Fatalf("the destination refuses the source's stream: %v", err)
	}
	streams := []contract.WriteStream{{Stream: cat.Catalog.Streams[0], Generation: 1}}
	wreq := contract.WriteRequest{Config: dcfg, Streams: streams}
	if err := dst.Write(ctx, wreq, p); err != nil {
		t.Fatal(err)
	}
	if p.count["skipped_without_phone"] != 3 {
		t.Errorf("counters %v, want 3 contacts skipped without a usable number", p.count)
	}
	if p.acked != p.ids {
		t.Errorf("acknowledged up to %d of %d", p.acked, p.ids)
	}
	numbers := map[string][]string{}
	for _, c := range sim.Contacts("rep") {
		for _, ph := range c.Contact.Phones {
			numbers[c.Contact.SourceID] = append(numbers[c.Contact.SourceID], ph.Number)
		}
	}
	want := map[string][]string{"1": {"+442079460958"}, "2": {"+49301234567"}, "5": {"+31301234567"}}
	if len(numbers) != len(want) {
		t.Errorf("phonebook %v, want %v", numbers, want)
	}
	for id, n := range want {
		if !slices.Equal(numbers[id], n) {
			t.Errorf("contact %s has %v, want %v", id, numbers[id], n)
		}
	}
}
