package tunnel

import (
	"context"
	"sync"
	"time"
)

// MemRegistry is a Registry in memory, for tests and single-process development.
type MemRegistry struct {
	mu       sync.Mutex
	tokens   map[string]memToken
	clusters map[Identity]*MemCluster
}

type memToken struct {
	id      Identity
	expires time.Time
	used    bool
}

// MemCluster is what MemRegistry knows of one registered cluster.
type MemCluster struct {
	Current, Previous string
	Conn              *Connection
	LastSeen          time.Time
}

// NewMemRegistry is an empty MemRegistry.
func NewMemRegistry() *MemRegistry {
	return &MemRegistry{tokens: map[string]memToken{}, clusters: map[Identity]*MemCluster{}}
}

// AddCluster registers id's cluster and returns a fresh token for it, valid for ttl.
func (m *MemRegistry) AddCluster(id Identity, ttl time.Duration) (string, error) {
	tok, err := NewToken()
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tokens[HashToken(tok)] = memToken{id: id, expires: time.Now().Add(ttl)}
	if m.clusters[id] == nil {
		m.clusters[id] = &MemCluster{}
	}
	return tok, nil
}

// RemoveCluster unregisters id's cluster: its agent is refused from then on.
func (m *MemRegistry) RemoveCluster(id Identity) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.clusters, id)
}

// Cluster is a copy of what is known of id's cluster.
func (m *MemRegistry) Cluster(id Identity) (MemCluster, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.clusters[id]
	if !ok {
		return MemCluster{}, false
	}
	cp := *c
	if c.Conn != nil {
		conn := *c.Conn
		cp.Conn = &conn
	}
	return cp, true
}

// Redeem implements Registry.
func (m *MemRegistry) Redeem(_ context.Context, hash string) (Identity, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[hash]
	if !ok || t.used || time.Now().After(t.expires) || m.clusters[t.id] == nil {
		return Identity{}, ErrRefused
	}
	t.used = true
	m.tokens[hash] = t
	return t.id, nil
}

// Issued implements Registry.
func (m *MemRegistry) Issued(_ context.Context, id Identity, cert Issued) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.clusters[id]
	if !ok {
		return ErrRefused
	}
	c.Previous, c.Current = c.Current, cert.Serial
	return nil
}

// Admit implements Registry.
func (m *MemRegistry) Admit(_ context.Context, id Identity, serial string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.clusters[id]
	if !ok || serial == "" || (serial != c.Current && serial != c.Previous) {
		return ErrRefused
	}
	return nil
}

// Connected implements Registry.
func (m *MemRegistry) Connected(_ context.Context, id Identity, conn Connection) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.clusters[id]; ok {
		c.Conn = &conn
		c.LastSeen = time.Now()
		if conn.Serial == c.Current {
			c.Previous = "" // the new certificate is in use: the old one is done
		}
	}
	return nil
}

// Disconnected implements Registry.
func (m *MemRegistry) Disconnected(_ context.Context, id Identity, replica string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.clusters[id]; ok && c.Conn != nil && c.Conn.Replica == replica {
		c.Conn = nil
		c.LastSeen = at
	}
	return nil
}
