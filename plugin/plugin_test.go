package plugin_test

import (
	"testing"

	"github.com/replicatorhq/replicator/plugin"
	"github.com/replicatorhq/replicator/plugin/internal/transport"
)

// The version authors read is the one the handshake offers.
func TestProtocolVersionIsTheOneSpoken(t *testing.T) {
	if plugin.ProtocolVersion != transport.ProtocolVersion {
		t.Fatalf("plugin.ProtocolVersion is %d, the handshake offers %d", plugin.ProtocolVersion, transport.ProtocolVersion)
	}
}
