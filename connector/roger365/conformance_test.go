package roger365

import (
	"fmt"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/plugintest"
	"github.com/replicatorhq/replicator/schemas"
)

func TestConformance(t *testing.T) {
	f := newFixture(t)
	plugintest.DestinationSuite{
		New:       func(log hclog.Logger) contract.Destination { return New(log) },
		Config:    f.config(nil),
		BadConfig: f.config(map[string]any{"api_key": "wrong-key"}),
		Stream: contract.Stream{
			Name:       "contacts",
			Schema:     schemas.ContactSchema(),
			PrimaryKey: []string{"source_id"},
			Modes:      []contract.SyncMode{contract.FullRefresh, contract.Incremental},
		},
		Record: func(i int) contract.Record {
			return person("contacts", fmt.Sprintf("c%d", i), fmt.Sprintf("Person %d", i), fmt.Sprintf("+3120%07d", 1000000+i))
		},
		Count: 1200,
		Stored: func(t *testing.T) (map[string]bool, error) {
			keys := map[string]bool{}
			for id := range f.stored("contacts") {
				keys[id] = true
			}
			return keys, nil
		},
	}.Run(t)
}
