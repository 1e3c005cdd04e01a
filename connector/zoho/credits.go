package zoho

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// creditsHeader carries the API credits the org has left of its rolling
// 24 hours; Zoho sends it once half of them are spent.
const creditsHeader = "X-API-CREDITS-REMAINING"

// budgetError says a call would have spent more credits than allowed: more
// than max_credits_per_run, or more than Zoho says the org has left.
type budgetError struct {
	max, spent, cost int64
	// left is what Zoho says the org has left, -1 when it has not said;
	// zoho is set when that is what falls short.
	left int64
	zoho bool
}

func (e *budgetError) Error() string {
	if e.zoho {
		return fmt.Sprintf(
			"Zoho reports %d API credits left of the org's last 24 hours and the next call costs %d: runs go on once the org "+
				"has credits again, as Zoho counts them over a rolling day",
			e.left, e.cost)
	}
	return fmt.Sprintf("max_credits_per_run is %d and %d credits are spent; the next call costs %d",
		e.max, e.spent, e.cost)
}

// warn logs why the run stops at its last checkpoint, with the credits
// Zoho says are left when it said so.
func (e *budgetError) warn(log hclog.Logger, args ...any) {
	msg := "stopping at the last checkpoint: max_credits_per_run would be exceeded"
	if e.zoho {
		msg = "stopping at the last checkpoint: the org's Zoho API credits for the day would run out; " +
			"the next run goes on once Zoho has credits again"
	} else {
		args = append(args, "max_credits_per_run", e.max)
	}
	args = append(args, "spent", e.spent, "next_step_credits", e.cost)
	if e.left >= 0 {
		args = append(args, "zoho_credits_left", e.left)
	}
	log.Warn(msg, args...)
}

// credits counts the API credits a run spends and keeps it within its
// limits: max_credits_per_run, and what Zoho says the org has left.
type credits struct {
	max        atomic.Int64 // 0: no limit
	spent      atomic.Int64
	unreported atomic.Int64

	mu sync.Mutex
	// left is what Zoho last said the org has left, when spent was
	// spentThen; known is false until Zoho says.
	known           bool
	left, spentThen int64
}

// shortfall returns why cost more credits do not fit, or nil when they do.
func (c *credits) shortfall(cost int64) *budgetError {
	s := c.spent.Load()
	left := c.zohoLeft(s)
	if m := c.max.Load(); m > 0 && s+cost > m {
		return &budgetError{max: m, spent: s, cost: cost, left: left}
	}
	if left >= 0 && cost > left {
		return &budgetError{spent: s, cost: cost, zoho: true, left: left}
	}
	return nil
}

// zohoLeft is what Zoho last said the org has left, less what the run has
// reserved since, with spent credits spent so far; -1 when Zoho has not
// said.
func (c *credits) zohoLeft(spent int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.known {
		return -1
	}
	return max(c.left-(spent-c.spentThen), 0)
}

// reserve books cost before a call, failing if that would pass a limit.
func (c *credits) reserve(cost int64) error {
	for {
		s := c.spent.Load()
		if be := c.shortfall(cost); be != nil {
			return be
		}
		if c.spent.CompareAndSwap(s, s+cost) {
			return nil
		}
	}
}

// settle confirms or returns a reservation once the answer is known.
func (c *credits) settle(cost int64, charged bool) {
	if charged {
		c.unreported.Add(cost)
	} else {
		c.spent.Add(-cost)
	}
}

// noteLeft reads the credits left from an answer's header, if it carries
// them, and reports whether Zoho said so for the first time in the run.
func (c *credits) noteLeft(header string) (left int64, first bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(header), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	first = !c.known
	c.known, c.left, c.spentThen = true, n, c.spent.Load()
	return n, first
}
