package state

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// The decoders of stored values. What they accept must encode back to
// the same value: anything else is reported as damage rather than handed
// to a plugin or a run.

func decodeStream(v []byte) (StreamState, error) {
	var st StreamState
	if err := json.Unmarshal(v, &st); err != nil {
		return StreamState{}, fmt.Errorf("%w: the stored stream state is not valid JSON: %w", errUnreadable, err)
	}
	if NoCheckpoint(st.State) {
		st.State = nil
	}
	return st, nil
}

// DecodeRun decodes a run as stored: the JSON encoding of Run.
func DecodeRun(v []byte) (Run, error) { return decodeRun(v) }

func decodeRun(v []byte) (Run, error) {
	var r Run
	if err := json.Unmarshal(v, &r); err != nil {
		return Run{}, fmt.Errorf("%w: the stored run is not valid JSON: %w", errUnreadable, err)
	}
	if r.ID == 0 || r.Pipeline == "" {
		return Run{}, fmt.Errorf("%w: the stored run has no ID or no pipeline", errUnreadable)
	}
	return r, nil
}

// decodeRunWithoutLogs decodes a run as decodeRun does, leaving out its
// plugin lines: they are kept as bytes, unread.
func decodeRunWithoutLogs(v []byte) (Run, error) {
	var r struct {
		Run
		Logs json.RawMessage `json:"logs,omitempty"` // shadows Run.Logs
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return Run{}, fmt.Errorf("%w: the stored run is not valid JSON: %w", errUnreadable, err)
	}
	if r.ID == 0 || r.Pipeline == "" {
		return Run{}, fmt.Errorf("%w: the stored run has no ID or no pipeline", errUnreadable)
	}
	return r.Run, nil
}

// decodeRunBrief decodes what a streak of failures needs of a run: its
// outcome and start.
func decodeRunBrief(v []byte) (Run, error) {
	var r struct {
		Outcome string    `json:"outcome"`
		Started time.Time `json:"started"`
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return Run{}, fmt.Errorf("%w: the stored run is not valid JSON: %w", errUnreadable, err)
	}
	return Run{Outcome: r.Outcome, Started: r.Started}, nil
}

func decodeCredentials(v []byte) (json.RawMessage, error) {
	if !json.Valid(v) {
		return nil, fmt.Errorf("%w: the stored credentials are not valid JSON", errUnreadable)
	}
	return slices.Clone(v), nil
}

func decodePause(v []byte) (pauseRecord, error) {
	var p pauseRecord
	if err := json.Unmarshal(v, &p); err != nil {
		return pauseRecord{}, fmt.Errorf("%w: the stored pause is not valid JSON: %w", errUnreadable, err)
	}
	return p, nil
}
