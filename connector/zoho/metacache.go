package zoho

import (
	"context"
	"maps"
	"time"
)

// metaMaxAge bounds the age of the metadata a run uses without asking
// Zoho again. The org's settings and the modules' fields change when an
// administrator changes them, seldom, and reading them costs a credit
// each: three of the nine an idle run of two streams cost without the
// cache. An hour keeps a new field from waiting long; the values it holds
// are not lost meanwhile, as a stream reads again what changed since its
// fields were last known once they turn out to have changed
// (streamState.Fields).
const metaMaxAge = time.Hour

// metaCache is what the credentials keep of Zoho's metadata between
// runs. A plugin process lives for a run, or a short while after it;
// the credentials are what the host hands back on every call, Discover's
// included, so the cache lives there, in the host's store, encrypted with
// them. It is a few kilobytes, written back only when refreshed.
type metaCache struct {
	API     string                  `json:"api"` // the API base URL it was read from
	Org     *cachedOrg              `json:"org,omitempty"`
	Modules map[string]cachedFields `json:"modules,omitempty"` // by module API name
}

type cachedOrg struct {
	At     time.Time `json:"at"`
	CRMURL string    `json:"crm_url,omitempty"`
	Region string    `json:"region,omitempty"`
}

type cachedFields struct {
	At     time.Time `json:"at"`
	Fields []field   `json:"fields"`
}

// fresh reports whether metadata read at at may still be used at now.
func fresh(at, now time.Time) bool {
	age := now.Sub(at)
	return age >= 0 && age < metaMaxAge
}

// metaFor returns the cached metadata read from the API at base; empty
// when it was read from another.
func (t *tokens) metaFor(base string) metaCache {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cr.Meta == nil || t.cr.Meta.API != base {
		return metaCache{API: base}
	}
	return *t.cr.Meta
}

// updateMeta changes the cached metadata of the API at base; the host
// gets the credentials with it at the next update.
func (t *tokens) updateMeta(base string, change func(*metaCache)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := metaCache{API: base}
	if t.cr.Meta != nil && t.cr.Meta.API == base {
		m = *t.cr.Meta
	}
	if m.Modules == nil {
		m.Modules = map[string]cachedFields{}
	} else {
		m.Modules = maps.Clone(m.Modules)
	}
	change(&m)
	t.cr.Meta = &m
	t.dirty = true
}

// fields returns a stream's module with its fields: read once per run,
// from the credentials' cache while it is fresh, else from Zoho (1
// credit).
func (s *Source) fields(ctx context.Context, ss *session, info streamInfo) (*module, error) {
	s.mu.Lock()
	m, ok := ss.run.modules[runKey(ss, info)]
	s.mu.Unlock()
	if ok {
		return m, nil
	}
	c, ok := ss.tokens.metaFor(ss.client.base).Modules[info.module]
	if !ok || !fresh(c.At, s.now()) {
		return s.fetchFields(ctx, ss, info)
	}
	m = newModule(info, c.Fields, c.At)
	m.cached = true
	s.keep(ss, m)
	return m, nil
}

// fetchFields reads a module's fields from Zoho, for the run and the
// cache.
func (s *Source) fetchFields(ctx context.Context, ss *session, info streamInfo) (*module, error) {
	m, err := fetchFields(ctx, ss.client, info, s.now())
	if err != nil {
		return nil, err
	}
	ss.tokens.updateMeta(ss.client.base, func(c *metaCache) {
		c.Modules[info.module] = cachedFields{At: m.known, Fields: m.fields}
	})
	s.keep(ss, m)
	return m, nil
}

// keep makes m the module the rest of the run uses.
func (s *Source) keep(ss *session, m *module) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss.run.modules[runKey(ss, m.streamInfo)] = m
}

func runKey(ss *session, info streamInfo) string { return ss.client.base + " " + info.module }

// org returns what the org API tells, from the credentials' cache while
// it is fresh, else from Zoho (1 credit).
func (s *Source) org(ctx context.Context, ss *session) (orgFacts, error) {
	now := s.now()
	if c := ss.tokens.metaFor(ss.client.base).Org; c != nil && fresh(c.At, now) {
		return orgFacts{crmURL: c.CRMURL, region: c.Region}, nil
	}
	org, err := fetchOrg(ctx, ss.client, ss.cfg)
	if err != nil {
		return orgFacts{}, err
	}
	ss.tokens.updateMeta(ss.client.base, func(c *metaCache) {
		c.Org = &cachedOrg{At: now, CRMURL: org.crmURL, Region: org.region}
	})
	return org, nil
}
