package cloud

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// AccountRef names the cloud account a call acts in, and how the worker gets its
// credentials — never the credentials themselves, so it may travel in workflow
// inputs. Sessions are built, cached and rate-limited per AccountRef.
type AccountRef struct {
	// OrgID is the organization that owns the cluster (and the connected account).
	OrgID string `json:",omitempty"`
	// Provider is aws, gcp or azure.
	Provider string `json:",omitempty"`
	// AccountID is the AWS account, GCP project or Azure subscription.
	AccountID string `json:",omitempty"`
	// CredentialsType is dynamic (a connected account: the worker assumes its role),
	// vault (credentials stored with the platform, named by VaultRef) or static
	// (keys given with the manifest, sealed by the API; named by VaultRef too).
	CredentialsType string `json:",omitempty"`
	// VaultRef names stored credentials; empty for dynamic ones.
	VaultRef string `json:",omitempty"`
}

func (a AccountRef) String() string {
	return fmt.Sprintf("%s account %s of org %s (%s credentials)", a.Provider, a.AccountID, a.OrgID, a.CredentialsType)
}

// Credentials are what a session authenticates with: loaded by a CredentialSource
// inside the worker, held in memory only.
type Credentials struct {
	// Values are the provider's credential fields (access keys, a token, a role ARN…).
	Values map[string]string
	// Expires is when they stop working (temporary credentials); zero = never.
	Expires time.Time
}

// CredentialSource loads the credentials of an account: assumes the connected
// account's role (dynamic) or opens stored credentials (vault, static). A nil source
// gives empty credentials (the simulated cloud needs none).
type CredentialSource interface {
	Credentials(ctx context.Context, account AccountRef) (Credentials, error)
}

// Session is one account's authenticated context: providers build their SDK clients
// from it. The registry caches it until its credentials are about to expire.
type Session struct {
	Account     AccountRef
	Credentials Credentials
	// Limiter paces the calls made in this account; the registry waits on it before
	// every provider call, and providers may wait on it for extra calls they make.
	Limiter *rate.Limiter
	Created time.Time
}

// Key chooses a provider implementation: eks and selfHosted on aws are different
// implementations, as are gke and selfHosted on gcp.
type Key struct {
	Provider    string // aws, gcp, azure
	Provisioner string // eks, gke, aks, selfHosted
}

func (k Key) String() string { return k.Provider + "/" + k.Provisioner }

// Keys lists every (provider, provisioner) pair a manifest can ask for.
func Keys() []Key {
	return []Key{
		{"aws", "eks"}, {"aws", "selfHosted"},
		{"gcp", "gke"}, {"gcp", "selfHosted"},
		{"azure", "aks"},
	}
}

// managed is each provider's managed provisioner: the implementation of specs that
// name no provisioner type.
var managed = map[string]string{"aws": "eks", "gcp": "gke", "azure": "aks"}

// Factory builds a provider acting in the session's account.
type Factory func(ctx context.Context, s *Session) (Provider, error)

// Registry chooses a provider by Key and builds it for an account: one session and
// one provider per (key, account), cached, rate-limited. It is safe for concurrent use.
type Registry struct {
	// Credentials loads accounts' credentials; nil = none needed.
	Credentials CredentialSource
	// Rate and Burst pace the calls of one account; zero = 10 calls a second, burst 20.
	Rate  rate.Limit
	Burst int
	// Refresh is how long before its credentials expire a session is rebuilt;
	// zero = 5 minutes.
	Refresh time.Duration
	// Now is the clock; nil = time.Now.
	Now func() time.Time

	mu        sync.Mutex
	factories map[Key]Factory
	sessions  map[sessionKey]*entry
}

type sessionKey struct {
	key     Key
	account AccountRef
}

type entry struct {
	session  *Session
	provider Provider
}

// NewRegistry returns an empty registry loading credentials from creds.
func NewRegistry(creds CredentialSource) *Registry {
	return &Registry{Credentials: creds}
}

// RegistryOf returns a registry serving p for every pair of Keys, needing no
// credentials: for the simulated cloud and for tests.
func RegistryOf(p Provider) *Registry {
	r := NewRegistry(nil)
	for _, k := range Keys() {
		r.Register(k, func(context.Context, *Session) (Provider, error) { return p, nil })
	}
	return r
}

// Register makes f the implementation of k, replacing any earlier one.
func (r *Registry) Register(k Key, f Factory) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.factories == nil {
		r.factories = map[Key]Factory{}
	}
	r.factories[k] = f
	for sk := range r.sessions {
		if sk.key == k {
			delete(r.sessions, sk)
		}
	}
}

// Registered lists the keys that have an implementation.
func (r *Registry) Registered() []Key {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Key
	for _, k := range Keys() {
		if r.factories[k] != nil {
			out = append(out, k)
		}
	}
	return out
}

// Provider returns the implementation of k acting in account, building (and
// caching) its session on first use or when its credentials are about to expire.
// An unknown key is ErrInvalid; a failure to load credentials is returned as the
// source gave it.
func (r *Registry) Provider(ctx context.Context, k Key, account AccountRef) (Provider, error) {
	if k.Provisioner == "" {
		k.Provisioner = managed[k.Provider]
	}
	r.mu.Lock()
	f := r.factories[k]
	e := r.sessions[sessionKey{k, account}]
	r.mu.Unlock()
	if f == nil {
		return nil, Errorf(ErrInvalid, "no provider %q with provisioner %q on this worker", k.Provider, k.Provisioner)
	}
	if e != nil && !r.stale(e.session) {
		return e.provider, nil
	}
	s, err := r.newSession(ctx, account)
	if err != nil {
		return nil, err
	}
	p, err := f(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("provider %s for %s: %w", k, account, err)
	}
	e = &entry{session: s, provider: limited{p: p, lim: s.Limiter}}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sessions == nil {
		r.sessions = map[sessionKey]*entry{}
	}
	if cur := r.sessions[sessionKey{k, account}]; cur != nil && !r.stale(cur.session) {
		return cur.provider, nil // another call built it meanwhile: keep one per account
	}
	r.sessions[sessionKey{k, account}] = e
	return e.provider, nil
}

// Session returns the cached session of k and account, if there is one.
func (r *Registry) Session(k Key, account AccountRef) (*Session, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.sessions[sessionKey{k, account}]
	if e == nil {
		return nil, false
	}
	return e.session, true
}

func (r *Registry) newSession(ctx context.Context, account AccountRef) (*Session, error) {
	var creds Credentials
	if r.Credentials != nil {
		var err error
		if creds, err = r.Credentials.Credentials(ctx, account); err != nil {
			return nil, fmt.Errorf("credentials of %s: %w", account, err)
		}
	}
	limit, burst := r.Rate, r.Burst
	if limit == 0 {
		limit = 10
	}
	if burst == 0 {
		burst = 20
	}
	return &Session{Account: account, Credentials: creds, Limiter: rate.NewLimiter(limit, burst), Created: r.now()}, nil
}

func (r *Registry) stale(s *Session) bool {
	if s.Credentials.Expires.IsZero() {
		return false
	}
	refresh := r.Refresh
	if refresh == 0 {
		refresh = 5 * time.Minute
	}
	return !r.now().Before(s.Credentials.Expires.Add(-refresh))
}

func (r *Registry) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}
