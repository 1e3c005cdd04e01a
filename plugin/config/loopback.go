package config

import (
	"net"
	"strings"
)

// IsLoopbackHost reports whether host, a URL's or listen address's host
// without its port, names this machine: localhost (in any case, with or
// without the root's trailing dot) or a loopback address.
// A connector that sends a secret to a URL from its configuration may
// accept plain http to such a host (a simulator, a local proxy) and
// require https anywhere else, where a typo would send the secret
// unencrypted.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
