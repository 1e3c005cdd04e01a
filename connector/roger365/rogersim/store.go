package rogersim

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/replicatorhq/replicator/connector/roger365/ingest"
)

// Replicator and Match are the contract's types, named here for the
// simulator's callers.
type (
	Replicator = ingest.Replicator
	Match      = ingest.Match
)

// StoredContact is a contact with the stream and generation that last wrote it.
type StoredContact struct {
	Stream     string         `json:"stream"`
	Generation uint64         `json:"generation"`
	Contact    ingest.Contact `json:"contact"`
}

// entry is an immutable stored contact: an update replaces the pointer, so a
// persistence snapshot can hold entries without copying them.
type entry struct {
	replicator string
	stream     string
	generation uint64
	contact    ingest.Contact
	updated    time.Time // contact.UpdatedAt read; zero when absent
}

func newEntry(replicator, stream string, gen uint64, c ingest.Contact) *entry {
	// A data file written before times were compared may hold one that
	// does not parse: it then counts as absent.
	at, _ := ingest.ParseTime(c.UpdatedAt)
	return &entry{replicator: replicator, stream: stream, generation: gen, contact: c, updated: at}
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
func validate(c *ingest.Contact) string {
	if c.SourceID == "" {
		return "source_id is required"
	}
	for i, p := range c.Phones {
		if !ingest.IsE164(p.Number) {
			// The number itself stays out of the message: callers log it.
			return fmt.Sprintf("phones[%d].number is not an E.164 number (+ followed by 2 to 15 digits, no leading 0)", i)
		}
	}
	if c.UpdatedAt != "" {
		if _, err := ingest.ParseTime(c.UpdatedAt); err != nil {
			return "updated_at is not an RFC 3339 time such as 2026-01-02T03:04:05Z"
		}
	}
	return ""
}

// upsert writes contacts into a replicator's stream and returns one result
// per contact; source ids in reject are refused as if invalid.
func (s *store) upsert(rs *replicatorState, stream string, gen uint64, contacts []ingest.Contact,
	reject map[string]bool) []ingest.Result {
	entries := rs.streams[stream]
	if entries == nil {
		entries = map[string]*entry{}
		rs.streams[stream] = entries
	}
	results := make([]ingest.Result, len(contacts))
	for i := range contacts {
		c := &contacts[i]
		results[i].SourceID = c.SourceID
		why := validate(c)
		if why == "" && reject[c.SourceID] {
			why = "refused by the simulator's injected fault"
		}
		if why != "" {
			results[i].Status, results[i].Error = ingest.StatusRejected, why
			continue
		}
		old := entries[c.SourceID]
		e := newEntry(rs.info.ID, stream, gen, *c)
		switch {
		case old == nil:
			results[i].Status = ingest.StatusCreated
		case older(e, old):
			// Not applied. The request still shows that the source has
			// the contact, which its generation's sweep needs to know.
			results[i].Status = ingest.StatusStale
			e.contact, e.updated = old.contact, old.updated
		case equalContacts(&old.contact, c):
			results[i].Status = ingest.StatusUnchanged
		default:
			results[i].Status = ingest.StatusUpdated
		}
		if old != nil {
			// A late writer's older generation never lowers the entry's:
			// the sweep of the run that wrote it must keep it.
			e.generation = max(e.generation, old.generation)
		}
		s.put(entries, old, e)
	}
	return results
}

// older reports whether e's version is older than old's. Without a time on
// either side there is nothing to compare, and an equal time is not older.
func older(e, old *entry) bool {
	return !e.updated.IsZero() && !old.updated.IsZero() && e.updated.Before(old.updated)
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
		if slices.ContainsFunc(e.contact.Phones[:i], func(q ingest.Phone) bool { return q.Number == p.Number }) {
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

func (s *store) deleteIDs(rs *replicatorState, stream string, ids []string) int64 {
	entries := rs.streams[stream]
	var n int64
	for _, id := range ids {
		if s.remove(entries, id) {
			n++
		}
	}
	return n
}

// sweep removes the stream's entries last written in a generation older than gen.
func (s *store) sweep(rs *replicatorState, stream string, gen uint64) int64 {
	entries := rs.streams[stream]
	var n int64
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

func equalContacts(a, b *ingest.Contact) bool {
	return a.SourceID == b.SourceID && a.Kind == b.Kind && a.DisplayName == b.DisplayName &&
		a.FirstName == b.FirstName && a.LastName == b.LastName && a.Company == b.Company &&
		a.Title == b.Title && a.URL == b.URL && a.UpdatedAt == b.UpdatedAt &&
		slices.Equal(a.Emails, b.Emails) && slices.Equal(a.Phones, b.Phones)
}
