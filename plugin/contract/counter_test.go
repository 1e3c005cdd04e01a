package contract_test

import (
	"strings"
	"testing"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/schemas/phone"
)

func TestValidCounterName(t *testing.T) {
	valid := []string{
		// What the connectors here report.
		"api_credits", "tokens_minted", "rows_left_out", "duplicate_ids",
		"skipped_without_phone", "unparseable_numbers", "unread_numbers", "rejected",
		"created", "updated", "unchanged", "deleted", "swept",
		"v2.calls", strings.Repeat("a", contract.MaxCounterName),
	}
	for r := phone.OK; !strings.HasPrefix(r.String(), "reason("); r++ {
		valid = append(valid, "phones_"+r.String())
	}
	for _, name := range valid {
		if !contract.ValidCounterName(name) {
			t.Errorf("%q is not valid", name)
		}
	}
	tooLong := strings.Repeat("a", contract.MaxCounterName+1)
	for _, name := range []string{"", "Upper", "a b", "dash-ed", "x\ny", "ünï", "a/b", tooLong} {
		if contract.ValidCounterName(name) {
			t.Errorf("%q is valid", name)
		}
	}
}
