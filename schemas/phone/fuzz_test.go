package phone

import (
	"strings"
	"testing"
	"unicode"

	"github.com/nyaruka/phonenumbers"
	"github.com/replicatorhq/replicator/schemas"
)

// FuzzRead feeds Read any text, country and region: it must not panic,
// keep the trimmed text, give a number exactly when the reason is OK, and
// every number it gives is a valid E.164 number that libphonenumber reads
// back the same; a text that carries its own country reads the same
// whatever the regions.
func FuzzRead(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw, country, region string) {
		p, why := Read("mobile", raw, country, region)
		if p.Raw != strings.TrimSpace(raw) || p.Type != "mobile" {
			t.Fatalf("raw %q: kept %+v", raw, p)
		}
		if (why == OK) != (p.Number != "") {
			t.Fatalf("raw %q country %q region %q: number %q with reason %v", raw, country, region, p.Number, why)
		}
		if (why == Empty) != (p.Raw == "") {
			t.Fatalf("raw %q: reason %v", raw, why)
		}
		if why != OK {
			return
		}
		n, err := phonenumbers.Parse(p.Number, "ZZ")
		if !IsE164(p.Number) || err != nil || !phonenumbers.IsValidNumber(n) || phonenumbers.Format(n, phonenumbers.E164) != p.Number {
			t.Fatalf("raw %q country %q region %q: %q is not a valid E.164 number (%v)", raw, country, region, p.Number, err)
		}
		if strings.HasPrefix(p.Raw, "+") {
			if again, _ := Read("mobile", raw, "", ""); again.Number != p.Number {
				t.Fatalf("raw %q: %q with country %q region %q, %q without", raw, p.Number, country, region, again.Number)
			}
		}
	})
}

// FuzzReaderNumber feeds a destination's reading any phone a source could
// send: a number is kept only when the source's is E.164 (as it is) or the
// text carries its own country (+, or 00), and is then valid; a phone with
// no text is Empty and no other is; a new Reader reads it the same.
func FuzzReaderNumber(f *testing.F) {
	r, err := NewReader()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, number, raw string) {
		e, why := r.Number(schemas.Phone{Number: number, Raw: raw})
		if (why == OK) != (e != "") || (why == Empty) != (number == "" && raw == "") {
			t.Fatalf("number %q raw %q: %q, %v", number, raw, e, why)
		}
		// Nothing a Reader read before changes what it reads.
		fresh, err := NewReader()
		if err != nil {
			t.Fatal(err)
		}
		if again, whyAgain := fresh.Number(schemas.Phone{Number: number, Raw: raw}); again != e || whyAgain != why {
			t.Fatalf("number %q raw %q: %q, %v, then %q, %v from a new Reader", number, raw, e, why, again, whyAgain)
		}
		if why != OK {
			return
		}
		if IsE164(number) {
			if e != number {
				t.Fatalf("the source's %q became %q", number, e)
			}
			return
		}
		n, err := phonenumbers.Parse(e, "ZZ")
		if !IsE164(e) || err != nil || !phonenumbers.IsValidNumber(n) || phonenumbers.Format(n, phonenumbers.E164) != e {
			t.Fatalf("number %q raw %q: %q is not a valid E.164 number", number, raw, e)
		}
		if !ownCountry(raw) && !ownCountry(number) {
			t.Fatalf("number %q raw %q: %q read from text without its own country", number, raw, e)
		}
	})
}

// ownCountry reports whether s, from its first digit or plus sign on,
// starts with + or with two zeros; written apart from International.
func ownCountry(s string) bool {
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
