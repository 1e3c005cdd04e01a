package config

import (
	"bytes"

	"github.com/hashicorp/hcl/v2"
)

// LoadStore reads from the configuration at path only where its state is
// kept: the replicator block's state_file and the state block, whose
// encryption keys it leaves unread. It is for commands that read the run
// history, such as `replicator status`, which need neither the pipelines
// nor the key: a folder of thousands of tenant files is not decoded, and
// only the files that mention "state" at all are parsed. The Config it
// returns holds nothing else.
func LoadStore(path string) (*Config, hcl.Diagnostics) {
	c, names, diags := configFiles(path)
	if diags.HasErrors() {
		return c, diags
	}
	// A file that does not say "state" has neither a state block nor a
	// state_file.
	files, diags := c.parseFiles(names, func(src []byte) bool { return !bytes.Contains(src, []byte("state")) }, nil)
	if diags.HasErrors() {
		return c, diags
	}
	x := newExpansion()
	schema := &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "replicator"}, {Type: "state"}}}
	for _, f := range files {
		content, _, d := f.Body.PartialContent(schema)
		diags = append(diags, d...)
		for _, b := range content.Blocks {
			ctx := evalContext(c.Dir, b.DefRange.Filename, x)
			if b.Type == "replicator" {
				diags = append(diags, c.decodeReplicator(b, ctx)...)
			} else {
				diags = append(diags, c.decodeStateBlock(b, ctx, false)...)
			}
		}
	}
	return c, explainFuncErrors(diags)
}
