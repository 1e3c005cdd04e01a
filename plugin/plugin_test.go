package plugin_test

import (
	"os"
	"regexp"
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

// A build carries the version of the newest entry of the CHANGELOG.
func TestSDKVersionIsTheChangelogsNewest(t *testing.T) {
	b, err := os.ReadFile("../CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^## (\d+\.\d+\.\d+) `).FindSubmatch(b)
	if m == nil {
		t.Fatal("CHANGELOG.md has no version heading such as ## 1.2.0 (2026-12-07)")
	}
	if string(m[1]) != plugin.SDKVersion {
		t.Fatalf("plugin.SDKVersion is %s, the newest entry of CHANGELOG.md is %s: change one", plugin.SDKVersion, m[1])
	}
}
