// Package livecatalog is the API's way to a connected account's live catalog: the
// API holds no cloud credentials, so it starts the worker's short LookupCatalog
// workflow and awaits it for a moment. Answers are kept for a few minutes, and
// which accounts an organization connected for half a minute, so a deploy of an
// organization without a connection costs no Temporal call and, within that half
// minute, no store query either.
package livecatalog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// Defaults of a Lookup.
const (
	// DefaultWait is how long a request awaits the worker's answer before it falls
	// back to the static tables (the worker goes on and caches the answer).
	DefaultWait = 5 * time.Second
	// DefaultTTL is how long the API keeps an answer.
	DefaultTTL = 5 * time.Minute
	// DefaultAccountsTTL is how long the API keeps an organization's connected
	// accounts: a new connection is used at most this late.
	DefaultAccountsTTL = 30 * time.Second
	// maxEntries bounds each of the two caches; past it, expired entries go, then all.
	maxEntries = 4096
)

// Connected lists an organization's connected accounts (store.ConnectedAccounts).
type Connected func(ctx context.Context, orgID string) ([]store.ConnectedAccountRef, error)

// Lookup finds an organization's connected accounts and asks their live catalogs
// through the worker. A nil *Lookup finds none. Safe for concurrent use.
type Lookup struct {
	connected Connected
	temporal  client.Client
	taskQueue string
	// Wait, TTL and AccountsTTL are DefaultWait, DefaultTTL and DefaultAccountsTTL
	// when zero.
	Wait, TTL, AccountsTTL time.Duration
	// Now is the clock; nil = time.Now.
	Now func() time.Time

	mu      sync.Mutex
	orgs    map[string]orgEntry
	answers map[answerKey]answerEntry
}

type orgEntry struct {
	accounts []store.ConnectedAccountRef
	fetched  time.Time
}

type answerKey struct {
	account cloud.AccountRef
	region  string
}

type answerEntry struct {
	answer  Answer
	fetched time.Time
}

// New returns the lookup of the organizations' connected accounts (connected,
// usually store.ConnectedAccounts) through workflows started on taskQueue by tc.
// Without tc, nothing is connected.
func New(connected Connected, tc client.Client, taskQueue string) *Lookup {
	return &Lookup{connected: connected, temporal: tc, taskQueue: taskQueue}
}

// Account returns orgID's connected account of provider to look its catalog up
// with: accountID when the organization connected it, else the newest connected
// account of provider. ok is false when the organization connected none (or the
// store could not say: a look-up is never worth refusing a request).
func (l *Lookup) Account(ctx context.Context, orgID, provider, accountID string) (account cloud.AccountRef, ok bool) {
	if l == nil || l.temporal == nil || l.connected == nil || orgID == "" {
		return cloud.AccountRef{}, false
	}
	now := l.now()
	l.mu.Lock()
	e, cached := l.orgs[orgID]
	l.mu.Unlock()
	if !cached || now.Sub(e.fetched) >= or(l.AccountsTTL, DefaultAccountsTTL) {
		accounts, err := l.connected(ctx, orgID)
		if err != nil {
			return cloud.AccountRef{}, false
		}
		e = orgEntry{accounts: accounts, fetched: now}
		l.mu.Lock()
		if l.orgs == nil || len(l.orgs) >= maxEntries {
			l.orgs = prune(l.orgs, func(e orgEntry) bool { return now.Sub(e.fetched) < or(l.AccountsTTL, DefaultAccountsTTL) })
		}
		l.orgs[orgID] = e
		l.mu.Unlock()
	}
	var found *store.ConnectedAccountRef
	for i, a := range e.accounts {
		if a.Provider != provider {
			continue
		}
		if a.AccountID == accountID {
			found = &e.accounts[i]
			break
		}
		if found == nil {
			found = &e.accounts[i]
		}
	}
	if found == nil {
		return cloud.AccountRef{}, false
	}
	return cloud.AccountRef{OrgID: orgID, Provider: provider, AccountID: found.AccountID, CredentialsType: "dynamic"}, true
}

// Answer is a live catalog's answer for one account and region.
type Answer struct {
	Account cloud.AccountRef
	Region  string
	// MachineTypes are the region's types when MachineTypesError is empty.
	MachineTypes      []catalog.MachineTypeInfo
	MachineTypesError string
	// Versions are the supported minors, newest first, when VersionsError is empty.
	Versions      []catalog.Version
	VersionsError string
	// Zones are the region's zones when ZonesError is empty.
	Zones      []string
	ZonesError string
	// RegionUnknown means the provider says the region does not exist (ZonesError
	// says how); the other questions were not asked.
	RegionUnknown bool
	// Regions are the account's regions when RegionsError is empty: the answer of
	// Regions (Region is then empty, and nothing else was asked).
	Regions      []string
	RegionsError string
}

// Source names the answer's source for users: "the live catalog of aws account
// 123456789012".
func (a Answer) Source() string {
	return fmt.Sprintf("the live catalog of %s account %s", a.Account.Provider, a.Account.AccountID)
}

// Live is the answer as a catalog.Live (and catalog.Zones) of its region, for
// validate.CheckLive: a question the provider could not answer is an error, and the
// static tables decide.
func (a Answer) Live() catalog.Live { return answerLive{a: a} }

type answerLive struct{ a Answer }

var _ catalog.Zones = answerLive{}

func (l answerLive) MachineTypes(_ context.Context, region string) ([]catalog.MachineTypeInfo, error) {
	a := l.a
	if region != a.Region {
		return nil, fmt.Errorf("the live catalog was asked for %s, not %s: %w", a.Region, region, catalog.ErrLiveUnavailable)
	}
	if a.MachineTypesError != "" {
		return nil, errors.New(a.MachineTypesError)
	}
	return a.MachineTypes, nil
}

