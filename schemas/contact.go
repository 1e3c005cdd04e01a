// Package schemas holds the shared record contracts as embedded JSON Schemas
// and their Go types, so that any CRM source feeds any phonebook destination.
//
// A source fills a Contact by the rules that contact.schema.json states in
// its descriptions, so that every phonebook shows callers the same way:
//
//   - DisplayName is what a phone shows for the caller. For a contact: the
//     whole name as the CRM shows it (its full-name field, when it has
//     one), else FirstName and LastName joined by a space, else Company,
//     else the first of Emails. For an account: the company's name, which
//     is also Company.
//   - FirstName and LastName are filled only from fields the CRM keeps
//     apart. A single name field goes whole into DisplayName and leaves
//     both empty: names do not split reliably at a space (Maria de la
//     Cruz, Nguyễn Văn An), and a wrong split shows on every call.
//   - Phones holds every phone field, read with package phone: Number in
//     E.164 when the source could read Raw, absent when it could not.
package schemas

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

//go:embed contact.schema.json
var contactSchema []byte

// ContactSchema returns the JSON Schema of the canonical contact record.
// Sources may narrow its "attributes" property with the fields they know.
func ContactSchema() json.RawMessage {
	return slices.Clone(contactSchema)
}

// Contact kinds.
const (
	KindContact = "contact"
	KindAccount = "account"
)

// Contact is the canonical contact record (contact.schema.json). Nil Phones
// marshal as an empty array, as the schema wants; nil Emails and Attributes
// are left out.
type Contact struct {
	SourceID    string         `json:"source_id"`
	Kind        string         `json:"kind"`         // KindContact or KindAccount
	DisplayName string         `json:"display_name"` // what a phone shows; see the package documentation
	FirstName   string         `json:"first_name,omitempty"`
	LastName    string         `json:"last_name,omitempty"`
	Company     string         `json:"company,omitempty"`
	Title       string         `json:"title,omitempty"`
	Emails      []string       `json:"emails,omitempty"`
	Phones      PhoneList      `json:"phones"`
	URL         string         `json:"url"`
	UpdatedAt   time.Time      `json:"updated_at"`
	Attributes  map[string]any `json:"attributes,omitempty"`
}

// PhoneList is a contact's phones. A nil list marshals as [], which the
// schema requires, rather than null; only the list has this method, so the
// rest of a contact is encoded without an extra pass.
type PhoneList []Phone

// MarshalJSON writes l, or [] when l is nil.
func (l PhoneList) MarshalJSON() ([]byte, error) {
	if l == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]Phone(l))
}

// Phone is one phone number of a contact.
//
// Number is the source's reading of Raw in E.164, made with the record's
// own country or the source's configured region. An empty Number means the
// source could not read Raw as a valid number, for example 030 1234567
// from a country it does not know. Consumers must not guess it by reading
// Raw with a region of their own: a wrong country matches a stranger's
// line, and a wrong name on an incoming call is worse than none. Raw may be
// read only when it carries its own country, as in +49 30 1234567.
type Phone struct {
	Type   string `json:"type"`
	Number string `json:"number,omitempty"` // E.164; empty when the source could not read Raw
	Raw    string `json:"raw"`
}

// Phone types a source maps its fields to; a custom field keeps its label.
const (
	PhoneWork      = "work"
	PhoneMobile    = "mobile"
	PhoneHome      = "home"
	PhoneFax       = "fax"
	PhoneAssistant = "assistant"
	PhoneOther     = "other"
)

// CheckContactSchema reports how a stream's JSON Schema falls short of the
// canonical contact: each required property it lacks or types differently.
// A nil result means a destination can consume the stream as contacts.
func CheckContactSchema(schema json.RawMessage) []string {
	var want, got struct {
		Type       any                        `json:"type"`
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	}
	if err := json.Unmarshal(contactSchema, &want); err != nil {
		panic(fmt.Sprintf("embedded contact schema: %v", err))
	}
	if err := json.Unmarshal(schema, &got); err != nil {
		return []string{fmt.Sprintf("schema is not a JSON object: %v", err)}
	}
	var problems []string
	for _, name := range want.Required {
		p, ok := got.Properties[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("property %q is missing", name))
			continue
		}
		if wt, gt := typeOf(want.Properties[name]), typeOf(p); wt != gt {
			problems = append(problems, fmt.Sprintf("property %q is %s, want %s", name, gt, wt))
		}
		if !slices.Contains(got.Required, name) {
			problems = append(problems, fmt.Sprintf("property %q is not required", name))
		}
	}
	return problems
}

// typeOf names a property schema's JSON type, treating an enum of strings as string.
func typeOf(prop json.RawMessage) string {
	var p struct {
		Type string `json:"type"`
		Enum []any  `json:"enum"`
	}
	_ = json.Unmarshal(prop, &p)
	switch {
	case p.Type != "":
		return p.Type
	case len(p.Enum) > 0:
		return "string"
	default:
		return "untyped"
	}
}
