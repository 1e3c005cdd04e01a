package main

import (
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/replicatorhq/replicator/host/config"
)

// writeDiagnostics shows configuration diagnostics: for a person under
// -log-format text, with their source lines (Config.WriteDiagnostics);
// under -log-format json as one log line each, so that every line of
// stderr stays JSON for the log shipper.
func (a *app) writeDiagnostics(cfg *config.Config, diags hcl.Diagnostics) {
	if a.opts.logFormat == logFormatJSON {
		for _, d := range diags {
			logDiagnostic(a.log, d)
		}
		return
	}
	if err := cfg.WriteDiagnostics(a.stderr, diags); err != nil {
		a.log.Error(diags.Error())
	}
}

// logDiagnostic logs one diagnostic as one line: an error or a warning
// with the file, line and column it is about, its summary and its detail.
// Source lines are never logged: one may hold a secret.
func logDiagnostic(log hclog.Logger, d *hcl.Diagnostic) {
	level, msg := hclog.Error, "configuration error"
	if d.Severity == hcl.DiagWarning {
		level, msg = hclog.Warn, "configuration warning"
	}
	var args []any
	if s := d.Subject; s != nil {
		args = append(args, "file", s.Filename, "line", s.Start.Line, "column", s.Start.Column)
	}
	args = append(args, "summary", d.Summary)
	if d.Detail != "" {
		args = append(args, "detail", d.Detail)
	}
	log.Log(level, msg, args...)
}
