package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"
)

// Kinds of resources the simulated cloud makes.
const (
	KindNetwork      = "network"
	KindControlPlane = "control-plane"
	KindNodeGroup    = "node-group"
)

// Resource is one resource the simulated cloud made: a network or a control plane of
// a cluster (Owner names the organization, provider, account and region, Name the
// cluster), or a node group (Owner is its control plane's ID, Name the group's).
type Resource struct {
	Kind      string     `json:"kind"`
	ID        string     `json:"id"`
	Token     string     `json:"token,omitempty"`
	Owner     string     `json:"owner"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"createdAt"`
	DeletedAt *time.Time `json:"deletedAt,omitempty"`
}

// Change is one in-place change the simulated cloud applied to a resource (an
// upgrade, a node group's update, new tags or settings, add-ons), under the token of
// the call that asked for it.
type Change struct {
	Token  string    `json:"token"`
	Target string    `json:"target"`
	What   string    `json:"what"`
	At     time.Time `json:"at"`
}

// entry is one line of a ledger file.
type entry struct {
	Op       string    `json:"op"` // create, delete, change
	Resource *Resource `json:"resource,omitempty"`
	ID       string    `json:"id,omitempty"` // delete
	At       time.Time `json:"at"`
	Change   *Change   `json:"change,omitempty"`
}

// Ledger is the simulated cloud's record of what exists: every resource made and
// deleted, and every in-place change applied. In memory by default; OpenLedger keeps
// it in a file that outlives the worker (a SIGKILL included) and that several worker
// processes share, as a real cloud outlives and is shared by its clients. Creates
// look up their token in it, which is what makes them idempotent. It is safe for
// concurrent use.
type Ledger struct {
	mu   sync.Mutex
	f    *os.File // nil: in memory only
	path string
	off  int64 // how far f has been read
	tail []byte

	res     map[string]*Resource // by ID
	order   []string             // IDs in order of creation
	byToken map[string]string    // kind + "\x00" + token → the ID first made with it
	changes []Change
	applied map[string]bool // tokens of changes applied
}

func newLedger() *Ledger {
	return &Ledger{res: map[string]*Resource{}, byToken: map[string]string{}, applied: map[string]bool{}}
}

// OpenLedger opens (creating it if need be) the ledger kept in the file at path: one
// JSON object a line, appended under an exclusive file lock, so every process that
// opens the same path sees one cloud.
func OpenLedger(path string) (*Ledger, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644) //nolint:gosec // the path is the operator's choice (ASTRO_SIM_LEDGER)
	if err != nil {
		return nil, fmt.Errorf("open sim ledger: %w", err)
	}
	l := newLedger()
	l.f, l.path = f, path
	if err := l.locked(func() error { return nil }); err != nil {
		_ = f.Close()
		return nil, err
	}
	return l, nil
}

// Close closes the ledger's file.
func (l *Ledger) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	return l.f.Close()
}

// locked runs fn holding the ledger (and its file's lock), after reading what other
// processes appended.
func (l *Ledger) locked(fn func() error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return fn()
	}
	if err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock sim ledger: %w", err)
	}
	defer func() { _ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN) }()
	if err := l.catchUp(); err != nil {
		return err
	}
	return fn()
}

// catchUp applies the lines appended since the last read. A line cut short (a writer
// killed mid-write) is ignored until it is complete.
func (l *Ledger) catchUp() error {
	buf, err := io.ReadAll(io.NewSectionReader(l.f, l.off, 1<<62))
	if err != nil {
		return fmt.Errorf("read sim ledger: %w", err)
	}
	l.off += int64(len(buf))
	data := slices.Concat(l.tail, buf)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		var e entry
		if err := json.Unmarshal(data[:i], &e); err != nil {
			return fmt.Errorf("sim ledger %s: bad line %q: %w", l.path, data[:i], err)
		}
		l.apply(e)
		data = data[i+1:]
	}
	l.tail = slices.Clone(data)
	return nil
}

// record applies e and, for a file ledger, appends it.
func (l *Ledger) record(e entry) error {
	if l.f != nil {
		line, err := json.Marshal(e)
		if err != nil {
			return err
		}
		n, err := l.f.Write(append(line, '\n'))
		l.off += int64(n)
		if err != nil {
			return fmt.Errorf("write sim ledger: %w", err)
		}
	}
	l.apply(e)
	return nil
}

func (l *Ledger) apply(e entry) {
	switch e.Op {
	case "create":
		r := *e.Resource
		l.res[r.ID] = &r
		l.order = append(l.order, r.ID)
		if k := tokenKey(r.Kind, r.Token); r.Token != "" && l.byToken[k] == "" {
			l.byToken[k] = r.ID
		}
	case "delete":
		if r := l.res[e.ID]; r != nil && r.DeletedAt == nil {
			at := e.At
			r.DeletedAt = &at
		}
	case "change":
		l.changes = append(l.changes, *e.Change)
		l.applied[e.Change.Token] = true
	}
}

