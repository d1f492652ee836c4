package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Live is the catalog of one connected cloud account as the provider's own APIs
// give it (EC2 DescribeInstanceTypes and DescribeInstanceTypeOfferings, EKS
// DescribeClusterVersions; GKE machineTypes and serverConfig; Azure resource SKUs
// and AKS versions). Where it answers, it is the authority: a machine type it does
// not list in a region is not offered there. Implementations are safe for
// concurrent use: catalog/awscatalog, catalog/gcpcatalog and catalog/azurecatalog.
type Live interface {
	// MachineTypes returns every machine type the account can run in the region,
	// described as the static tables describe them.
	MachineTypes(ctx context.Context, region string) ([]MachineTypeInfo, error)
	// KubernetesVersions returns the managed service's supported minors, newest
	// first, with exactly one Default.
	KubernetesVersions(ctx context.Context) ([]Version, error)
}

// ErrLiveUnavailable is wrapped by a Live's errors when it cannot answer this kind
// of question at all (the endpoint does not implement the call); callers fall back
// to the static tables. Other errors (throttling, permissions, network) are
// transient or the account's, and fall back too, but say so.
var ErrLiveUnavailable = errors.New("the live catalog cannot answer this")

// Zones is a Live that also lists a region's zones (EC2 DescribeAvailabilityZones,
// Compute Engine zones.list, the zones of Azure's resource SKUs). It is a separate
// interface so a Live without it still is one; callers ask it with LiveZones.
type Zones interface {
	// Zones returns the region's zones in the provider's form ("us-east-1a",
	// "us-central1-a", "1"), sorted; empty for a region without zones (some Azure
	// regions). An error wrapping ErrUnknownRegion means the provider says the
	// region does not exist (for this account).
	Zones(ctx context.Context, region string) ([]string, error)
}

// ErrUnknownRegion is wrapped by a live catalog's errors when the provider itself
// says the region does not exist: unlike other errors, it refuses the region.
var ErrUnknownRegion = errors.New("the provider does not know this region")

// LiveZones asks live for the region's zones; an error wrapping ErrLiveUnavailable
// when live does not list zones.
func LiveZones(ctx context.Context, live Live, region string) ([]string, error) {
	z, ok := live.(Zones)
	if !ok {
		return nil, fmt.Errorf("this live catalog lists no zones: %w", ErrLiveUnavailable)
	}
	return z.Zones(ctx, region)
}

// RegionLister is a Live that also lists the regions the account can use (EC2
// DescribeRegions of the regions enabled for the account, Compute Engine
// regions.list of the project). A separate interface, as Zones; callers ask it
// with LiveRegions.
type RegionLister interface {
	// Regions returns the account's regions in the provider's form ("us-east-1",
	// "us-central1"), sorted.
	Regions(ctx context.Context) ([]string, error)
}

// LiveRegions asks live for the account's regions; an error wrapping
// ErrLiveUnavailable when live does not list regions.
func LiveRegions(ctx context.Context, live Live) ([]string, error) {
	r, ok := live.(RegionLister)
	if !ok {
		return nil, fmt.Errorf("this live catalog lists no regions: %w", ErrLiveUnavailable)
	}
	return r.Regions(ctx)
}

// Cache keeps a Live's answers for a TTL: per region for machine types and zones,
// once for versions. Errors are not kept, so a failed lookup is retried by the next caller.
// Concurrent callers of a missing entry share one lookup. A Cache is itself a Live.
type Cache struct {
	live Live
	ttl  time.Duration
	now  func() time.Time

	mu       sync.Mutex
	types    map[string]*entry[[]MachineTypeInfo]
	zones    map[string]*entry[[]string]
	versions map[string]*entry[[]Version] // one entry, under ""
	regions  map[string]*entry[[]string]  // one entry, under ""
}

type entry[T any] struct {
	ready   chan struct{} // closed when the lookup ends
	val     T
	err     error
	fetched time.Time
}

// DefaultLiveTTL is how long a Cache made with a zero TTL keeps an answer: clouds
// add machine types and versions every few weeks, not minutes.
const DefaultLiveTTL = 6 * time.Hour