// Zones answers the region's zones; an error wrapping catalog.ErrUnknownRegion when
// the provider said the region does not exist.
func (l answerLive) Zones(_ context.Context, region string) ([]string, error) {
	a := l.a
	switch {
	case region != a.Region:
		return nil, fmt.Errorf("the live catalog was asked for %s, not %s: %w", a.Region, region, catalog.ErrLiveUnavailable)
	case a.RegionUnknown:
		return nil, fmt.Errorf("%s: %w", a.ZonesError, catalog.ErrUnknownRegion)
	case a.ZonesError != "":
		return nil, errors.New(a.ZonesError)
	}
	return a.Zones, nil
}

func (l answerLive) KubernetesVersions(context.Context) ([]catalog.Version, error) {
	a := l.a
	if a.VersionsError != "" {
		return nil, errors.New(a.VersionsError)
	}
	return a.Versions, nil
}

// ErrNoAnswer is wrapped by Region's error when the worker did not answer in time
// or the workflow failed; the caller falls back to the static tables.
var ErrNoAnswer = errors.New("the live catalog did not answer")

// Region returns account's live catalog of region: kept from an earlier call for
// TTL, else from a LookupCatalog workflow awaited for Wait. An empty region asks
// the account's list of regions instead (see Regions). An error wraps
// ErrNoAnswer; it is never the caller's fault.
func (l *Lookup) Region(ctx context.Context, account cloud.AccountRef, region string) (Answer, error) {
	if l == nil || l.temporal == nil {
		return Answer{}, fmt.Errorf("%w: no Temporal client", ErrNoAnswer)
	}
	k := answerKey{account: account, region: region}
	now := l.now()
	ttl := or(l.TTL, DefaultTTL)
	l.mu.Lock()
	e, ok := l.answers[k]
	l.mu.Unlock()
	if ok && now.Sub(e.fetched) < ttl {
		return e.answer, nil
	}
	wait, cancel := context.WithTimeout(ctx, or(l.Wait, DefaultWait))
	defer cancel()
	run, err := l.temporal.ExecuteWorkflow(wait, client.StartWorkflowOptions{
		ID:        workflows.CatalogWorkflowID(account.OrgID, store.NewID()),
		TaskQueue: l.taskQueue,
		// A lookup nobody took within a minute is of no use to anyone.
		WorkflowExecutionTimeout: time.Minute,
		StaticSummary:            summary(account, region),
	}, workflows.LookupCatalog, activities.LookupCatalogInput{Account: account, Region: region})
	if err != nil {
		return Answer{}, fmt.Errorf("%w: start LookupCatalog: %w", ErrNoAnswer, err)
	}
	var res activities.LookupCatalogResult
	if err := run.Get(wait, &res); err != nil {
		if wait.Err() != nil {
			return Answer{}, fmt.Errorf("%w within %s", ErrNoAnswer, or(l.Wait, DefaultWait))
		}
		return Answer{}, fmt.Errorf("%w: %w", ErrNoAnswer, err)
	}
	a := Answer{Account: account, Region: region, MachineTypesError: res.MachineTypesError, Versions: res.Versions, VersionsError: res.VersionsError,
		Zones: res.Zones, ZonesError: res.ZonesError, RegionUnknown: res.RegionUnknown, Regions: res.Regions, RegionsError: res.RegionsError}
	if res.MachineTypesError == "" {
		a.MachineTypes = make([]catalog.MachineTypeInfo, len(res.MachineTypes))
		for i, m := range res.MachineTypes {
			a.MachineTypes[i] = m.Info()
		}
	}
	// An answer with a half that failed for a passing reason (throttling, network,
	// permissions) is not kept: the next caller asks again. "Cannot answer this at
	// all" is an answer, and kept; so is "no such region".
	if res.RegionUnknown || (a.MachineTypesError == "" || res.MachineTypesUnavailable) && (a.VersionsError == "" || res.VersionsUnavailable) &&
		(a.ZonesError == "" || res.ZonesUnavailable) && (a.RegionsError == "" || res.RegionsUnavailable) {
		l.mu.Lock()
		if l.answers == nil || len(l.answers) >= maxEntries {
			l.answers = prune(l.answers, func(e answerEntry) bool { return now.Sub(e.fetched) < ttl })
		}
		l.answers[k] = answerEntry{answer: a, fetched: now}
		l.mu.Unlock()
	}
	return a, nil
}

// Regions returns account's list of regions, as Region does for one region's
// catalog (a LookupCatalog workflow without a region, the answer kept for TTL).
func (l *Lookup) Regions(ctx context.Context, account cloud.AccountRef) (Answer, error) {
	return l.Region(ctx, account, "")
}

// prune returns m without the entries keep refuses; empty when still full.
func prune[K comparable, V any](m map[K]V, keep func(V) bool) map[K]V {
	for k, v := range m {
		if !keep(v) {
			delete(m, k)
		}
	}
	if m == nil || len(m) >= maxEntries {
		return map[K]V{}
	}
	return m
}

// summary is the workflow's summary: which account's catalog of which region.
func summary(account cloud.AccountRef, region string) string {
	if region == "" {
		return fmt.Sprintf("regions of %s account %s", account.Provider, account.AccountID)
	}
	return fmt.Sprintf("catalog of %s account %s in %s", account.Provider, account.AccountID, region)
}

func (l *Lookup) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