func tokenKey(kind, token string) string { return kind + "\x00" + token }

// create records a new resource, or, when idempotent and the token made one of that
// kind before, returns that one. id names the first resource a token makes; later
// ones (without idempotency) get a numbered suffix.
func (l *Ledger) create(kind, token, owner, name string, idempotent bool, id func(n int) string) (Resource, error) {
	var out Resource
	err := l.locked(func() error {
		if token != "" {
			if prev, ok := l.byToken[tokenKey(kind, token)]; ok && idempotent {
				out = *l.res[prev]
				return nil
			}
		}
		n := 0
		for l.res[id(n)] != nil {
			n++
		}
		out = Resource{Kind: kind, ID: id(n), Token: token, Owner: owner, Name: name, CreatedAt: time.Now().UTC()}
		r := out
		return l.record(entry{Op: "create", Resource: &r, At: out.CreatedAt})
	})
	return out, err
}

// remove records the deletion of the live resources match selects; unknown ones are
// already gone.
func (l *Ledger) remove(match func(r *Resource) bool) error {
	return l.locked(func() error {
		for _, id := range l.order {
			if r := l.res[id]; r.DeletedAt == nil && match(r) {
				if err := l.record(entry{Op: "delete", ID: id, At: time.Now().UTC()}); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// change records an in-place change, once per token when idempotent.
func (l *Ledger) change(token, target, what string, idempotent bool) error {
	return l.locked(func() error {
		if idempotent && token != "" && l.applied[token] {
			return nil
		}
		c := Change{Token: token, Target: target, What: what, At: time.Now().UTC()}
		return l.record(entry{Op: "change", Change: &c, At: c.At})
	})
}

// Audit is what a ledger shows about duplicates.
type Audit struct {
	// Resources is every resource made, in order of creation.
	Resources []Resource
	// Changes is every in-place change applied, in order.
	Changes []Change
	// Duplicates are groups of resources of one kind, owner and name that existed at
	// the same time: what a create retried without idempotency leaves.
	Duplicates [][]Resource
	// Repeated are the tokens of changes applied more than once, with how often.
	Repeated map[string]int
}

// Live returns the resources not deleted.
func (a Audit) Live() []Resource {
	var live []Resource
	for _, r := range a.Resources {
		if r.DeletedAt == nil {
			live = append(live, r)
		}
	}
	return live
}

// Audit reads the whole ledger and finds its duplicates.
func (l *Ledger) Audit() (Audit, error) {
	var a Audit
	err := l.locked(func() error {
		for _, id := range l.order {
			a.Resources = append(a.Resources, *l.res[id])
		}
		a.Changes = slices.Clone(l.changes)
		return nil
	})
	if err != nil {
		return Audit{}, err
	}
	a.Duplicates = duplicates(a.Resources)
	a.Repeated = map[string]int{}
	for _, c := range a.Changes {
		a.Repeated[c.Token]++
	}
	for tok, n := range a.Repeated {
		if n < 2 || tok == "" {
			delete(a.Repeated, tok)
		}
	}
	return a, nil
}

// AuditLedger reads the ledger file at path (see Ledger.Audit).
func AuditLedger(path string) (Audit, error) {
	if _, err := os.Stat(path); err != nil {
		return Audit{}, err
	}
	l, err := OpenLedger(path)
	if err != nil {
		return Audit{}, err
	}
	defer l.Close()
	return l.Audit()
}

// duplicates groups the resources of one kind, owner and name whose lifetimes
// overlap.
func duplicates(rs []Resource) [][]Resource {
	groups := map[string][]Resource{}
	var keys []string
	for _, r := range rs {
		k := r.Kind + "\x00" + r.Owner + "\x00" + r.Name
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	var out [][]Resource
	for _, k := range keys {
		g := groups[k]
		sort.SliceStable(g, func(i, j int) bool { return g[i].CreatedAt.Before(g[j].CreatedAt) })
		var dup []Resource
		for i := 1; i < len(g); i++ {
			for j := range i {
				if g[j].DeletedAt == nil || g[j].DeletedAt.After(g[i].CreatedAt) {
					if !slices.ContainsFunc(dup, func(r Resource) bool { return r.ID == g[j].ID }) {
						dup = append(dup, g[j])
					}
					dup = append(dup, g[i])
					break
				}
			}
		}
		if len(dup) > 0 {
			out = append(out, dup)
		}
	}
	return out
}
