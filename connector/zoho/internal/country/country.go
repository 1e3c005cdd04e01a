// Package country maps the free-text country of a CRM address ("Netherlands",
// "NLD", "Deutschland", "U.S.A.") to an ISO 3166-1 alpha-2 region code, so
// that phone numbers written without a country code can be read in the
// record's own region.
package country

import (
	"strings"
	"unicode"
)

// Index finds the region of a country name. Build it once with New; it is
// safe for concurrent use because it is never changed after New.
type Index struct {
	byName map[string]string
}

// New builds the index from the table below.
func New() *Index {
	ix := &Index{byName: make(map[string]string, 1200)}
	for _, line := range strings.Split(strings.TrimSpace(table), "\n") {
		parts := strings.Split(line, "|")
		code := strings.TrimSpace(parts[0])
		for _, name := range parts {
			if k := key(name); k != "" {
				ix.byName[k] = code
			}
		}
	}
	return ix
}

// Region returns the ISO 3166-1 alpha-2 code of the country named s, or ""
// when s names no country the index knows.
func (ix *Index) Region(s string) string {
	k := key(s)
	if k == "" {
		return ""
	}
	if r, ok := ix.byName[k]; ok {
		return r
	}
	if after, ok := strings.CutPrefix(k, "the "); ok {
		return ix.byName[after]
	}
	return ""
}

// key folds a name to lower case words without accents or punctuation.
func key(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if f, ok := foldRune(r); ok {
			b.WriteString(f)
			continue
		}
		switch r {
		case '.', '\'', '’':
			continue
		case '&':
			b.WriteString(" and ")
			continue
		}
		b.WriteRune(r)
	}
	words := strings.FieldsFunc(b.String(), func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(",-()/", r)
	})
	return strings.Join(words, " ")
}

// foldRune spells the accented letters that occur in country names without
// their accents.
func foldRune(r rune) (string, bool) {
	switch r {
	case 'á', 'à', 'â', 'ä', 'ã', 'å', 'ą':
		return "a", true
	case 'ç', 'č', 'ć':
		return "c", true
	case 'é', 'è', 'ê', 'ë', 'ę', 'ě':
		return "e", true
	case 'í', 'ì', 'î', 'ï', 'ı':
		return "i", true
	case 'ñ', 'ń':
		return "n", true
	case 'ó', 'ò', 'ô', 'ö', 'õ', 'ø':
		return "o", true
	case 'ú', 'ù', 'û', 'ü', 'ů':
		return "u", true
	case 'ý', 'ÿ':
		return "y", true
	case 'ś', 'š', 'ş':
		return "s", true
	case 'ž', 'ź', 'ż':
		return "z", true
	case 'ł':
		return "l", true
	case 'ř':
		return "r", true
	case 'ğ':
		return "g", true
	case 'ß':
		return "ss", true
	case 'æ':
		return "ae", true
	}
	return "", false
}
