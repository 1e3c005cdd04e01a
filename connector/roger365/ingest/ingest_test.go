package ingest

import (
	"encoding/json"
	"testing"
)

func TestEndpoint(t *testing.T) {
	cases := []struct {
		e            Endpoint
		id           string
		method, path string
	}{
		{GetReplicator, "rep-1", "GET", "/v1/replicators/rep-1"},
		{PutContacts, "rep-1", "PUT", "/v1/replicators/rep-1/contacts"},
		{DeleteContacts, "a/b c", "POST", "/v1/replicators/a%2Fb%20c/contacts:delete"},
		{SweepContacts, "rep-1", "POST", "/v1/replicators/rep-1/contacts:sweep"},
		{Lookup, "ignored", "GET", "/v1/lookup"},
	}
	for _, c := range cases {
		if m, p := c.e.Method(), c.e.Path(c.id); m != c.method || p != c.path {
			t.Errorf("%s with %q: got %s %s, want %s %s", c.e, c.id, m, p, c.method, c.path)
		}
	}
}

// TestBodies pins the field names and omissions of the bodies, which the
// other side of the wire depends on.
func TestBodies(t *testing.T) {
	gen := uint64(42)
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"upsert", UpsertRequest{Stream: "contacts", Generation: 42, Contacts: []Contact{
			{
				SourceID:    "1",
				Kind:        "contact",
				DisplayName: "Ada",
				FirstName:   "Ada",
				LastName:    "Lovelace",
				Company:     "Acme",
				Title:       "CEO",
				Emails: []string{
					"ada@example.com",
				},
				Phones:    []Phone{{Type: "work", Number: "+31201234567"}},
				URL:       "https://crm.example/1",
				UpdatedAt: "2026-01-02T03:04:05Z",
			},
			{SourceID: "2", DisplayName: "Bare"},
		}}, `{"stream":"contacts","generation":42,"contacts":[` +
			`{"source_id":"1","kind":"contact","display_name":"Ada","first_name":"Ada","last_name":"Lovelace",` +
			`"company":"Acme","title":"CEO",` +
			`"emails":["ada@example.com"],"phones":[{"type":"work","number":"+31201234567"}],"url":"https://crm.example/1",` +
			`"updated_at":"2026-01-02T03:04:05Z"},` +
			`{"source_id":"2","display_name":"Bare","phones":null}]}`},
		{
			"results",
			UpsertResponse{
				Results: []Result{{SourceID: "1", Status: StatusCreated}, {SourceID: "2", Status: StatusRejected, Error: "why"}},
			},
			`{"results":[{"source_id":"1","status":"created"},{"source_id":"2","status":"rejected","error":"why"}]}`,
		},
		{"delete", DeleteRequest{Stream: "contacts", SourceIDs: []string{"1"}}, `{"stream":"contacts","source_ids":["1"]}`},
		{"deleted", DeleteResponse{Deleted: 3}, `{"deleted":3}`},
		{"sweep", SweepRequest{Stream: "contacts", Generation: &gen}, `{"stream":"contacts","generation":42}`},
		{"removed", SweepResponse{Removed: 2}, `{"removed":2}`},
		{"replicator", Replicator{ID: "r1", Name: "Zoho CRM", SourceType: "zoho", Entity: "Contacts"},
			`{"id":"r1","name":"Zoho CRM","source_type":"zoho","entity":"Contacts"}`},
		{
			"lookup",
			LookupResponse{
				Matches: []Match{
					{DisplayName: "Ada", Company: "Acme", URL: "u", SourceID: "1", ReplicatorID: "r1", PhoneType: "work"},
				},
			},
			`{"matches":[{"display_name":"Ada","company":"Acme","url":"u","source_id":"1","replicator_id":"r1",` +
				`"phone_type":"work"}]}`,
		},
		{"error", ErrorBody{Error: CodeUnauthorized, Detail: "send a key"}, `{"error":"unauthorized","detail":"send a key"}`},
	}
	for _, c := range cases {
		got, err := json.Marshal(c.v)
		if err != nil || string(got) != c.want {
			t.Errorf("%s: got %s %v\nwant %s", c.name, got, err, c.want)
		}
	}
}

func TestSweepWithoutGeneration(t *testing.T) {
	var req SweepRequest
	if err := json.Unmarshal([]byte(`{"stream":"contacts"}`), &req); err != nil || req.Generation != nil {
		t.Errorf("a missing generation decoded as %v (%v)", req.Generation, err)
	}
	if err := json.Unmarshal([]byte(`{"stream":"contacts","generation":0}`), &req); err != nil || req.Generation == nil ||
		*req.Generation != 0 {
		t.Errorf("generation 0 decoded as %v (%v)", req.Generation, err)
	}
}

func TestIsE164(t *testing.T) {
	for s, want := range map[string]bool{
		"+31201234567": true, "+12": true, "+123456789012345": true,
		"+1234567890123456": false, "+1": false, "+0201234567": false,
		"0201234567": false, "+31 20 1234567": false, "": false, "+3120123456a": false,
	} {
		if got := IsE164(s); got != want {
			t.Errorf("IsE164(%q) = %v, want %v", s, got, want)
		}
	}
}
