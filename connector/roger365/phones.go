package roger365

import (
	"github.com/nyaruka/phonenumbers"
	"github.com/replicatorhq/replicator/connector/roger365/ingest"
)

// inPhone is a phone of the canonical record as it arrives.
type inPhone struct {
	Type   string `json:"type"`
	Number string `json:"number"`
	Raw    string `json:"raw"`
}

// normalizer turns a record's phones into E.164 numbers.
type normalizer struct {
	region string // used for numbers written without a country code
	num    phonenumbers.PhoneNumber
}

// e164 returns p's number in E.164: the record's number when it already is
// one, else raw parsed with the default region. Numbers libphonenumber does
// not consider valid are refused, so a number typed for another country
// without its code does not match a stranger's line.
func (n *normalizer) e164(p inPhone) (string, bool) {
	if ingest.IsE164(p.Number) {
		return p.Number, true
	}
	for _, s := range [...]string{p.Raw, p.Number} {
		if s == "" {
			continue
		}
		n.num.Reset()
		if err := phonenumbers.ParseToNumber(s, n.region, &n.num); err != nil {
			continue
		}
		if phonenumbers.IsValidNumber(&n.num) {
			if e := phonenumbers.Format(&n.num, phonenumbers.E164); ingest.IsE164(e) {
				return e, true
			}
		}
	}
	return "", false
}

// phones returns the usable, distinct numbers of in and how many entries
// could not be normalised.
func (n *normalizer) phones(in []inPhone) ([]ingest.Phone, int) {
	out := make([]ingest.Phone, 0, len(in))
	unparseable := 0
next:
	for _, p := range in {
		e, ok := n.e164(p)
		if !ok {
			if p.Raw != "" || p.Number != "" {
				unparseable++
			}
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
	return out, unparseable
}
