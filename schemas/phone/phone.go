// Package phone reads the phone numbers of the canonical contact
// (schemas.Phone), the same way in every connector.
//
// A source reads what a CRM holds with Read: into E.164 with the record's
// own country, or the source's configured region when the record names
// none, keeping the raw text and saying why a number was left out. A
// destination reads a phone with a Reader: the source's number as it is,
// and otherwise the raw text only when it carries its own country (a + or
// an unambiguous 00), never with a region of its own choosing, which would
// show a stranger's name on an incoming call.
//
// A number written with 00 and a country code, as most of the world dials
// abroad (0049 30 1234567), is read with the record's country when that
// country dials abroad with 00. Where it does not, libphonenumber reads
// the text as a national number: 001 415 555 0100 in the US, which dials
// abroad with 011, is a 13-digit US number, too long. Read then reads the
// text as a destination's Reader does, as +1 415 555 0100, but only when
// every country whose international prefix starts with 00 reads it alike:
// 001 is also the prefix of some carriers in South Korea, Singapore and
// Thailand, so 001 41 44 668 1800 is +41 44 668 1800 dialled from Seoul
// and is left out as AmbiguousPrefix. The same holds for a record with no
// country at all.
package phone

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"github.com/replicatorhq/replicator/schemas"
)

// Reason says why a phone has no number, or OK when it has one.
type Reason uint8

const (
	OK               Reason = iota // read
	Empty                          // no text to read
	NoCountry                      // a national number, and neither the record nor the configuration names a country
	UnknownCountry                 // a national number, and the record's country is not an ISO 3166 code phone numbers know
	NotANumber                     // no phone number in the text
	TooShort                       // too few digits for a number of its country
	TooLong                        // too many digits for a number of its country
	Invalid                        // the right shape, but no number its country assigns
	NotInternational               // a destination does not read a number without its own country
	AmbiguousPrefix                // a 00 that some country's longer international prefix reads as another number
)

var reasonNames = [...]string{"ok", "empty", "no_country", "unknown_country", "not_a_number", "too_short", "too_long", "invalid", "not_international", "ambiguous_prefix"}

// String returns the reason as a short snake_case word, fit for a counter name.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// NeedsCountry reports whether the text may well be a number whose
// country only a guess would supply, rather than no number at all.
func (r Reason) NeedsCountry() bool {
	return r == NoCountry || r == UnknownCountry || r == NotInternational || r == AmbiguousPrefix
}

// Read reads raw, a phone number as typed in a CRM, into a phone of type
// typ (schemas.PhoneOther when empty). country is the record's own country
// as an ISO 3166 code such as NL, empty when the record names none;
// region, the source's configured default, is used only then. Text that
// carries its own country needs neither: +49 …, or 0049 … read in a
// country that dials abroad with 00, or elsewhere when it is unambiguous
// (see the package documentation). The phone's Number is set only for a
// number valid in its country; otherwise the Reason says why it is absent.
// Raw is kept, trimmed of surrounding space.
func Read(typ, raw, country, region string) (schemas.Phone, Reason) {
	raw = strings.TrimSpace(raw)
	p := schemas.Phone{Type: cmp.Or(typ, schemas.PhoneOther), Raw: raw}
	if raw == "" {
		return p, Empty
	}
	use, missing := regionFor(country, region)
	number, why := readIn(raw, use, missing)
	if why != OK && startsWith00(raw) && !tookPrefix(raw, use) {
		// The country read the 00 as the start of a national number, or
		// there is no country: a 00 that is nobody's national number is
		// read as a destination reads it.
		number, why = international(raw)
	}
	p.Number = number
	return p, why
}

// readIn reads raw as dialled in region; with no region, only a number
// that starts with + is read, and missing says why the others are not.
func readIn(raw, region string, missing Reason) (string, Reason) {
	// Region "ZZ" (unknown) makes libphonenumber take the country code
	// from the text or fail; it never supplies one.
	num, err := phonenumbers.Parse(raw, cmp.Or(region, "ZZ"))
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode) && region == "":
		return "", missing
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return "", Invalid
	case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
		return "", TooShort
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return "", TooLong
	case err != nil:
		return "", NotANumber
	}
	if !phonenumbers.IsValidNumber(num) {
		switch phonenumbers.IsPossibleNumberWithReason(num) {
		case phonenumbers.TOO_SHORT:
			return "", TooShort
		case phonenumbers.TOO_LONG:
			return "", TooLong
		}
		return "", Invalid
	}
	e := phonenumbers.Format(num, phonenumbers.E164)
	if !IsE164(e) {
		return "", Invalid
	}
	return e, OK
}

// tookPrefix reports whether libphonenumber, reading s in region, took its
// leading digits for the region's international prefix; false when region
// is empty.
func tookPrefix(s, region string) bool {
	if region == "" {
		return false
	}
	num, err := phonenumbers.ParseAndKeepRawInput(s, region)
	if errors.Is(err, phonenumbers.ErrTooShortAfterIDD) {
		return true
	}
	return err == nil && num.GetCountryCodeSource() == phonenumbers.PhoneNumber_FROM_NUMBER_WITH_IDD
}

// international reads s, which starts with 00, as a Reader does.
func international(s string) (string, Reason) {
	if iddErr != nil {
		// Without every country's prefix, whether s is unambiguous is
		// unknown.
		return "", AmbiguousPrefix
	}
	var r Reader
	return r.International(s)
}

