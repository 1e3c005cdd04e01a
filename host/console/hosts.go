package console

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// hostNames are the names a console answers to in the Host header.
type hostNames map[string]bool

// newHostNames returns the loopback names, the host of listen unless it
// is every address, and allowed.
func newHostNames(listen string, allowed []string) hostNames {
	names := hostNames{"localhost": true, "127.0.0.1": true, "::1": true}
	add := func(name string) {
		if n, ok := canonicalHost(name); ok {
			names[n] = true
		}
	}
	if h, _, err := net.SplitHostPort(listen); err == nil {
		if ip, err := netip.ParseAddr(h); h != "" && (err != nil || !ip.IsUnspecified()) {
			add(h)
		}
	}
	for _, a := range allowed {
		add(a)
	}
	return names
}

// canonicalHost returns the name of a Host header (or of a configured
// name) as the console compares them: without the port, an IPv6 address
// without brackets and in its short form, lower case, without a final dot.
func canonicalHost(host string) (string, bool) {
	if h, port, err := net.SplitHostPort(host); err == nil {
		if strings.Trim(port, "0123456789") != "" {
			return "", false
		}
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" {
		return "", false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.String(), true
	}
	return host, true
}

// serves says whether the console answers to r's Host: a loopback name, a
// configured one, or the IP address the connection came to. A browser
// sends an IP address as Host only to a page of that address itself, so
// that one cannot be a page of another name that resolves here (DNS
// rebinding); it lets probes and scrapers reach a console on every
// address by the address they connect to.
func (names hostNames) serves(r *http.Request) bool {
	name, ok := canonicalHost(r.Host)
	if !ok {
		return false
	}
	if names[name] {
		return true
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	ap, err := netip.ParseAddrPort(local.String())
	return err == nil && ap.Addr().Unmap().WithZone("").String() == name
}

// misdirected is what a request for a name the console does not answer
// to gets: no page, no data.
const misdirected = "This console does not answer to the name in the request's Host header. " +
	"If you reach it by that name, add the name to allowed_hosts in the host block.\n"
