package zoho

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"iter"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/replicatorhq/replicator/schemas"
	"github.com/replicatorhq/replicator/schemas/phone"
)

// streamInfo ties a stream to its Zoho module.
type streamInfo struct {
	name      string   // stream name
	module    string   // Zoho module API name
	kind      string   // canonical contact kind
	moduleRd  string   // scope that reads the module
	countries []string // address country fields, most telling first
}

func streamInfos() []streamInfo {
	return []streamInfo{
		{name: "contacts", module: "Contacts", kind: schemas.KindContact, moduleRd: "ZohoCRM.modules.contacts.READ",
			countries: []string{"Mailing_Country", "Other_Country"}},
		{name: "accounts", module: "Accounts", kind: schemas.KindAccount, moduleRd: "ZohoCRM.modules.accounts.READ",
			countries: []string{"Billing_Country", "Shipping_Country"}},
	}
}

func findStream(name string) (streamInfo, bool) {
	for _, s := range streamInfos() {
		if s.name == name {
			return s, true
		}
	}
	return streamInfo{}, false
}

func streamNames() string {
	var n []string
	for _, s := range streamInfos() {
		n = append(n, s.name)
	}
	return strings.Join(n, ", ")
}

// field is one entry of Zoho's fields metadata.
type field struct {
	APIName  string `json:"api_name"`
	Label    string `json:"field_label"`
	DataType string `json:"data_type"`
	JSONType string `json:"json_type"`
	Custom   bool   `json:"custom_field"`
	Lookup   struct {
		Module struct {
			APIName string `json:"api_name,omitempty"`
		} `json:"module,omitzero"`
	} `json:"lookup,omitzero"`
	Formula *struct {
		ReturnType string `json:"return_type"`
	} `json:"formula,omitempty"`
}

// JSON kinds of field values.
const (
	kString  = "string"
	kInteger = "integer"
	kNumber  = "number"
	kBool    = "boolean"
	kObject  = "object"
	kArray   = "array"
)

// kind is the JSON type a field's values take in the canonical record.
func (f field) kind() string {
	switch strings.ToLower(f.JSONType) {
	case "string":
		return kString
	case "integer":
		return kInteger
	case "double":
		return kNumber
	case "boolean":
		return kBool
	case "jsonobject":
		return kObject
	case "jsonarray":
		return kArray
	}
	dt := strings.ToLower(f.DataType)
	if dt == "formula" && f.Formula != nil {
		dt = strings.ToLower(f.Formula.ReturnType)
	}
	switch dt {
	case "integer", "bigint", "long":
		return kInteger
	case "double", "currency", "percent", "decimal":
		return kNumber
	case "boolean":
		return kBool
	case "lookup", "ownerlookup", "userlookup", "consent_lookup":
		return kObject
	case "multiselectpicklist", "multiselectlookup", "multiuserlookup", "subform", "fileupload", "imageupload":
		return kArray
	default:
		// text, textarea, email, phone, website, picklist, autonumber,
		// date, datetime, profileimage and whatever Zoho adds later.
		return kString
	}
}

// propertySchema is the JSON Schema of a field inside attributes.
func (f field) propertySchema() map[string]any {
	p := map[string]any{"type": []string{f.kind(), "null"}}
	desc := f.Label
	if f.Custom {
		desc += " (custom field)"
	}
	if desc != "" {
		p["description"] = desc
	}
	switch f.kind() {
	case kObject:
		p["properties"] = map[string]any{
			"id":   map[string]any{"type": "string"},
			"name": map[string]any{"type": []string{"string", "null"}},
		}
	case kArray:
		if strings.EqualFold(f.DataType, "multiselectpicklist") {
			p["items"] = map[string]any{"type": "string"}
		}
	case kString:
		switch strings.ToLower(f.DataType) {
		case "datetime":
			p["format"] = "date-time"
		case "date":
			p["format"] = "date"
		}
	}
	return p
}

// module is a stream's module with its fields.
type module struct {
	streamInfo
	fields []field
	// known is when Zoho listed the fields; version is a digest of them,
	// which checkpoints keep to see the fields change.
	known   time.Time
	version string
	cached  bool // read from the credentials' cache, not from Zoho in this run
}

