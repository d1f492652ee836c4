package activities_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
)

// settingsRecorder records the settings and the call it is given.
type settingsRecorder struct {
	*sim.Provider
	got  []cloud.ClusterSettings
	call cloud.Call
	ref  cloud.ClusterRef
}

func (r *settingsRecorder) UpdateClusterSettings(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, s cloud.ClusterSettings) error {
	r.got, r.call, r.ref = append(r.got, s), c, ref
	return r.Provider.UpdateClusterSettings(ctx, c, ref, s)
}

func TestUpdateClusterSettingsReachesTheProvider(t *testing.T) {
	r := &settingsRecorder{Provider: sim.New(0)}
	a, _ := newActivities(t, r)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	settings := activities.ClusterSettings{GKE: &cloud.GKESettings{ImageType: "UBUNTU_CONTAINERD", ReleaseChannel: "RAPID",
		MaintenanceWindow: &cloud.MaintenanceWindow{StartTime: "03:00", Duration: "4h"}, AuthorizedNetworks: []string{}}}
	spec := activities.ClusterSpec{Name: "c", Provider: "gcp", ProvisionerType: "gke", AccountID: "my-project"}
	in := activities.ClusterSettingsInput{Call: activities.Call{Token: "op-3-cluster-settings", Step: "3-cluster-settings"},
		Spec: spec, Ref: activities.ClusterRef{Provider: "gcp", ExternalID: "cp-1"}, Settings: settings}
	if _, err := env.ExecuteActivity(a.UpdateClusterSettings, in); err != nil {
		t.Fatal(err)
	}
	if len(r.got) != 1 || !reflect.DeepEqual(r.got[0], settings) {
		t.Fatalf("provider got %+v, want %+v", r.got, settings)
	}
	if r.call.Token != "op-3-cluster-settings" || r.call.Account != spec.AccountRef() || r.ref.ExternalID != "cp-1" {
		t.Errorf("call %+v, ref %+v", r.call, r.ref)
	}

	// Settings the provider refuses fail for good.
	in.Settings = activities.ClusterSettings{}
	_, err := env.ExecuteActivity(a.UpdateClusterSettings, in)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrTypeInvalidInput || !app.NonRetryable() {
		t.Fatalf("empty settings: %v, want a non-retryable %s", err, activities.ErrTypeInvalidInput)
	}
}

func TestUpdateClusterSettingsWithoutClouds(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	a := &activities.Cluster{}
	env.RegisterActivity(a)
	_, err := env.ExecuteActivity(a.UpdateClusterSettings, activities.ClusterSettingsInput{Spec: activities.ClusterSpec{Provider: "aws", ProvisionerType: "eks"}})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrTypeInvalidInput {
		t.Fatalf("got %v, want %s", err, activities.ErrTypeInvalidInput)
	}
}
