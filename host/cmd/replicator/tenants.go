package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/replicatorhq/replicator/host/config"
	"github.com/replicatorhq/replicator/host/engine"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// errHostWide says why run does not start: the errors are not a tenant
// file's (see config.LoadTenants).
const errHostWide = "the configuration's host-wide settings have errors (a file with a replicator, host or state block, " +
	"or the configuration itself); run does not start until they are fixed"

// tenantFiles is what `run` left out of its configuration folder: the
// files with errors, and the last good version of each file loaded.
type tenantFiles struct {
	mu       sync.Mutex
	leftOut  []config.LeftOut
	lastGood map[string][]byte
	logged   map[string]string // the errors logged of each file left out
}

// startConfig loads the configuration `run` starts with: every sound file
// of a folder, the tenant files with errors left out and logged. Errors
// in the host-wide settings stop it.
func (h *runHost) startConfig() (*config.Config, error) {
	a := h.a
	a.mu.Lock()
	defer a.mu.Unlock()
	cfg, t, diags := config.LoadTenants(a.opts.config, nil, nil)
	a.cfg = cfg
	if t == nil {
		a.log.Error(errHostWide, "errors", len(diags.Errs()))
		return nil, &engine.DiagnosticsError{Diags: diags}
	}
	for _, d := range diags {
		logDiagnostic(a.log, d)
	}
	h.tenants.update(a, cfg, t)
	return cfg, nil
}

// reloadTenants loads the configuration again for a reload, with the
// engine of it and the specs of its plugins: a tenant file with errors,
// against the plugins' schemas too, runs in its last good version or is
// left out. It returns false, after logging why, when the reload is
// refused as a whole.
func (h *runHost) reloadTenants() (*config.Config, *engine.Engine, map[string]contract.Spec, bool) {
	const refused = "the configuration could not be reloaded; the pipelines keep running on the last good configuration"
	var (
		eng   *engine.Engine
		specs map[string]contract.Spec
		fail  error
	)
	check := func(cfg *config.Config) hcl.Diagnostics {
		e, err := h.engine().Reload(cfg, h.runLog)
		if err == nil {
			var diags hcl.Diagnostics
			if specs, diags, err = checkConnectors(h.ctx, e); err == nil {
				eng = e
				return diags
			}
		}
		// Not a file's fault: the lock file, the host stopping. The load
		// ends at once, its configuration is not used.
		fail = err
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: err.Error()}}
	}
	cfg, t, diags := config.LoadTenants(h.a.opts.config, h.tenants.good(), check)
	if fail != nil {
		h.log.Error(refused, "error", fail)
		return nil, nil, nil, false
	}
	if t == nil {
		h.log.Error("the configuration's host-wide settings have errors; the pipelines keep running on the last good configuration until they are fixed",
			"errors", len(diags.Errs()))
		h.a.writeDiagnostics(cfg, diags)
		return nil, nil, nil, false
	}
	for _, d := range diags {
		logDiagnostic(h.log, d)
	}
	h.tenants.update(h.a, cfg, t)
	return cfg, eng, specs, true
}

// update takes t, what the last load left out and loaded, and logs each
// file's errors once: a file left out as it was at the load before is
// not logged again.
func (tf *tenantFiles) update(a *app, cfg *config.Config, t *config.Tenants) {
	tf.mu.Lock()
	defer tf.mu.Unlock()
	logged := map[string]string{}
	for _, l := range t.LeftOut {
		logged[l.File] = l.Diags.Error()
		if tf.logged[l.File] == logged[l.File] {
			continue
		}
		if l.Kept {
			a.log.Error("a configuration file has errors; its pipelines keep running as they were until it is fixed",
				"file", l.File, "errors", len(l.Diags.Errs()))
		} else {
			a.log.Error("a configuration file has errors; its pipelines are left out until it is fixed",
				"file", l.File, "errors", len(l.Diags.Errs()))
		}
		a.writeDiagnostics(cfg, l.Diags)
	}
	for file := range tf.logged {
		if _, still := logged[file]; !still && t.Sources[file] != nil {
			a.log.Info("a configuration file left out for its errors loads again", "file", file)
		}
	}
	tf.leftOut, tf.lastGood, tf.logged = t.LeftOut, t.Sources, logged
}

// good returns the last good version of each file loaded.
func (tf *tenantFiles) good() map[string][]byte {
	tf.mu.Lock()
	defer tf.mu.Unlock()
	return tf.lastGood
}

// rejected is how many files are left out, or run in their last good
// version, for their errors.
func (tf *tenantFiles) rejected() int {
	tf.mu.Lock()
	defer tf.mu.Unlock()
	return len(tf.leftOut)
}

// notice is what the console says of the files with errors, "" when none.
func (tf *tenantFiles) notice() string {
	tf.mu.Lock()
	defer tf.mu.Unlock()
	if len(tf.leftOut) == 0 {
		return ""
	}
	names := make([]string, len(tf.leftOut))
	for i, l := range tf.leftOut {
		how := "its pipelines left out"
		if l.Kept {
			how = "its last good version runs"
		}
		names[i] = fmt.Sprintf("%s (%s)", filepath.Base(l.File), how)
	}
	return fmt.Sprintf("Configuration files with errors: %s. The host's log shows the errors; the other files run as they are.",
		strings.Join(names, ", "))
}

// notice is what every console page says at its top: the state
// database's outage and the files with errors, "" for neither.
func (h *runHost) notice() string {
	var parts []string
	for _, n := range []string{h.storeNotice(), h.tenants.notice()} {
		if n != "" {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, " ")
}
