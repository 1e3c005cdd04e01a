package zohosim

import (
	"fmt"
	"strings"
)

// orgTimeZone is the org's time zone; every datetime the API returns carries
// its offset, summer time included.
const orgTimeZone = "Europe/Amsterdam"

// Id ranges. Zoho ids are 19-digit numbers; these keep generated, created and
// job ids apart and of equal length so they sort the same as text and number.
const (
	accountIDBase = 5725767000050000001
	contactIDBase = 5725767000200000001
	createdIDBase = 5725767000900000001
	fieldIDBase   = 5725767000000300001
	moduleIDBase  = 5725767000000002001
	userIDBase    = 5725767000000411001
)

type orgInfo struct {
	ID, ZGID, DomainName, CompanyName string
}

func newOrg(seed int64) orgInfo {
	zgid := fmt.Sprintf("%d", 20070000+uint64(seed)%900000)
	return orgInfo{
		ID:          "5725767000000385001",
		ZGID:        zgid,
		DomainName:  "org" + zgid,
		CompanyName: "Noordzee Telecom B.V.",
	}
}

type user struct {
	id          int64
	name, email string
}

var simUsers = []user{
	{userIDBase, "Sanne Visser", "sanne.visser@noordzee-telecom.example"},
	{userIDBase + 1, "Pieter de Groot", "pieter.degroot@noordzee-telecom.example"},
	{userIDBase + 2, "Julia Schneider", "julia.schneider@noordzee-telecom.example"},
}

// field is one field of a module's metadata.
type field struct {
	apiName   string
	label     string
	dataType  string
	custom    bool
	readOnly  bool
	mandatory bool
	lookup    string   // target module of a lookup field
	target    *module  // the module lookup names
	pos       int      // index in module.fields and in generated values
	sys       byte     // sysCreated or sysModified for the record's own times
	picklist  []string // values of (multi-select) picklists
	length    int
	id        int64
}

// Fields whose values come from the record's times rather than its values.
const (
	sysNone byte = iota
	sysCreated
	sysModified
)

// jsonType is the json_type Zoho reports for a data type.
func jsonType(dataType string) string {
	switch dataType {
	case "lookup", "ownerlookup", "userlookup":
		return "jsonobject"
	case "multiselectpicklist":
		return "jsonarray"
	case "boolean":
		return "boolean"
	case "integer", "bigint":
		return "integer"
	case "double", "currency", "percent":
		return "double"
	default:
		return "string"
	}
}

func (f *field) isLookup() bool { return f.dataType == "lookup" }
func (f *field) isOwner() bool  { return f.dataType == "ownerlookup" || f.dataType == "userlookup" }

// module is one CRM module with its generated records and its overlay of
// admin changes. Everything below the marker is guarded by Server.mu.
type module struct {
	apiName   string
	singular  string
	scope     string // the read scope its records need
	nameField string // the field a lookup to it shows as "name"
	fields    []*field
	byName    map[string]*field
	pos       map[string]int // index of a field in fields
	n         int            // generated records
	idBase    int64
	salt      uint64
	gen       func(s *Server, i int, vals []any)
	genName   func(s *Server, i int) string // the nameField of generated record i

	// guarded by Server.mu
	overlay   map[int64]*entry
	deletions []deletion
	view      *view
}

func (m *module) field(name string) (*field, bool) {
	f, ok := m.byName[name]
	return f, ok
}

var (
	salutations = []string{"-None-", "Mr.", "Mrs.", "Ms.", "Dr.", "Prof."}
	leadSources = []string{
		"-None-", "Advertisement", "Cold Call", "Employee Referral", "External Referral", "Online Store", "Partner",
		"Public Relations", "Sales Email Alias", "Seminar Partner", "Trade Show", "Web Download", "Web Research", "Chat",
	}
	languages  = []string{"-None-", "Dutch", "German", "English", "French"}
	interests  = []string{"Telephony", "CRM integration", "Call recording", "Contact centre", "Mobile app"}
	industries = []string{
		"-None-", "Communications", "Consulting", "Education", "Financial Services", "Government/Military", "Manufacturing",
		"Retail", "Technology", "Transportation", "Healthcare", "Real Estate",
	}
	accTypes = []string{
		"-None-", "Analyst", "Competitor", "Customer", "Distributor", "Integrator", "Investor", "Partner", "Press",
		"Prospect", "Reseller", "Supplier", "Vendor", "Other",
	}
	segments = []string{"-None-", "Enterprise", "Mid-market", "SMB"}
	regions  = []string{"Benelux", "DACH", "UK & Ireland", "North America", "France"}
)

func text(api, label string) *field {
	return &field{apiName: api, label: label, dataType: "text", length: 255}
}
func typed(api, label, dt string) *field {
	return &field{apiName: api, label: label, dataType: dt, length: 255}
}
func pick(api, label string, values []string) *field {
	return &field{apiName: api, label: label, dataType: "picklist", picklist: values, length: 120}
}
func custom(f *field) *field   { f.custom = true; return f }
func readOnly(f *field) *field { f.readOnly = true; return f }
func required(f *field) *field { f.mandatory = true; return f }

