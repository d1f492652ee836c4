package cloud_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
)

// named is a provider that says which implementation it is, in the network it makes.
type named struct {
	*sim.Provider
	name    string
	session *cloud.Session
}

func (n named) CreateNetwork(context.Context, cloud.Call, cloud.ClusterSpec) (cloud.NetworkRef, error) {
	return cloud.NetworkRef{ID: n.name}, nil
}

type countingSource struct {
	mu      sync.Mutex
	loads   map[cloud.AccountRef]int
	expires time.Time
}

func (s *countingSource) Credentials(_ context.Context, a cloud.AccountRef) (cloud.Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loads == nil {
		s.loads = map[cloud.AccountRef]int{}
	}
	s.loads[a]++
	if a.AccountID == "denied" {
		return cloud.Credentials{}, cloud.Errorf(cloud.ErrInvalid, "account %s is not connected", a.AccountID)
	}
	return cloud.Credentials{Values: map[string]string{"token": "t-" + a.AccountID}, Expires: s.expires}, nil
}

func TestRegistryChoosesByProviderAndProvisioner(t *testing.T) {
	r := cloud.NewRegistry(nil)
	for _, k := range cloud.Keys() {
		r.Register(k, func(_ context.Context, s *cloud.Session) (cloud.Provider, error) {
			return named{Provider: sim.New(0), name: k.String(), session: s}, nil
		})
	}
	acct := cloud.AccountRef{OrgID: "o", Provider: "aws", AccountID: "123456789012", CredentialsType: "dynamic"}
	for _, tc := range []struct {
		key  cloud.Key
		want string
	}{
		{cloud.Key{Provider: "aws", Provisioner: "eks"}, "aws/eks"},
		{cloud.Key{Provider: "aws", Provisioner: "selfHosted"}, "aws/selfHosted"},
		{cloud.Key{Provider: "gcp", Provisioner: "gke"}, "gcp/gke"},
		{cloud.Key{Provider: "gcp", Provisioner: "selfHosted"}, "gcp/selfHosted"},
		{cloud.Key{Provider: "azure", Provisioner: "aks"}, "azure/aks"},
		{cloud.Key{Provider: "aws"}, "aws/eks"}, // specs without a provisioner: the managed one
	} {
		p, err := r.Provider(t.Context(), tc.key, acct)
		if err != nil {
			t.Fatalf("%s: %v", tc.key, err)
		}
		if n, _ := p.CreateNetwork(t.Context(), cloud.Call{}, cloud.ClusterSpec{}); n.ID != tc.want {
			t.Errorf("%s chose %s", tc.key, n.ID)
		}
	}
	for _, k := range []cloud.Key{{Provider: "ibm", Provisioner: "iks"}, {Provider: "azure", Provisioner: "eks"}} {
		if _, err := r.Provider(t.Context(), k, acct); !errors.Is(err, cloud.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", k, err)
		}
	}
	if got := len(r.Registered()); got != len(cloud.Keys()) {
		t.Errorf("%d keys registered, want %d", got, len(cloud.Keys()))
	}
}

func TestSessionsAreCachedPerAccountAndRebuiltBeforeExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	src := &countingSource{expires: now.Add(time.Hour)}
	r := cloud.NewRegistry(src)
	r.Now = func() time.Time { return now }
	k := cloud.Key{Provider: "aws", Provisioner: "eks"}
	built := 0
	r.Register(k, func(_ context.Context, s *cloud.Session) (cloud.Provider, error) {
		built++
		if s.Credentials.Values["token"] != "t-"+s.Account.AccountID {
			return nil, fmt.Errorf("session of %s has credentials %v", s.Account, s.Credentials.Values)
		}
		return sim.New(0), nil
	})
	a := cloud.AccountRef{OrgID: "o1", Provider: "aws", AccountID: "111111111111", CredentialsType: "dynamic"}
	b := cloud.AccountRef{OrgID: "o2", Provider: "aws", AccountID: "222222222222", CredentialsType: "vault", VaultRef: "creds-1"}
	for range 3 {
		for _, acct := range []cloud.AccountRef{a, b} {
			if _, err := r.Provider(t.Context(), k, acct); err != nil {
				t.Fatal(err)
			}
		}
	}
	if built != 2 || src.loads[a] != 1 || src.loads[b] != 1 {
		t.Fatalf("built %d providers, loaded %v; want one per account", built, src.loads)
	}
	if s, ok := r.Session(k, b); !ok || s.Account != b || s.Limiter == nil {
		t.Fatalf("session of b: %+v, %v", s, ok)
	}
	now = now.Add(56 * time.Minute) // within 5 minutes of expiry: rebuilt
	if _, err := r.Provider(t.Context(), k, a); err != nil {
		t.Fatal(err)
	}
	if src.loads[a] != 2 || built != 3 {
		t.Fatalf("after expiry: loaded %v, built %d", src.loads, built)
	}
	_, err := r.Provider(t.Context(), k, cloud.AccountRef{Provider: "aws", AccountID: "denied"})
	if !errors.Is(err, cloud.ErrInvalid) {
		t.Fatalf("credentials refused: %v", err)
	}
}

