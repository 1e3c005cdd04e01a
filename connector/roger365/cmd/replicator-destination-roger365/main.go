// Command replicator-destination-roger365 serves the ROGER365 destination as a
// replicator plugin.
package main

import (
	"github.com/replicatorhq/replicator/connector/roger365"
	"github.com/replicatorhq/replicator/plugin"
)

func main() {
	plugin.ServeDestination(roger365.New)
}
