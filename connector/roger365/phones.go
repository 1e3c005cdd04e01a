package roger365

import (
	"cmp"
	"slices"

	"github.com/replicatorhq/replicator/connector/roger365/ingest"
	"github.com/replicatorhq/replicator/schemas"
	"github.com/replicatorhq/replicator/schemas/phone"
)

// phoneCounts says how many phone entries of a contact were left out.
type phoneCounts struct {
	unparseable int // no valid number in the text at all
	unread      int // a number whose country only a guess would supply
}

// storedPhones returns what the phonebook stores of a contact's phones: each
// number as r reads it (the source's E.164 number, or raw text with its
// own country; never a guess), once per contact with the first entry's
// type; and how many entries were left out, and why.
func storedPhones(r *phone.Reader, in []schemas.Phone) ([]ingest.Phone, phoneCounts) {
	out := make([]ingest.Phone, 0, len(in))
	var left phoneCounts
	for _, p := range in {
		e, why := r.Number(p)
		switch {
		case why == phone.Empty:
			continue
		case why.NeedsCountry():
			left.unread++
			continue
		case why != phone.OK:
			left.unparseable++
			continue
		}
		if !slices.ContainsFunc(out, func(q ingest.Phone) bool { return q.Number == e }) {
			out = append(out, ingest.Phone{Type: cmp.Or(p.Type, schemas.PhoneOther), Number: e})
		}
	}
	return out, left
}
