// Command replicator-source-httpcontacts serves the HTTP contacts source.
package main

import (
	"github.com/replicatorhq/replicator/connector/httpcontacts"
	"github.com/replicatorhq/replicator/plugin"
)

func main() {
	plugin.ServeSource(httpcontacts.New)
}
