package store

import (
	"bytes"
	"sync"
	"time"
)

// keyCache keeps LookupAPIKey's answers for a short time: authentication reads the
// same key on every request, and the lookup was a third of a deploy's own work on
// the store (see CacheKeyLookups).
//
// Invariant: a change made through this process's store (revoking or deleting a
// key, a member's role, removing a member) is seen by the next lookup that starts
// after it. Every such write calls changed, which moves the generation on; an
// answer is kept under the generation its lookup started in and used only while
// that generation is current, so a lookup that raced a write never serves what it
// read before the write. Changes made by other processes (other API replicas) are
// seen within ttl.
type keyCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	gen     uint64
	entries map[string]cachedKey // by string(hash)
}

type cachedKey struct {
	owner KeyOwner
	gen   uint64
	at    time.Time
}

// maxCachedKeys bounds the cache; past it, it starts again empty (keys in use are
// read again at once), which needs no bookkeeping on the hot path.
const maxCachedKeys = 10_000

func newKeyCache(ttl time.Duration) *keyCache {
	return &keyCache{ttl: ttl, now: time.Now, entries: map[string]cachedKey{}}
}

// get returns the cached owner of hash, if one is fresh, and the generation a
// lookup made now must be put under.
func (c *keyCache) get(hash []byte) (KeyOwner, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[string(hash)]
	if !ok || e.gen != c.gen || c.now().Sub(e.at) >= c.ttl {
		return KeyOwner{}, false, c.gen
	}
	return e.owner, true, c.gen
}

// put keeps owner as hash's answer, read in generation gen.
func (c *keyCache) put(hash []byte, owner KeyOwner, gen uint64, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return // a change was made meanwhile: what was read may predate it
	}
	if len(c.entries) >= maxCachedKeys {
		c.entries = map[string]cachedKey{}
	}
	c.entries[string(bytes.Clone(hash))] = cachedKey{owner: owner, gen: gen, at: at}
}

// changed drops every answer: something a lookup returns was changed.
func (c *keyCache) changed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
}

// touched notes that key id's use was recorded at `at`, so that the cached answer
// does not ask for it to be recorded again (TouchAPIKey) on every request until it
// expires.
func (c *keyCache) touched(id string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.entries {
		if e.owner.Key.ID == id {
			e.owner.Key.LastUsedAt = &at
			c.entries[h] = e
		}
	}
}
