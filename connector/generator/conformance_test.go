package generator

import (
	"encoding/json"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/plugintest"
)

func TestConformance(t *testing.T) {
	plugintest.SourceSuite{
		New:       func(log hclog.Logger) contract.Source { return New(log) },
		Config:    json.RawMessage(`{"count":2500,"record_size":300,"streams":["items","others"],"checkpoint_every":1000}`),
		BadConfig: json.RawMessage(`{"count":-1}`),
	}.Run(t)
}
