// Package launch is the host's side of the plugins: Start launches a
// connector binary, verified against its pinned checksum, and Client talks
// to it through the plain interfaces of package contract, bounding its
// control calls and explaining a crash with the plugin's last log lines.
// Binaries hashes each binary once per change of its file, HostCert is the
// certificate a host presents to all its plugins, and EnvForPlugin is the
// whole environment a plugin gets. Connectors use package plugin instead.
package launch

import "github.com/replicatorhq/replicator/plugin/internal/transport"

// Plugin kinds, for Config.Kind and in binary names.
const (
	KindSource      = transport.KindSource
	KindDestination = transport.KindDestination
)
