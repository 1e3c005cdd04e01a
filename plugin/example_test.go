package plugin_test

import (
	"github.com/replicatorhq/replicator/connector/generator"
	"github.com/replicatorhq/replicator/connector/jsonl"
	"github.com/replicatorhq/replicator/plugin"
)

// A source connector's main: serve the source its constructor builds. The
// constructor takes the logger the host's log receives.
func ExampleServeSource() {
	plugin.ServeSource(generator.New)
}

// A destination connector's main.
func ExampleServeDestination() {
	plugin.ServeDestination(jsonl.New)
}
