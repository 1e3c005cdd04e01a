package phone

import (
	"errors"
	"fmt"
	"regexp/syntax"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// longPrefixes holds, for each international dialling prefix that can take
// more of a text than its leading 00 (Brazil's 0021, Korea's 001,
// Australia's 0011), the digit strings its libphonenumber pattern matches,
// in the order the pattern prefers them. It depends only on the metadata
// built into libphonenumber, so it is made once, and never changed;
// prefixesErr says why it could not be made.
var longPrefixes, prefixesErr = internationalPrefixes()

func internationalPrefixes() ([][]string, error) {
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
	var long [][]string
	for _, p := range patterns {
		prefixes, err := literals(p, "00")
		if err != nil {
			return nil, fmt.Errorf("reading libphonenumber's international prefix %q: %w", p, err)
		}
		if slices.ContainsFunc(prefixes, func(s string) bool { return len(s) > 2 && strings.HasPrefix(s, "00") }) {
			long = append(long, prefixes)
		}
	}
	return long, nil
}

// firstPrefix returns the first of prefixes that s starts with.
func firstPrefix(prefixes []string, s string) (string, bool) {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return p, true
		}
	}
	return "", false
}

// maxLiterals bounds the strings one prefix pattern may stand for; the
// largest libphonenumber has stands for a few dozen that may follow a 00.
const maxLiterals = 1000

var errTooMany = fmt.Errorf("it stands for more than %d strings", maxLiterals)

// literals returns the strings pattern matches that a text starting with
// lead may start with, in the order Go's regexp prefers them: alternatives
// in order, optional parts taken first unless lazy. So in a text starting
// with lead, the pattern anchored at the start matches the first of them
// that the text starts with, if any. A pattern that may match an unbounded
// set, such as 0*1, is refused.
func literals(pattern, lead string) ([]string, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, err
	}
	return expand(re.Simplify(), lead)
}

// fits reports whether a text starting with lead may start with s.
func fits(s, lead string) bool {
	return strings.HasPrefix(s, lead) || strings.HasPrefix(lead, s)
}

// expand returns the strings re matches that fit lead, in re's order of
// preference.
func expand(re *syntax.Regexp, lead string) ([]string, error) {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return []string{""}, nil
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return nil, errors.New("it ignores case")
		}
		if s := string(re.Rune); fits(s, lead) {
			return []string{s}, nil
		}
		return nil, nil
	case syntax.OpCharClass:
		var out []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if int64(re.Rune[i+1])-int64(re.Rune[i]) >= maxLiterals {
				return nil, errTooMany
			}
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if s := string(r); fits(s, lead) {
					out = append(out, s)
				}
			}
			if len(out) > maxLiterals {
				return nil, errTooMany
			}
		}
		return out, nil
	case syntax.OpCapture:
		return expand(re.Sub[0], lead)
	case syntax.OpConcat:
		out := []string{""}
		for _, sub := range re.Sub {
			var next []string
			for _, head := range out {
				// head fits lead: what follows it must fit the rest of lead.
				tails, err := expand(sub, lead[min(len(head), len(lead)):])
				if err != nil {
					return nil, err
				}
				if len(next)+len(tails) > maxLiterals {
					return nil, errTooMany
				}
				for _, tail := range tails {
					next = append(next, head+tail)
				}
			}
			out = next
		}
		return out, nil
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			alt, err := expand(sub, lead)
			if err != nil {
				return nil, err
			}
			if len(out)+len(alt) > maxLiterals {
				return nil, errTooMany
			}
			out = append(out, alt...)
		}
		return out, nil
	case syntax.OpQuest:
		sub, err := expand(re.Sub[0], lead)
		if err != nil {
			return nil, err
		}
		if re.Flags&syntax.NonGreedy != 0 {
			return append([]string{""}, sub...), nil
		}
		return append(sub, ""), nil
	}
	return nil, fmt.Errorf("%s may match an unbounded set of strings", re)
}
