package gcp_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/conformance"
	"github.com/astropulse/astroplane/cloud/gcp"
	"github.com/astropulse/astroplane/cloud/gcp/gkefake"
)

const (
	project  = "my-project-123456"
	region   = "us-central1"
	parent   = "projects/" + project + "/locations/" + region
	apiToken = "ya29.test-access-token"
)

var account = cloud.AccountRef{OrgID: "org", Provider: "gcp", AccountID: project, CredentialsType: "dynamic"}

// gkeSpec is a small GKE cluster with one node group.
func gkeSpec(name string) cloud.ClusterSpec {
	return cloud.ClusterSpec{
		Name: name, Provider: "gcp", ProvisionerType: "gke", Region: region, AccountID: project,
		KubernetesVersion: "1.31", CredentialsType: "dynamic", Account: account,
		GKE: &cloud.GKESpec{ProjectID: project, ReleaseChannel: "STABLE", EnableWorkloadIdentity: true},
		NodeGroups: []cloud.NodeGroupSpec{{Name: "default-pool", MinNode: 1, MaxNode: 3, InstanceType: cloud.InstanceOnDemand,
			MachineTypes: []string{"e2-standard-4"}}},
	}
}

// startFake serves a new GKE wire server that wants the test's access token.
func startFake(t *testing.T) (*gkefake.Server, string) {
	t.Helper()
	fake := gkefake.New()
	fake.Token = apiToken
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, srv.URL
}

// credentials hand out the test's access token, as the connected account's would.
type credentials struct{}

func (credentials) Credentials(context.Context, cloud.AccountRef) (cloud.Credentials, error) {
	return cloud.Credentials{Values: map[string]string{gcp.AccessTokenKey: apiToken}, Expires: time.Now().Add(time.Hour)}, nil
}

// registryOn is a registry whose gcp/gke is the provider on the fake at url.
func registryOn(url string, poll time.Duration) *cloud.Registry {
	r := cloud.NewRegistry(credentials{})
	r.Rate, r.Burst = 1000, 1000 // every request waits on the account's limiter: tests make many
	r.Register(gcp.Key, gcp.Factory(gcp.Options{Endpoint: url, PollInterval: poll}))
	return r
}

// stepMethods are the REST methods of each step's calls, which Inject fails (the
// node-groups step looks for its pool before it creates one: the first node group
// comes with the cluster).
var stepMethods = map[string][]string{
	"network":          {"networks.insert"},
	"control-plane":    {"clusters.create"},
	"node-groups":      {"nodePools.get", "nodePools.create"},
	"cluster-settings": {"clusters.update", "clusters.setMaintenancePolicy", "nodePools.update"},
}

// fakeError is how GKE answers with the failure a typed error stands for: a failed
// operation for ErrFailed, the call's own answer for the others.
func fakeError(err error) (e *gkefake.Error, inOperation bool) {
	switch {
	case errors.Is(err, cloud.ErrNotFound):
		return gkefake.NotFound("injected: not found"), false
	case errors.Is(err, cloud.ErrAlreadyExists):
		return gkefake.AlreadyExists("injected: already exists"), false
	case errors.Is(err, cloud.ErrQuotaExceeded):
		return gkefake.QuotaExceeded("CPUS"), false
	case errors.Is(err, cloud.ErrInvalid):
		return gkefake.InvalidArgument("injected: invalid"), false
	case errors.Is(err, cloud.ErrThrottled):
		d, _ := cloud.RetryAfter(err)
		return gkefake.Throttled(d), false
	}
	return gkefake.Internal("injected: the operation failed"), true
}

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	fakes := map[cloud.Provider]*gkefake.Server{}
	conformance.Run(t, conformance.Harness{
		Spec: gkeSpec("conformance"),
		New: func(t *testing.T) cloud.Provider {
			fake, url := startFake(t)
			p, err := registryOn(url, time.Millisecond).Provider(t.Context(), gcp.Key, account)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			fakes[p] = fake
			mu.Unlock()
			return p
		},
		Inject: func(t *testing.T, p cloud.Provider, step string, err error) {
			mu.Lock()
			fake := fakes[p]
			mu.Unlock()
			e, inOp := fakeError(err)
			for _, m := range stepMethods[step] {
				t.Cleanup(fake.Inject(gkefake.Fault{Method: m, Err: e, InOperation: inOp}))
			}
		},
	})
}
