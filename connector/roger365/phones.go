package roger365

import (
	"github.com/nyaruka/phonenumbers"
)

// inPhone is a phone of the canonical record as it arrives.
type inPhone struct {
	Type   string `json:"type"`
	Number string `json:"number"`
	Raw    string `json:"raw"`
}

// wirePhone is a phone as ROGER365 takes it.
type wirePhone struct {
	Type   string `json:"type"`
	Number string `json:"number"`
}

// isE164 reports whether s has the form of an E.164 number.
func isE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
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
	if isE164(p.Number) {
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
			if e := phonenumbers.Format(&n.num, phonenumbers.E164); isE164(e) {
				return e, true
			}
		}
	}
	return "", false
}

// phones returns the usable, distinct numbers of in and how many entries
// could not be normalised.
func (n *normalizer) phones(in []inPhone) ([]wirePhone, int) {
	out := make([]wirePhone, 0, len(in))
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
		out = append(out, wirePhone{Type: t, Number: e})
	}
	return out, unparseable
}
