package rogersim

import (
	"cmp"
	"fmt"
	"slices"
)

// Replicator is a CRM replicator as ROGER365 configures it.
type Replicator struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	SourceType string `json:"source_type"`
	Entity     string `json:"entity"`
}

// Contact is one phonebook entry as the ingest API takes it.
type Contact struct {
	SourceID    string   `json:"source_id"`
	Kind        string   `json:"kind,omitempty"`
	DisplayName string   `json:"display_name"`
	FirstName   string   `json:"first_name,omitempty"`
	LastName    string   `json:"last_name,omitempty"`
	Company     string   `json:"company,omitempty"`
	Title       string   `json:"title,omitempty"`
	Emails      []string `json:"emails,omitempty"`
	Phones      []Phone  `json:"phones"`
	URL         string   `json:"url,omitempty"`
	UpdatedAt   string   `json:"updated_at,omitempty"`
}

// Phone is one number of a contact, in E.164.
type Phone struct {
	Type   string `json:"type"`
	Number string `json:"number"`
}

// StoredContact is a contact with the stream and generation that last wrote it.
type StoredContact struct {
	Stream     string  `json:"stream"`
	Generation uint64  `json:"generation"`
	Contact    Contact `json:"contact"`
}

// Match is one lookup result.
type Match struct {
	DisplayName  string `json:"display_name"`
	Company      string `json:"company"`
	URL          string `json:"url"`
	SourceID     string `json:"source_id"`
	ReplicatorID string `json:"replicator_id"`
	PhoneType    string `json:"phone_type"`
}

// Item results of an upsert.
const (
	StatusCreated   = "created"
	StatusUpdated   = "updated"
	StatusUnchanged = "unchanged"
	StatusRejected  = "rejected"
)

// Result is the outcome of upserting one contact.
type Result struct {
	SourceID string `json:"source_id"`
	Status   string `json:"status"`
	Error    string `json:"error,omitempty"`
}

// entry is an immutable stored contact: an update replaces the pointer, so a
// persistence snapshot can hold entries without copying them.
type entry struct {
	replicator string
	stream     string
	generation uint64
	contact    Contact
}

// ref points from a number in the index to the entry holding it.
type ref struct {
	e         *entry
	phoneType string
}

// replicatorState is one replicator and its entries by stream and source id.
type replicatorState struct {
	info    Replicator
	streams map[string]map[string]*entry
}

// store is the phonebook. It is not safe for concurrent use; Server guards it.
type store struct {
	replicators map[string]*replicatorState
	index       map[string][]ref // E.164 number -> entries that carry it
	size        int
}

func newStore() *store {
	return &store{replicators: map[string]*replicatorState{}, index: map[string][]ref{}}
}

// addReplicator creates a replicator or updates its description, keeping its entries.
func (s *store) addReplicator(r Replicator) {
	if rs, ok := s.replicators[r.ID]; ok {
		rs.info = r
		return
	}
	s.replicators[r.ID] = &replicatorState{info: r, streams: map[string]map[string]*entry{}}
}

