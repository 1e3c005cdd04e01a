// Command replicator-destination-roger365 serves the ROGER365 destination as a
// replicator plugin.
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/connector/roger365"
	"github.com/replicatorhq/replicator/plugin"
	"github.com/replicatorhq/replicator/plugin/contract"
)

func main() {
	plugin.ServeDestination(func(log hclog.Logger) contract.Destination { return roger365.New(log) })
}
