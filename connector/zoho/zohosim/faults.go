package zohosim

import (
	"maps"
	"time"
)

// Fault kinds.
const (
	// FaultTooManyRequests answers the next Count API calls with 429
	// TOO_MANY_REQUESTS, with a Retry-After header only when RetryAfter > 0
	// (Zoho often sends none).
	FaultTooManyRequests = "429"
	// FaultInternalError answers the next Count API calls with 500
	// INTERNAL_ERROR.
	FaultInternalError = "500"
	// FaultSlow delays the next Count API calls by Delay before serving them.
	FaultSlow = "slow"
	// FaultExpireTokens expires every access token at each of the next Count
	// API calls, so each gets 401 INVALID_TOKEN until the client refreshes.
	FaultExpireTokens = "expire_tokens"
	// FaultBadAPIDomain makes the next Count token responses carry a
	// foreign api_domain ("https://www.zohoapis.evil.example").
	FaultBadAPIDomain = "bad_api_domain"
)

// faultOrder is the order faults apply to one call: delays first, then token
// expiry, then the answering faults.
var faultOrder = []string{FaultSlow, FaultExpireTokens, FaultTooManyRequests, FaultInternalError, FaultBadAPIDomain}

// Fault is an injected failure. CRM API calls (/crm/...) meet slow, 429, 500
// and expire_tokens; token responses meet bad_api_domain.
type Fault struct {
	Kind       string        // one of the Fault* kinds
	Count      int           // how many calls it affects; 0 clears the kind
	Delay      time.Duration // for "slow"
	RetryAfter time.Duration // for "429": sent as whole seconds when > 0
}

func validFaultKind(kind string) bool {
	for _, k := range faultOrder {
		if k == kind {
			return true
		}
	}
	return false
}

// SetFault arms f, replacing any fault of the same kind; Count 0 disarms the
// kind. Unknown kinds are ignored.
func (s *Server) SetFault(f Fault) {
	if !validFaultKind(f.Kind) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Count <= 0 {
		delete(s.faults, f.Kind)
		return
	}
	s.faults[f.Kind] = &f
}

// ClearFaults disarms every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// takeFaultLocked consumes one use of the fault of kind, if armed.
func (s *Server) takeFaultLocked(kind string) *Fault {
	f, ok := s.faults[kind]
	if !ok {
		return nil
	}
	out := *f
	f.Count--
	if f.Count <= 0 {
		delete(s.faults, kind)
	}
	return &out
}

// Credits returns the API credits charged so far: 1 per plain call, 1 to 3
// per COQL call by its LIMIT, 50 per Bulk Read job created. Failed calls are
// not charged.
func (s *Server) Credits() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.credits
}

// Calls returns how many requests each endpoint got, whatever their outcome.
// Keys: oauth/token, oauth/revoke, org, settings/modules, settings/fields,
// records, deleted, coql, bulk/create, bulk/status, bulk/result.
func (s *Server) Calls() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// ResetCredits zeroes the credit and call counters and starts the org's
// day afresh.
func (s *Server) ResetCredits() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.credits = 0
	s.spends = nil
	clear(s.calls)
}

func (s *Server) countCall(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[name]++
}
