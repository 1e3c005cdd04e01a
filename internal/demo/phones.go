package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// homeRegion is where the demo's phone system stands: a caller's number
// in national form is read as a Dutch number.
const homeRegion = "NL"

// callerE164 normalises a caller's number the way a phone system does
// before it asks the phonebook: read it in the system's own region first,
// so 020-1234567 becomes +31201234567 and +49... stays as it is.
func callerE164(number string) (string, error) {
	n, err := phonenumbers.Parse(number, homeRegion)
	if err != nil {
		return "", fmt.Errorf("reading the caller's number %q: %w", number, err)
	}
	if !phonenumbers.IsValidNumber(n) {
		return "", fmt.Errorf("the caller's number %q is not a valid phone number", number)
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// nationalForm writes a Dutch number as Dutch phone systems show callers,
// such as 020-1234567 or 06-12345678.
func nationalForm(e164 string) string {
	n, err := phonenumbers.Parse(e164, homeRegion)
	if err != nil {
		return e164
	}
	nsn := phonenumbers.GetNationalSignificantNumber(n)
	if k := phonenumbers.GetLengthOfNationalDestinationCode(n); k > 0 && k < len(nsn) {
		return "0" + nsn[:k] + "-" + nsn[k:]
	}
	return phonenumbers.Format(n, phonenumbers.NATIONAL)
}

// internationalForm writes a number as people type it with its country
// code, such as +31 10 555 0142.
func internationalForm(e164 string) string {
	n, err := phonenumbers.Parse(e164, homeRegion)
	if err != nil {
		return e164
	}
	return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
}

// isDutchMobile reports whether e164 is a Dutch mobile number.
func isDutchMobile(e164 string) bool {
	n, err := phonenumbers.Parse(e164, homeRegion)
	return err == nil && n.GetCountryCode() == 31 && phonenumbers.GetNumberType(n) == phonenumbers.MOBILE
}

// typedAs finds the CRM field holding e164 and the number as it was typed
// there, such as ("Phone", "+31 (0)20 612 3456").
func typedAs(rec map[string]any, e164 string) (field, raw string) {
	want, err := phonenumbers.Parse(e164, homeRegion)
	if err != nil {
		return "", ""
	}
	region := phonenumbers.GetRegionCodeForNumber(want)
	keys := make([]string, 0, len(rec))
	for k := range rec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s, ok := rec[k].(string)
		if !ok || k == "id" || strings.Contains(s, "@") {
			continue
		}
		n, err := phonenumbers.Parse(s, region)
		if err == nil && phonenumbers.Format(n, phonenumbers.E164) == e164 {
			return k, s
		}
	}
	return "", ""
}
