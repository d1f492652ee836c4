package store

import (
	"testing"
	"time"
)

// A lookup that raced a change (read before it, finished after) is not kept, and an
// answer is served only within its TTL.
func TestKeyCacheDropsAnswersReadBeforeAChange(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newReadCache(time.Second)
	c.now = func() time.Time { return now }
	owner := KeyOwner{Key: APIKey{ID: "k"}, Role: RoleAdmin}

	_, ok, gen := c.get([]byte{1})
	if ok {
		t.Fatal("an empty cache answered")
	}
	c.changed() // the key's role changes while the lookup reads the old row
	c.put([]byte{1}, owner, gen, now)
	if _, ok, _ := c.get([]byte{1}); ok {
		t.Fatal("an answer read before a change was kept")
	}

	_, _, gen = c.get([]byte{1})
	c.put([]byte{1}, owner, gen, now)
	if got, ok, _ := c.get([]byte{1}); !ok || got.Role != RoleAdmin {
		t.Fatalf("fresh answer not served: %+v %v", got, ok)
	}
	now = now.Add(time.Second)
	if _, ok, _ := c.get([]byte{1}); ok {
		t.Fatal("an answer as old as the TTL was served")
	}
}
