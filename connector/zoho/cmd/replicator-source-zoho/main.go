// Command replicator-source-zoho serves the Zoho CRM source as a
// replicator plugin.
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/connector/zoho"
	"github.com/replicatorhq/replicator/plugin"
	"github.com/replicatorhq/replicator/plugin/contract"
)

func main() {
	plugin.ServeSource(func(log hclog.Logger) contract.Source { return zoho.New(log) })
}
