package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/connector/roger365/ingest"
	"github.com/replicatorhq/replicator/connector/roger365/rogersim"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/launch"
	"github.com/replicatorhq/replicator/schemas"
)

// benchRoger365 writes canonical contacts through the roger365 plugin
// process into the simulator, and counts the requests it took.
func benchRoger365(ctx context.Context, b *bench) error {
	const n = 200_000
	sim, err := rogersim.New(rogersim.Options{
		Keys:        []string{"bench-key"},
		Replicators: []ingest.Replicator{{ID: "bench", Name: "bench", SourceType: "zoho", Entity: "Contacts"}},
	})
	if err != nil {
		return err
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		return err
	}
	defer sim.Close()

	client, err := launch.Start(ctx, launch.Config{
		Path:   filepath.Join(b.bin, "replicator-destination-roger365"),
		Kind:   launch.KindDestination,
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: io.Discard}),
		Env:    launch.EnvForPlugin(hclog.Warn),
	})
	if err != nil {
		return err
	}
	defer client.Close()
	dst, err := client.Destination()
	if err != nil {
		return err
	}
	cfg, _ := json.Marshal(map[string]any{"api_url": sim.URL(), "api_key": "bench-key", "replicator_id": "bench"})
	stream := contract.Stream{Name: "contacts", Schema: schemas.ContactSchema(), PrimaryKey: []string{"source_id"}, Modes: []contract.SyncMode{contract.FullRefresh}}

	in := &contactFeed{n: n, batch: 2000, checkpointEvery: 10_000}
	start := time.Now()
	err = dst.Write(ctx, contract.WriteRequest{Config: cfg, Streams: []contract.WriteStream{{Stream: stream, Generation: 1}}}, in)
	elapsed := time.Since(start)
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if in.acked.Load() != in.id {
		return fmt.Errorf("destination acknowledged checkpoint %d of %d", in.acked.Load(), in.id)
	}
	if got := len(sim.Contacts("bench")); got != n {
		return fmt.Errorf("simulator holds %d contacts, want %d", got, n)
	}
	var requests int64
	for _, c := range sim.Requests() {
		requests += c
	}
	figure("roger365_write_rps", float64(n)/elapsed.Seconds(), "contacts/s")
	figure("roger365_requests", float64(requests), "requests")
	return nil
}

// contactFeed hands a destination n canonical contacts in batches, with a
// checkpoint every checkpointEvery contacts.
type contactFeed struct {
	n, batch, checkpointEvery int
	sent                      int
	pendingCheckpoint         bool
	id                        uint64
	acked                     atomic.Uint64
}

func (f *contactFeed) Next(context.Context) (contract.Message, error) {
	if f.pendingCheckpoint {
		f.pendingCheckpoint = false
		f.id++
		return contract.Message{Checkpoint: &contract.Checkpoint{ID: f.id, Stream: "contacts", State: json.RawMessage(fmt.Sprintf(`{"n":%d}`, f.sent))}}, nil
	}
	if f.sent == f.n {
		return contract.Message{}, io.EOF
	}
	recs := make([]contract.Record, 0, f.batch)
	for ; len(recs) < f.batch && f.sent < f.n; f.sent++ {
		c := schemas.Contact{
			SourceID: fmt.Sprintf("c%07d", f.sent), Kind: schemas.KindContact,
			DisplayName: fmt.Sprintf("Contact %d", f.sent), FirstName: "Contact", LastName: fmt.Sprint(f.sent), Company: "Example BV",
			Emails:    []string{fmt.Sprintf("c%d@example.com", f.sent)},
			Phones:    []schemas.Phone{{Type: schemas.PhoneWork, Number: fmt.Sprintf("+3120%07d", f.sent), Raw: fmt.Sprintf("020-%07d", f.sent)}},
			URL:       fmt.Sprintf("https://crm.zoho.eu/crm/org1/tab/Contacts/%d", f.sent),
			UpdatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		}
		data, _ := json.Marshal(c)
		recs = append(recs, contract.Record{Stream: "contacts", Key: c.SourceID, Data: data})
		if (f.sent+1)%f.checkpointEvery == 0 || f.sent+1 == f.n {
			f.pendingCheckpoint = true
			f.sent++
			break
		}
	}
	return contract.Message{Records: recs}, nil
}

func (f *contactFeed) Ack(_ context.Context, id uint64) error {
	f.acked.Store(id)
	return nil
}

func (f *contactFeed) Count(context.Context, string, int64) error { return nil }
