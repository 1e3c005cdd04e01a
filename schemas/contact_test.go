package schemas

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func compile(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(ContactSchema())))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("contact.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("contact.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContactMarshalsToValidRecord(t *testing.T) {
	s := compile(t)
	c := Contact{
		SourceID: "42", Kind: KindContact, DisplayName: "Ada Lovelace",
		Phones:    []Phone{{Type: PhoneWork, Number: "+31201234567", Raw: "020-1234567"}, {Type: PhoneOther, Raw: "call me"}},
		URL:       "https://crm.example/42",
		UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	b, _ := json.Marshal(c)
	v, _ := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err := s.Validate(v); err != nil {
		t.Fatalf("valid contact rejected: %v", err)
	}
	bad := strings.Replace(string(b), "+31201234567", "020-1234567", 1)
	v, _ = jsonschema.UnmarshalJSON(strings.NewReader(bad))
	if err := s.Validate(v); err == nil {
		t.Fatal("a non-E.164 number was accepted")
	}
}

func TestCheckContactSchema(t *testing.T) {
	if p := CheckContactSchema(ContactSchema()); p != nil {
		t.Fatalf("canonical schema has problems: %v", p)
	}
	p := CheckContactSchema(json.RawMessage(`{"type":"object","properties":{"source_id":{"type":"integer"},"kind":{"type":"string"}},"required":["source_id"]}`))
	joined := strings.Join(p, "; ")
	for _, want := range []string{`"source_id" is integer, want string`, `"kind" is not required`, `"phones" is missing`, `"url" is missing`} {
		if !strings.Contains(joined, want) {
			t.Errorf("problems %q lack %q", joined, want)
		}
	}
	if p := CheckContactSchema(json.RawMessage(`[1]`)); len(p) != 1 {
		t.Errorf("non-object schema: %v", p)
	}
}
