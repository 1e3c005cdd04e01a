package roger365

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/replicatorhq/replicator/connector/roger365/ingest"
	"github.com/replicatorhq/replicator/schemas"
	"github.com/replicatorhq/replicator/schemas/phone"
)

// Each way schemas/phone reads a phone, as the phonebook keeps or counts
// it; how a text is read is schemas/phone's to test.
func TestStoredPhones(t *testing.T) {
	r, err := phone.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		number, raw string
		want        string // the number stored, if any
		left        phoneCounts
	}{
		{"+31201234567", "020-1234567", "+31201234567", phoneCounts{}}, // the source's reading
		{"", "+49 30 1234567", "+49301234567", phoneCounts{}},          // raw with its own country
		{"", "0044 20 7946 0958", "+442079460958", phoneCounts{}},      // an unambiguous 00
		{"", "030 1234567", "", phoneCounts{unread: 1}},                // national: not guessed
		{"", "0011 44 20 7946 0958", "", phoneCounts{unread: 1}},       // a 00 Australia reads otherwise
		{"", "+999 1234", "", phoneCounts{unparseable: 1}},             // no valid number
		{"", "call me maybe", "", phoneCounts{unparseable: 1}},         //
		{"", "", "", phoneCounts{}},                                    // nothing at all, counted nowhere
	} {
		var want []ingest.Phone
		if c.want != "" {
			want = []ingest.Phone{{Type: schemas.PhoneWork, Number: c.want}}
		}
		got, left := storedPhones(r, []schemas.Phone{{Type: schemas.PhoneWork, Number: c.number, Raw: c.raw}})
		if !slices.Equal(got, want) || left != c.left {
			t.Errorf("number %q raw %q: stored %+v, left out %+v; want %+v, %+v", c.number, c.raw, got, left, want, c.left)
		}
	}
}

// A number stored once per contact, with the first entry's type, other
// when it has none.
func TestStoredPhonesOncePerContact(t *testing.T) {
	r, err := phone.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	got, left := storedPhones(r, []schemas.Phone{
		{Type: schemas.PhoneWork, Number: "+31201234567", Raw: "020-1234567"},
		{Type: schemas.PhoneMobile, Raw: "+31 (0)20 123 4567"}, {Raw: "n/a"}, {Raw: "030 1234567"},
		{Number: "+31612345678", Raw: "06-12345678"}, {Type: schemas.PhoneFax},
	})
	if b, _ := json.Marshal(got); string(
		b) != `[{"type":"work","number":"+31201234567"},{"type":"other","number":"+31612345678"}]` ||
		left != (phoneCounts{unparseable: 1, unread: 1}) {
		t.Errorf("stored %s, left out %+v", b, left)
	}
}
