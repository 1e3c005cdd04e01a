package roger365

import (
	"github.com/replicatorhq/replicator/connector/roger365/ingest"
	"github.com/replicatorhq/replicator/schemas"
	"github.com/replicatorhq/replicator/schemas/phone"
)

// inPhone is a phone of the canonical record as it arrives.
type inPhone = schemas.Phone

// reading is what became of one phone entry.
type reading uint8

const (
	readOK     reading = iota // an E.164 number to store
	readEmpty                 // neither number nor raw: nothing to count
	readNone                  // no valid number in the text, prefix or not
	readUnread                // a number without an unambiguous international prefix: not guessed
)

// normalizer turns a record's phones into E.164 numbers by the rule of
// package phone: the source's number, or raw text that carries its own
// country; a national number is never read with a region of the
// destination's choosing.
type normalizer struct {
	r *phone.Reader
}

func newNormalizer() (*normalizer, error) {
	r, err := phone.NewReader()
	if err != nil {
		return nil, err
	}
	return &normalizer{r: r}, nil
}

// e164 returns p's number in E.164 and what became of it.
func (n *normalizer) e164(p inPhone) (string, reading) {
	e, why := n.r.Number(p)
	switch {
	case why == phone.OK && ingest.IsE164(e):
		return e, readOK
	case why == phone.Empty:
		return "", readEmpty
	case why.NeedsCountry():
		return "", readUnread
	default:
		return "", readNone
	}
}

// phoneCounts says how many phone entries of a contact were left out.
type phoneCounts struct {
	unparseable int // no valid number in the text at all
	unread      int // a number whose country only a guess would supply
}

// phones returns the usable, distinct numbers of in and how many entries
// were left out, and why.
func (n *normalizer) phones(in []inPhone) ([]ingest.Phone, phoneCounts) {
	out := make([]ingest.Phone, 0, len(in))
	var left phoneCounts
next:
	for _, p := range in {
		e, r := n.e164(p)
		switch r {
		case readNone:
			left.unparseable++
			continue
		case readUnread:
			left.unread++
			continue
		case readEmpty:
			continue
		}
		for _, q := range out {
			if q.Number == e {
				continue next // the same number twice in one contact counts once
			}
		}
		t := p.Type
		if t == "" {
			t = "other"
		}
		out = append(out, ingest.Phone{Type: t, Number: e})
	}
	return out, left
}
