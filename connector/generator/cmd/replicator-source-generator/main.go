// Command replicator-source-generator serves the generator source as a
// replicator plugin.
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/connector/generator"
	"github.com/replicatorhq/replicator/plugin"
	"github.com/replicatorhq/replicator/plugin/contract"
)

func main() {
	plugin.ServeSource(func(log hclog.Logger) contract.Source { return generator.New(log) })
}
