package roger365

import (
	"strings"
	"testing"
	"unicode"

	"github.com/nyaruka/phonenumbers"
	"github.com/replicatorhq/replicator/connector/roger365/ingest"
)

// FuzzPhoneNumber feeds the destination's number handling any phone entry
// a source could send: it must not panic, what it keeps is E.164, a
// source's E.164 number is kept as it is, what it reads itself is a valid
// number, and a text without its own international prefix is never read,
// in any region.
func FuzzPhoneNumber(f *testing.F) {
	n, err := newNormalizer()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, number, raw string) {
		p := inPhone{Type: "work", Number: number, Raw: raw}
		e, r := n.e164(p)
		if r != readOK {
			if e != "" {
				t.Fatalf("number %q raw %q: %q returned with reading %d", number, raw, e, r)
			}
			if r == readEmpty && (number != "" || raw != "") {
				t.Fatalf("number %q raw %q counted as empty", number, raw)
			}
			return
		}
		if !ingest.IsE164(e) {
			t.Fatalf("number %q raw %q: kept %q, not E.164", number, raw, e)
		}
		if ingest.IsE164(number) {
			// The source read it, knowing the record's country.
			if e != number {
				t.Fatalf("the source's number %q was replaced by %q", number, e)
			}
			return
		}
		if got, err := phonenumbers.Parse(e, "ZZ"); err != nil || !phonenumbers.IsValidNumber(got) || phonenumbers.Format(got, phonenumbers.E164) != e {
			t.Fatalf("number %q raw %q: read %q, not a valid number (%v)", number, raw, e, err)
		}
		if !hasOwnCountry(raw) && !hasOwnCountry(number) {
			t.Fatalf("number %q raw %q: %q read from a text without an international prefix", number, raw, e)
		}
		// What is kept never depends on a region: the same entry gives the
		// same number to a normalizer of its own.
		other, _ := newNormalizer()
		if again, _ := other.e164(p); again != e {
			t.Fatalf("number %q raw %q: %q, then %q", number, raw, e, again)
		}
		// Kept entries go out once, counted nowhere else.
		phones, left := n.phones([]inPhone{p, p})
		if len(phones) != 1 || phones[0].Number != e || left != (phoneCounts{}) {
			t.Fatalf("phones %+v, left out %+v", phones, left)
		}
	})
}

// hasOwnCountry reports whether s, from its first digit or plus sign on,
// starts with + or with two zeros, written independently of phones.go.
func hasOwnCountry(s string) bool {
	t := strings.TrimLeftFunc(s, func(r rune) bool { return !unicode.IsDigit(r) && r != '+' && r != '＋' })
	if strings.HasPrefix(t, "+") || strings.HasPrefix(t, "＋") {
		return true
	}
	zeros := 0
	for _, r := range t {
		if zeros == 2 || !unicode.IsDigit(r) || phonenumbers.NormalizeDigitsOnly(string(r)) != "0" {
			break
		}
		zeros++
	}
	return zeros == 2
}