// seen is m's fields as a checkpoint keeps them.
func (m *module) seen() *fieldsSeen {
	return &fieldsSeen{Version: m.version, Known: m.known}
}

// newModule is info's module with the fields Zoho listed at known.
func newModule(info streamInfo, fields []field, known time.Time) *module {
	m := &module{streamInfo: info, fields: fields, known: known}
	sorted := slices.Clone(fields)
	slices.SortFunc(sorted, func(a, b field) int { return strings.Compare(a.APIName, b.APIName) })
	b, _ := json.Marshal(sorted) // plain structs always encode
	sum := sha256.Sum256(b)
	m.version = hex.EncodeToString(sum[:8])
	return m
}

// Fields the canonical record carries itself; the rest go to attributes.
func (m *module) canonical(f field) bool {
	switch strings.ToLower(f.DataType) {
	case "phone", "email":
		return true
	}
	switch f.APIName {
	case "id", "Modified_Time", "First_Name", "Last_Name", "Full_Name":
		return true
	case "Title":
		return m.kind == schemas.KindContact
	case "Account_Name":
		// An account's name is its display name; a contact's Account_Name
		// is a lookup whose id only attributes keep.
		return m.kind == schemas.KindAccount
	}
	return false
}

// lookupNames are columns COQL selects besides the fields, because COQL
// may return a lookup as its id alone: the name of a contact's account.
func (m *module) lookupNames() []string {
	if f, ok := m.field("Account_Name"); ok && m.kind == schemas.KindContact && f.kind() == kObject {
		return []string{"Account_Name.Account_Name"}
	}
	return nil
}

func (m *module) field(name string) (field, bool) {
	for _, f := range m.fields {
		if f.APIName == name {
			return f, true
		}
	}
	return field{}, false
}

// attributeFields yields the fields kept under attributes, without
// gathering them: contact conversion asks for every record.
func (m *module) attributeFields() iter.Seq[field] {
	return func(yield func(field) bool) {
		for _, f := range m.fields {
			if !m.canonical(f) && !yield(f) {
				return
			}
		}
	}
}

// schema is the stream's JSON Schema: the canonical contact with its
// attributes narrowed to the module's fields.
func (m *module) schema() (json.RawMessage, error) {
	var doc map[string]any
	if err := json.Unmarshal(schemas.ContactSchema(), &doc); err != nil {
		return nil, fmt.Errorf("reading the canonical contact schema: %w", err)
	}
	props, _ := doc["properties"].(map[string]any)
	attrs := map[string]any{}
	for f := range m.attributeFields() {
		attrs[f.APIName] = f.propertySchema()
	}
	props["attributes"] = map[string]any{
		"type":        "object",
		"description": "Every other field of the Zoho " + m.module + " record, by API name.",
		"properties":  attrs,
	}
	props["kind"] = map[string]any{"enum": []string{m.kind}}
	doc["title"] = "Zoho " + m.module
	return json.Marshal(doc)
}

// fetchFields reads a module's fields metadata (1 credit); now is the
// time of the call.
func fetchFields(ctx context.Context, c *client, info streamInfo, now time.Time) (*module, error) {
	var body struct {
		Fields []field `json:"fields"`
	}
	r := request{
		method:     "GET",
		path:       "/crm/v8/settings/fields",
		query:      url.Values{"module": {info.module}, "type": {"all"}},
		cost:       1,
		idempotent: true,
	}
	status, err := c.getJSON(ctx, r, &body)
	if err != nil {
		return nil, fmt.Errorf("reading the fields of Zoho module %s: %w", info.module, err)
	}
	if status == 204 || len(body.Fields) == 0 {
		return nil, fmt.Errorf(
			"reading the fields of Zoho module %s: Zoho listed none; check that the module exists and the user may see it",
			info.module)
	}
	var fields []field
	for _, f := range body.Fields {
		if f.APIName == "" || strings.HasPrefix(f.APIName, "$") {
			continue
		}
		fields = append(fields, f)
	}
	return newModule(info, fields, now), nil
}

// orgFacts are what the org API tells: the org's name, its address in the
// CRM web client and its country, the default region for phone numbers.
type orgFacts struct {
	name   string
	crmURL string
	region string
}

