package azure_test

import (
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/azure"
	"github.com/astropulse/astroplane/cloud/conformance"
)

const testSub = "00000000-1111-2222-3333-444444444444"

// testToken is the access token the tests' sessions carry: it must reach Azure in the
// Authorization header and nowhere else.
const testToken = "test-arm-access-token-7d1f"

func aksSpec(name, group string) cloud.ClusterSpec {
	return cloud.ClusterSpec{
		Name: name, Provider: "azure", ProvisionerType: "aks", Region: "eastus", AccountID: testSub,
		KubernetesVersion: "1.31", CredentialsType: "dynamic",
		Account: cloud.AccountRef{OrgID: "org", Provider: "azure", AccountID: testSub, CredentialsType: "dynamic"},
		AKS:     &cloud.AKSSpec{SubscriptionID: testSub, ResourceGroup: group},
		NodeGroups: []cloud.NodeGroupSpec{{Name: "systempool", MinNode: 1, MaxNode: 3, InstanceType: cloud.InstanceOnDemand,
			MachineTypes: []string{"Standard_D2s_v5"}, Labels: map[string]string{"environment": "dev"}}},
	}
}

func session() *cloud.Session {
	return &cloud.Session{
		Account:     cloud.AccountRef{OrgID: "org", Provider: "azure", AccountID: testSub, CredentialsType: "dynamic"},
		Credentials: cloud.Credentials{Values: map[string]string{azure.CredAccessToken: testToken}, Expires: time.Now().Add(time.Hour)},
	}
}

// newProvider returns a provider on a fresh fake subscription.
func newProvider(t *testing.T) (*azure.Provider, *fakeARM) {
	t.Helper()
	f := newFakeARM(testSub)
	p, err := azure.New(session(), azure.Options{Transport: f, PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return p, f
}

// azureAnswer is the Azure error answer standing for an error of kind.
func azureAnswer(err error) *armError {
	var e *cloud.Error
	errors.As(err, &e)
	switch {
	case errors.Is(err, cloud.ErrNotFound):
		return &armError{Status: http.StatusNotFound, Code: "ResourceNotFound", Message: "injected"}
	case errors.Is(err, cloud.ErrAlreadyExists):
		return &armError{Status: http.StatusConflict, Code: "ResourceAlreadyExists", Message: "injected"}
	case errors.Is(err, cloud.ErrQuotaExceeded):
		return &armError{Status: http.StatusBadRequest, Code: "QuotaExceeded",
			Message: "Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota. Current Limit: 10, Current Usage: 8, Additional Required: 4."}
	case errors.Is(err, cloud.ErrInvalid):
		return &armError{Status: http.StatusForbidden, Code: "AuthorizationFailed",
			Message: "The client does not have authorization to perform action 'Microsoft.ContainerService/managedClusters/write'."}
	case errors.Is(err, cloud.ErrThrottled):
		return &armError{Status: http.StatusTooManyRequests, Code: "TooManyRequests", Message: "injected", RetryAfter: e.RetryAfter}
	}
	return &armError{Status: http.StatusBadRequest, Code: "ResourceDeploymentFailure",
		Message: "The resource write operation failed to complete successfully, because it reached terminal provisioning state 'Failed'."}
}

// stepAPIs is which SDK clients serve a step's calls.
var stepAPIs = map[string]string{
	"network":          "ResourceGroupsClient.",
	"control-plane":    "ManagedClustersClient.",
	"node-groups":      "AgentPoolsClient.",
	"cluster-settings": "",
}

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	fakes := map[cloud.Provider]*fakeARM{}
	conformance.Run(t, conformance.Harness{
		Spec: aksSpec("conformance", "astro-conformance"),
		New: func(t *testing.T) cloud.Provider {
			p, f := newProvider(t)
			mu.Lock()
			defer mu.Unlock()
			fakes[p] = f
			return p
		},
		Inject: func(t *testing.T, p cloud.Provider, step string, err error) {
			mu.Lock()
			f := fakes[p]
			mu.Unlock()
			prefix, ok := stepAPIs[step]
			if !ok {
				t.Fatalf("no Azure calls known for step %q", step)
			}
			f.Inject(prefix, azureAnswer(err), 0)
			t.Cleanup(f.Clear)
		},
	})
}
