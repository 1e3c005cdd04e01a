package zoho

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/replicatorhq/replicator/plugin/keyset"
)

const stateVersion = 1

// streamState is a stream's checkpoint. While a full sync runs, Full says
// where it resumes; afterwards Cursor and DeletedSince say where the next
// incremental read starts.
type streamState struct {
	V    int        `json:"v"`
	Full *fullState `json:"full,omitempty"`
	// Cursor is the last (Modified_Time, id) read; the next read starts
	// after it.
	Cursor *savedKey `json:"cursor,omitempty"`
	// DeletedSince is the end of the window whose deletions were read.
	DeletedSince time.Time `json:"deleted_since,omitzero"`
	// AccountsSince is the end of the window whose changed and deleted
	// accounts had their contacts read again (contacts only).
	AccountsSince time.Time `json:"accounts_since,omitzero"`
	// Fields are the module's fields the stream was read with; absent
	// in checkpoints written before they were kept.
	Fields *fieldsSeen `json:"fields,omitempty"`
}

// fieldsSeen is a version of a module's fields and when Zoho listed it.
type fieldsSeen struct {
	Version string    `json:"version"`
	Known   time.Time `json:"known"`
}

// fullState is a full sync under way.
type fullState struct {
	Method string `json:"method,omitempty"` // "bulk" or "records"; empty until chosen
	// Generation is the generation of the run that began the sync. The
	// sync reports it when done, so entries written by earlier runs of the
	// same sync survive.
	Generation uint64    `json:"generation,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	Pages      int       `json:"pages"`
	// PageToken is the bulk read token of the next page.
	PageToken string `json:"page_token,omitempty"`
	// Groups and GroupTokens are the records API's field groups and the
	// token of each group's next page.
	Groups      [][]string `json:"groups,omitempty"`
	GroupTokens []string   `json:"group_tokens,omitempty"`
	// MaxSeen is the greatest (Modified_Time, id) read so far.
	MaxSeen *savedKey `json:"max_seen,omitempty"`
	// Fields are the fields the sync began with; the incremental reads
	// after it go back to when they were known if they have changed.
	Fields *fieldsSeen `json:"fields,omitempty"`
}

// see notes a record's key in MaxSeen.
func (f *fullState) see(k keyset.Cursor) {
	if k.ID == "" || k.UpdatedAt.IsZero() {
		return
	}
	if f.MaxSeen == nil || keyset.Compare(f.MaxSeen.key(), k) < 0 {
		f.MaxSeen = saved(k)
	}
}

// savedKey is a keyset.Cursor as a checkpoint writes it. Checkpoints name
// its fields modified_time and id, as they did before keyset existed, so
// that those checkpoints still resume.
type savedKey struct {
	Modified time.Time `json:"modified_time"`
	ID       string    `json:"id,omitempty"`
}

// key is the cursor a checkpoint holds; a missing one is the zero cursor.
func (s *savedKey) key() keyset.Cursor {
	if s == nil {
		return keyset.Cursor{}
	}
	return keyset.Cursor{UpdatedAt: s.Modified, ID: s.ID}
}

// saved is k as a checkpoint writes it.
func saved(k keyset.Cursor) *savedKey {
	return &savedKey{Modified: k.UpdatedAt, ID: k.ID}
}

func parseState(raw json.RawMessage) (*streamState, error) {
	st := &streamState{V: stateVersion}
	if len(raw) == 0 || string(raw) == "null" {
		return st, nil
	}
	if err := json.Unmarshal(raw, st); err != nil {
		return nil, fmt.Errorf("reading the stream's checkpoint (reset the stream's state to start over): %w", err)
	}
	if st.V != stateVersion {
		return nil, fmt.Errorf(
			"the stream's checkpoint has version %d, this connector writes %d: reset the stream's state to start over",
			st.V, stateVersion)
	}
	return st, nil
}

func (st *streamState) encode() json.RawMessage {
	b, _ := json.Marshal(st)
	return b
}
