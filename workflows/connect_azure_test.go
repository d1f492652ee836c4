package workflows_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// azureEnv runs ConnectAzureSubscription against mocked activities: the identity
// works from the readyAfter-th attempt on (never when zero; refused at once when
// refused); it returns the records made and the times of the attempts.
func azureEnv(t *testing.T, readyAfter int, refused bool) (*testsuite.TestWorkflowEnvironment, *[]activities.RecordConnectionInput, *[]time.Time) {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	a := &activities.CloudAccounts{}
	env.RegisterActivity(a)
	var mu sync.Mutex
	records, attempts := &[]activities.RecordConnectionInput{}, &[]time.Time{}
	env.OnActivity(a.RecordConnection, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordConnectionInput) error {
		mu.Lock()
		defer mu.Unlock()
		*records = append(*records, in)
		return nil
	})
	env.OnActivity(a.PrepareAzureConnection, mock.Anything, mock.Anything).Return(activities.PrepareAzureConnectionResult{
		SubscriptionID: "11111111-2222-3333-4444-555555555555", IdentityName: "astroplane-prod", Role: "Contributor",
		Scope: "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/aks"}, nil)
	env.OnActivity(a.VerifyAzureIdentity, mock.Anything, mock.Anything).Return(func(context.Context, activities.VerifyAzureIdentityInput) (activities.VerifyAzureIdentityResult, error) {
		mu.Lock()
		defer mu.Unlock()
		*attempts = append(*attempts, env.Now())
		if refused {
			return activities.VerifyAzureIdentityResult{}, temporal.NewNonRetryableApplicationError("AADSTS90002: Tenant not found", activities.ErrTypeAzureRefused, nil)
		}
		if readyAfter > 0 && len(*attempts) >= readyAfter {
			return activities.VerifyAzureIdentityResult{Ready: true, ClientID: "c1"}, nil
		}
		return activities.VerifyAzureIdentityResult{Reason: "AADSTS70021: No matching federated identity record found"}, nil
	})
	return env, records, attempts
}

var azureIn = workflows.ConnectAzureSubscriptionInput{OrgID: "org-1", ConnectionID: "acme.prod.connect-azure.1", Timeout: time.Hour}

// The wait backs off (10 s doubling up to 2 min) and ends connected once the identity
// works; every step and the end are recorded.
func TestConnectAzureSubscriptionWaitsWithBackoff(t *testing.T) {
	env, records, attempts := azureEnv(t, 5, false)
	env.ExecuteWorkflow(workflows.ConnectAzureSubscription, azureIn)
	var res workflows.ConnectAzureSubscriptionResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, store.ConnectionConnected, res.Status)
	require.Equal(t, "c1", res.ClientID)
	var gaps []time.Duration
	for i := 1; i < len(*attempts); i++ {
		gaps = append(gaps, (*attempts)[i].Sub((*attempts)[i-1]))
	}
	require.Equal(t, []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second}, gaps)
	require.Equal(t, store.ConnectionWaitingForCustomer, (*records)[1].Status)
	require.NotNil(t, (*records)[1].Deadline)
	require.Contains(t, (*records)[1].Message, "astroplane-prod")
	last := (*records)[len(*records)-1]
	require.Equal(t, store.ConnectionConnected, last.Status)
	require.True(t, last.Ended)
	require.NotNil(t, last.ConnectedAt)
	for _, s := range last.Steps {
		require.Equal(t, "SUCCEEDED", s.Status, s.Name)
	}
	require.Equal(t, []string{workflows.StepSetupScript, workflows.StepWaitForIdentity, workflows.StepConnectRecord},
		[]string{last.Steps[0].Name, last.Steps[1].Name, last.Steps[2].Name})
}

// An identity that never works fails at the deadline with Entra's last answer and
// what to do.
func TestConnectAzureSubscriptionFailsAtItsDeadline(t *testing.T) {
	env, records, attempts := azureEnv(t, 0, false)
	env.ExecuteWorkflow(workflows.ConnectAzureSubscription, azureIn)
	require.Error(t, env.GetWorkflowError())
	last := (*records)[len(*records)-1]
	require.Equal(t, store.ConnectionFailed, last.Status)
	require.True(t, last.Ended)
	require.Equal(t, "FAILED", last.Steps[1].Status)
	require.Contains(t, last.Message, "within 1h0m0s")
	require.Contains(t, last.Message, "AADSTS70021")
	require.Contains(t, last.Message, "run the setup script")
	require.LessOrEqual(t, (*attempts)[len(*attempts)-1].Sub((*attempts)[0]), time.Hour)
	require.Less(t, len(*attempts), 40)
}

// A refusal waiting cannot cure fails at once.
func TestConnectAzureSubscriptionRefusedFailsAtOnce(t *testing.T) {
	env, records, attempts := azureEnv(t, 0, true)
	env.ExecuteWorkflow(workflows.ConnectAzureSubscription, azureIn)
	require.Error(t, env.GetWorkflowError())
	require.Len(t, *attempts, 1)
	last := (*records)[len(*records)-1]
	require.Equal(t, store.ConnectionFailed, last.Status)
	require.Contains(t, last.Message, "AADSTS90002")
}

// Without a timeout or a poll interval the defaults apply: the deadline is an hour
// and the first wait ten seconds.
func TestConnectAzureSubscriptionDefaults(t *testing.T) {
	env, records, attempts := azureEnv(t, 0, false)
	env.ExecuteWorkflow(workflows.ConnectAzureSubscription, workflows.ConnectAzureSubscriptionInput{OrgID: "org-1", ConnectionID: "acme.prod.connect-azure.1"})
	require.Error(t, env.GetWorkflowError())
	require.Contains(t, (*records)[len(*records)-1].Message, "within 1h0m0s")
	require.Equal(t, workflows.DefaultConnectPoll, (*attempts)[1].Sub((*attempts)[0]))
}
