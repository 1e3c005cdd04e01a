package state

import (
	"errors"
	"fmt"
	"time"
)

// Channel is a change-signal channel of a pipeline: one the host offered
// its source's Watch (contract.Channel) and the source subscribed at its
// service, which calls the channel's URL when records change. A channel
// is kept outside any claim: whichever host runs the pipeline renews it,
// and a callback may land on any host.
type Channel struct {
	// Key routes callbacks: the last segment of the callback URL's path.
	// It is not a secret (URLs end up in logs), but unguessable.
	Key      string
	ID       string // contract.Channel.ID
	Pipeline string
	URL      string // the callback URL the service was given
	// Secret is what the service echoes in every callback; the store
	// keeps it sealed where it seals credentials.
	Secret string
	// SecretField and MaxBodyBytes are the source's contract.ChangeSignals
	// when it subscribed, so that any host verifies a callback without
	// asking the plugin.
	SecretField  string
	MaxBodyBytes int
	Streams      []string  // the streams whose changes it signals
	Expires      time.Time // when the service stops calling unless renewed; zero for never
	Watched      time.Time // when the source last subscribed or renewed it
	// Signaled is when the last verified callback came; zero for none.
	// SaveChannel keeps the stored one.
	Signaled time.Time
}

// CheckChannel reports what is wrong with c before it is stored.
func CheckChannel(c Channel) error {
	switch {
	case c.Key == "" || c.ID == "" || c.Pipeline == "":
		return errors.New("saving a channel: its key, id and pipeline must not be empty")
	case c.Secret == "" || c.SecretField == "":
		return fmt.Errorf("saving channel %s of pipeline %q: its secret and secret field must not be empty", c.ID, c.Pipeline)
	case c.Watched.IsZero():
		return fmt.Errorf("saving channel %s of pipeline %q: when it was watched is missing", c.ID, c.Pipeline)
	}
	return nil
}

// channelAAD binds a sealed channel secret to its channel, so that a
// secret moved to another channel's record does not open.
func channelAAD(key string) string { return "channel:" + key }
