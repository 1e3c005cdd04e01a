package config

import (
	"fmt"
	"io"

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

// WriteDiagnostics prints diags for a person: severity, summary, the file,
// line and source snippet of each subject, and the detail. Source lines
// holding a secret are left out.
func (c *Config) WriteDiagnostics(w io.Writer, diags hcl.Diagnostics) error {
	var files map[string]*hcl.File
	if c != nil {
		files = c.files
	}
	tw := hcl.NewDiagnosticTextWriter(w, files, 0, false)
	for _, d := range diags {
		if _, hide := hcl.DiagnosticExtra[hiddenSource](d); hide && d.Subject != nil {
			if err := writeHidden(w, d); err != nil {
				return err
			}
			continue
		}
		if err := tw.WriteDiagnostic(d); err != nil {
			return fmt.Errorf("writing diagnostics: %w", err)
		}
	}
	return nil
}

func writeHidden(w io.Writer, d *hcl.Diagnostic) error {
	severity := "Error"
	if d.Severity == hcl.DiagWarning {
		severity = "Warning"
	}
	_, err := fmt.Fprintf(w, "%s: %s\n\n  on %s line %d:\n  (source line not shown: it holds a sensitive value)\n\n",
		severity, d.Summary, d.Subject.Filename, d.Subject.Start.Line)
	if err == nil && d.Detail != "" {
		_, err = fmt.Fprintf(w, "%s\n\n", d.Detail)
	}
	if err != nil {
		return fmt.Errorf("writing diagnostics: %w", err)
	}
	return nil
}
