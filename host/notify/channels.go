package notify

import (
	"context"
	"sync"
	"time"

	"github.com/replicatorhq/replicator/host/state"
)

// Channels are the channels callbacks are checked against, by key, as
// the state store has them. Another host of a fleet may have made a
// channel since they were read: a key not found reads them again, at most
// once every RefreshEvery, so that forged keys cannot make the host read
// the store for each.
type Channels struct {
	// Load reads every channel from the store.
	Load func(ctx context.Context) ([]state.Channel, error)

	mu     sync.Mutex
	byKey  map[string]state.Channel
	loaded time.Time
}

// RefreshEvery bounds how often an unknown key reads the store again.
const RefreshEvery = 5 * time.Second

// Lookup returns the channel with key.
func (c *Channels) Lookup(ctx context.Context, key string) (state.Channel, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.byKey[key]; ok || key == "" {
		return ch, ok
	}
	if time.Since(c.loaded) < RefreshEvery || c.Load == nil {
		return state.Channel{}, false
	}
	c.loaded = time.Now()
	all, err := c.Load(ctx)
	if err != nil {
		return state.Channel{}, false
	}
	c.setLocked(all)
	ch, ok := c.byKey[key]
	return ch, ok
}

// Set replaces the channels known with all.
func (c *Channels) Set(all []state.Channel) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loaded = time.Now()
	c.setLocked(all)
}

func (c *Channels) setLocked(all []state.Channel) {
	c.byKey = make(map[string]state.Channel, len(all))
	for _, ch := range all {
		c.byKey[ch.Key] = ch
	}
}

// Put adds or replaces ch.
func (c *Channels) Put(ch state.Channel) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey = map[string]state.Channel{}
	}
	c.byKey[ch.Key] = ch
}

// Remove forgets the channel with key.
func (c *Channels) Remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byKey, key)
}

// Of returns pipeline's channels.
func (c *Channels) Of(pipeline string) []state.Channel {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []state.Channel
	for _, ch := range c.byKey {
		if ch.Pipeline == pipeline {
			out = append(out, ch)
		}
	}
	return out
}

// Signaled records that a callback of the channel with key came at at,
// for what the console shows.
func (c *Channels) Signaled(key string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.byKey[key]; ok && at.After(ch.Signaled) {
		ch.Signaled = at
		c.byKey[key] = ch
	}
}

// Status is what the console and `replicator status` show of a
// pipeline's channels.
type Status struct {
	// Live is true while a channel has not expired: the service calls
	// back on changes.
	Live bool
	// Until is when the first live channel expires unless renewed; zero
	// for never.
	Until time.Time
	// Signaled is when the last verified callback came; zero for none.
	Signaled time.Time
}

// StatusOf returns the status of one pipeline's channels chs at now.
func StatusOf(chs []state.Channel, now time.Time) Status {
	var st Status
	for _, ch := range chs {
		if ch.Signaled.After(st.Signaled) {
			st.Signaled = ch.Signaled
		}
		if !ch.Expires.IsZero() && !now.Before(ch.Expires) {
			continue
		}
		if !st.Live || !ch.Expires.IsZero() && (st.Until.IsZero() || ch.Expires.Before(st.Until)) {
			st.Until = ch.Expires
		}
		st.Live = true
	}
	return st
}