// regionFor returns the region to read a national number in, or "" and
// why there is none.
func regionFor(country, region string) (string, Reason) {
	if country = strings.ToUpper(strings.TrimSpace(country)); country != "" {
		if phonenumbers.GetSupportedRegions()[country] {
			return country, OK
		}
		return "", UnknownCountry
	}
	if region = strings.ToUpper(strings.TrimSpace(region)); phonenumbers.GetSupportedRegions()[region] {
		return region, OK
	}
	return "", NoCountry
}

// KnownRegion reports whether code is an ISO 3166 region phone numbers
// know, for checking a configured default region.
func KnownRegion(code string) bool {
	return phonenumbers.GetSupportedRegions()[strings.ToUpper(strings.TrimSpace(code))]
}

// IsE164 reports whether s has the form of an E.164 number: + and 2 to 15
// digits, the first not 0.
func IsE164(s string) bool {
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

// Reader is a destination's reading of phones. It is not safe for
// concurrent use; make one per goroutine.
type Reader struct {
	num phonenumbers.PhoneNumber
}

// NewReader returns a Reader. It costs an allocation: what a Reader needs
// of libphonenumber's metadata is read once, as the program starts, and an
// error reading it is returned by every call.
func NewReader() (*Reader, error) {
	if iddErr != nil {
		return nil, iddErr
	}
	return &Reader{}, nil
}

// Number returns p's number in E.164 as a destination may use it: the
// source's Number when it is E.164, else Raw (and then a Number that
// breaks the contract) read with International. Empty means p holds no
// text at all; otherwise a reason that NeedsCountry outranks the others.
func (r *Reader) Number(p schemas.Phone) (string, Reason) {
	if IsE164(p.Number) {
		return p.Number, OK
	}
	worst := Empty
	for _, s := range [...]string{p.Raw, p.Number} {
		if s == "" {
			continue
		}
		e, why := r.International(s)
		if why == OK {
			return e, OK
		}
		if worst == Empty || (why.NeedsCountry() && !worst.NeedsCountry()) {
			worst = why
		}
	}
	return "", worst
}

// International reads s only when it carries its own country: a leading +
// always, a leading 00 only when every country that dials abroad with a
// prefix starting 00 reads it as the same number. A national number such
// as 030 1234567 is NotInternational, whatever it would be in some region.
func (r *Reader) International(s string) (string, Reason) {
	text, found := numberStart(s)
	if !found {
		return "", NotANumber
	}
	if first, _ := utf8.DecodeRuneInString(text); first == '+' || first == '\uFF0B' {
		if e, ok := r.valid(text); ok {
			return e, OK
		}
		return "", Invalid
	}
	rest, zeros := after00(text)
	if !zeros {
		return "", NotInternational
	}
	e, ok := r.valid("+" + rest)
	// Some countries dial abroad with 00 and more digits (Brazil's 0021,
	// Korea's 001, Australia's 0011); when one of them reads another valid
	// number from the same text, the text is not unambiguous. Each prefix
	// is taken as libphonenumber's pattern takes it, from the digits.
	digits := phonenumbers.NormalizeDigitsOnly(text)
	var read [8]int // the prefix lengths already read; many countries share one
	tried := read[:0]
	for _, re := range iddPatterns {
		loc := re.FindStringIndex(digits)
		if loc == nil {
			continue
		}
		end := loc[1]
		if end <= 2 || end >= len(digits) || digits[end] == '0' || slices.Contains(tried, end) {
			continue // not a prefix, the plain 00, one libphonenumber would not strip, or read already
		}
		tried = append(tried, end)
		if other, valid := r.valid("+" + afterDigits(text, end)); valid && (!ok || other != e) {
			return "", AmbiguousPrefix
		}
	}
	if !ok {
		return "", Invalid
	}
	return e, OK
}

// numberStart returns s from its first digit or plus sign on, as
// libphonenumber reads it, and whether it has one.
func numberStart(s string) (string, bool) {
	loc := phonenumbers.VALID_START_CHAR_PATTERN.FindStringIndex(s)
	if loc == nil {
		return "", false
	}
	return s[loc[0]:], true
}

// after00 returns text after two leading zeros, in any script
// libphonenumber reads, and whether it starts with them.
func after00(text string) (string, bool) {
	first, size := utf8.DecodeRuneInString(text)
	second, size2 := utf8.DecodeRuneInString(text[size:])
	if !isZero(first) || !isZero(second) {
		return "", false
	}
	return text[size+size2:], true
}

// startsWith00 reports whether s, from its first digit on, starts with two
// zeros.
func startsWith00(s string) bool {
	text, found := numberStart(s)
	if !found {
		return false
	}
	_, zeros := after00(text)
	return zeros
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

// valid parses s, which starts with +, and returns it in E.164 if it is a
// valid number.
func (r *Reader) valid(s string) (string, bool) {
	r.num.Reset()
	if err := phonenumbers.ParseToNumber(s, "ZZ", &r.num); err != nil || !phonenumbers.IsValidNumber(&r.num) {
		return "", false
	}
	e := phonenumbers.Format(&r.num, phonenumbers.E164)
	return e, IsE164(e)
}

// isDigit reports whether libphonenumber reads r as a digit.
func isDigit(r rune) bool {
	return unicode.IsDigit(r) && phonenumbers.NormalizeDigitsOnly(string(r)) != ""
}

// isZero reports whether r is a zero in any script libphonenumber reads.
func isZero(r rune) bool {
	return unicode.IsDigit(r) && phonenumbers.NormalizeDigitsOnly(string(r)) == "0"
}