// systemFields are the fields Zoho keeps itself, the same in every module;
// each call makes new ones, as newModule numbers them.
func systemFields() []*field {
	return []*field{
		readOnly(&field{apiName: "Created_By", label: "Created By", dataType: "ownerlookup"}),
		readOnly(&field{apiName: "Modified_By", label: "Modified By", dataType: "ownerlookup"}),
		readOnly(typed("Created_Time", "Created Time", "datetime")),
		readOnly(typed("Modified_Time", "Modified Time", "datetime")),
	}
}

func contactFields() []*field {
	return append([]*field{
		&field{apiName: "Owner", label: "Contact Owner", dataType: "ownerlookup"},
		pick("Salutation", "Salutation", salutations), text("First_Name", "First Name"),
		required(text("Last_Name", "Last Name")), readOnly(text("Full_Name", "Full Name")),
		&field{apiName: "Account_Name", label: "Account Name", dataType: "lookup", lookup: "Accounts"},
		typed("Email", "Email", "email"), typed("Secondary_Email", "Secondary Email", "email"),
		typed("Phone", "Phone", "phone"), typed("Mobile", "Mobile", "phone"), typed("Home_Phone", "Home Phone", "phone"),
		typed("Other_Phone", "Other Phone", "phone"), typed("Asst_Phone", "Asst Phone", "phone"),
		text("Assistant", "Assistant"), typed("Fax", "Fax", "phone"), text("Title", "Title"),
		text("Department", "Department"), pick("Lead_Source", "Lead Source", leadSources),
		typed("Date_of_Birth", "Date of Birth", "date"), typed("Email_Opt_Out", "Email Opt Out", "boolean"),
		text("Mailing_Street", "Mailing Street"), text("Mailing_City", "Mailing City"),
		text("Mailing_State", "Mailing State"), text("Mailing_Zip", "Mailing Zip"),
		text("Mailing_Country", "Mailing Country"), text("Other_Street", "Other Street"), text("Other_City", "Other City"),
		text("Other_State", "Other State"), text("Other_Zip", "Other Zip"), text("Other_Country", "Other Country"),
		typed("Description", "Description", "textarea"), custom(typed("Direct_Line", "Direct line", "phone")),
		custom(pick("Preferred_Language", "Preferred language", languages)),
		custom(typed("Last_Visit", "Last visit", "date")), custom(typed("Newsletter", "Newsletter", "boolean")),
		custom(&field{apiName: "Interests", label: "Interests", dataType: "multiselectpicklist", picklist: interests}),
	}, systemFields()...)
}

func accountFields() []*field {
	return append([]*field{
		&field{apiName: "Owner", label: "Account Owner", dataType: "ownerlookup"},
		required(text("Account_Name", "Account Name")), text("Account_Number", "Account Number"),
		text("Account_Site", "Account Site"),
		&field{apiName: "Parent_Account", label: "Parent Account", dataType: "lookup", lookup: "Accounts"},
		pick("Account_Type", "Account Type", accTypes), pick("Industry", "Industry", industries),
		typed("Phone", "Phone", "phone"), typed("Fax", "Fax", "phone"), typed("Website", "Website", "website"),
		typed("Employees", "Employees", "integer"), typed("Annual_Revenue", "Annual Revenue", "currency"),
		text("Billing_Street", "Billing Street"), text("Billing_City", "Billing City"),
		text("Billing_State", "Billing State"), text("Billing_Code", "Billing Code"),
		text("Billing_Country", "Billing Country"), text("Shipping_Street", "Shipping Street"),
		text("Shipping_City", "Shipping City"), text("Shipping_State", "Shipping State"),
		text("Shipping_Code", "Shipping Code"), text("Shipping_Country", "Shipping Country"),
		typed("Description", "Description", "textarea"), custom(typed("Support_Hotline", "Support hotline", "phone")),
		custom(pick("Segment", "Segment", segments)), custom(typed("Customer_Since", "Customer since", "date")),
		custom(typed("Key_Account", "Key account", "boolean")),
		custom(&field{apiName: "Regions", label: "Regions", dataType: "multiselectpicklist", picklist: regions}),
	}, systemFields()...)
}

func newModule(api, singular string, fields []*field, n int, idBase int64, salt uint64, firstFieldID int64) *module {
	m := &module{
		apiName:  api,
		singular: singular,
		scope:    "ZohoCRM.modules." + strings.ToLower(api) + ".READ",
		fields:   fields,
		byName:   map[string]*field{},
		pos:      map[string]int{},
		n:        n,
		idBase:   idBase,
		salt:     salt,
		overlay:  map[int64]*entry{},
	}
	for i, f := range fields {
		f.id = firstFieldID + int64(i)
		f.pos = i
		switch f.apiName {
		case "Created_Time":
			f.sys = sysCreated
		case "Modified_Time":
			f.sys = sysModified
		}
		m.byName[f.apiName] = f
		m.pos[f.apiName] = i
	}
	return m
}

