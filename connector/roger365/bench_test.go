package roger365

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/replicatorhq/replicator/connector/roger365/rogersim"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/schemas"
)

// sourceMessages is what a CRM source sends for n contacts: records already
// normalised to E.164, in pages of 200 with a checkpoint after each page.
func sourceMessages(n int) []contract.Message {
	const page = 200
	var msgs []contract.Message
	var recs []contract.Record
	for i := range n {
		c := schemas.Contact{
			SourceID: fmt.Sprint("zcrm_", 4000000+i), Kind: schemas.KindContact, DisplayName: fmt.Sprint("Contact ", i),
			FirstName: "Contact", LastName: fmt.Sprint(i), Company: "Acme BV", Title: "Buyer",
			Emails: []string{fmt.Sprintf("c%d@example.com", i)},
			Phones: []schemas.Phone{
				{Type: schemas.PhoneWork, Number: fmt.Sprintf("+3120%07d", i), Raw: fmt.Sprintf("020-%07d", i)},
				{Type: schemas.PhoneMobile, Number: fmt.Sprintf("+316%08d", i), Raw: fmt.Sprintf("06-%08d", i)},
			},
			URL: fmt.Sprint("https://crm.example/tab/Contacts/", i), UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			Attributes: map[string]any{"Lead_Source": "Web", "Mailing_City": "Amsterdam"},
		}
		data, _ := json.Marshal(c)
		recs = append(recs, contract.Record{Stream: "contacts", Key: c.SourceID, Data: data})
		if len(recs) == page || i == n-1 {
			msgs = append(msgs, contract.Message{Records: recs})
			msgs = append(msgs, checkpoint(uint64(len(msgs)), "contacts"))
			recs = nil
		}
	}
	return msgs
}

// The request count is part of the contract with the benchmark: one request
// per 500 contacts, however the source pages its checkpoints.
func TestRequestsPerContact(t *testing.T) {
	f := newFixture(t)
	d := testDestination(t)
	d.linger = time.Hour // only full batches, so the count does not depend on timing
	msgs := sourceMessages(5000)
	in := newInput(msgs...)
	err := d.Write(context.Background(),
		writeReq(f.config(nil), contactStream("contacts", 1)), in)
	if err != nil {
		t.Fatal(err)
	}
	if n := f.sim.Requests()[rogersim.EndpointPutContacts]; n != 10 {
		t.Errorf("%d requests for 5000 contacts, want 10", n)
	}
	if got, want := in.lastAck(), msgs[len(msgs)-1].Checkpoint.ID; got != want || in.count(countCreated) != 5000 {
		t.Errorf("last ack %d, want %d; counts %v", got, want, in.counts)
	}
}

// BenchmarkWrite20000 writes 20,000 contacts into an in-process simulator
// and reports contacts per second and requests per run.
func BenchmarkWrite20000(b *testing.B) {
	const n = 20000
	f := newFixture(b)
	d := New(nil)
	msgs := sourceMessages(n)
	cfg := f.config(nil)
	b.ReportAllocs()
	b.ResetTimer()
	gen := uint64(0)
	for b.Loop() {
		gen++
		f.sim.ResetRequests()
		in := newInput(msgs...)
		err := d.Write(context.Background(),
			writeReq(cfg, contactStream("contacts", gen)), in)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "contacts/s")
	b.ReportMetric(float64(f.sim.Requests()[rogersim.EndpointPutContacts]), "requests/run")
}