// validate returns why a contact is rejected, or "" when it is acceptable.
func validate(c *Contact) string {
	if c.SourceID == "" {
		return "source_id is required"
	}
	for i, p := range c.Phones {
		if !IsE164(p.Number) {
			// The number itself stays out of the message: callers log it.
			return fmt.Sprintf("phones[%d].number is not an E.164 number (+ followed by 2 to 15 digits, no leading 0)", i)
		}
	}
	return ""
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

// upsert writes contacts into a replicator's stream and returns one result
// per contact; source ids in reject are refused as if invalid.
func (s *store) upsert(rs *replicatorState, stream string, gen uint64, contacts []Contact, reject map[string]bool) []Result {
	entries := rs.streams[stream]
	if entries == nil {
		entries = map[string]*entry{}
		rs.streams[stream] = entries
	}
	results := make([]Result, len(contacts))
	for i := range contacts {
		c := &contacts[i]
		results[i].SourceID = c.SourceID
		why := validate(c)
		if why == "" && reject[c.SourceID] {
			why = "refused by the simulator's injected fault"
		}
		if why != "" {
			results[i].Status, results[i].Error = StatusRejected, why
			continue
		}
		old := entries[c.SourceID]
		switch {
		case old == nil:
			results[i].Status = StatusCreated
		case equalContacts(&old.contact, c):
			results[i].Status = StatusUnchanged
		default:
			results[i].Status = StatusUpdated
		}
		e := &entry{replicator: rs.info.ID, stream: stream, generation: gen, contact: *c}
		s.put(entries, old, e)
	}
	return results
}

// put replaces old (nil when absent) with e and keeps the index in step.
func (s *store) put(entries map[string]*entry, old, e *entry) {
	if old != nil {
		s.unindex(old)
	} else {
		s.size++
	}
	entries[e.contact.SourceID] = e
	s.indexEntry(e)
}

func (s *store) indexEntry(e *entry) {
	for i, p := range e.contact.Phones {
		if slices.ContainsFunc(e.contact.Phones[:i], func(q Phone) bool { return q.Number == p.Number }) {
			continue // one match per contact and number
		}
		s.index[p.Number] = append(s.index[p.Number], ref{e: e, phoneType: p.Type})
	}
}

func (s *store) unindex(e *entry) {
	for _, p := range e.contact.Phones {
		refs := s.index[p.Number]
		refs = slices.DeleteFunc(refs, func(r ref) bool { return r.e == e })
		if len(refs) == 0 {
			delete(s.index, p.Number)
		} else {
			s.index[p.Number] = refs
		}
	}
}

// remove deletes one entry if present and reports whether it was.
func (s *store) remove(entries map[string]*entry, sourceID string) bool {
	old, ok := entries[sourceID]
	if !ok {
		return false
	}
	s.unindex(old)
	delete(entries, sourceID)
	s.size--
	return true
}

func (s *store) deleteIDs(rs *replicatorState, stream string, ids []string) int {
	entries := rs.streams[stream]
	n := 0
	for _, id := range ids {
		if s.remove(entries, id) {
			n++
		}
	}
	return n
}

// sweep removes the stream's entries last written in a generation older than gen.
func (s *store) sweep(rs *replicatorState, stream string, gen uint64) int {
	entries := rs.streams[stream]
	n := 0
	for id, e := range entries {
		if e.generation < gen {
			s.remove(entries, id)
			n++
		}
	}
	return n
}

func (s *store) lookup(number string) []Match {
	refs := s.index[number]
	matches := make([]Match, 0, len(refs))
	for _, r := range refs {
		c := &r.e.contact
		matches = append(matches, Match{
			DisplayName: c.DisplayName, Company: c.Company, URL: c.URL,
			SourceID: c.SourceID, ReplicatorID: r.e.replicator, PhoneType: r.phoneType,
		})
	}
	slices.SortFunc(matches, func(a, b Match) int {
		return cmp.Or(cmp.Compare(a.ReplicatorID, b.ReplicatorID), cmp.Compare(a.SourceID, b.SourceID))
	})
	return matches
}

// contacts lists a replicator's entries ordered by stream and source id.
func (s *store) contacts(replicatorID string) []StoredContact {
	rs := s.replicators[replicatorID]
	if rs == nil {
		return nil
	}
	var out []StoredContact
	for stream, entries := range rs.streams {
		for _, e := range entries {
			out = append(out, StoredContact{Stream: stream, Generation: e.generation, Contact: e.contact})
		}
	}
	slices.SortFunc(out, func(a, b StoredContact) int {
		return cmp.Or(cmp.Compare(a.Stream, b.Stream), cmp.Compare(a.Contact.SourceID, b.Contact.SourceID))
	})
	return out
}

func equalContacts(a, b *Contact) bool {
	return a.SourceID == b.SourceID && a.Kind == b.Kind && a.DisplayName == b.DisplayName &&
		a.FirstName == b.FirstName && a.LastName == b.LastName && a.Company == b.Company &&
		a.Title == b.Title && a.URL == b.URL && a.UpdatedAt == b.UpdatedAt &&
		slices.Equal(a.Emails, b.Emails) && slices.Equal(a.Phones, b.Phones)
}
