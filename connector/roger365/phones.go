package roger365

import (
	"fmt"
	"regexp"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"github.com/replicatorhq/replicator/connector/roger365/ingest"
)

// inPhone is a phone of the canonical record as it arrives.
type inPhone struct {
	Type   string `json:"type"`
	Number string `json:"number"`
	Raw    string `json:"raw"`
}

// reading is what became of one phone entry.
type reading uint8

const (
	readOK     reading = iota // an E.164 number to store
	readEmpty                 // neither number nor raw: nothing to count
	readNone                  // no valid number in the text, prefix or not
	readUnread                // a number without an unambiguous international prefix: not guessed
)

// normalizer turns a record's phones into E.164 numbers.
//
// A phone without an E.164 number is one its source could not read (see
// schemas.Phone). Its raw text is read only when it carries its country
// itself: a leading + always, a leading 00 only when every country that
// dials abroad with a prefix starting 00 reads it as the same number. A
// national number such as 030 1234567 is never read with a region of the
// destination's choosing: the source did not know its country, and a
// guessed one shows a stranger's name on an incoming call.
type normalizer struct {
	// idd holds every country's international dialling prefix pattern,
	// anchored, for the 00 check.
	idd []*regexp.Regexp
	num phonenumbers.PhoneNumber
}

func newNormalizer() (*normalizer, error) {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return nil, fmt.Errorf("reading libphonenumber's metadata: %w", err)
	}
	var patterns []string
	for _, m := range coll.GetMetadata() {
		if p := m.GetInternationalPrefix(); p != "" && !slices.Contains(patterns, p) {
			patterns = append(patterns, p)
		}
	}
	slices.Sort(patterns)
	n := &normalizer{idd: make([]*regexp.Regexp, 0, len(patterns))}
	for _, p := range patterns {
		re, err := regexp.Compile("^(?:" + p + ")")
		if err != nil {
			return nil, fmt.Errorf("reading libphonenumber's international prefix %q: %w", p, err)
		}
		n.idd = append(n.idd, re)
	}
	return n, nil
}

// e164 returns p's number in E.164: the record's number when it already is
// one, else its text read by the rule above. Numbers libphonenumber does
// not consider valid are refused.
func (n *normalizer) e164(p inPhone) (string, reading) {
	if ingest.IsE164(p.Number) {
		return p.Number, readOK
	}
	// A number that is not E.164 breaks the contract; it is read like raw.
	worst := readEmpty
	for _, s := range [...]string{p.Raw, p.Number} {
		if s == "" {
			continue
		}
		e, r := n.international(s)
		if r == readOK {
			return e, readOK
		}
		worst = max(worst, r)
	}
	return "", worst
}

// international reads s when it starts with an international prefix.
func (n *normalizer) international(s string) (string, reading) {
	loc := phonenumbers.VALID_START_CHAR_PATTERN.FindStringIndex(s)
	if loc == nil {
		return "", readNone
	}
	text := s[loc[0]:]
	first, size := utf8.DecodeRuneInString(text)
	if first == '+' || first == '\uFF0B' {
		// Region "ZZ" (unknown) makes libphonenumber take the country
		// code from the number or fail; it never supplies one.
		if e, ok := n.valid(text, "ZZ"); ok {
			return e, readOK
		}
		return "", readNone
	}
	second, size2 := utf8.DecodeRuneInString(text[size:])
	if !isZero(first) || !isZero(second) {
		return "", readUnread
	}
	e, ok := n.valid("+"+text[size+size2:], "ZZ")
	// Some countries dial abroad with 00 and more digits (Brazil's 0021,
	// Korea's 001, Australia's 0011); when one of them reads another valid
	// number from the same text, the text is not unambiguous.
	// libphonenumber matches these prefixes the same way, on the digits.
	digits := phonenumbers.NormalizeDigitsOnly(text)
	for _, re := range n.idd {
		loc := re.FindStringIndex(digits)
		if loc == nil || loc[1] <= 2 || loc[1] >= len(digits) || digits[loc[1]] == '0' {
			continue // not a prefix, the plain 00, or one libphonenumber would not strip
		}
		if other, valid := n.valid("+"+afterDigits(text, loc[1]), "ZZ"); valid && (!ok || other != e) {
			return "", readUnread
		}
	}
	if !ok {
		return "", readNone
	}
	return e, readOK
}

// afterDigits returns s after its first k digits.
func afterDigits(s string, k int) string {
	for i, r := range s {
		if k == 0 {
			return s[i:]
		}
		if isDigit(r) {
			k--
		}
	}
	return ""
}

// valid parses s in region and returns it in E.164 if it is a valid number.
func (n *normalizer) valid(s, region string) (string, bool) {
	n.num.Reset()
	if err := phonenumbers.ParseToNumber(s, region, &n.num); err != nil || !phonenumbers.IsValidNumber(&n.num) {
		return "", false
	}
	e := phonenumbers.Format(&n.num, phonenumbers.E164)
	return e, ingest.IsE164(e)
}

// isDigit reports whether libphonenumber reads r as a digit.
func isDigit(r rune) bool {
	return unicode.IsDigit(r) && phonenumbers.NormalizeDigitsOnly(string(r)) != ""
}

// isZero reports whether r is a zero in any script libphonenumber reads.
func isZero(r rune) bool {
	return unicode.IsDigit(r) && phonenumbers.NormalizeDigitsOnly(string(r)) == "0"
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
