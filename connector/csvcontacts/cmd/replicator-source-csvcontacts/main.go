// Command replicator-source-csvcontacts serves the CSV contacts source.
package main

import (
	"github.com/replicatorhq/replicator/connector/csvcontacts"
	"github.com/replicatorhq/replicator/plugin"
)

func main() {
	plugin.ServeSource(csvcontacts.New)
}
