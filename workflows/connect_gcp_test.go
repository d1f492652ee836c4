package workflows_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// gcpConnectEnv runs ConnectGCPProject against mocked activities: the federation is
// ready from the readyAfter-th attempt on (never when zero), or refused at once.
func gcpConnectEnv(t *testing.T, readyAfter int, refused bool) (*testsuite.TestWorkflowEnvironment, *[]activities.RecordConnectionInput, *[]time.Time) {
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
	env.OnActivity(a.PrepareGCPConnection, mock.Anything, mock.Anything).Return(activities.PrepareGCPConnectionResult{
		ProjectID: "acme-prod", ProjectNumber: "123456789012", ServiceAccount: "astro-prod@acme-prod.iam.gserviceaccount.com",
		Provider: "projects/123456789012/locations/global/workloadIdentityPools/astro-plane/providers/astro-x"}, nil)
	env.OnActivity(a.VerifyGCPFederation, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.VerifyGCPFederationInput) (activities.VerifyGCPFederationResult, error) {
		mu.Lock()
		defer mu.Unlock()
		*attempts = append(*attempts, env.Now())
		if in.OrgID != "org-1" || in.ProjectNumber != "123456789012" || in.ServiceAccount != "astro-prod@acme-prod.iam.gserviceaccount.com" {
			t.Errorf("verify input %+v", in)
		}
		if refused {
			return activities.VerifyGCPFederationResult{}, temporal.NewNonRetryableApplicationError("rejected by the attribute condition", activities.ErrTypeGCPCondition, nil)
		}
		if readyAfter > 0 && len(*attempts) >= readyAfter {
			return activities.VerifyGCPFederationResult{Ready: true}, nil
		}
		return activities.VerifyGCPFederationResult{Reason: "403 Permission 'iam.serviceAccounts.getAccessToken' denied"}, nil
	})
	return env, records, attempts
}

var gcpConnectIn = workflows.ConnectGCPProjectInput{OrgID: "org-1", ConnectionID: "acme.prod.connect-gcp.1", Timeout: time.Hour}

// The wait backs off (10 s doubling up to 2 min) and ends connected once the
// exchange works; each step is recorded, the waiting record with its deadline.
func TestConnectGCPProjectWaitsWithBackoff(t *testing.T) {
	env, records, attempts := gcpConnectEnv(t, 6, false)
	env.ExecuteWorkflow(workflows.ConnectGCPProject, gcpConnectIn)
	var res workflows.ConnectGCPProjectResult
	if err := env.GetWorkflowResult(&res); err != nil || res.Status != store.ConnectionConnected || res.ServiceAccount == "" {
		t.Fatalf("result %+v, %v", res, err)
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 120 * time.Second}
	if len(*attempts) != len(want)+1 {
		t.Fatalf("%d attempts, want %d", len(*attempts), len(want)+1)
	}
	for i := range want {
		if gap := (*attempts)[i+1].Sub((*attempts)[i]); gap != want[i] {
			t.Fatalf("wait %d was %s, want %s", i, gap, want[i])
		}
	}
	last := (*records)[len(*records)-1]
	if last.Status != store.ConnectionConnected || !last.Ended || last.ConnectedAt == nil || !contains(last.Message, "acme-prod", "astro-prod@") {
		t.Fatalf("last record %+v", last)
	}
	names := []string{workflows.StepSetupScript, workflows.StepWaitForFederation, workflows.StepConnectRecord}
	for i, s := range last.Steps {
		if s.Name != names[i] || s.Status != "SUCCEEDED" {
			t.Fatalf("steps %+v", last.Steps)
		}
	}
	if w := (*records)[1]; w.Status != store.ConnectionWaitingForCustomer || w.Deadline == nil || !contains(w.Message, "setup script") {
		t.Fatalf("waiting record %+v", w)
	}
}

// Federation that never comes fails at the deadline with the last reason.
func TestConnectGCPProjectFailsAtItsDeadline(t *testing.T) {
	env, records, attempts := gcpConnectEnv(t, 0, false)
	env.ExecuteWorkflow(workflows.ConnectGCPProject, gcpConnectIn)
	if env.GetWorkflowError() == nil {
		t.Fatal("no error")
	}
	last := (*records)[len(*records)-1]
	if last.Status != store.ConnectionFailed || !last.Ended || last.Steps[1].Status != "FAILED" ||
		!contains(last.Message, "within 1h0m0s", "getAccessToken", "setup script") {
		t.Fatalf("last record %+v", last)
	}
	if span := (*attempts)[len(*attempts)-1].Sub((*attempts)[0]); span > time.Hour || len(*attempts) > 40 {
		t.Fatalf("%d attempts over %s", len(*attempts), span)
	}
}

// A provider refusing the organization fails at once; a cancel records CANCELLED.
func TestConnectGCPProjectRefusedOrCancelled(t *testing.T) {
	env, records, attempts := gcpConnectEnv(t, 0, true)
	env.ExecuteWorkflow(workflows.ConnectGCPProject, gcpConnectIn)
	if env.GetWorkflowError() == nil || len(*attempts) != 1 {
		t.Fatalf("err %v after %d attempts", env.GetWorkflowError(), len(*attempts))
	}
	if last := (*records)[len(*records)-1]; last.Status != store.ConnectionFailed || !contains(last.Message, "attribute condition") {
		t.Fatalf("last record %+v", last)
	}

	env, records, _ = gcpConnectEnv(t, 0, false)
	env.RegisterDelayedCallback(env.CancelWorkflow, 5*time.Minute)
	env.ExecuteWorkflow(workflows.ConnectGCPProject, gcpConnectIn)
	if !temporal.IsCanceledError(env.GetWorkflowError()) {
		t.Fatalf("error %v", env.GetWorkflowError())
	}
	if last := (*records)[len(*records)-1]; last.Status != store.ConnectionCancelled || !last.Ended || last.Steps[1].Status != "CANCELLED" {
		t.Fatalf("last record %+v", last)
	}
}

// Without a timeout or a poll interval the defaults apply: the deadline is an hour
// and the first wait ten seconds.
func TestConnectGCPProjectDefaults(t *testing.T) {
	env, records, attempts := gcpConnectEnv(t, 0, false)
	env.ExecuteWorkflow(workflows.ConnectGCPProject, workflows.ConnectGCPProjectInput{OrgID: "org-1", ConnectionID: "acme.prod.connect-gcp.1"})
	if env.GetWorkflowError() == nil {
		t.Fatal("no error")
	}
	if last := (*records)[len(*records)-1]; !contains(last.Message, "within 1h0m0s") {
		t.Fatalf("last record %+v", last)
	}
	if gap := (*attempts)[1].Sub((*attempts)[0]); gap != workflows.DefaultConnectPoll {
		t.Fatalf("first wait %s, want %s", gap, workflows.DefaultConnectPoll)
	}
}