func TestCallsArePacedPerAccount(t *testing.T) {
	r := cloud.NewRegistry(nil)
	r.Rate, r.Burst = 1, 1 // one call a second
	sim.Register(r, sim.New(0))
	k := cloud.Key{Provider: "gcp", Provisioner: "gke"}
	p, err := r.Provider(t.Context(), k, cloud.AccountRef{Provider: "gcp", AccountID: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	spec := cloud.ClusterSpec{Name: "c", Provider: "gcp"}
	if _, err := p.CreateNetwork(t.Context(), cloud.Call{Token: "1"}, spec); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := p.CreateNetwork(ctx, cloud.Call{Token: "2"}, spec); err == nil {
		t.Fatal("second call within a second went through a limit of one a second")
	}
	// Another account has its own budget.
	q, err := r.Provider(t.Context(), k, cloud.AccountRef{Provider: "gcp", AccountID: "p2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.CreateNetwork(t.Context(), cloud.Call{Token: "3"}, spec); err != nil {
		t.Fatalf("other account: %v", err)
	}
}

// A call queued behind its account's other calls says so through its progress
// callback as soon as it starts waiting, and again when it goes: the activity adapter
// heartbeats on reports, so a long wait does not time the activity out.
func TestWaitsForTheRateLimitAreReported(t *testing.T) {
	r := cloud.NewRegistry(nil)
	r.Rate, r.Burst = 0.5, 1 // one call every 2 s
	sim.Register(r, sim.New(0))
	p, err := r.Provider(t.Context(), cloud.Key{Provider: "gcp", Provisioner: "gke"}, cloud.AccountRef{Provider: "gcp", AccountID: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	type report struct {
		detail string
		at     time.Time
	}
	var (
		mu      sync.Mutex
		reports []report
	)
	call := func(token string) cloud.Call {
		return cloud.Call{Token: token, Progress: func(d string) {
			if !strings.Contains(d, "rate limit") {
				return // the simulated cloud's own reports
			}
			mu.Lock()
			defer mu.Unlock()
			reports = append(reports, report{d, time.Now()})
		}}
	}
	spec := cloud.ClusterSpec{Name: "c", Provider: "gcp"}
	if _, err := p.CreateNetwork(t.Context(), call("1"), spec); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(reports) != 0 {
		t.Fatalf("a call that did not wait reported %v", reports)
	}
	mu.Unlock()
	start := time.Now()
	if _, err := p.CreateNetwork(t.Context(), call("2"), spec); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	if took < time.Second || len(reports) != 2 {
		t.Fatalf("second call took %s and reported %v; want a wait of about 2 s, reported before and after", took, reports)
	}
	if !strings.Contains(reports[0].detail, "waiting") || reports[0].at.Sub(start) > 500*time.Millisecond {
		t.Fatalf("the wait was reported %s after it began (%q): the adapter would not heartbeat meanwhile",
			reports[0].at.Sub(start), reports[0].detail)
	}
	if !strings.Contains(reports[1].detail, "calling the cloud") || reports[1].at.Sub(start) < time.Second {
		t.Fatalf("after the wait: %q at %s", reports[1].detail, reports[1].at.Sub(start))
	}
}

func TestTypedErrors(t *testing.T) {
	cause := errors.New("AccessDenied")
	err := fmt.Errorf("deploy: %w", cloud.Errorf(cloud.ErrQuotaExceeded, "create node group %q: %w", "a", cause))
	if !errors.Is(err, cloud.ErrQuotaExceeded) || !errors.Is(err, cause) || errors.Is(err, cloud.ErrInvalid) {
		t.Fatalf("kinds of %v", err)
	}
	if !errors.Is(cloud.KindOf(err), cloud.ErrQuotaExceeded) || cloud.KindOf(cause) != nil {
		t.Fatalf("KindOf %v", cloud.KindOf(err))
	}
	var e *cloud.Error
	if !errors.As(err, &e) || e.Message() != `create node group "a": AccessDenied` || e.Error() != `quota exceeded: create node group "a": AccessDenied` {
		t.Fatalf("message %q / %q", e.Message(), e.Error())
	}
	th := cloud.Throttled(3*time.Second, "describe cluster", nil)
	if d, ok := cloud.RetryAfter(fmt.Errorf("x: %w", th)); !ok || d != 3*time.Second {
		t.Fatalf("retry after %s %v", d, ok)
	}
	if _, ok := cloud.RetryAfter(err); ok {
		t.Fatal("quota error has a retry-after")
	}
}

func TestSpecAccountFallsBackToOlderFields(t *testing.T) {
	old := cloud.ClusterSpec{Provider: "aws", ProvisionerType: "eks", AccountID: "123456789012", CredentialsType: "dynamic"}
	if a := old.AccountRef(); a.AccountID != "123456789012" || a.Provider != "aws" || a.CredentialsType != "dynamic" {
		t.Fatalf("%+v", a)
	}
	cur := old
	cur.Account = cloud.AccountRef{OrgID: "o", Provider: "aws", AccountID: "123456789012", CredentialsType: "dynamic"}
	if cur.AccountRef().OrgID != "o" || cur.Key() != (cloud.Key{Provider: "aws", Provisioner: "eks"}) {
		t.Fatalf("%+v", cur.AccountRef())
	}
}
