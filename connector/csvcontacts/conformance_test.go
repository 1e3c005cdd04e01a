package csvcontacts

import (
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/plugintest"
)

func TestConformance(t *testing.T) {
	path := writeFile(t, awkward)
	plugintest.SourceSuite{
		New:       func(log hclog.Logger) contract.Source { return New(log) },
		Config:    configFor(path, `, "default_region": "NL", "checkpoint_every": 2`),
		BadConfig: configFor(path, `, "default_region": "Holland"`),
	}.Run(t)
}