func (s *Server) initModules() {
	contacts := newModule("Contacts", "Contact", contactFields(), s.opts.Contacts, contactIDBase, 0x636f6e74, fieldIDBase)
	contacts.nameField = "Full_Name"
	contacts.gen = genContact
	contacts.genName = contactName
	accounts := newModule("Accounts",
		"Account", accountFields(), s.opts.Accounts, accountIDBase, 0x6163636f, fieldIDBase+1000)
	accounts.nameField = "Account_Name"
	accounts.gen = genAccount
	accounts.genName = accountName
	s.order = []*module{contacts, accounts}
	s.modules = map[string]*module{"contacts": contacts, "accounts": accounts}
	for _, m := range s.order {
		for _, f := range m.fields {
			if f.isLookup() {
				f.target = s.modules[strings.ToLower(f.lookup)]
			}
		}
	}
}

// moduleByName finds a module by its api name, ignoring case as Zoho does.
func (s *Server) moduleByName(name string) (*module, bool) {
	m, ok := s.modules[strings.ToLower(name)]
	return m, ok
}

// fieldJSON renders a field the way GET /settings/fields does.
func (s *Server) fieldJSON(m *module, f *field) map[string]any {
	out := map[string]any{
		"id":               fmt.Sprint(f.id),
		"api_name":         f.apiName,
		"field_label":      f.label,
		"display_label":    f.label,
		"data_type":        f.dataType,
		"json_type":        jsonType(f.dataType),
		"custom_field":     f.custom,
		"read_only":        f.readOnly,
		"field_read_only":  f.readOnly,
		"system_mandatory": f.mandatory,
		"visible":          true,
		"length":           f.length,
		"lookup":           map[string]any{},
		"pick_list_values": []any{},
		"column_name":      strings.ToUpper(f.apiName),
	}
	if f.isLookup() {
		target := f.target
		out["lookup"] = map[string]any{
			"display_label": f.label,
			"api_name":      f.apiName,
			"module": map[string]any{
				"api_name": target.apiName,
				"id":       fmt.Sprint(moduleIDBase + s.moduleIndex(target)),
			},
			"id": fmt.Sprint(f.id + 500),
		}
	}
	if f.picklist != nil {
		values := make([]any, len(f.picklist))
		for i, v := range f.picklist {
			values[i] = map[string]any{
				"display_value":   v,
				"actual_value":    v,
				"reference_value": v,
				"sequence_number": i + 1,
				"id":              fmt.Sprint(f.id*100 + int64(i)),
			}
		}
		out["pick_list_values"] = values
	}
	return out
}

func (s *Server) moduleIndex(m *module) int64 {
	for i, o := range s.order {
		if o == m {
			return int64(i) + 1
		}
	}
	return 0
}

// modulesJSON lists the org's modules; only Contacts and Accounts carry data,
// the rest are there because a real org lists them too.
func (s *Server) modulesJSON() []any {
	type mod struct {
		api, singular, plural string
		supported             bool
	}
	list := []mod{
		{"Home", "Home", "Home", false}, {"Contacts", "Contact", "Contacts", true}, {"Accounts", "Account", "Accounts", true},
		{"Feeds", "Feeds", "Feeds", false},
	}
	out := make([]any, 0, len(list))
	for i, m := range list {
		out = append(out, map[string]any{
			"id":              fmt.Sprint(moduleIDBase + int64(i)),
			"api_name":        m.api,
			"module_name":     m.plural,
			"singular_label":  m.singular,
			"plural_label":    m.plural,
			"api_supported":   m.supported,
			"generated_type":  "default",
			"status":          "visible",
			"visible":         true,
			"viewable":        true,
			"creatable":       m.supported,
			"editable":        m.supported,
			"deletable":       m.supported,
			"sequence_number": i + 1,
		})
	}
	return out
}

func (s *Server) orgJSON() map[string]any {
	return map[string]any{
		"id":              s.org.ID,
		"zgid":            s.org.ZGID,
		"domain_name":     s.org.DomainName,
		"company_name":    s.org.CompanyName,
		"alias":           nil,
		"time_zone":       orgTimeZone,
		"country":         "Netherlands",
		"country_code":    "NL",
		"city":            "Amsterdam",
		"street":          "Herengracht 100",
		"zip":             "1015 BS",
		"state":           nil,
		"phone":           "+31 20 123 4500",
		"mobile":          nil,
		"fax":             nil,
		"website":         "https://www.noordzee-telecom.example",
		"primary_email":   simUsers[0].email,
		"primary_zuid":    "20071234",
		"employee_count":  "45",
		"currency":        "Euro - EUR",
		"currency_symbol": "€",
		"currency_locale": "nl_NL",
		// Zoho's iso_code is the home currency's ISO code, not a country.
		"iso_code":            "EUR",
		"mc_status":           false,
		"gapps_enabled":       false,
		"translation_enabled": false,
		"privacy_settings":    false,
		"type":                "production",
		"license_details": map[string]any{
			"paid":                    true,
			"paid_type":               "enterprise",
			"users_license_purchased": 25,
			"trial_type":              nil,
			"trial_expiry":            nil,
			"paid_expiry":             nil,
		},
	}
}