// fetchOrg reads the org (1 credit).
func fetchOrg(ctx context.Context, c *client, cfg *config) (orgFacts, error) {
	var body struct {
		Org []struct {
			CompanyName string `json:"company_name"`
			DomainName  string `json:"domain_name"`
			CountryCode string `json:"country_code"`
		} `json:"org"`
	}
	req := request{method: "GET", path: "/crm/v8/org", cost: 1, idempotent: true}
	if _, err := c.getJSON(ctx, req, &body); err != nil {
		return orgFacts{}, fmt.Errorf("reading the org (set crm_url and default_region to avoid this call): %w", err)
	}
	if len(body.Org) == 0 {
		return orgFacts{}, fmt.Errorf("reading the org: Zoho's answer lists no org: set crm_url and default_region")
	}
	o := body.Org[0]
	f := orgFacts{name: o.CompanyName}
	if o.DomainName != "" {
		f.crmURL = "https://" + cfg.dc.crmHost(cfg.Environment) + "/crm/" + url.PathEscape(o.DomainName)
	}
	if r := strings.ToUpper(o.CountryCode); phone.KnownRegion(r) {
		f.region = r
	}
	return f, nil
}

// recordURL builds a record's link from the template.
func recordURL(template, crmURL, module, id string) string {
	if template == "" {
		template = crmURL + "/tab/{Module}/{SourceId}"
	}
	return strings.NewReplacer("{SourceId}", url.PathEscape(id), "{Module}", module, "{crm_url}", crmURL).Replace(template)
}

// queryFields are the fields a read asks for: every field whose values the
// APIs return, in metadata order.
func (m *module) queryFields() []string {
	var out []string
	for _, f := range m.fields {
		switch strings.ToLower(f.DataType) {
		case "subform", "multiselectlookup", "fileupload", "imageupload", "profileimage":
			// Not readable through bulk read or COQL.
			continue
		}
		if f.APIName == "id" {
			continue
		}
		out = append(out, f.APIName)
	}
	return slices.Compact(out)
}

// nameFields are the fields that hold a record's name in Zoho's standard
// modules: what a lookup to one of them shows.
var nameFields = map[string]string{
	"Accounts": "Account_Name", "Contacts": "Full_Name", "Leads": "Full_Name",
	"Vendors": "Vendor_Name", "Deals": "Deal_Name", "Products": "Product_Name",
	"Campaigns": "Campaign_Name", "Price_Books": "Price_Book_Name", "Solutions": "Solution_Title",
	"Cases": "Subject", "Quotes": "Subject", "Sales_Orders": "Subject",
	"Purchase_Orders": "Subject", "Invoices": "Subject",
}

// bulkFields are the fields a Bulk Read job asks for. Bulk Read gives a
// lookup or owner column as the linked record's or user's id alone, so the
// parts that name it are asked for too, in the dotted form Zoho documents:
// Account_Name.Account_Name and, with owners, Owner.first_name,
// Owner.last_name, Owner.email.
func (m *module) bulkFields(owners bool) []string {
	var out []string
	for _, name := range m.queryFields() {
		out = append(out, name)
		f, _ := m.field(name)
		switch strings.ToLower(f.DataType) {
		case "lookup":
			// A lookup to a module whose name field is unknown keeps its id.
			if nf, ok := nameFields[f.Lookup.Module.APIName]; ok {
				out = append(out, name+"."+nf)
			}
		case "ownerlookup", "userlookup":
			if owners {
				out = append(out, ownerNames(name)...)
			}
		}
	}
	return out
}

// ownerNames are the dotted columns that name the user of owner field f
// in a Bulk Read job.
func ownerNames(f string) []string {
	return []string{f + ".first_name", f + ".last_name", f + ".email"}
}

// ownerNameColumns are the dotted columns bulkFields asks for to name the
// module's owners and users.
func (m *module) ownerNameColumns() []string {
	var out []string
	for _, name := range m.queryFields() {
		f, _ := m.field(name)
		switch strings.ToLower(f.DataType) {
		case "ownerlookup", "userlookup":
			out = append(out, ownerNames(name)...)
		}
	}
	return out
}
