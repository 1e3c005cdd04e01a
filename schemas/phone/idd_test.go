package phone

import (
	"regexp"
	"slices"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// Every international prefix libphonenumber has, read as a list of digit
// strings, stands for what its pattern matches among 0, 00 and 00 with up
// to four more digits (the longest it has adds three), and a text starting
// with each string, and then any digit, has the string the pattern prefers.
func TestLongPrefixesMatchTheirPatterns(t *testing.T) {
	if prefixesErr != nil {
		t.Fatal(prefixesErr)
	}
	texts := []string{"", "0", "00"}
	for n, width := 10, 1; width <= 4; n, width = n*10, width+1 {
		for i := range n {
			texts = append(texts, "00"+leftPad(strconv.Itoa(i), width))
		}
	}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	long := 0
	for _, m := range coll.GetMetadata() {
		p := m.GetInternationalPrefix()
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		prefixes, err := literals(p, "00")
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		whole := regexp.MustCompile("^(?:" + p + ")$")
		for _, s := range texts {
			if whole.MatchString(s) != slices.Contains(prefixes, s) {
				t.Fatalf("%s: %q matches %v, its strings are %q", p, s, whole.MatchString(s), prefixes)
			}
		}
		start := regexp.MustCompile("^(?:" + p + ")")
		takesMore := false
		for _, l := range prefixes {
			for _, s := range []string{l, l + "0", l + "1", l + "2", l + "3", l + "4", l + "5", l + "6", l + "7", l + "8", l + "9"} {
				got, found := firstPrefix(prefixes, s)
				loc := start.FindStringIndex(s)
				if !found || loc == nil || got != s[:loc[1]] {
					t.Fatalf("%s in %s: %q (%v) from %q, the pattern matches %v", p, s, got, found, prefixes, loc)
				}
				takesMore = takesMore || len(got) > 2
			}
		}
		if takesMore {
			long++
			if !slices.ContainsFunc(longPrefixes, func(l []string) bool { return slices.Equal(l, prefixes) }) {
				t.Errorf("%s takes more than 00, but is not among the long prefixes", p)
			}
		}
	}
	if long != len(longPrefixes) {
		t.Errorf("%d prefixes take more than 00, %d long prefixes", long, len(longPrefixes))
	}
}

func leftPad(s string, width int) string {
	for len(s) < width {
		s = "0" + s
	}
	return s
}

func TestLiterals(t *testing.T) {
	for _, c := range []struct {
		pattern, lead string
		want          []string
		err           string
	}{
		{pattern: "0(?:0|01)", lead: "00", want: []string{"00", "001"}}, // in the pattern's order
		{pattern: "00(?:1[2-4])?", lead: "00", want: []string{"0012", "0013", "0014", "00"}},
		{pattern: "00(?:1[2-4])??", lead: "00", want: []string{"00", "0012", "0013", "0014"}},
		{pattern: "0{2,3}", lead: "", want: []string{"000", "00"}},
		{pattern: "(0)(1|2)", lead: "", want: []string{"01", "02"}},
		{pattern: "1(?:[12]\\d|79)\\d\\d00|0[0-2]", lead: "00", want: []string{"00"}}, // 2,100 strings, none after 00
		{pattern: "0*1", lead: "00", err: "0* stands for no list of strings"},
		{pattern: "0[^5]", lead: "", err: "it stands for more than 1000 strings"},
		{pattern: "\\d\\d\\d\\d", lead: "", err: "it stands for more than 1000 strings"},
		{pattern: "(?i)a", lead: "", err: "it ignores case"},
		{pattern: "0\\b1", lead: "", err: "\\b stands for no list of strings"},
		{pattern: "[\\x{d7fe}-\\x{d801}]", lead: "", want: []string{"\ud7fe", "\ud7ff"}}, // no surrogates
		{pattern: "0(", lead: "", err: "error parsing regexp: missing closing ): `0(`"},
	} {
		got, err := literals(c.pattern, c.lead)
		if !slices.Equal(got, c.want) || (err == nil) != (c.err == "") || err != nil && err.Error() != c.err {
			t.Errorf("literals(%q, %q) = %q, %v; want %q, %s", c.pattern, c.lead, got, err, c.want, c.err)
		}
	}
}

// FuzzLiterals holds literals to Go's regexp for any pattern it accepts:
// each string it gives fits lead and is a whole match of the pattern, and
// in a text starting with lead the first of them the text starts with is
// what the pattern matches at the start.
func FuzzLiterals(f *testing.F) {
	f.Fuzz(func(t *testing.T, pattern, lead, rest string) {
		prefixes, err := literals(pattern, lead)
		if err != nil {
			return
		}
		// Not "^(?:" + pattern + ")": a \Q in pattern would quote the ")".
		first, err := regexp.Compile(pattern)
		if err != nil {
			t.Fatalf("literals read %q, regexp refuses it: %v", pattern, err)
		}
		longest := regexp.MustCompile(pattern)
		longest.Longest()
		for _, s := range prefixes {
			if loc := longest.FindStringIndex(s); !fits(s, lead) || loc == nil || loc[0] != 0 || loc[1] != len(s) {
				t.Fatalf("%q with lead %q: %q in %q", pattern, lead, s, prefixes)
			}
		}
		text := lead + rest
		if !utf8.ValidString(text) {
			return
		}
		got, found := firstPrefix(prefixes, text)
		// The leftmost match starts at 0 whenever one can.
		loc := first.FindStringIndex(text)
		atStart := loc != nil && loc[0] == 0
		if found != atStart || found && got != text[:loc[1]] {
			t.Fatalf("%q in %q: %q (%v) from %q, the pattern matches %v", pattern, text, got, found, prefixes, loc)
		}
	})
}
