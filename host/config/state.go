package config

import (
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// DefaultTakeoverAfter is the state block's takeover_after when unset:
// how long a pipeline stays with a host that stopped answering before
// another host may take it over. The other hosts try a held pipeline again
// every quarter of it, so that with 48 s a pipeline moves on within a
// minute.
const DefaultTakeoverAfter = 48 * time.Second

// State holds the state block: the database several hosts share instead
// of the state file, or, without one, the key that encrypts the state
// file's credentials. Its values are secrets: they are never printed.
type State struct {
	// Postgres is the connection string or URL of the database several
	// hosts share; empty means the state file.
	Postgres string
	// EncryptionKey seals credentials at rest, in the database or the
	// state file; PreviousEncryptionKey, when set, is accepted for reading
	// during a key rotation. Every state block has an EncryptionKey.
	EncryptionKey         string
	PreviousEncryptionKey string
	TakeoverAfter         time.Duration
	// DeclRange is where the block is; nil when there is none.
	DeclRange *hcl.Range
}

func stateSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "postgres"},
			{Name: "encryption_key", Required: true},
			{Name: "previous_encryption_key"},
			{Name: "takeover_after"},
		},
	}
}

// stateKeys are the state block's attributes that LoadStore leaves unread.
var stateKeys = []string{"encryption_key", "previous_encryption_key"}

func (c *Config) decodeState(b *hcl.Block, ctx *hcl.EvalContext) hcl.Diagnostics {
	return c.decodeStateBlock(b, ctx, true)
}

// decodeStateBlock decodes the state block, its encryption keys only when
// keys is set.
func (c *Config) decodeStateBlock(b *hcl.Block, ctx *hcl.EvalContext, keys bool) hcl.Diagnostics {
	if c.State.DeclRange != nil {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Duplicate state block",
			Detail:   fmt.Sprintf("A state block is already declared at %s. Keep one and merge the settings into it.", c.State.DeclRange),
			Subject:  b.DefRange.Ptr(),
		}}
	}
	c.State.DeclRange = b.DefRange.Ptr()
	c.State.TakeoverAfter = DefaultTakeoverAfter
	schema := stateSchema()
	if !keys {
		schema.Attributes = slices.DeleteFunc(schema.Attributes, func(a hcl.AttributeSchema) bool { return slices.Contains(stateKeys, a.Name) })
	}
	content, _, diags := b.Body.PartialContent(schema)
	if keys {
		content, diags = b.Body.Content(schema)
	}
	var secrets []hcl.Range
	for name, dst := range map[string]*string{
		"postgres":                &c.State.Postgres,
		"encryption_key":          &c.State.EncryptionKey,
		"previous_encryption_key": &c.State.PreviousEncryptionKey,
	} {
		attr, ok := content.Attributes[name]
		if !ok {
			continue
		}
		secrets = append(secrets, attr.Range)
		v, d := attr.Expr.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		s, err := convert.Convert(v, cty.String)
		if err != nil || s.IsNull() || !s.IsKnown() || (s.AsString() == "" && name != "previous_encryption_key") {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid " + name,
				Detail:   stateDetail[name],
				Subject:  attr.Expr.Range().Ptr(),
			})
			continue
		}
		*dst = s.AsString()
	}
	if attr, ok := content.Attributes["takeover_after"]; ok {
		d, dd := decodeDuration(attr, ctx, time.Second)
		diags = append(diags, dd...)
		if !dd.HasErrors() && d > 0 {
			c.State.TakeoverAfter = d
		}
	}
	return hideSecretLines(diags, secrets)
}

var stateDetail = map[string]string{
	"postgres":                `postgres takes the database's connection URL as a string, such as env("REPLICATOR_DATABASE_URL").`,
	"encryption_key":          `encryption_key takes 32 random bytes in base64 or hex, such as env("REPLICATOR_STATE_KEY"); make one with openssl rand -base64 32. It encrypts the stored credentials, in the database or, without postgres, in the state file.`,
	"previous_encryption_key": `previous_encryption_key takes the key credentials were stored with before a rotation, written like encryption_key.`,
}
