package phone_test

import (
	"fmt"

	"github.com/replicatorhq/replicator/schemas"
	"github.com/replicatorhq/replicator/schemas/phone"
)

// A source reads each phone field with one call: the raw text, the
// record's own country (empty when it names none) and the configured
// default region.
func ExampleRead() {
	for _, f := range []struct{ raw, country string }{
		{"030 1234567", "DE"},      // read in the record's country
		{"020-123 4567", ""},       // read in the default region
		{"+44 20 7946 0958", ""},   // carries its own country
		{"030 1234567", "Mars"},    // the record's country is unknown: not guessed
		{"12", ""},                 // not a number of NL
		{"001 415 555 0100", "US"}, // the US dials abroad with 011, but this 00 is unambiguous
	} {
		p, why := phone.Read(schemas.PhoneWork, f.raw, f.country, "NL")
		fmt.Printf("%q -> %q %v\n", p.Raw, p.Number, why)
	}
	// Output:
	// "030 1234567" -> "+49301234567" ok
	// "020-123 4567" -> "+31201234567" ok
	// "+44 20 7946 0958" -> "+442079460958" ok
	// "030 1234567" -> "" unknown_country
	// "12" -> "" too_short
	// "001 415 555 0100" -> "+14155550100" ok
}

// A destination takes the source's number, and reads the raw text only
// when it carries its own country.
func ExampleReader_Number() {
	r, err := phone.NewReader()
	if err != nil {
		panic(err)
	}
	for _, p := range []schemas.Phone{
		{Number: "+31201234567", Raw: "020-1234567"},
		{Raw: "+49 30 1234567"},
		{Raw: "030 1234567"},
	} {
		n, why := r.Number(p)
		fmt.Printf("%q -> %q %v\n", p.Raw, n, why)
	}
	// Output:
	// "020-1234567" -> "+31201234567" ok
	// "+49 30 1234567" -> "+49301234567" ok
	// "030 1234567" -> "" not_international
}
