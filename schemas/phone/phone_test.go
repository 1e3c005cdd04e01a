package phone

import (
	"testing"

	"github.com/replicatorhq/replicator/schemas"
)

func TestRead(t *testing.T) {
	for _, c := range []struct {
		name, raw, country, region string
		want                       string
		why                        Reason
	}{
		{"national in the record's country", "030 1234567", "DE", "NL", "+49301234567", OK},
		{"the record's country in lower case", " 030 1234567 ", "de", "", "+49301234567", OK},
		{"national in the configured region", "020-123 4567", "", "NL", "+31201234567", OK},
		{"international needs no region", "+49 30 1234567", "", "", "+49301234567", OK},
		{"00 read in a region that dials abroad with it", "0049 30 1234567", "", "NL", "+49301234567", OK},
		// The US and Canada dial abroad with 011, where 00 starts no
		// number; libphonenumber reads 001 415 555 0100 there as a
		// national number of 13 digits, too long. No country reads it as
		// another number, so it is read as a destination's Reader does.
		{"00 in a country that dials abroad with 011", "001 415 555 0100", "US", "", "+14155550100", OK},
		{"00 in a region that dials abroad with 011", "0044 20 7946 0958", "", "CA", "+442079460958", OK},
		{"00 in a country that dials abroad with 010", "0049 30 1234567", "JP", "", "+49301234567", OK},
		{"011 in the US", "011 44 20 7946 0958", "US", "", "+442079460958", OK},
		// 001 is also a carrier's prefix in South Korea, Singapore and
		// Thailand, which read this one as +41 44 668 1800.
		{"00 that another country's 001 reads otherwise", "001 41 44 668 1800", "US", "", "", AmbiguousPrefix},
		{"001 where it is the country's own prefix", "001 41 44 668 1800", "KR", "", "+41446681800", OK},
		{"00 and no number after it", "00 12", "US", "", "", Invalid},
		{"00 with no country at all", "0049 30 1234567", "", "", "+49301234567", OK},
		{"00 with an unknown country", "0049 30 1234567", "Atlantis", "", "+49301234567", OK},
		{"00 where the country dials with it, too short", "0044 20", "GB", "", "", TooShort},
		{"the record's country wins over the region", "020 1234567", "BE", "NL", "", Invalid},
		{"blank", "   ", "NL", "NL", "", Empty},
		{"no country at all", "030 1234567", "", "", "", NoCountry},
		{"a country that is no region code", "030 1234567", "Germany", "DE", "", UnknownCountry},
		{"international with an unknown country", "+31 20 123 4567", "Atlantis", "", "+31201234567", OK},
		{"letters", "call the office", "NL", "", "", NotANumber},
		{"too short", "12", "NL", "", "", TooShort},
		{"too long", "020 1234567 8901 2345", "NL", "", "", TooLong},
		{"the right length, not assigned", "+31 00 123 4567", "", "", "", Invalid},
		{"a country code nobody has", "+999 1234567", "NL", "", "", Invalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, why := Read(schemas.PhoneWork, c.raw, c.country, c.region)
			if p.Number != c.want || why != c.why {
				t.Errorf("Read(%q, %q, %q) = %q, %v; want %q, %v", c.raw, c.country, c.region, p.Number, why, c.want, c.why)
			}
			if p.Type != schemas.PhoneWork {
				t.Errorf("type %q", p.Type)
			}
		})
	}
}

func TestReadKeepsRawAndTypesOther(t *testing.T) {
	p, why := Read("", "  +31 20 123 4567 ext. 5 ", "", "")
	if p.Raw != "+31 20 123 4567 ext. 5" || p.Type != schemas.PhoneOther || why != OK || p.Number != "+31201234567" {
		t.Errorf("%+v, %v", p, why)
	}
}

func TestReasonNames(t *testing.T) {
	for r := OK; r <= AmbiguousPrefix; r++ {
		if r.String() == "" || r.String() == Reason(255).String() {
			t.Errorf("reason %d has no name", r)
		}
	}
	if NoCountry.String() != "no_country" || Reason(200).String() != "reason(200)" {
		t.Errorf("%s, %s", NoCountry, Reason(200))
	}
}

func TestReaderReadsOnlyNumbersWithTheirCountry(t *testing.T) {
	r, err := NewReader()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		number, raw string
		want        string
		why         Reason
	}{
		{"+31201234567", "020-1234567", "+31201234567", OK},  // the source's reading is kept
		{"", "+49 30 1234567", "+49301234567", OK},           // raw with its own country
		{"", "+31 (0)20 123 4567", "+31201234567", OK},       // the trunk zero written in as well
		{"", "tel: +44 20 7946 0958", "+442079460958", OK},   // text before the +
		{"", "0049 30 1234567", "+49301234567", OK},          // an unambiguous 00
		{"", "00 44 20 7946 0958", "+442079460958", OK},      // the 00 apart
		{"", "００49 89 1234567", "+49891234567", OK},          // full-width zeros
		{"", "030 1234567", "", NotInternational},            // national: never guessed
		{"", "(030) 123 45 67", "", NotInternational},        //
		{"0201234567", "020 123 4567", "", NotInternational}, // national in number too
		{"", "0011 61 2 1234 5678", "", AmbiguousPrefix},     // 00 read otherwise by Australia's 0011
		{"", "0011 44 20 7946 0958", "", AmbiguousPrefix},    // valid only with Australia's 0011
		{"", "0021 2 522 123456", "", AmbiguousPrefix},       // 00 then a carrier code in Brazil
		{"", "+31 00 123 4567", "", Invalid},                 // + but no valid number
		{"", "+999 1234", "", Invalid},                       // a country code nobody has
		{"", "0000 1234567", "", Invalid},                    // 00 then no country code
		{"", "no phone", "", NotANumber},                     //
		{"", "", "", Empty},                                  //
		{"030 1234567", "+31 00", "", NotInternational},      // the contract broken: the worse reason wins
		{"+49 30 1234567", "unknown", "+49301234567", OK},    // a number not in E.164 is read like raw
	} {
		got, why := r.Number(schemas.Phone{Number: c.number, Raw: c.raw})
		if got != c.want || why != c.why {
			t.Errorf("Number(%q, %q) = %q, %v; want %q, %v", c.number, c.raw, got, why, c.want, c.why)
		}
	}
}
