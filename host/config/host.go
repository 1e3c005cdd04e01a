package config

import (
	"fmt"
	"math/big"
	"runtime"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Defaults of the host block.
const (
	// DefaultCallTimeout bounds each control call to a plugin: Spec,
	// Authorize, Check and Discover.
	DefaultCallTimeout = 2 * time.Minute
	// DefaultStallTimeout is how long a run may go without progress (no
	// record, checkpoint or acknowledgement) before it is ended as failed.
	DefaultStallTimeout = 10 * time.Minute
)

// Host holds the settings of the host process itself, from the host block.
type Host struct {
	// MaxConcurrentRuns bounds the runs in flight under `replicator run`.
	MaxConcurrentRuns int
	CallTimeout       time.Duration
	StallTimeout      time.Duration
}

// DefaultHost returns the settings a configuration without a host block has.
func DefaultHost() Host {
	return Host{
		MaxConcurrentRuns: DefaultMaxConcurrentRuns(),
		CallTimeout:       DefaultCallTimeout,
		StallTimeout:      DefaultStallTimeout,
	}
}

// DefaultMaxConcurrentRuns is max_concurrent_runs when the host block does
// not set it: two runs per CPU. A run is mostly waiting on the network, and
// each run in flight costs two plugin processes.
func DefaultMaxConcurrentRuns() int {
	return 2 * runtime.NumCPU()
}

func hostSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "max_concurrent_runs"},
			{Name: "call_timeout"},
			{Name: "stall_timeout"},
		},
	}
}

func (c *Config) decodeHost(b *hcl.Block, ctx *hcl.EvalContext) hcl.Diagnostics {
	content, diags := b.Body.Content(hostSchema())
	if attr, ok := content.Attributes["max_concurrent_runs"]; ok {
		n, d := decodeCount(attr, ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			c.Host.MaxConcurrentRuns = n
		}
	}
	for name, dst := range map[string]*time.Duration{
		"call_timeout":  &c.Host.CallTimeout,
		"stall_timeout": &c.Host.StallTimeout,
	} {
		attr, ok := content.Attributes[name]
		if !ok {
			continue
		}
		v, d := decodeDuration(attr, ctx, time.Second)
		diags = append(diags, d...)
		if !d.HasErrors() {
			*dst = v
		}
	}
	return diags
}

// decodeCount decodes a whole number of at least 1.
func decodeCount(attr *hcl.Attribute, ctx *hcl.EvalContext) (int, hcl.Diagnostics) {
	v, diags := attr.Expr.Value(ctx)
	if diags.HasErrors() {
		return 0, diags
	}
	invalid := append(diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid %s", attr.Name),
		Detail:   fmt.Sprintf("%s takes a whole number of at least 1, such as 8.", attr.Name),
		Subject:  attr.Expr.Range().Ptr(),
	})
	n, err := convert.Convert(v, cty.Number)
	if err != nil || n.IsNull() || !n.IsKnown() {
		return 0, invalid
	}
	bf := n.AsBigFloat()
	if !bf.IsInt() || bf.Cmp(big.NewFloat(1)) < 0 || bf.Cmp(big.NewFloat(1<<20)) > 0 {
		return 0, invalid
	}
	i, _ := bf.Int64()
	return int(i), diags
}
