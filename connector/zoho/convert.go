package zoho

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/replicatorhq/replicator/connector/zoho/internal/country"
	"github.com/replicatorhq/replicator/schemas"
	"github.com/replicatorhq/replicator/schemas/phone"
)

// phoneTypes maps Zoho's standard phone fields to canonical phone types;
// other phone fields are typed by their label.
func phoneType(f field) string {
	if !f.Custom {
		switch f.APIName {
		case "Phone":
			return schemas.PhoneWork
		case "Mobile":
			return schemas.PhoneMobile
		case "Home_Phone":
			return schemas.PhoneHome
		case "Fax":
			return schemas.PhoneFax
		case "Asst_Phone":
			return schemas.PhoneAssistant
		case "Other_Phone":
			return schemas.PhoneOther
		}
	}
	if l := strings.TrimSpace(f.Label); l != "" {
		return l
	}
	return f.APIName
}

// converter turns Zoho records into canonical contacts.
type converter struct {
	mod           *module
	countries     *country.Index
	defaultRegion string
	urlTemplate   string
	crmURL        string
}

// contact converts one record, whose values are already typed by
// normalize. unread says why each phone left without a number has none.
// ok is false for a record without an id.
func (cv *converter) contact(rec map[string]any) (c schemas.Contact, unread []phone.Reason, ok bool) {
	m := cv.mod
	id := str(rec["id"])
	if id == "" {
		return schemas.Contact{}, nil, false
	}
	c = schemas.Contact{
		SourceID: id,
		Kind:     m.kind,
		Phones:   []schemas.Phone{},
		URL:      recordURL(cv.urlTemplate, cv.crmURL, m.module, id),
	}
	c.UpdatedAt = parseTime(str(rec["Modified_Time"]))
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = parseTime(str(rec["Created_Time"]))
	}
	c.UpdatedAt = c.UpdatedAt.UTC()
	if m.kind == schemas.KindContact {
		c.FirstName = strings.TrimSpace(str(rec["First_Name"]))
		c.LastName = strings.TrimSpace(str(rec["Last_Name"]))
		c.Title = strings.TrimSpace(str(rec["Title"]))
		c.Company = strings.TrimSpace(lookupName(rec["Account_Name"]))
		c.DisplayName = strings.TrimSpace(str(rec["Full_Name"]))
		if c.DisplayName == "" {
			c.DisplayName = strings.TrimSpace(c.FirstName + " " + c.LastName)
		}
	} else {
		// An account is a company: its name serves as both.
		c.DisplayName = strings.TrimSpace(str(rec["Account_Name"]))
		c.Company = c.DisplayName
	}

	// The record's country, when its name resolves to a region phone
	// numbers know; otherwise phone.Read falls back to the default region,
	// as for a record that names no country.
	code := ""
	for _, name := range m.countries {
		if r := cv.countries.Region(str(rec[name])); r != "" && phone.KnownRegion(r) {
			code = r
			break
		}
	}
	var emailFields []field
	for _, f := range m.fields {
		switch strings.ToLower(f.DataType) {
		case "phone":
			p, why := phone.Read(phoneType(f), str(rec[f.APIName]), code, cv.defaultRegion)
			if why == phone.Empty {
				continue
			}
			if why != phone.OK {
				unread = append(unread, why)
			}
			c.Phones = append(c.Phones, p)
		case "email":
			emailFields = append(emailFields, f)
		}
	}
	// Email and Secondary_Email lead, in that order; other email fields follow.
	slices.SortStableFunc(emailFields, func(a, b field) int { return emailRank(a) - emailRank(b) })
	seen := map[string]bool{}
	for _, f := range emailFields {
		e := strings.TrimSpace(str(rec[f.APIName]))
		if e != "" && !seen[strings.ToLower(e)] {
			seen[strings.ToLower(e)] = true
			c.Emails = append(c.Emails, e)
		}
	}
	if c.DisplayName == "" {
		c.DisplayName = firstNonEmpty(c.Company, firstOf(c.Emails))
	}

	attrs := map[string]any{}
	for f := range m.attributeFields() {
		if v, ok := rec[f.APIName]; ok && v != nil {
			attrs[f.APIName] = v
		}
	}
	if len(attrs) > 0 {
		c.Attributes = attrs
	}
	return c, unread, true
}

