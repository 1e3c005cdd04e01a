// Package ingest is the ROGER365 phonebook ingest contract: the endpoints,
// their JSON bodies and limits. The roger365 destination speaks it and the
// rogersim simulator serves it, both from these types, so a change in the
// contract is made here once.
//
// ROGER365 publishes no ingest API. This is the modelled contract; if the
// vendor's differs, this package is where it changes.
//
// Every call carries "Authorization: Bearer <api_key>"; a bad key gets 401
// with error "unauthorized". Errors are an ErrorBody. 429 (with Retry-After
// in seconds) and 5xx are transient and worth retrying; every call is
// idempotent, so a retry after a lost answer does no harm.
//
//	GET  /v1/replicators/{replicator_id}
//	     200 Replicator | 404
//	PUT  /v1/replicators/{replicator_id}/contacts
//	     UpsertRequest (at most MaxBatch contacts)   200 UpsertResponse,
//	     a contact older than the stored one answered stale
//	POST /v1/replicators/{replicator_id}/contacts:delete
//	     DeleteRequest                               200 DeleteResponse
//	POST /v1/replicators/{replicator_id}/contacts:sweep
//	     SweepRequest: removes the stream's entries last written in an
//	     older generation                            200 SweepResponse
//	GET  /v1/lookup?number=%2B31201234567
//	     200 LookupResponse, matches across replicators
//
// A contact is the canonical contact record without attributes, with phones
// as {type, number} and every number in E.164 (see IsE164); one with a
// number of another form is rejected. A contact without phones is stored but
// matches no lookup.
//
// Older versions: a contact whose updated_at (RFC 3339, see ParseTime) is
// older than the stored entry's is not applied and is answered stale, so a
// late writer, such as a host that lost its claim on a pipeline, cannot put
// back an older version of a record. Times are compared as instants, not
// as text. An equal time is not older: the contact is applied, answered
// unchanged when identical, so re-sending a version stays idempotent. A
// contact without updated_at, or one stored without it, is applied without
// a comparison; one whose updated_at is not RFC 3339 is rejected.
//
// Generations: an entry counts as written in the newest generation that
// wrote it or was answered unchanged or stale for it. A request with an
// older generation (a late writer's) never lowers it, so a sweep removes
// neither what a newer run wrote nor a contact whose older version a newer
// run sent. Deletes and sweeps carry no time: an entry a late delete
// removes is gone whatever its version, and a late upsert re-creates a
// contact deleted since, until a sweep in a newer generation removes it.
package ingest

import (
	"net/url"
	"strings"
	"time"
)

// MaxBatch is the most contacts one upsert request may carry.
const MaxBatch = 500

// Endpoint is one call of the API, written "METHOD /path" with
// {replicator_id} where the replicator's id goes. It is also a pattern
// net/http's ServeMux accepts.
type Endpoint string

// The endpoints.
const (
	GetReplicator  Endpoint = "GET /v1/replicators/{" + ReplicatorIDParam + "}"
	PutContacts    Endpoint = "PUT /v1/replicators/{" + ReplicatorIDParam + "}/contacts"
	DeleteContacts Endpoint = "POST /v1/replicators/{" + ReplicatorIDParam + "}/contacts:delete"
	SweepContacts  Endpoint = "POST /v1/replicators/{" + ReplicatorIDParam + "}/contacts:sweep"
	Lookup         Endpoint = "GET /v1/lookup"
)

// ReplicatorIDParam names the path segment holding the replicator's id.
const ReplicatorIDParam = "replicator_id"

// LookupNumberParam is Lookup's query parameter: the E.164 number, with +
// written as %2B.
const LookupNumberParam = "number"

// Method returns the HTTP method, such as "PUT".
func (e Endpoint) Method() string {
	m, _, _ := strings.Cut(string(e), " ")
	return m
}

