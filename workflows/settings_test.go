package workflows_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

var gkeSpec = activities.ClusterSpec{
	Name: "prod", Provider: "gcp", ProvisionerType: "gke", Region: "us-central1", KubernetesVersion: "1.31",
	GKE:        &cloud.GKESpec{ProjectID: "my-project", ReleaseChannel: "STABLE", AuthorizedNetworks: []string{"10.0.0.0/8"}},
	NodeGroups: []activities.NodeGroupSpec{{Name: "default-pool", MinNode: 1, MaxNode: 3, MachineTypes: []string{"e2-standard-4"}}},
}

var gkeSettings = activities.ClusterSettings{GKE: &cloud.GKESettings{ImageType: "UBUNTU_CONTAINERD", ReleaseChannel: "RAPID",
	MaintenanceWindow: &cloud.MaintenanceWindow{StartTime: "03:00", Duration: "4h"}, AuthorizedNetworks: []string{}}}

func settingsUpdate(settings *activities.ClusterSettings) workflows.UpdateClusterInput {
	return workflows.UpdateClusterInput{
		Op: workflows.Operation{OrgID: "org-1", ClusterID: "cl-1", OperationID: "acme.prod.update.2"}, Current: gkeSpec,
		Ref: activities.ClusterRef{Provider: "gcp", ExternalID: "cp-1"},
		Steps: []workflows.UpdateStep{
			{Name: "1-tags-update", Kind: workflows.KindTagsUpdate, Tags: map[string]string{"team": "platform"}},
			{Name: "2-cluster-settings", Kind: workflows.KindClusterSettings, Settings: settings},
		},
	}
}

// A cluster-settings step gives the provider the settings, and the cluster records
// them (and its node pools the new image) once it succeeded.
func TestUpdateClusterSettingsStep(t *testing.T) {
	f := &fakeCloud{}
	env := newEnv(f)
	var limit, heartbeat time.Duration
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == "UpdateClusterSettings" {
			limit, heartbeat = info.Deadline.Sub(info.StartedTime), info.HeartbeatTimeout
		}
	})
	settings := gkeSettings
	env.ExecuteWorkflow(workflows.UpdateCluster, settingsUpdate(&settings))
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"BeginOperation", "UpdateTags", "UpdateClusterSettings", "FinishOperation"}; !slices.Equal(f.calls, want) {
		t.Fatalf("calls %v, want %v", f.calls, want)
	}
	in := f.settings[0]
	if in.Call.Token != "acme.prod.update.2-2-cluster-settings" || in.Call.Step != "2-cluster-settings" || in.Call.Tags["team"] != "platform" ||
		in.Ref.ExternalID != "cp-1" || in.Spec.Tags["team"] != "platform" || in.Spec.GKE.ReleaseChannel != "STABLE" {
		t.Errorf("activity input %+v", in)
	}
	if !reflect.DeepEqual(in.Settings, gkeSettings) {
		t.Errorf("settings %+v, want %+v", in.Settings, gkeSettings)
	}
	if limit < time.Hour || heartbeat <= 0 || heartbeat > time.Minute {
		t.Errorf("UpdateClusterSettings may take %s with heartbeat %s: a node pool re-image takes hours, heartbeats within a minute", limit, heartbeat)
	}
	fin := f.lastFinish(t)
	// Cleared authorized networks are recorded as none (the spec's JSON omits the empty list).
	want := cloud.GKESpec{ProjectID: "my-project", ReleaseChannel: "RAPID", ImageType: "UBUNTU_CONTAINERD",
		MaintenanceWindow: &cloud.MaintenanceWindow{StartTime: "03:00", Duration: "4h"}}
	if fin.OperationStatus != store.OperationSucceeded || fin.Spec == nil || !reflect.DeepEqual(*fin.Spec.GKE, want) ||
		fin.Spec.NodeGroups[0].ImageType != "UBUNTU_CONTAINERD" || fin.Spec.Tags["team"] != "platform" {
		t.Fatalf("outcome %+v (GKE %+v)", fin, fin.Spec.GKE)
	}
	p := queryProgress(t, env)
	if st := stepNamed(p, "2-cluster-settings"); st == nil || st.Status != workflows.StepSucceeded {
		t.Fatalf("progress %+v", p)
	}
	if gkeSpec.GKE.ReleaseChannel != "STABLE" {
		t.Fatal("the update changed its input's spec")
	}
}

// A failed settings change leaves the recorded settings as they were.
func TestUpdateClusterSettingsFailure(t *testing.T) {
	f := &fakeCloud{failAt: "UpdateClusterSettings"}
	env := newEnv(f)
	settings := gkeSettings
	env.ExecuteWorkflow(workflows.UpdateCluster, settingsUpdate(&settings))
	var appErr *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeInjected {
		t.Fatalf("workflow error %v", err)
	}
	fin := f.lastFinish(t)
	if fin.OperationStatus != store.OperationFailed || fin.ClusterStatus != store.ClusterReady || fin.Spec.GKE.ReleaseChannel != "STABLE" ||
		fin.Spec.NodeGroups[0].ImageType != "" || fin.Spec.Tags["team"] != "platform" {
		t.Fatalf("outcome %+v", fin)
	}
}

// Before update-cluster-settings-step the workflow did not know the kind: a history
// that failed such a step replays as it ran, and a step without settings fails the
// same way.
func TestUpdateClusterSettingsUnknownBeforeTheVersion(t *testing.T) {
	settings := gkeSettings
	for _, tc := range []struct {
		name     string
		old      bool
		settings *activities.ClusterSettings
	}{{"before the version", true, &settings}, {"no settings", false, nil}} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCloud{}
			env := newEnv(f)
			if tc.old {
				env.OnGetVersion("update-cluster-settings-step", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			}
			env.ExecuteWorkflow(workflows.UpdateCluster, settingsUpdate(tc.settings))
			var appErr *temporal.ApplicationError
			if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeInvalidInput || !appErr.NonRetryable() {
				t.Fatalf("workflow error %v, want a non-retryable %s", err, activities.ErrTypeInvalidInput)
			}
			if slices.Contains(f.calls, "UpdateClusterSettings") {
				t.Fatalf("calls %v", f.calls)
			}
			if fin := f.lastFinish(t); fin.OperationStatus != store.OperationFailed || fin.Spec.GKE.ReleaseChannel != "STABLE" {
				t.Fatalf("outcome %+v", fin)
			}
		})
	}
}

func stepNamed(p workflows.Progress, name string) *workflows.Step {
	for i := range p.Steps {
		if p.Steps[i].Name == name {
			return &p.Steps[i]
		}
	}
	return nil
}
