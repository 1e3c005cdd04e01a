package config

import (
	"bytes"
	"maps"
	"os"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// hostWideBlocks are the block types whose settings are the whole host's.
var hostWideBlocks = []string{"replicator", "host", "state"}

// Tenants is what LoadTenants left out of a configuration folder, and the
// files it loaded.
type Tenants struct {
	// LeftOut are the files with errors, in name order.
	LeftOut []LeftOut
	// Sources holds each file loaded, by name, as it was read: the last
	// good versions to pass to the next LoadTenants.
	Sources map[string][]byte
}

// LeftOut is a tenant file with errors.
type LeftOut struct {
	File  string          // its path
	Diags hcl.Diagnostics // the errors of the file as it is on disk
	// Kept says that the file's last good version was loaded instead, so
	// its pipelines run as they were; otherwise they are left out.
	Kept bool
}

// LoadTenants loads a configuration folder for `replicator run`, where
// each file may be a tenant's: a file with errors is left out, with its
// pipelines and connector blocks, and the rest is loaded. A file whose
// pipeline names a connector block of a file left out is left out too. A
// file with errors whose version in lastGood (Tenants.Sources of the
// load before) loads is loaded in that version instead. check, when set,
// finds further errors in a configuration that loaded; they leave their
// files out the same way.
//
// Errors in a file holding a replicator, host or state block, errors not
// in any file, and any error when path is a single file, are the whole
// configuration's: LoadTenants then returns them as Load does, with a nil
// Tenants.
func LoadTenants(path string, lastGood map[string][]byte,
	check func(*Config) hcl.Diagnostics) (*Config, *Tenants, hcl.Diagnostics) {
	c, diags := Load(path)
	if info, err := os.Stat(path); err != nil || !info.IsDir() {
		if !diags.HasErrors() && check != nil {
			diags = append(diags, check(c)...)
		}
		if diags.HasErrors() {
			return c, nil, diags
		}
		return c, &Tenants{Sources: c.sources(nil, nil)}, diags
	}
	sources := map[string][]byte{} // last good versions loaded instead
	leftOut := map[string]bool{}
	onDisk := map[string]hcl.Diagnostics{} // the errors of each file with errors, as first found
	for {
		if !diags.HasErrors() && check != nil {
			diags = append(diags, check(c)...)
		}
		if !diags.HasErrors() {
			t := &Tenants{Sources: c.sources(sources, leftOut)}
			for _, name := range slices.Sorted(maps.Keys(onDisk)) {
				_, kept := sources[name]
				t.LeftOut = append(t.LeftOut, LeftOut{File: name, Diags: onDisk[name], Kept: kept})
			}
			return c, t, diags
		}
		byFile := map[string]hcl.Diagnostics{}
		for _, d := range diags {
			if d.Severity != hcl.DiagError {
				continue
			}
			name := diagFile(d)
			if name == "" || c.hostWide(name) {
				return c, nil, diags
			}
			byFile[name] = append(byFile[name], d)
		}
		for name, d := range byFile {
			if _, ok := onDisk[name]; !ok {
				onDisk[name] = d
			}
			_, using := sources[name]
			if old := lastGood[name]; !using && old != nil && !bytes.Equal(old, c.source(name)) {
				sources[name] = old
				continue
			}
			delete(sources, name)
			leftOut[name] = true
		}
		c, diags = load(path, sources, leftOut)
	}
}

// hostWide says whether the file called name holds host-wide settings, as
// far as it could be parsed.
func (c *Config) hostWide(name string) bool {
	f := c.files[name]
	if f == nil {
		return false
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return false
	}
	return slices.ContainsFunc(body.Blocks, func(b *hclsyntax.Block) bool { return slices.Contains(hostWideBlocks, b.Type) })
}

// source returns the text of the file called name as it was parsed.
func (c *Config) source(name string) []byte {
	if f := c.files[name]; f != nil {
		return f.Bytes
	}
	return nil
}

// sources returns the text of every file loaded, those in replaced as
// given there, those in leftOut not.
func (c *Config) sources(replaced map[string][]byte, leftOut map[string]bool) map[string][]byte {
	out := map[string][]byte{}
	for name, f := range c.files {
		switch {
		case leftOut[name]:
		case replaced[name] != nil:
			out[name] = replaced[name]
		default:
			out[name] = f.Bytes
		}
	}
	return out
}

// diagFile returns the file a diagnostic is about, "" when none.
func diagFile(d *hcl.Diagnostic) string {
	if d.Subject == nil {
		return ""
	}
	return d.Subject.Filename
}

// fileName returns the name a parsed file's diagnostics carry.
func fileName(f *hcl.File) string {
	if body, ok := f.Body.(*hclsyntax.Body); ok {
		return body.SrcRange.Filename
	}
	return ""
}

// connectorBlocks returns the well-formed source and destination blocks
// of f, as far as it could be parsed.
func connectorBlocks(f *hcl.File) []*hclsyntax.Block {
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	var out []*hclsyntax.Block
	for _, b := range body.Blocks {
		if (b.Type == KindSource || b.Type == KindDestination) && len(b.Labels) == 2 {
			out = append(out, b)
		}
	}
	return out
}
