package config

import (
	"encoding/json"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

func ctyType(t contract.AttrType) (cty.Type, bool) {
	switch t {
	case contract.TypeString:
		return cty.String, true
	case contract.TypeNumber:
		return cty.Number, true
	case contract.TypeBool:
		return cty.Bool, true
	case contract.TypeStringList:
		return cty.List(cty.String), true
	case contract.TypeStringMap:
		return cty.Map(cty.String), true
	}
	return cty.NilType, false
}

// Decode decodes the connector's block against the configuration schema its
// plugin reported, and returns the configuration as a JSON object for the
// plugin. Absent attributes take their default, or are left out when they
// have none.
//
// A sensitive attribute written as a literal string yields a warning, and
// no diagnostic carries a sensitive value: WriteDiagnostics prints no source
// line that holds one. The block's env() and file() calls are held to
// MaxExpansionPerFile again, as what file() reads may have grown since Load.
func (c *Connector) Decode(spec contract.Spec) (json.RawMessage, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	obj := hcldec.ObjectSpec{}
	types := map[string]cty.Type{}
	for _, a := range spec.Config {
		ty, ok := ctyType(a.Type)
		if !ok {
			diags = append(diags, c.pluginFault(spec,
				fmt.Sprintf("declares attribute %q with type %q, which replicator does not know", a.Name, a.Type)))
			continue
		}
		types[a.Name] = ty
		obj[a.Name] = &hcldec.AttrSpec{Name: a.Name, Type: ty, Required: a.Required}
	}
	if diags.HasErrors() {
		return nil, diags
	}

	// A first look at the attributes as written, for what hcldec does not
	// check. Its diagnostics repeat those of hcldec.Decode, so they are dropped.
	schema := &hcl.BodySchema{}
	for _, a := range spec.Config {
		schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: a.Name})
	}
	written, _, _ := c.Body.PartialContent(schema)
	var secrets []hcl.Range // attributes whose source text holds a secret
	for _, a := range spec.Config {
		attr, ok := written.Attributes[a.Name]
		if !ok || !a.Sensitive {
			continue
		}
		v, d := attr.Expr.Value(nil)
		if d.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
			continue // computed, e.g. by env() or file()
		}
		secrets = append(secrets, attr.Range)
		if v.Type() == cty.String && v.AsString() != "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  fmt.Sprintf("Secret %q written in the configuration", a.Name),
				Detail: fmt.Sprintf("%s is sensitive, and its value is written in the file, where it ends up in version control and backups. "+
					"Read it from the environment with env(\"NAME\") or from a file with file(\"path\") instead.", a.Name),
				Subject: attr.NameRange.Ptr(),
			})
		}
	}

	val, d := hcldec.Decode(c.Body, obj, evalContext(c.dir, c.DeclRange.Filename, newExpansion()))
	diags = append(diags, explainFuncErrors(d)...)

	out := map[string]json.RawMessage{}
	for _, a := range spec.Config {
		ty := types[a.Name]
		v := cty.NullVal(ty)
		if !val.IsNull() && val.IsKnown() && val.Type().IsObjectType() && val.Type().HasAttribute(a.Name) {
			v = val.GetAttr(a.Name)
		}
		if v.IsNull() {
			if attr, ok := written.Attributes[a.Name]; ok && a.Required {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  fmt.Sprintf("Attribute %q is null", a.Name),
					Detail:   fmt.Sprintf("The %s %q connector needs a value for %s. Give it one.", c.Kind, c.Type, a.Name),
					Subject:  attr.Expr.Range().Ptr(),
				})
				continue
			}
			if a.Default == nil {
				continue
			}
			dv, err := ctyjson.Unmarshal(a.Default, ty)
			if err != nil {
				diags = append(diags, c.pluginFault(spec,
					fmt.Sprintf("gives attribute %q a default that is not a %s (%v)", a.Name, a.Type, err)))
				continue
			}
			v = dv
		}
		if v.IsNull() || !v.IsWhollyKnown() {
			continue
		}
		b, err := ctyjson.Marshal(v, ty)
		if err != nil {
			diags = append(diags, c.pluginFault(spec,
				fmt.Sprintf("attribute %q could not be encoded as JSON (%v)", a.Name, err)))
			continue
		}
		out[a.Name] = b
	}
	diags = hideSecretLines(diags, secrets)
	if diags.HasErrors() {
		return nil, diags
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, append(diags, c.pluginFault(spec, fmt.Sprintf("configuration could not be encoded as JSON (%v)", err)))
	}
	return raw, diags
}

// pluginFault reports a plugin whose schema the host cannot use: nothing
// in the configuration can fix it, so the detail points at the plugin.
func (c *Connector) pluginFault(spec contract.Spec, what string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("The %s plugin %q has an unusable configuration schema", c.Kind, c.Type),
		Detail: fmt.Sprintf("The plugin (version %q) %s. Install a fixed version of the plugin, or report this to its author.",
			spec.Version, what),
		Subject: c.DeclRange.Ptr(),
	}
}
