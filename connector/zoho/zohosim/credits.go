package zohosim

import (
	"net/http"
	"strconv"
	"time"
)

// API credits per rolling 24 hours
// (zoho.com/crm/developer/docs/api/v4/api-limits.html): once half of the
// org's credits are spent, answers carry what is left in
// X-API-CREDITS-REMAINING.
const (
	creditWindow = 24 * time.Hour
	// CreditsHeader is the header that carries the credits left.
	CreditsHeader = "X-API-CREDITS-REMAINING"
	// An Enterprise org: 50,000 credits plus 1,000 per user licence.
	enterpriseCredits        = 50_000
	enterpriseCreditsPerUser = 1_000
)

// spend is the credits charged in one minute of Options.Now.
type spend struct {
	at time.Time
	n  int64
}

// chargeLocked charges n credits to the org's total and its day.
func (s *Server) chargeLocked(n int64) {
	s.credits += n
	if n == 0 || s.opts.DailyCredits < 0 {
		return
	}
	at := s.now().Truncate(time.Minute)
	if k := len(s.spends); k > 0 && s.spends[k-1].at.Equal(at) {
		s.spends[k-1].n += n
		return
	}
	s.spends = append(s.spends, spend{at, n})
}

func (s *Server) charge(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chargeLocked(n)
}

// creditsLeftLocked returns the credits left of the last 24 hours'
// allowance, and whether half of it is spent, when answers show it.
func (s *Server) creditsLeftLocked() (left int64, shown bool) {
	if s.opts.DailyCredits < 0 {
		return 0, false
	}
	now := s.now()
	kept := s.spends[:0]
	var spent int64
	for _, sp := range s.spends {
		if now.Sub(sp.at) < creditWindow {
			kept = append(kept, sp)
			spent += sp.n
		}
	}
	s.spends = kept
	return max(s.opts.DailyCredits-spent, 0), 2*spent >= s.opts.DailyCredits
}

// showCredits adds X-API-CREDITS-REMAINING to an answer not yet written,
// once half the day's credits are spent.
func (s *Server) showCredits(w http.ResponseWriter) {
	s.mu.Lock()
	left, shown := s.creditsLeftLocked()
	s.mu.Unlock()
	if shown {
		w.Header().Set(CreditsHeader, strconv.FormatInt(left, 10))
	}
}

// CreditsLeft returns the credits left of the org's allowance for the last
// 24 hours, or -1 when Options.DailyCredits sets none.
func (s *Server) CreditsLeft() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.DailyCredits < 0 {
		return -1
	}
	left, _ := s.creditsLeftLocked()
	return left
}
