package store

import (
	"sync"
	"time"
)

// readCache keeps, for a short time, the answers of the two reads every mutating
// request makes: LookupAPIKey (authentication reads the same key on every request;
// it was a third of a deploy's own work on the store) and GetApprovalPolicy (every
// operation's start reads its organization's policy, which most organizations
// never set). See CacheKeyLookups.
//
// Invariant: a change made through this process's store (revoking or deleting a
// key, a member's role, removing a member, an approval policy) is seen by the next
// read that starts after it. Every such write calls changed, which moves the
// generation on; an answer is kept under the generation its read started in and
// used only while that generation is current, so a read that raced a write never
// serves what it read before the write. Changes made by other processes (other API
// replicas) are seen within ttl.
type readCache struct {
	ttl time.Duration
	now func() time.Time

	mu       sync.Mutex
	gen      uint64
	keys     map[string]cached[KeyOwner]     // by string(hash)
	policies map[string]cached[policyAnswer] // by organization ID
}

type cached[V any] struct {
	v   V
	gen uint64
	at  time.Time
}

// policyAnswer is GetApprovalPolicy's answer: found false is ErrNotFound (no
// policy), the common case, so it is kept too.
type policyAnswer struct {
	policy ApprovalPolicy
	found  bool
}

// maxCached bounds each map; past it, the map starts again empty (entries in use
// are read again at once), which needs no bookkeeping on the hot path.
const maxCached = 10_000

func newReadCache(ttl time.Duration) *readCache {
	return &readCache{ttl: ttl, now: time.Now, keys: map[string]cached[KeyOwner]{}, policies: map[string]cached[policyAnswer]{}}
}

// lookup returns m's fresh answer for k, if any, and the generation a read made now
// must be kept under. c.mu is held.
func lookup[V any](c *readCache, m map[string]cached[V], k string) (V, bool, uint64) {
	e, ok := m[k]
	if !ok || e.gen != c.gen || c.now().Sub(e.at) >= c.ttl {
		var zero V
		return zero, false, c.gen
	}
	return e.v, true, c.gen
}

// keep puts v as k's answer in m, read in generation gen at `at`, unless a change
// was made meanwhile. c.mu is held.
func keep[V any](c *readCache, m *map[string]cached[V], k string, v V, gen uint64, at time.Time) {
	if gen != c.gen {
		return // a change was made meanwhile: what was read may predate it
	}
	if len(*m) >= maxCached {
		*m = map[string]cached[V]{}
	}
	(*m)[k] = cached[V]{v: v, gen: gen, at: at}
}

// get returns the cached owner of key hash, if one is fresh, and the generation a
// lookup made now must be put under.
func (c *readCache) get(hash []byte) (KeyOwner, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return lookup(c, c.keys, string(hash))
}

// put keeps owner as hash's answer, read in generation gen.
func (c *readCache) put(hash []byte, owner KeyOwner, gen uint64, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep(c, &c.keys, string(hash), owner, gen, at)
}

// policy returns orgID's cached policy answer, if fresh, and the generation.
func (c *readCache) policy(orgID string) (policyAnswer, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return lookup(c, c.policies, orgID)
}

// putPolicy keeps a as orgID's policy answer, read in generation gen.
func (c *readCache) putPolicy(orgID string, a policyAnswer, gen uint64, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep(c, &c.policies, orgID, a, gen, at)
}

// changed drops every answer: something a cached read returns was changed.
func (c *readCache) changed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.keys)
	clear(c.policies)
}

// touched notes that key id's use was recorded at `at`, so that the cached answer
// does not ask for it to be recorded again (TouchAPIKey) on every request until it
// expires.
func (c *readCache) touched(id string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.keys {
		if e.v.Key.ID == id {
			e.v.Key.LastUsedAt = &at
			c.keys[h] = e
		}
	}
}