// NewCache returns a cache of live's answers kept for ttl (DefaultLiveTTL when zero).
func NewCache(live Live, ttl time.Duration) *Cache {
	if ttl <= 0 {
		ttl = DefaultLiveTTL
	}
	return &Cache{live: live, ttl: ttl, now: time.Now, types: map[string]*entry[[]MachineTypeInfo]{},
		zones: map[string]*entry[[]string]{}, versions: map[string]*entry[[]Version]{}, regions: map[string]*entry[[]string]{}}
}

// MachineTypes returns live's machine types of the region, from the cache while
// they are fresh. The slice is the caller's.
func (c *Cache) MachineTypes(ctx context.Context, region string) ([]MachineTypeInfo, error) {
	val, err := cached(ctx, c, c.types, region,
		func() ([]MachineTypeInfo, error) { return c.live.MachineTypes(ctx, region) })
	return slices.Clone(val), err
}

// MachineType returns the named machine type if live lists it in the region; ok is
// false when live answered and does not list it.
func (c *Cache) MachineType(ctx context.Context, region, name string) (m MachineTypeInfo, ok bool, err error) {
	ms, err := c.MachineTypes(ctx, region)
	if err != nil {
		return MachineTypeInfo{}, false, err
	}
	for _, m := range ms {
		if m.Name == name {
			return m, true, nil
		}
	}
	return MachineTypeInfo{}, false, nil
}

// Zones returns live's zones of the region (LiveZones), from the cache while they
// are fresh. The slice is the caller's.
func (c *Cache) Zones(ctx context.Context, region string) ([]string, error) {
	val, err := cached(ctx, c, c.zones, region,
		func() ([]string, error) { return LiveZones(ctx, c.live, region) })
	return slices.Clone(val), err
}

// KubernetesVersions returns live's versions, from the cache while they are fresh.
func (c *Cache) KubernetesVersions(ctx context.Context) ([]Version, error) {
	val, err := cached(ctx, c, c.versions, "",
		func() ([]Version, error) { return c.live.KubernetesVersions(ctx) })
	out := make([]Version, len(val))
	for i, v := range val {
		out[i] = v.clone()
	}
	return out, err
}

// Regions returns live's regions (LiveRegions), from the cache while they are
// fresh. The slice is the caller's.
func (c *Cache) Regions(ctx context.Context) ([]string, error) {
	val, err := cached(ctx, c, c.regions, "",
		func() ([]string, error) { return LiveRegions(ctx, c.live) })
	return slices.Clone(val), err
}

// cached answers key's entry of m, fetching it anew when there is none or it is
// stale; callers of a fetch in flight wait for it. The value is shared: callers
// copy it.
func cached[T any](ctx context.Context, c *Cache, m map[string]*entry[T], key string, fetch func() (T, error)) (T, error) {
	c.mu.Lock()
	e := m[key]
	if e == nil || c.stale(e.ready, e.fetched, e.err) {
		e = &entry[T]{ready: make(chan struct{})}
		m[key] = e
		c.mu.Unlock()
		val, err := fetch()
		c.finish(func() { e.val, e.err, e.fetched = val, err, c.now() }, e.ready)
	} else {
		c.mu.Unlock()
	}
	if err := wait(ctx, e.ready); err != nil {
		var zero T
		return zero, err
	}
	return e.val, e.err
}

// stale reports whether an entry must be fetched again: it failed, or it is older
// than the TTL. An entry still being fetched is never stale. Called with c.mu held.
func (c *Cache) stale(ready chan struct{}, fetched time.Time, err error) bool {
	select {
	case <-ready:
		return err != nil || c.now().Sub(fetched) >= c.ttl
	default:
		return false
	}
}

// finish records a lookup's answer and wakes its waiters, under c.mu.
func (c *Cache) finish(record func(), ready chan struct{}) {
	c.mu.Lock()
	record()
	close(ready)
	c.mu.Unlock()
}

func wait(ctx context.Context, ready chan struct{}) error {
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var (
	_ Live         = (*Cache)(nil)
	_ Zones        = (*Cache)(nil)
	_ RegionLister = (*Cache)(nil)
)
