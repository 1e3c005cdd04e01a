package main

import (
	"fmt"
	"strings"
	"testing"
)

// validate reports every error of every file, each plugin's schema
// errors and a missing plugin's included, launching each plugin binary
// once, and exits 1.
func TestValidateReportsEveryError(t *testing.T) {
	files := map[string]string{}
	for i := range 40 {
		files[fmt.Sprintf("t%02d.hcl", i)] = tenantHCL(fmt.Sprintf("t%02d", i))
	}
	// Errors found by the plugins' schemas, in two files each.
	files["t03.hcl"] = strings.Replace(files["t03.hcl"], "count = 20", "count = 20\n  colour = \"red\"", 1)
	files["t17.hcl"] = strings.Replace(files["t17.hcl"], "count = 20", "count = \"many\"", 1)
	files["t29.hcl"] = strings.Replace(files["t29.hcl"], `path = "t29.jsonl"`, `path = "t29.jsonl"`+"\n  mode = 1", 1)
	// One found by the configuration: a pipeline naming no source.
	files["t31.hcl"] = strings.Replace(files["t31.hcl"], "source.generator.t31", "source.generator.nope", 1)
	// A plugin that is not there, used by two blocks: one error.
	for _, n := range []string{"t35", "t36"} {
		files[n+".hcl"] = strings.ReplaceAll(files[n+".hcl"], "generator", "missing")
	}
	w := newWorkspace(t, files)

	code, _, stderr := w.run("validate", "-log-level", "debug")
	if code != 1 {
		t.Fatalf("validate: exit %d, want 1\n%s", code, stderr)
	}
	for _, want := range []string{
		"t03.hcl line 4", "colour",
		"t17.hcl line 3", "count",
		"t29.hcl line 7", "mode",
		"t31.hcl line 9", "nope",
		"t35.hcl line 2", `Cannot check source "missing" blocks`, `The 2 source "missing" block(s) were not checked`,
		"the configuration has 5 error(s) in 5 file(s)",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("validate's report lacks %q:\n%s", want, stderr)
		}
	}
	if n := strings.Count(stderr, "starting plugin"); n != 2 {
		t.Errorf("%d plugin launches for 78 blocks of two plugins, want 2", n)
	}

	// In JSON, one line per error and one for the summary, all JSON.
	code, _, stderr = w.run("validate", "-log-format", "json")
	lines := jsonLines(t, stderr)
	if code != 1 || len(lines) != 6 {
		t.Fatalf("validate -log-format json: exit %d, %d lines, want 1 and 6:\n%s", code, len(lines), stderr)
	}
}
