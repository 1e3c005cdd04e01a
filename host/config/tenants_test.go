package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func writeTenantFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func pipelineNames(c *Config) string {
	var names []string
	for _, p := range c.Pipelines {
		names = append(names, p.Name)
	}
	return strings.Join(names, ",")
}

const tenantShared = `
source "generator" "g" {
  count = 1
}
destination "jsonl" "shared" {
  path = "out.jsonl"
}
`

func tenantPipeline(name, source string) string {
	return `pipeline "` + name + `" {
  source      = ` + source + `
  destination = destination.jsonl.shared
  streams     = ["items"]
  interval    = "1m"
}
`
}

func TestLoadTenantsLeavesOutFilesWithErrors(t *testing.T) {
	dir := t.TempDir()
	writeTenantFiles(t, dir, map[string]string{
		"host.hcl":    "host {\n  max_concurrent_runs = 2\n}\n" + tenantShared,
		"a.hcl":       tenantPipeline("a", "source.generator.g"),
		"broken.hcl":  "source \"generator\" \"b\" {\n  count = 1\n}\n" + tenantPipeline("b", "source.generator.nope"),
		"follows.hcl": tenantPipeline("c", "source.generator.b"),
	})
	c, tenants, diags := LoadTenants(dir, nil, nil)
	if diags.HasErrors() || tenants == nil {
		t.Fatalf("diags %v", diags)
	}
	if got := pipelineNames(c); got != "a" {
		t.Errorf("pipelines %q, want a alone", got)
	}
	if len(tenants.LeftOut) != 2 || filepath.Base(tenants.LeftOut[0].File) != "broken.hcl" ||
		filepath.Base(tenants.LeftOut[1].File) != "follows.hcl" {
		t.Fatalf("left out %+v", tenants.LeftOut)
	}
	if why := tenants.LeftOut[1].Diags.Error(); !strings.Contains(why, "declared in broken.hcl") {
		t.Errorf("follows.hcl left out because %s; want it to name broken.hcl", why)
	}
	if _, ok := c.Source("generator.b"); ok {
		t.Error("the source block of a file left out was loaded")
	}

	// Broken after a good load: its last good version loads instead.
	fixed := "source \"generator\" \"b\" {\n  count = 1\n}\n" + tenantPipeline("b", "source.generator.b")
	writeTenantFiles(t, dir, map[string]string{"broken.hcl": fixed})
	c, tenants, diags = LoadTenants(dir, nil, nil)
	if diags.HasErrors() || pipelineNames(c) != "a,b,c" {
		t.Fatalf("fixed: pipelines %q, diags %v", pipelineNames(c), diags)
	}
	good := tenants.Sources
	writeTenantFiles(t, dir, map[string]string{"broken.hcl": "pipeline \"b\" {\n  source = \n}\n"})
	c, tenants, diags = LoadTenants(dir, good, nil)
	if diags.HasErrors() || pipelineNames(c) != "a,b,c" {
		t.Fatalf("broken again: pipelines %q, diags %v", pipelineNames(c), diags)
	}
	if len(tenants.LeftOut) != 1 || !tenants.LeftOut[0].Kept ||
		!strings.Contains(tenants.LeftOut[0].Diags.Error(), "Invalid expression") {
		t.Fatalf("left out %+v, want broken.hcl kept in its last good version with its error", tenants.LeftOut)
	}
	if string(tenants.Sources[tenants.LeftOut[0].File]) != fixed {
		t.Error("the next load is not given the last good version")
	}

	// Errors found by check leave their files out the same way.
	check := func(c *Config) hcl.Diagnostics {
		if p, ok := c.Pipeline("a"); ok {
			return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "refused", Subject: p.DeclRange.Ptr()}}
		}
		return nil
	}
	c, _, diags = LoadTenants(dir, nil, check)
	if diags.HasErrors() || pipelineNames(c) != "" {
		t.Fatalf("with check: pipelines %q, diags %v", pipelineNames(c), diags)
	}
}

func TestLoadTenantsStopsOnHostWideErrors(t *testing.T) {
	dir := t.TempDir()
	writeTenantFiles(t, dir, map[string]string{
		"host.hcl": "host {\n  max_concurrent_runs = \"many\"\n}\n" + tenantShared,
		"a.hcl":    tenantPipeline("a", "source.generator.nope"),
	})
	if _, tenants, diags := LoadTenants(dir, nil, nil); !diags.HasErrors() || tenants != nil {
		t.Fatalf("a broken host block: tenants %+v, diags %v", tenants, diags)
	}
	// One file given alone is the whole configuration.
	if _, tenants, diags := LoadTenants(filepath.Join(dir, "a.hcl"), nil, nil); !diags.HasErrors() || tenants != nil {
		t.Fatalf("a single file with errors: tenants %+v, diags %v", tenants, diags)
	}
}
