package zohosim

import (
	"fmt"
	"strings"
	"time"
)

// rnd is a small deterministic generator (splitmix64) seeded per record, so
// record i looks the same whenever and however often it is built.
type rnd struct{ x uint64 }

func newRnd(seed int64, salt uint64, i int) *rnd {
	r := &rnd{x: uint64(seed)*0x9E3779B97F4A7C15 ^ salt<<32 ^ uint64(i)*0xD1B54A32D192ED03}
	r.next()
	return r
}

func (r *rnd) next() uint64 {
	r.x += 0x9E3779B97F4A7C15
	z := r.x
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

func (r *rnd) intn(n int) int { return int(r.next() % uint64(n)) }

// pct is true p times in a hundred.
func (r *rnd) pct(p int) bool { return r.intn(100) < p }

func (r *rnd) of(list []string) string { return list[r.intn(len(list))] }

// digits returns n random digits, the first one from first..9.
func (r *rnd) digits(n int, first int) string {
	var b strings.Builder
	b.Grow(n)
	for k := 0; k < n; k++ {
		if k == 0 && first > 0 {
			b.WriteByte(byte('0' + first + r.intn(10-first)))
			continue
		}
		b.WriteByte(byte('0' + r.intn(10)))
	}
	return b.String()
}

// grouped splits s into groups of the given sizes joined by sep.
func grouped(s, sep string, sizes ...int) string {
	parts := make([]string, 0, len(sizes)+1)
	for _, n := range sizes {
		if n >= len(s) {
			break
		}
		parts = append(parts, s[:n])
		s = s[n:]
	}
	parts = append(parts, s)
	return strings.Join(parts, sep)
}

type city struct {
	name, area, state, zip string
}

type country struct {
	code     string
	names    []string // how people type the country; the first is the usual one
	weight   int
	first    []string
	last     []string
	cities   []city
	streets  []string
	tld      string
	suffixes []string // legal forms of companies
	words    []string // trade words in company names
	language string
	street   func(r *rnd, name string) string
	zip      func(r *rnd, c city) string
	landline func(r *rnd, c city) string
	mobile   func(r *rnd) string
	tollFree func(r *rnd) string
}

var countries = []*country{
	{
		code: "NL", names: []string{"Netherlands", "Nederland", "NL", "The Netherlands"}, weight: 40,
		first: []string{
			"Jan", "Pieter", "Sanne", "Lotte", "Daan", "Emma", "Bram", "Fleur", "Joost", "Anouk", "Maarten", "Eva", "Thijs",
			"Iris", "Ruben", "Noor",
		},
		last: []string{
			"de Vries", "Jansen", "van Dijk", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos",
			"Vos", "Peters", "Hendriks", "van den Berg", "Dekker",
		},
		cities: []city{
			{"Amsterdam", "20", "Noord-Holland", "10"}, {"Rotterdam", "10", "Zuid-Holland", "30"},
			{"Utrecht", "30", "Utrecht", "35"}, {"Den Haag", "70", "Zuid-Holland", "25"},
			{"Eindhoven", "40", "Noord-Brabant", "56"}, {"Groningen", "50", "Groningen", "97"},
		},
		streets: []string{
			"Keizersgracht", "Damrak", "Coolsingel", "Oudegracht", "Lange Voorhout", "Stationsplein", "Kerkstraat",
			"Dorpsstraat",
		},
		tld:      "nl",
		suffixes: []string{"B.V.", "B.V.", "N.V.", "V.O.F.", ""},
		words:    []string{"Logistiek", "Installatietechniek", "Bouw", "Advies", "Zorg", "Techniek", "Handel"},
		language: "Dutch",
		street:   func(r *rnd, s string) string { return fmt.Sprintf("%s %d", s, 1+r.intn(250)) },
		zip: func(r *rnd, c city) string {
			return c.zip + r.digits(2, 0) + " " + string(rune('A'+r.intn(26))) + string(rune('A'+r.intn(26)))
		},
		landline: func(r *rnd, c city) string {
			sub := r.digits(7, 2)
			switch r.intn(6) {
			case 0:
				return "0" + c.area + "-" + sub
			case 1:
				return "0" + c.area + " " + grouped(sub, " ", 3)
			case 2:
				return "+31 (0)" + c.area + " " + grouped(sub, " ", 3)
			case 3:
				return "+31 " + c.area + " " + sub
			case 4:
				return "0031 " + c.area + " " + sub
			default:
				return "+31" + c.area + sub
			}
		},
		mobile: func(r *rnd) string {
			sub := r.digits(8, 1)
			switch r.intn(5) {
			case 0:
				return "06-" + sub
			case 1:
				return "06 " + grouped(sub, " ", 2, 2, 2)
			case 2:
				return "+31 6 " + sub
			case 3:
				return "+316" + sub
			default:
				return "06" + sub
			}
		},
		tollFree: func(r *rnd) string { return "0800-" + r.digits(4, 1) },
	},
	{
		code: "DE", names: []string{"Germany", "Deutschland", "DE"}, weight: 20,
		first: []string{"Lukas", "Anna", "Felix", "Lea", "Jonas", "Mia", "Leon", "Hannah", "Paul", "Laura", "Max", "Sophie"},
		last: []string{
			"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Koch",
			"Richter",
		},
		cities: []city{
			{"Berlin", "30", "Berlin", "10"}, {"München", "89", "Bayern", "80"}, {"Hamburg", "40", "Hamburg", "20"},
			{"Köln", "221", "Nordrhein-Westfalen", "50"}, {"Frankfurt am Main", "69", "Hessen", "60"},
		},
		streets: []string{
			"Hauptstraße", "Bahnhofstraße", "Friedrichstraße", "Schillerstraße", "Goethestraße", "Lindenallee",
		},
		tld:      "de",
		suffixes: []string{"GmbH", "GmbH", "AG", "GmbH & Co. KG", "e.K."},
		words:    []string{"Maschinenbau", "Logistik", "Elektrotechnik", "Beratung", "Handel", "Software"},
		language: "German",
		street:   func(r *rnd, s string) string { return fmt.Sprintf("%s %d", s, 1+r.intn(120)) },
		zip:      func(r *rnd, c city) string { return c.zip + r.digits(3, 0) },
		landline: func(r *rnd, c city) string {
			sub := r.digits(7, 2)
			switch r.intn(6) {
			case 0:
				return "0" + c.area + " " + sub
			case 1:
				return "(0" + c.area + ") " + grouped(sub, " ", 3, 2)
			case 2:
				return "+49 " + c.area + " " + sub
			case 3:
				return "0049 " + c.area + " " + sub
			case 4:
				return "+49 (0)" + c.area + " " + sub
			default:
				return "0" + c.area + "/" + sub
			}
		},
		mobile: func(r *rnd) string {
			p := r.of([]string{"151", "152", "160", "170", "171", "172", "175", "176", "177", "178", "179"})
			sub := r.digits(7, 1)
			switch r.intn(4) {
			case 0:
				return "0" + p + " " + sub
			case 1:
				return "+49 " + p + " " + sub
			case 2:
				return "0" + p + "/" + sub
			default:
				return "+49" + p + sub
			}
		},
		tollFree: func(r *rnd) string { return "0800 " + r.digits(7, 1) },
	},
	{
		code: "GB", names: []string{"United Kingdom", "UK", "GB", "England"}, weight: 10,
		first: []string{"Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Jack", "Emily", "Charlie", "Grace"},
		last:  []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas", "Roberts", "Walker"},
		cities: []city{
			{"London", "20", "",
				"EC"}, {"Manchester", "161", "", "M"}, {"Birmingham", "121", "", "B"}, {"Edinburgh", "131", "Scotland", "EH"},
		},
		streets:  []string{"High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue"},
		tld:      "co.uk",
		suffixes: []string{"Ltd", "Ltd", "PLC", "LLP", "& Sons Ltd"},
		words:    []string{"Engineering", "Logistics", "Consulting", "Trading", "Services", "Systems"},
		language: "English",
		street:   func(r *rnd, s string) string { return fmt.Sprintf("%d %s", 1+r.intn(200), s) },
		zip: func(r *rnd, c city) string {
			return fmt.Sprintf("%s%d %d%c%c", c.zip, 1+r.intn(9), r.intn(10), 'A'+r.intn(26), 'A'+r.intn(26))
		},
		landline: func(r *rnd, c city) string {
			if c.area == "20" {
				sub := r.of([]string{"3", "7", "8"}) + r.digits(7, 0)
				switch r.intn(4) {
				case 0:
					return "020 " + grouped(sub, " ", 4)
				case 1:
					return "+44 20 " + grouped(sub, " ", 4)
				case 2:
					return "+44 (0)20 " + grouped(sub, " ", 4)
				default:
					return "(020) " + grouped(sub, " ", 4)
				}
			}
			sub := r.digits(7, 2)
			if r.pct(50) {
				return "0" + c.area + " " + grouped(sub, " ", 3)
			}
			return "+44 " + c.area + " " + grouped(sub, " ", 3)
		},
		mobile: func(r *rnd) string {
			p := "7" + r.of([]string{"4", "5", "7", "8", "9"}) + r.digits(2, 0)
			sub := r.digits(6, 1)
			if r.pct(50) {
				return "0" + p + " " + sub
			}
			return "+44 " + p + " " + sub
		},
		tollFree: func(r *rnd) string { return "0800 " + grouped(r.digits(7, 1), " ", 3) },
	},
	{
		code: "US", names: []string{"United States", "USA", "US", "United States of America"}, weight: 10,
		first: []string{"James", "Olivia", "Michael", "Emma", "William", "Sophia", "Daniel", "Madison", "Ethan", "Abigail"},
		last: []string{
			"Johnson", "Miller", "Davis", "Garcia", "Rodriguez", "Martinez", "Anderson", "Clark", "Lewis", "Young",
		},
		cities: []city{
			{"San Francisco", "415", "CA", "941"}, {"New York", "212", "NY", "100"}, {"Chicago", "312", "IL", "606"},
			{"Austin", "512", "TX", "787"}, {"Seattle", "206", "WA", "981"},
		},
		streets:  []string{"Main St", "Market St", "Broadway", "Oak Ave", "Pine St", "Mission St"},
		tld:      "com",
		suffixes: []string{"Inc.", "Inc.", "LLC", "Corp.", "Co."},
		words:    []string{"Manufacturing", "Solutions", "Logistics", "Health", "Software", "Supply"},
		language: "English",
		street:   func(r *rnd, s string) string { return fmt.Sprintf("%d %s", 100+r.intn(9000), s) },
		zip:      func(r *rnd, c city) string { return c.zip + r.digits(2, 0) },
		landline: usNumber,
		mobile: func(r *rnd) string {
			return usNumber(r, city{area: []string{"415", "646", "773", "737", "425"}[r.intn(5)]})
		},
		tollFree: func(r *rnd) string { return "1-800-" + r.digits(3, 2) + "-" + r.digits(4, 0) },
	},
	{
		code: "BE", names: []string{"Belgium", "België", "Belgique", "BE"}, weight: 10,
		first: []string{"Arthur", "Louise", "Lucas", "Elise", "Noah", "Marie", "Victor", "Julie", "Wout", "Nina"},
		last: []string{
			"Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters", "Dubois",
		},
		cities: []city{
			{"Brussel", "2", "", "1000"}, {"Antwerpen", "3", "", "2000"}, {"Gent", "9", "", "9000"}, {"Liège", "4", "", "4000"},
		},
		streets:  []string{"Rue de la Loi", "Meir", "Korenmarkt", "Avenue Louise", "Grote Markt"},
		tld:      "be",
		suffixes: []string{"NV", "BV", "SA", "SRL", "BVBA"},
		words:    []string{"Bouw", "Transport", "Consult", "Diensten", "Technics"},
		language: "Dutch",
		street:   func(r *rnd, s string) string { return fmt.Sprintf("%s %d", s, 1+r.intn(150)) },
		zip:      func(r *rnd, c city) string { return c.zip },
		landline: func(r *rnd, c city) string {
			sub := r.digits(7, 2)
			switch r.intn(4) {
			case 0:
				return "0" + c.area + " " + grouped(sub, " ", 3, 2)
			case 1:
				return "+32 " + c.area + " " + grouped(sub, " ", 3, 2)
			case 2:
				return "0032 " + c.area + " " + sub
			default:
				return "0" + c.area + "/" + grouped(sub, ".", 3, 2)
			}
		},
		mobile: func(r *rnd) string {
			p := "4" + r.of([]string{"7", "8", "9"}) + r.digits(1, 0)
			sub := r.digits(6, 0)
			if r.pct(50) {
				return "0" + p + " " + grouped(sub, " ", 2, 2)
			}
			return "+32 " + p + " " + grouped(sub, " ", 2, 2)
		},
		tollFree: func(r *rnd) string { return "0800 " + r.digits(5, 1) },
	},
	{
		code: "FR", names: []string{"France", "FR"}, weight: 10,
		first: []string{"Gabriel", "Jade", "Louis", "Chloé", "Raphaël", "Léa", "Hugo", "Manon", "Jules", "Camille"},
		last:  []string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"},
		cities: []city{
			{
				"Paris",
				"1",
				"",
				"750",
			}, {"Lyon", "4", "", "690"}, {"Marseille", "4", "", "130"}, {"Lille", "3", "", "590"}, {"Toulouse", "5", "", "310"},
		},
		streets: []string{
			"rue de Rivoli", "boulevard Haussmann", "rue de la République", "avenue Jean Jaurès", "place Bellecour",
		},
		tld:      "fr",
		suffixes: []string{"SARL", "SAS", "SA", "EURL"},
		words:    []string{"Conseil", "Logistique", "Industrie", "Services", "Distribution"},
		language: "French",
		street:   func(r *rnd, s string) string { return fmt.Sprintf("%d %s", 1+r.intn(120), s) },
		zip:      func(r *rnd, c city) string { return c.zip + r.digits(2, 0) },
		landline: func(r *rnd, c city) string {
			sub := r.digits(8, 0)
			switch r.intn(5) {
			case 0:
				return "0" + c.area + " " + grouped(sub, " ", 2, 2, 2)
			case 1:
				return "+33 " + c.area + " " + grouped(sub, " ", 2, 2, 2)
			case 2:
				return "+33 (0)" + c.area + " " + grouped(sub, " ", 2, 2, 2)
			case 3:
				return "0" + c.area + sub
			default:
				return "0" + c.area + "." + grouped(sub, ".", 2, 2, 2)
			}
		},
		mobile: func(r *rnd) string {
			p := r.of([]string{"6", "7"})
			sub := r.digits(8, 0)
			if r.pct(60) {
				return "0" + p + " " + grouped(sub, " ", 2, 2, 2)
			}
			return "+33 " + p + " " + grouped(sub, " ", 2, 2, 2)
		},
		tollFree: func(r *rnd) string { return "0 800 " + grouped(r.digits(6, 0), " ", 2, 2) },
	},
}

func usNumber(r *rnd, c city) string {
	exch, line := r.digits(3, 2), r.digits(4, 0)
	if r.pct(10) {
		exch, line = "555", "01"+r.digits(2, 0)
	}
	var s string
	switch r.intn(6) {
	case 0:
		s = "(" + c.area + ") " + exch + "-" + line
	case 1:
		s = c.area + "-" + exch + "-" + line
	case 2:
		s = "+1 " + c.area + " " + exch + " " + line
	case 3:
		s = "1-" + c.area + "-" + exch + "-" + line
	case 4:
		s = c.area + "." + exch + "." + line
	default:
		s = "+1 (" + c.area + ") " + exch + "-" + line
	}
	if r.pct(5) {
		s += " x" + r.digits(3, 1)
	}
	return s
}

// junkPhones are things people type into phone fields that are no number.
var junkPhones = []string{
	"n/a",
	"-",
	"see email",
	"ask reception",
	"12345",
	"+31 6 1234",
	"0800-FLOWERS",
	"tel: 020 555 0199",
	"unknown",
}

func pickCountry(r *rnd) *country {
	n := r.intn(100)
	for _, c := range countries {
		if n < c.weight {
			return c
		}
		n -= c.weight
	}
	return countries[0]
}

// phone returns a phone number of c, now and then junk.
func phone(r *rnd, c *country, ci city, mobile bool) string {
	if r.pct(2) {
		return r.of(junkPhones)
	}
	if mobile {
		return c.mobile(r)
	}
	return c.landline(r, ci)
}

// countryName is how the record's country is typed, if at all.
func countryName(r *rnd, c *country) any {
	if r.pct(18) {
		return nil
	}
	if r.pct(75) {
		return c.names[0]
	}
	return r.of(c.names)
}

var asciiFold = strings.NewReplacer("ü",
	"ue", "ö", "oe", "ä", "ae", "ß", "ss", "é", "e", "è", "e", "ë", "e", "ç", "c", "à", "a", " ", "", "'", "")

func emailLocal(first, last string) string {
	l := strings.ToLower(asciiFold.Replace(last))
	if first == "" {
		return l
	}
	return strings.ToLower(asciiFold.Replace(first)) + "." + l
}

var (
	titles = []string{
		"Sales Manager", "CEO", "Office Manager", "IT Administrator", "Account Manager", "Procurement Officer",
		"Head of Customer Service", "Directeur", "Geschäftsführer", "Managing Director", "Receptionist", "Operations Lead",
	}
	departments = []string{"Sales", "IT", "Finance", "Support", "Operations", "Management", "Purchasing"}
	notes       = []string{
		"Prefers to be called in the morning.", "Met at the trade show in Utrecht.", "Main contact for the support contract.",
		"Speaks Dutch and English.", "Call the switchboard first; direct line often busy.",
	}
	salutes = []string{"Mr.", "Mrs.", "Ms.", "Dr.", "Prof."}
)

func (s *Server) genOwner(r *rnd) lookupID { return lookupID(s.users[r.intn(len(s.users))].id) }

// genCreated is the Created_Time of generated record i: 400 days before the
// epoch and five seconds apart, so creation order is id order and never
// after the record's Modified_Time.
func (s *Server) genCreated(i int) int64 {
	return s.opts.Epoch.Add(-400*24*time.Hour).UnixNano() + int64(i)*int64(5*time.Second)
}

func genDate(r *rnd, from time.Time, days int) string {
	return from.AddDate(0, 0, r.intn(days)).Format(time.DateOnly)
}

// genContact fills vals (aligned with the Contacts fields) for contact i.
// identitySalt separates the stream that picks a record's country and name
// from the one for the rest, so a lookup's name is cheap to build.
const identitySalt = 0x6e616d65

func contactIdentity(s *Server, i int) (c *country, first, last string) {
	r := newRnd(s.opts.Seed, s.order[0].salt^identitySalt, i)
	c = pickCountry(r)
	first, last = r.of(c.first), r.of(c.last)
	if r.pct(5) {
		first = ""
	}
	return c, first, last
}

func contactName(s *Server, i int) string {
	_, first, last := contactIdentity(s, i)
	return strings.TrimSpace(first + " " + last)
}

func genContact(s *Server, i int, vals []any) {
	m := s.order[0]
	r := newRnd(s.opts.Seed, m.salt, i)
	set := func(name string, v any) { vals[m.pos[name]] = v }
	c, first, last := contactIdentity(s, i)
	ci := c.cities[r.intn(len(c.cities))]
	owner := s.genOwner(r)
	set("Owner", owner)
	set("Created_By", owner)
	set("Modified_By", s.genOwner(r))
	set("Created_Time", s.genCreated(i))

	if first != "" {
		set("First_Name", first)
	}
	set("Last_Name", last)
	set("Full_Name", strings.TrimSpace(first+" "+last))
	if r.pct(40) {
		set("Salutation", r.of(salutes))
	}
	if s.opts.Accounts > 0 && r.pct(85) {
		set("Account_Name", lookupID(accountIDBase+int64(r.intn(s.opts.Accounts))))
	}
	if r.pct(90) {
		local := emailLocal(first, last)
		if r.pct(50) {
			local += fmt.Sprint(i % 1000)
		}
		set("Email", local+"@example."+c.tld)
	}
	if r.pct(10) {
		set("Secondary_Email", emailLocal("", last)+fmt.Sprint(i%97)+"@mail.example")
	}
	if r.pct(80) {
		set("Phone", phone(r, c, ci, false))
	}
	if r.pct(60) {
		set("Mobile", phone(r, c, ci, true))
	}
	if r.pct(8) {
		set("Home_Phone", phone(r, c, ci, false))
	}
	if r.pct(4) {
		set("Other_Phone", phone(r, c, ci, r.pct(50)))
	}
	if r.pct(3) {
		set("Asst_Phone", phone(r, c, ci, false))
		set("Assistant", r.of(c.first)+" "+r.of(c.last))
	}
	if r.pct(6) {
		set("Fax", phone(r, c, ci, false))
	}
	if r.pct(15) {
		set("Direct_Line", phone(r, c, ci, false))
	}
	if r.pct(70) {
		set("Title", r.of(titles))
	}
	if r.pct(50) {
		set("Department", r.of(departments))
	}
	if r.pct(50) {
		set("Lead_Source", r.of(leadSources[1:]))
	}
	if r.pct(20) {
		set("Date_of_Birth", genDate(r, time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC), 50*365))
	}
	set("Email_Opt_Out", r.pct(10))
	if r.pct(85) {
		set("Mailing_Street", c.street(r, r.of(c.streets)))
		set("Mailing_City", ci.name)
		set("Mailing_Zip", c.zip(r, ci))
		if ci.state != "" && (c.code == "US" || r.pct(30)) {
			set("Mailing_State", ci.state)
		}
	}
	set("Mailing_Country", countryName(r, c))
	if r.pct(5) {
		oc := pickCountry(r)
		oci := oc.cities[r.intn(len(oc.cities))]
		set("Other_Street", oc.street(r, r.of(oc.streets)))
		set("Other_City", oci.name)
		set("Other_Zip", oc.zip(r, oci))
		set("Other_Country", oc.names[0])
	}
	if r.pct(10) {
		set("Description", r.of(notes))
	}
	if r.pct(50) {
		set("Preferred_Language", c.language)
	}
	if r.pct(25) {
		set("Last_Visit", genDate(r, s.opts.Epoch.AddDate(-1, 0, 0), 365))
	}
	set("Newsletter", r.pct(30))
	if r.pct(30) {
		set("Interests", pickSome(r, interests))
	}
}

