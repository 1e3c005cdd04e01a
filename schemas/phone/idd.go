package phone

import (
	"errors"
	"fmt"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode/utf8"

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
// largest libphonenumber has lists 16 that may follow a 00.
const maxLiterals = 1000

var errTooMany = fmt.Errorf("it stands for more than %d strings", maxLiterals)

// literals returns the strings pattern matches that a text starting with
// lead may start with, in the order Go's regexp prefers them: alternatives
// in order, optional parts taken first unless lazy. So in a text starting
// with lead (and valid UTF-8), the pattern anchored at the start matches
// the first of them that the text starts with, if any. A pattern that
// stands for more than maxLiterals strings, or for no list at all (0*1,
// a ^ or \b inside), is refused.
func literals(pattern, lead string) ([]string, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, err
	}
	x := expander{lead: lead, done: map[part][]string{}}
	return x.expand(re.Simplify(), 0)
}

// fits reports whether a text starting with lead may start with s.
func fits(s, lead string) bool {
	return strings.HasPrefix(s, lead) || strings.HasPrefix(lead, s)
}

// expander lists the strings of one pattern's parts. A part is listed once
// for each point of lead it may start at, however many ways lead to it, so
// the work stays in proportion to the pattern and maxLiterals.
type expander struct {
	lead string
	done map[part][]string
}

// part is a part of the pattern starting at lead[at:].
type part struct {
	re *syntax.Regexp
	at int
}

// expand returns the strings re matches that fit lead[at:], in re's order
// of preference. The list returned may be shared: it is not to be changed.
func (x *expander) expand(re *syntax.Regexp, at int) ([]string, error) {
	if out, ok := x.done[part{re, at}]; ok {
		return out, nil
	}
	out, err := x.list(re, at)
	if err != nil {
		return nil, err
	}
	x.done[part{re, at}] = out
	return out, nil
}

func (x *expander) list(re *syntax.Regexp, at int) ([]string, error) {
	lead := x.lead[at:]
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
		size := 0
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if size += int(re.Rune[i+1]-re.Rune[i]) + 1; size > maxLiterals {
				return nil, errTooMany
			}
		}
		var out []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if s := string(r); utf8.ValidRune(r) && fits(s, lead) {
					out = append(out, s)
				}
			}
		}
		return out, nil
	case syntax.OpCapture:
		return x.expand(re.Sub[0], at)
	case syntax.OpConcat:
		out := []string{""}
		for _, sub := range re.Sub {
			var next []string
			for _, head := range out {
				// head fits lead: what follows it must fit the rest of lead.
				tails, err := x.expand(sub, min(at+len(head), len(x.lead)))
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
			alt, err := x.expand(sub, at)
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
		sub, err := x.expand(re.Sub[0], at)
		if err != nil {
			return nil, err
		}
		if len(sub) >= maxLiterals {
			return nil, errTooMany
		}
		if re.Flags&syntax.NonGreedy != 0 {
			return slices.Concat([]string{""}, sub), nil
		}
		return slices.Concat(sub, []string{""}), nil
	}
	return nil, fmt.Errorf("%s stands for no list of strings", re)
}
