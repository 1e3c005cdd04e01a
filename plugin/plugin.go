// Package plugin runs connectors as separate processes. A connector's main
// calls ServeSource or ServeDestination; the host calls Start to launch a
// connector binary and talk to it through the plain interfaces of package
// contract. Underneath it is hashicorp/go-plugin: gRPC only, a negotiated
// protocol version, mutual TLS, and the plugin's log folded into the host's.
package plugin

import (
	"context"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/wirev1"
)

// ProtocolVersion is the newest protocol this package speaks. Host and
// plugin agree on the highest version both have.
const ProtocolVersion = 1

// SDKVersion is the version of this module's connector SDK (packages
// plugin, plugin/contract, plugin/config, plugin/keyset, plugin/ordered,
// plugin/plugintest and schemas), following semantic versioning: a minor
// version only adds, so a connector built against 1.x builds and runs
// against any later 1.y; see CHANGELOG.md.
const SDKVersion = "1.1.0"

// Plugin kinds, as dispensed by go-plugin and used in binary names.
const (
	KindSource      = "source"
	KindDestination = "destination"
)

// LogLevelEnv is the one environment variable the host sets for a plugin:
// the level its logger writes at.
const LogLevelEnv = "REPLICATOR_LOG_LEVEL"

// handshake keeps users from running a plugin binary by hand: it refuses to
// start without the host's cookie.
func handshake() goplugin.HandshakeConfig {
	return goplugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   "REPLICATOR_PLUGIN_MAGIC_COOKIE",
		MagicCookieValue: "5f0b6d8e-replicator-connector",
	}
}

// versionedPlugins lists what each protocol version offers under kind; a
// new version adds an entry beside the old one.
func versionedPlugins(kind string, p goplugin.Plugin) map[int]goplugin.PluginSet {
	return map[int]goplugin.PluginSet{1: {kind: p}}
}

// clientPlugins lists both kinds for the host, which only dispenses clients.
func clientPlugins() map[int]goplugin.PluginSet {
	return map[int]goplugin.PluginSet{1: {
		KindSource:      &sourcePlugin{},
		KindDestination: &destinationPlugin{},
	}}
}

// sourcePlugin adapts a contract.Source to go-plugin's GRPCPlugin.
type sourcePlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	impl contract.Source
}

func (p *sourcePlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	wirev1.RegisterSource(s, p.impl)
	return nil
}

func (p *sourcePlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return wirev1.NewSource(c), nil
}

// destinationPlugin adapts a contract.Destination to go-plugin's GRPCPlugin.
type destinationPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	impl contract.Destination
}

func (p *destinationPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	wirev1.RegisterDestination(s, p.impl)
	return nil
}

func (p *destinationPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return wirev1.NewDestination(c), nil
}

// Flow-control windows and socket buffers sized for a local socket that
// carries megabyte batches: gRPC's defaults (64 KiB windows grown by
// bandwidth probing) stall a sender every few frames.
const (
	windowBytes = 4 << 20
	bufferBytes = 1 << 20
)

func grpcServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(wirev1.MaxMessageBytes),
		grpc.MaxSendMsgSize(wirev1.MaxMessageBytes),
		grpc.InitialWindowSize(windowBytes),
		grpc.InitialConnWindowSize(windowBytes),
		grpc.WriteBufferSize(bufferBytes),
		grpc.ReadBufferSize(bufferBytes),
	}
}

func grpcDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(wirev1.MaxMessageBytes),
			grpc.MaxCallSendMsgSize(wirev1.MaxMessageBytes),
		),
		grpc.WithInitialWindowSize(windowBytes),
		grpc.WithInitialConnWindowSize(windowBytes),
		grpc.WithWriteBufferSize(bufferBytes),
		grpc.WithReadBufferSize(bufferBytes),
	}
}
