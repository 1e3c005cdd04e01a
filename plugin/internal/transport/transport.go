// Package transport is what the two sides of a plugin connection agree
// on, the connector's (package plugin) and the host's (package
// plugin/launch): go-plugin's handshake, the plugin sets each protocol
// version offers, and the gRPC options for the local socket.
package transport

import (
	"context"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/internal/wirev1"
)

// ProtocolVersion is the newest protocol both sides speak, the one
// plugin.ProtocolVersion tells connector authors. Host and plugin agree on
// the highest version both have.
const ProtocolVersion = 1

// Plugin kinds, as dispensed by go-plugin and used in binary names.
const (
	KindSource      = "source"
	KindDestination = "destination"
)

// LogLevelEnv is the one environment variable the host sets for a plugin:
// the level its logger writes at.
const LogLevelEnv = "REPLICATOR_LOG_LEVEL"

// Handshake keeps users from running a plugin binary by hand: it refuses to
// start without the host's cookie.
func Handshake() goplugin.HandshakeConfig {
	return goplugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   "REPLICATOR_PLUGIN_MAGIC_COOKIE",
		MagicCookieValue: "5f0b6d8e-replicator-connector",
	}
}

// SourcePlugins lists what each protocol version offers a host for a
// source; a new version adds an entry beside the old one.
func SourcePlugins(impl contract.Source) map[int]goplugin.PluginSet {
	return map[int]goplugin.PluginSet{1: {KindSource: &sourcePlugin{impl: impl}}}
}

// DestinationPlugins lists what each protocol version offers a host for a
// destination, as SourcePlugins does for a source.
func DestinationPlugins(impl contract.Destination) map[int]goplugin.PluginSet {
	return map[int]goplugin.PluginSet{1: {KindDestination: &destinationPlugin{impl: impl}}}
}

// ClientPlugins lists both kinds for the host, which only dispenses clients.
func ClientPlugins() map[int]goplugin.PluginSet {
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

// GRPCServerOptions are the plugin's side of the socket's sizes.
func GRPCServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(wirev1.MaxMessageBytes),
		grpc.MaxSendMsgSize(wirev1.MaxMessageBytes),
		grpc.InitialWindowSize(windowBytes),
		grpc.InitialConnWindowSize(windowBytes),
		grpc.WriteBufferSize(bufferBytes),
		grpc.ReadBufferSize(bufferBytes),
	}
}

// GRPCDialOptions are the host's side of the socket's sizes.
func GRPCDialOptions() []grpc.DialOption {
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