// Path returns the request path for a replicator, its id escaped.
func (e Endpoint) Path(replicatorID string) string {
	_, p, _ := strings.Cut(string(e), " ")
	return strings.Replace(p, "{"+ReplicatorIDParam+"}", url.PathEscape(replicatorID), 1)
}

// Replicator is a CRM replicator as ROGER365 configures it: GetReplicator's answer.
type Replicator struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	SourceType string `json:"source_type"`
	Entity     string `json:"entity"`
}

// Contact is one phonebook entry as the API takes it.
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
	// UpdatedAt is when the source last changed the contact, RFC 3339;
	// empty when unknown. It decides which of two versions is older.
	UpdatedAt string `json:"updated_at,omitempty"`
}

// ParseTime reads an updated_at as the contract does: RFC 3339, fractional
// seconds allowed.
func ParseTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

// FormatTime writes t as an updated_at, in UTC.
func FormatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// Phone is one number of a contact, in E.164, with the canonical record's
// phone type (work, mobile, ... or a custom label).
type Phone struct {
	Type   string `json:"type"`
	Number string `json:"number"`
}

// UpsertRequest is PutContacts' body. Generation is the run's generation,
// which a later SweepRequest compares against.
type UpsertRequest struct {
	Stream     string    `json:"stream"`
	Generation uint64    `json:"generation"`
	Contacts   []Contact `json:"contacts"`
}

// UpsertResponse is PutContacts' answer: one result per contact, in order.
type UpsertResponse struct {
	Results []Result `json:"results"`
}

// Result is the outcome of upserting one contact; Error says why when it
// was rejected.
type Result struct {
	SourceID string `json:"source_id"`
	Status   string `json:"status"`
	Error    string `json:"error,omitempty"`
}

// Result statuses.
const (
	StatusCreated   = "created"
	StatusUpdated   = "updated"
	StatusUnchanged = "unchanged"
	StatusStale     = "stale" // not applied: the stored version is newer
	StatusRejected  = "rejected"
)

// DeleteRequest is DeleteContacts' body.
type DeleteRequest struct {
	Stream    string   `json:"stream"`
	SourceIDs []string `json:"source_ids"`
}

// DeleteResponse is DeleteContacts' answer: how many entries existed and
// were removed.
type DeleteResponse struct {
	Deleted int64 `json:"deleted"`
}

// SweepRequest is SweepContacts' body. Generation is required; it is a
// pointer so that a missing one is told apart from 0.
type SweepRequest struct {
	Stream     string  `json:"stream"`
	Generation *uint64 `json:"generation"`
}

// SweepResponse is SweepContacts' answer: how many entries were removed.
type SweepResponse struct {
	Removed int64 `json:"removed"`
}

// LookupResponse is Lookup's answer.
type LookupResponse struct {
	Matches []Match `json:"matches"`
}

// Match is one contact carrying the number looked up.
type Match struct {
	DisplayName  string `json:"display_name"`
	Company      string `json:"company"`
	URL          string `json:"url"`
	SourceID     string `json:"source_id"`
	ReplicatorID string `json:"replicator_id"`
	PhoneType    string `json:"phone_type"`
}

// ErrorBody is the body of every error answer: a code from the list below
// and a sentence for people.
type ErrorBody struct {
	Error  string `json:"error"`
	Detail string `json:"detail"`
}

// Error codes.
const (
	CodeUnauthorized    = "unauthorized"      // 401: missing or unknown API key
	CodeNotFound        = "not_found"         // 404: no such replicator or endpoint
	CodeInvalidJSON     = "invalid_json"      // 400: the body is not the expected JSON
	CodeInvalidRequest  = "invalid_request"   // 400: a required field is missing
	CodeTooManyContacts = "too_many_contacts" // 400: more than MaxBatch contacts
	CodeInvalidNumber   = "invalid_number"    // 400: Lookup's number is not E.164
	CodeRateLimited     = "rate_limited"      // 429: retry after Retry-After seconds
	CodeUnavailable     = "unavailable"       // 5xx: retry later
)

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
