package phone

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/nyaruka/phonenumbers"
)

// iddPatterns holds every country's international dialling prefix pattern
// from libphonenumber's metadata, anchored, for the 00 check. It depends
// only on the metadata built into the program, so it is compiled once and
// never changed; iddErr says why it could not be.
var iddPatterns, iddErr = compileIDD()

func compileIDD() ([]*regexp.Regexp, error) {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return nil, fmt.Errorf("reading libphonenumber's metadata: %w", err)
	}
	var patterns []string
	for _, m := range coll.GetMetadata() {
		if p := m.GetInternationalPrefix(); p != "" && !slices.Contains(patterns, p) {
			patterns = append(patterns, p)
		}
	}
	slices.Sort(patterns)
	out := make([]*regexp.Regexp, 0, len(patterns))
	for _, p := range patterns {
		re, err := regexp.Compile("^(?:" + p + ")")
		if err != nil {
			return nil, fmt.Errorf("reading libphonenumber's international prefix %q: %w", p, err)
		}
		out = append(out, re)
	}
	return out, nil
}
