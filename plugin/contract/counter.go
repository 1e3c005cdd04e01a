package contract

// What the host keeps of the counters a connector reports with
// Output.Count or Input.Count. A run keeps at most MaxCounters distinct
// names from each connector, each 1 to MaxCounterName bytes of a-z, 0-9,
// '_' and '.' (ValidCounterName). The host drops a report beyond that and
// warns once per run how many it dropped: a connector counts kinds of
// things, such as "api_credits" or "phones_too_short", never a name per
// record.
const (
	MaxCounters    = 50
	MaxCounterName = 64
)

// ValidCounterName reports whether name is one the host keeps counters
// under.
func ValidCounterName(name string) bool {
	if name == "" || len(name) > MaxCounterName {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '.' {
			return false
		}
	}
	return true
}
