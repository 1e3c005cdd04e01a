// Command replicator-source-zoho serves the Zoho CRM source as a
// replicator plugin.
package main

import (
	"github.com/replicatorhq/replicator/connector/zoho"
	"github.com/replicatorhq/replicator/plugin"
)

func main() {
	plugin.ServeSource(zoho.New)
}
