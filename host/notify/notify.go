// Package notify lets a service's change signals wake pipelines: it makes
// the channels a source subscribes (Watch), keeps them renewed, ends them
// (Unwatch), and serves the endpoint the service calls back, which checks
// each callback before it wakes anything (see contract.ChangeSignals).
//
// A callback only wakes its pipeline: the run it starts is the ordinary
// incremental read from the stored checkpoints, so a late, repeated,
// reordered, lost or forged callback cannot put anything wrong into a
// destination. The pipeline's interval stays as the safety net.
package notify

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
)

// PathPrefix is where callbacks come, under the host's public_url: the
// channel's key follows.
const PathPrefix = "/hooks/"

// Outcomes of a callback, as the endpoint answers and metrics count them.
const (
	OutcomeWoke     = "woke"            // verified; its pipeline is woken (204)
	OutcomeUnknown  = "unknown_channel" // no channel has the path's key (404)
	OutcomeMethod   = "wrong_method"    // not a POST (405)
	OutcomeTooLarge = "too_large"       // the body is over the source's bound (413)
	OutcomeForged   = "forged"          // the secret is missing or wrong (401)
)

// Outcomes lists every outcome, for metrics to show each from the start.
var Outcomes = []string{OutcomeWoke, OutcomeUnknown, OutcomeMethod, OutcomeTooLarge, OutcomeForged}

// randomBytes is how much randomness keys, ids and secrets carry: 256
// bits, 43 characters of base64url, within Zoho's 50-character token.
const randomBytes = 32

// random returns randomBytes random bytes in base64url without padding.
func random() string {
	b := make([]byte, randomBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand's documentation)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CallbackURL is the callback URL of the channel with key under the
// host's public URL.
func CallbackURL(publicURL, key string) string {
	return strings.TrimSuffix(publicURL, "/") + PathPrefix + key
}
