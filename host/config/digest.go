package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"slices"

	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Digest is a digest of the block's attributes as they evaluate now, the
// values env() and file() read included, without its plugin's schema: two
// hosts with the same configuration and environment get the same, and a
// key changed outside the file changes it. Only the digest leaves here,
// from which no value can be read back. An attribute that does not
// evaluate is an error.
func (c *Connector) Digest() (string, error) {
	attrs, diags := c.Body.JustAttributes()
	if diags.HasErrors() {
		return "", diags
	}
	ctx := evalContext(c.dir, c.DeclRange.Filename, newExpansion())
	sum := sha256.New()
	_, _ = sum.Write([]byte(c.Ref()))
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		v, d := attrs[name].Expr.Value(ctx)
		if d.HasErrors() {
			return "", d
		}
		if !v.IsWhollyKnown() {
			return "", errors.New(name + " has no known value")
		}
		b, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			return "", err
		}
		_, _ = sum.Write([]byte{0})
		_, _ = sum.Write([]byte(name))
		_, _ = sum.Write([]byte{0})
		_, _ = sum.Write(b)
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}
