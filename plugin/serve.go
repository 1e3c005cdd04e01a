package plugin

import (
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/replicatorhq/replicator/internal/logdur"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/internal/transport"
)

// ServeSource serves the source that newSource builds, for a connector's
// main function; any constructor that takes a logger and returns a type
// implementing contract.Source will do:
//
//	func main() { plugin.ServeSource(generator.New) }
//
// It returns when the host ends the process. The logger it passes writes
// JSON to stderr, which the host folds into its own log.
func ServeSource[S contract.Source](newSource func(hclog.Logger) S) {
	log := pluginLogger()
	serve(log, transport.SourcePlugins(newSource(log)))
}

// ServeDestination serves the destination that newDestination builds, as
// ServeSource does a source:
//
//	func main() { plugin.ServeDestination(jsonl.New) }
func ServeDestination[D contract.Destination](newDestination func(hclog.Logger) D) {
	log := pluginLogger()
	serve(log, transport.DestinationPlugins(newDestination(log)))
}

func serve(log hclog.Logger, sets map[int]goplugin.PluginSet) {
	// The host owns the plugin's lifetime: it ends the plugin after each
	// run, also when it is itself stopped with SIGTERM (a service manager
	// signals the whole process group). go-plugin already ignores SIGINT
	// for the same reason.
	signal.Ignore(syscall.SIGTERM)
	go exitWithHost(log, os.Getppid())
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig:  transport.Handshake(),
		VersionedPlugins: sets,
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, transport.GRPCServerOptions()...)...)
		},
		Logger: log,
	})
}

// exitWithHost ends the plugin once its parent, the host, is gone (killed
// with SIGKILL, say): an orphaned plugin would otherwise run forever.
func exitWithHost(log hclog.Logger, host int) {
	for range time.Tick(time.Second) {
		if os.Getppid() != host {
			log.Warn("the replicator host went away; exiting")
			os.Exit(1)
		}
	}
}

func pluginLogger() hclog.Logger {
	level := hclog.LevelFromString(os.Getenv(transport.LogLevelEnv))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	// Durations go to the host as text: hclog's JSON has them as integers
	// of nanoseconds.
	return logdur.Text(hclog.New(&hclog.LoggerOptions{
		Level:      level,
		Output:     os.Stderr,
		JSONFormat: true,
	}))
}