func emailRank(f field) int {
	switch f.APIName {
	case "Email":
		return 0
	case "Secondary_Email":
		return 1
	}
	return 2
}

// normalize types a record's values by the module's fields, whatever API
// delivered them: bulk CSV cells are all strings, JSON answers mostly typed.
// Values of fields the module does not list are dropped, metadata keys too.
func (m *module) normalize(raw map[string]any) map[string]any {
	foldDotted(raw)
	out := make(map[string]any, len(raw))
	if id := str(raw["id"]); id != "" {
		out["id"] = id
	}
	for _, f := range m.fields {
		v, ok := raw[f.APIName]
		if !ok || f.APIName == "id" {
			continue
		}
		out[f.APIName] = coerce(f, v)
	}
	return out
}

// foldDotted moves columns that select a part of a lookup, such as
// "Account_Name.Account_Name" (its name) or "Owner.email", into the
// lookup's object, as bulk read and COQL deliver them that way.
func foldDotted(raw map[string]any) {
	for k, v := range raw {
		base, sub, ok := strings.Cut(k, ".")
		if !ok {
			continue
		}
		delete(raw, k)
		if v == nil || v == "" {
			continue
		}
		obj, _ := raw[base].(map[string]any)
		if obj == nil {
			if id, isID := raw[base].(string); isID && id != "" {
				obj = map[string]any{"id": id}
			} else {
				obj = map[string]any{}
			}
			raw[base] = obj
		}
		switch strings.ToLower(sub) {
		case "id", "email":
			obj[strings.ToLower(sub)] = v
		default:
			obj["name"] = v
		}
	}
}

// coerce makes v a value of the field's kind, or nil when it is empty or
// cannot be one.
func coerce(f field, v any) any {
	if v == nil {
		return nil
	}
	if s, ok := v.(string); ok && s == "" {
		return nil
	}
	switch f.kind() {
	case kString:
		if s := str(v); s != "" {
			return s
		}
		if x, ok := v.(map[string]any); ok {
			if n := lookupName(x); n != "" {
				return n
			}
		}
		b, _ := json.Marshal(v)
		return string(b)
	case kInteger:
		switch x := v.(type) {
		case json.Number:
			if i, err := x.Int64(); err == nil {
				return i
			}
			if fl, err := x.Float64(); err == nil && fl == math.Trunc(fl) && math.Abs(fl) < 1<<53 {
				return int64(fl)
			}
		case float64:
			if x == math.Trunc(x) {
				return int64(x)
			}
		case string:
			if i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
				return i
			}
		}
		return nil
	case kNumber:
		switch x := v.(type) {
		case json.Number:
			return x
		case float64:
			return x
		case string:
			if fl, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil && !math.IsInf(fl, 0) && !math.IsNaN(fl) {
				return json.Number(strconv.FormatFloat(fl, 'f', -1, 64))
			}
		}
		return nil
	case kBool:
		switch x := v.(type) {
		case bool:
			return x
		case string:
			if b, err := strconv.ParseBool(strings.TrimSpace(x)); err == nil {
				return b
			}
		}
		return nil
	case kObject:
		switch x := v.(type) {
		case map[string]any:
			if id, ok := x["id"]; ok {
				x["id"] = str(id)
			}
			return x
		case string, json.Number:
			return map[string]any{"id": str(x)}
		}
		return nil
	case kArray:
		switch x := v.(type) {
		case []any:
			if len(x) == 0 {
				return nil
			}
			return x
		case string:
			// Bulk read joins multi-select values with semicolons.
			var items []any
			for _, p := range strings.Split(x, ";") {
				if p = strings.TrimSpace(p); p != "" {
					items = append(items, p)
				}
			}
			if len(items) == 0 {
				return nil
			}
			return items
		}
		return nil
	}
	return v
}

// str renders a scalar as a string; "" for nil and non-scalars.
func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func lookupName(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return str(x["name"])
	case string:
		return x
	}
	return ""
}

// parseTime reads Zoho's ISO 8601 times; zero when absent or unreadable.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func firstOf(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0]
}

// marshalContact encodes a contact for a record's Data.
func marshalContact(c schemas.Contact) (json.RawMessage, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding contact %s: %w", c.SourceID, err)
	}
	return b, nil
}
