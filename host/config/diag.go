package config

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// hiddenSource marks a diagnostic whose source lines hold a secret, so that
// WriteDiagnostics prints its location but not the lines.
type hiddenSource struct {
	wrapped any
}

func (h hiddenSource) UnwrapDiagnosticExtra() any { return h.wrapped }

// hideSecretLines marks every diagnostic whose printed snippet would show a
// line of one of the secrets ranges.
func hideSecretLines(diags hcl.Diagnostics, secrets []hcl.Range) hcl.Diagnostics {
	for _, d := range diags {
		if d.Subject == nil {
			continue
		}
		shown := *d.Subject
		if d.Context != nil {
			shown = hcl.RangeOver(shown, *d.Context)
		}
		for _, s := range secrets {
			if s.Filename == shown.Filename && s.Start.Line <= shown.End.Line && shown.Start.Line <= s.End.Line {
				d.Extra = hiddenSource{wrapped: d.Extra}
				break
			}
		}
	}
	return diags
}

// Bounds on what WriteDiagnostics prints, so that a hostile file cannot
// flood a terminal or the host's log: a dense file can hold thousands of
// errors, and one line of it a megabyte.
const (
	// maxPrinted is how many diagnostics are printed; the rest are counted.
	maxPrinted = 20
	// maxSnippet is the most source printed for one diagnostic, in bytes
	// of whole lines; a longer snippet is left out, its position kept.
	maxSnippet = 4 << 10
)

// WriteDiagnostics prints diags for a person, in the order of their
// places in the files: severity, summary, the file, line and source
// snippet of each subject, and the detail. Source lines holding a secret
// are left out, and so are snippets longer than 4 KiB; past the first 20
// diagnostics, only how many more there are.
func (c *Config) WriteDiagnostics(w io.Writer, diags hcl.Diagnostics) error {
	var files map[string]*hcl.File
	if c != nil {
		files = c.files
	}
	diags = slices.Clone(diags)
	slices.SortStableFunc(diags, byPlace)
	tw := hcl.NewDiagnosticTextWriter(w, files, 0, false)
	for i, d := range diags {
		if i == maxPrinted {
			return writeRest(w, diags[i:])
		}
		var err error
		if _, hide := hcl.DiagnosticExtra[hiddenSource](d); hide && d.Subject != nil {
			err = writeWithoutSource(w, d, "source line not shown: it holds a sensitive value")
		} else if n := snippetSize(files, d); n > maxSnippet {
			err = writeWithoutSource(w, d, fmt.Sprintf("source not shown: its lines hold %s, more than %s", sizeText(int64(n)), sizeText(maxSnippet)))
		} else if err = tw.WriteDiagnostic(d); err != nil {
			err = fmt.Errorf("writing diagnostics: %w", err)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// byPlace orders diagnostics by file and place, those without one first.
func byPlace(a, b *hcl.Diagnostic) int {
	switch {
	case a.Subject == nil || b.Subject == nil:
		return cmp.Compare(boolInt(a.Subject != nil), boolInt(b.Subject != nil))
	case a.Subject.Filename != b.Subject.Filename:
		return strings.Compare(a.Subject.Filename, b.Subject.Filename)
	}
	return cmp.Compare(a.Subject.Start.Byte, b.Subject.Start.Byte)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// snippetSize is how many bytes of whole lines d's snippet would show.
func snippetSize(files map[string]*hcl.File, d *hcl.Diagnostic) int {
	if d.Subject == nil {
		return 0
	}
	f := files[d.Subject.Filename]
	if f == nil {
		return 0
	}
	r := *d.Subject
	if d.Context != nil {
		r = hcl.RangeOver(r, *d.Context)
	}
	src := f.Bytes
	start := min(max(r.Start.Byte, 0), len(src))
	end := min(max(r.End.Byte, start), len(src))
	from := bytes.LastIndexByte(src[:start], '\n') + 1
	to := len(src)
	if i := bytes.IndexByte(src[end:], '\n'); i >= 0 {
		to = end + i
	}
	return to - from
}

func writeWithoutSource(w io.Writer, d *hcl.Diagnostic, why string) error {
	severity := "Error"
	if d.Severity == hcl.DiagWarning {
		severity = "Warning"
	}
	_, err := fmt.Fprintf(w, "%s: %s\n\n  on %s line %d:\n  (%s)\n\n",
		severity, d.Summary, d.Subject.Filename, d.Subject.Start.Line, why)
	if err == nil && d.Detail != "" {
		_, err = fmt.Fprintf(w, "%s\n\n", d.Detail)
	}
	if err != nil {
		return fmt.Errorf("writing diagnostics: %w", err)
	}
	return nil
}

// writeRest says how many of rest are not printed.
func writeRest(w io.Writer, rest hcl.Diagnostics) error {
	_, err := fmt.Fprintf(w, "%d more diagnostics, %d of them errors, are not shown; fix the ones above first.\n\n", len(rest), len(rest.Errs()))
	if err != nil {
		return fmt.Errorf("writing diagnostics: %w", err)
	}
	return nil
}
