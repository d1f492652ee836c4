package sim_test

import (
	"testing"
	"time"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/conformance"
	"github.com/astropulse/astroplane/cloud/sim"
)

func TestConformance(t *testing.T) {
	gke := cloud.ClusterSpec{
		Name: "conformance", Provider: "gcp", ProvisionerType: "gke", Region: "us-central1", AccountID: "my-project-123456",
		KubernetesVersion: "1.31", CredentialsType: "dynamic",
		Account: cloud.AccountRef{OrgID: "org", Provider: "gcp", AccountID: "my-project-123456", CredentialsType: "dynamic"},
		GKE:     &cloud.GKESpec{ProjectID: "my-project-123456", ReleaseChannel: "STABLE", EnableWorkloadIdentity: true},
		NodeGroups: []cloud.NodeGroupSpec{{Name: "default-pool", MinNode: 1, MaxNode: 3, InstanceType: cloud.InstanceOnDemand,
			MachineTypes: []string{"e2-standard-4"}}},
	}
	for _, tc := range []struct {
		name  string
		delay time.Duration
		spec  cloud.ClusterSpec
	}{{"instant", 0, cloud.ClusterSpec{}}, {"slow", 20 * time.Millisecond, cloud.ClusterSpec{}}, {"gke", 0, gke}} {
		t.Run(tc.name, func(t *testing.T) {
			conformance.Run(t, conformance.Harness{
				Spec: tc.spec,
				New:  func(*testing.T) cloud.Provider { return sim.New(tc.delay) },
				Inject: func(t *testing.T, p cloud.Provider, step string, err error) {
					s := p.(*sim.Provider)
					s.Inject(step, err)
					t.Cleanup(func() { s.Inject(step, nil) })
				},
			})
		})
	}
}
