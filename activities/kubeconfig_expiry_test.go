package activities_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/store"
)

// shortToken is a cloud whose kubeconfigs carry a token expiring at expires, said in
// their first line as cloud/aws writes it for EKS.
type shortToken struct {
	*sim.Provider
	expires time.Time
}

func (p shortToken) Kubeconfig(context.Context, cloud.Call, cloud.ClusterRef) (string, error) {
	return fmt.Sprintf(`# EKS cluster demo; the token expires at %s
apiVersion: v1
kind: Config
clusters: [{name: demo, cluster: {server: "https://demo.eks.example"}}]
users: [{name: demo, user: {token: k8s-aws-v1.abc}}]
contexts: [{name: demo, context: {cluster: demo, user: demo}}]
current-context: demo
`, p.expires.UTC().Format(time.RFC3339)), nil
}

// A grant of an hour whose file's token lasts 15 minutes (EKS) expires when the
// token does; a longer-lived token leaves the grant's own duration.
func TestKubeconfigGrantExpiresWithItsToken(t *testing.T) {
	for _, tc := range []struct {
		name  string
		token time.Duration
		want  time.Duration
	}{
		{"eks token", 15 * time.Minute, 15 * time.Minute},
		{"token outlives the grant", 2 * time.Hour, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := shortToken{Provider: sim.New(0), expires: time.Now().Add(tc.token)}
			a, st := newActivities(t, p)
			box, err := secrets.NewBox(bytes.Repeat([]byte{7}, 32))
			if err != nil {
				t.Fatal(err)
			}
			a.Box = box
			ctx := context.Background()
			org := store.Organization{ID: store.NewID(), Name: "acme"}
			if err := st.CreateOrganization(ctx, &org); err != nil {
				t.Fatal(err)
			}
			g := store.KubeconfigGrant{ID: "acme.demo.kubeconfig.1", OrgID: org.ID, ClusterID: store.NewID(), UserID: store.NewID(), Duration: time.Hour}
			if err := st.CreateKubeconfigGrant(ctx, &g); err != nil {
				t.Fatal(err)
			}
			var s testsuite.WorkflowTestSuite
			env := s.NewTestActivityEnvironment()
			env.RegisterActivity(a)
			start := time.Now()
			v, err := env.ExecuteActivity(a.IssueKubeconfig, activities.IssueKubeconfigInput{OrgID: org.ID, GrantID: g.ID,
				Spec: activities.ClusterSpec{Provider: "aws", ProvisionerType: "eks"}, Duration: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			var out activities.IssuedKubeconfig
			if err := v.Get(&out); err != nil {
				t.Fatal(err)
			}
			stored, err := st.GetKubeconfigGrant(ctx, org.ID, g.ID)
			if err != nil || stored.ExpiresAt == nil {
				t.Fatalf("grant: %+v, %v", stored, err)
			}
			for what, at := range map[string]time.Time{"result": out.ExpiresAt, "grant": *stored.ExpiresAt} {
				if d := at.Sub(start); d < tc.want-2*time.Second || d > tc.want+2*time.Second {
					t.Errorf("%s expires in %s, want %s", what, d.Round(time.Second), tc.want)
				}
			}
		})
	}
}
