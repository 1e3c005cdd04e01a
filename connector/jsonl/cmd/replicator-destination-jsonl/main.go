// Command replicator-destination-jsonl serves the jsonl destination as a
// replicator plugin.
package main

import (
	"github.com/replicatorhq/replicator/connector/jsonl"
	"github.com/replicatorhq/replicator/plugin"
)

func main() {
	plugin.ServeDestination(jsonl.New)
}
