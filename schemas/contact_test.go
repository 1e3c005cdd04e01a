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

// A Contact with nothing but its required strings set, nil phones included,
// marshals to a record the schema accepts; "phones": null would not be.
func TestContactWithoutPhonesMarshalsValid(t *testing.T) {
	s := compile(t)
	for name, c := range map[string]any{
		"value":      Contact{SourceID: "7", Kind: KindAccount},
		"pointer":    &Contact{SourceID: "7", Kind: KindAccount},
		"in a slice": []Contact{{SourceID: "7", Kind: KindContact}},
	} {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
		if items, ok := v.([]any); ok {
			v = items[0]
		}
		if err := s.Validate(v); err != nil {
			t.Errorf("%s: %s rejected: %v", name, b, err)
		}
		if !strings.Contains(string(b), `"phones":[]`) {
			t.Errorf("%s: %s, want phones as []", name, b)
		}
	}
	// The zero value lacks only what the schema rightly requires of every
	// record: an id and a kind.
	b, _ := json.Marshal(Contact{})
	v, _ := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	err := s.Validate(v)
	if err == nil {
		t.Fatalf("zero contact %s accepted without source_id and kind", b)
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if strings.Contains(line, "at '/") && !strings.Contains(line, "/source_id'") && !strings.Contains(line, "/kind'") {
			t.Errorf("zero contact rejected for more than its id and kind: %v", err)
		}
	}
	// Round trip: the method does not change what is read back.
	in := Contact{SourceID: "1", Kind: KindContact, Phones: []Phone{{Type: PhoneWork, Raw: "030 1234567"}}, Emails: []string{"a@b"}}
	b, _ = json.Marshal(in)
	var out Contact
	if err := json.Unmarshal(b, &out); err != nil || out.Phones[0] != in.Phones[0] || out.Emails[0] != "a@b" {
		t.Errorf("round trip %s gave %+v (%v)", b, out, err)
	}
}

// Authors read the rules of the canonical contact (display_name, names,
// phones) in the schema's descriptions: every property has one.
func TestContactSchemaDescribesEveryProperty(t *testing.T) {
	type props map[string]struct {
		Description string `json:"description"`
		Items       struct {
			Properties props `json:"properties"`
		} `json:"items"`
	}
	var schema struct {
		Properties props `json:"properties"`
	}
	if err := json.Unmarshal(ContactSchema(), &schema); err != nil {
		t.Fatal(err)
	}
	var check func(path string, ps props)
	check = func(path string, ps props) {
		for name, p := range ps {
			if p.Description == "" {
				t.Errorf("property %s%s has no description", path, name)
			}
			check(path+name+"[].", p.Items.Properties)
		}
	}
	check("", schema.Properties)
	for _, rule := range []string{"else first_name and last_name", "single name field"} {
		if !strings.Contains(string(ContactSchema()), rule) {
			t.Errorf("the schema does not state the rule %q", rule)
		}
	}
}
