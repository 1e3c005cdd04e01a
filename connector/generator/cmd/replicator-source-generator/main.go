// Command replicator-source-generator serves the generator source as a
// replicator plugin.
package main

import (
	"github.com/replicatorhq/replicator/connector/generator"
	"github.com/replicatorhq/replicator/plugin"
)

func main() {
	plugin.ServeSource(generator.New)
}