// pickSome returns one to three distinct values of list, in list order.
func pickSome(r *rnd, list []string) []string {
	n := 1 + r.intn(3)
	chosen := map[int]bool{}
	for len(chosen) < n {
		chosen[r.intn(len(list))] = true
	}
	out := make([]string, 0, n)
	for k, v := range list {
		if chosen[k] {
			out = append(out, v)
		}
	}
	return out
}

// genAccount fills vals (aligned with the Accounts fields) for account j.
func accountIdentity(s *Server, j int) (c *country, name string) {
	r := newRnd(s.opts.Seed, s.order[1].salt^identitySalt, j)
	c = pickCountry(r)
	return c, strings.TrimSpace(r.of(c.last) + " " + r.of(c.words) + " " + r.of(c.suffixes))
}

func accountName(s *Server, j int) string {
	_, name := accountIdentity(s, j)
	return name
}

func genAccount(s *Server, j int, vals []any) {
	m := s.order[1]
	r := newRnd(s.opts.Seed, m.salt, j)
	set := func(name string, v any) { vals[m.pos[name]] = v }
	c, name := accountIdentity(s, j)
	ci := c.cities[r.intn(len(c.cities))]
	owner := s.genOwner(r)
	set("Owner", owner)
	set("Created_By", owner)
	set("Modified_By", s.genOwner(r))
	set("Created_Time", s.genCreated(j))

	set("Account_Name", name)
	if r.pct(80) {
		set("Account_Number", fmt.Sprintf("ACC-%06d", j+1))
	}
	if r.pct(20) {
		set("Account_Site", ci.name)
	}
	if j > 10 && r.pct(5) {
		set("Parent_Account", lookupID(accountIDBase+int64(r.intn(j))))
	}
	set("Account_Type", r.of(accTypes[1:]))
	if r.pct(70) {
		set("Industry", r.of(industries[1:]))
	}
	if r.pct(90) {
		set("Phone", phone(r, c, ci, false))
	}
	if r.pct(20) {
		set("Fax", phone(r, c, ci, false))
	}
	if r.pct(70) {
		slug := strings.ToLower(asciiFold.Replace(strings.Fields(name)[0]))
		set("Website", "https://www."+slug+"-"+fmt.Sprint(j)+".example."+c.tld)
	}
	if r.pct(60) {
		set("Employees", int64(1+r.intn(5000)))
	}
	if r.pct(40) {
		set("Annual_Revenue", float64(50000+r.intn(50_000_000)))
	}
	if r.pct(90) {
		street, zip := c.street(r, r.of(c.streets)), c.zip(r, ci)
		set("Billing_Street", street)
		set("Billing_City", ci.name)
		set("Billing_Code", zip)
		if ci.state != "" && c.code == "US" {
			set("Billing_State", ci.state)
		}
		set("Billing_Country", countryName(r, c))
		if r.pct(40) {
			set("Shipping_Street", street)
			set("Shipping_City", ci.name)
			set("Shipping_Code", zip)
			set("Shipping_Country", c.names[0])
		}
	}
	if r.pct(10) {
		set("Description", r.of(notes))
	}
	if r.pct(30) {
		if r.pct(50) {
			set("Support_Hotline", c.tollFree(r))
		} else {
			set("Support_Hotline", phone(r, c, ci, false))
		}
	}
	if r.pct(60) {
		set("Segment", r.of(segments[1:]))
	}
	if r.pct(50) {
		set("Customer_Since", genDate(r, time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC), 18*365))
	}
	set("Key_Account", r.pct(10))
	if r.pct(40) {
		set("Regions", pickSome(r, regions))
	}
}
