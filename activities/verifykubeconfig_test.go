package activities_test

import (
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud/sim"
)

// The kubeconfig step answers the endpoint the create step saw or, when that was
// empty (real EKS has one only once ACTIVE), the server the kubeconfig names.
func TestVerifyKubeconfigFindsALateEndpoint(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kubeconfig")
	kc := `apiVersion: v1
kind: Config
clusters:
- name: other
  cluster: {server: "https://other.example"}
- name: prod
  cluster: {server: "https://ABCD.gr7.us-east-1.eks.amazonaws.com"}
contexts:
- name: prod
  context: {cluster: prod, user: prod}
current-context: prod
users:
- name: prod
  user: {token: not-a-secret}
`
	if err := os.WriteFile(file, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	p := sim.New(0)
	p.KubeconfigFile = file
	a := &activities.Cluster{Clouds: sim.Registry(p)}
	var s testsuite.WorkflowTestSuite
	for _, tc := range []struct{ known, want string }{
		{"", "https://ABCD.gr7.us-east-1.eks.amazonaws.com"},
		{"https://known.example", "https://known.example"},
	} {
		env := s.NewTestActivityEnvironment()
		env.RegisterActivity(a)
		in := activities.ControlPlaneInput{Spec: activities.ClusterSpec{Name: "prod", Provider: "aws", ProvisionerType: "eks", Region: "us-east-1"},
			Ref: activities.ClusterRef{Provider: "aws", ExternalID: "prod", Endpoint: tc.known}}
		v, err := env.ExecuteActivity(a.VerifyKubeconfig, in)
		if err != nil {
			t.Fatal(err)
		}
		var got activities.KubeconfigResult
		if err := v.Get(&got); err != nil {
			t.Fatal(err)
		}
		if got.Endpoint != tc.want {
			t.Fatalf("known %q: endpoint %q, want %q", tc.known, got.Endpoint, tc.want)
		}
	}
}
