package phone

import (
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
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
