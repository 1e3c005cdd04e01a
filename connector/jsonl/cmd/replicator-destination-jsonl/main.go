// Command replicator-destination-jsonl serves the jsonl destination as a
// replicator plugin.
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/connector/jsonl"
	"github.com/replicatorhq/replicator/plugin"
	"github.com/replicatorhq/replicator/plugin/contract"
)

func main() {
	plugin.ServeDestination(func(log hclog.Logger) contract.Destination { return jsonl.New(log) })
}
