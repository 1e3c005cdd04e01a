// Package plugin serves a connector as a plugin process: a connector's
// main calls ServeSource or ServeDestination with the constructor of its
// type, which implements the plain interfaces of package contract. The
// host launches the binary and talks to it over gRPC; underneath it is
// hashicorp/go-plugin: a negotiated protocol version, mutual TLS, and the
// plugin's log folded into the host's. The host's side, launching and
// verifying plugin binaries, is package plugin/launch.
package plugin

// ProtocolVersion is the newest protocol this package speaks. Host and
// plugin agree on the highest version both have.
const ProtocolVersion = 1

// SDKVersion is the version of this module's connector SDK (packages
// plugin, plugin/contract, plugin/config, plugin/httpapi,
// plugin/incremental, plugin/keyset, plugin/ordered, plugin/plugintest and
// schemas), following semantic versioning: a minor version only adds, so a
// connector built against 1.x builds and runs against any later 1.y; see
// CHANGELOG.md.
const SDKVersion = "1.2.0"
