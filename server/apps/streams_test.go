package apps

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/server/kubeaccess"
	"github.com/astropulse/astroplane/store"
)

type failingConfigs struct{ err error }

func (f failingConfigs) Config(context.Context, string, string) (*rest.Config, error) {
	return nil, f.err
}
func (failingConfigs) Forget(string, string) {}

// What a stream answers, before its upgrade, when the application's cluster cannot
// be reached: 409 when it is not placed or its cluster is gone or not READY, 503
// with the reason when access is unavailable, 503 when the server has no access at
// all; the answer says why without the seam's own wording.
func TestClusterOfAnswers(t *testing.T) {
	placed := store.Application{Name: "web", OrgID: "o", ClusterID: "c"}
	for name, c := range map[string]struct {
		clusters kubeaccess.ClusterConfigs
		row      store.Application
		status   int
		says     string
	}{
		"no access":     {nil, placed, http.StatusServiceUnavailable, "no access to clusters"},
		"not placed":    {failingConfigs{}, store.Application{Name: "web"}, http.StatusConflict, "not placed"},
		"cluster gone":  {failingConfigs{fmt.Errorf("%w: c", kubeaccess.ErrClusterNotFound)}, placed, http.StatusConflict, "no longer exists"},
		"not ready":     {failingConfigs{fmt.Errorf("%w: cluster prod is PROVISIONING", kubeaccess.ErrNoControlPlane)}, placed, http.StatusConflict, ": cluster prod is PROVISIONING"},
		"provider said": {failingConfigs{fmt.Errorf("%w: the kubeconfig could not be made: AccessDenied", kubeaccess.ErrUnavailable)}, placed, http.StatusServiceUnavailable, ": the kubeconfig could not be made: AccessDenied"},
	} {
		s := NewServer(Deps{Clusters: c.clusters})
		_, _, err := s.clusterOf(context.Background(), c.row)
		var apiErr *httpx.APIError
		if !errors.As(err, &apiErr) || apiErr.Status != c.status || !strings.Contains(apiErr.Message, c.says) ||
			strings.Contains(apiErr.Message, "cluster access unavailable") || strings.Contains(apiErr.Message, "has no Kubernetes API to reach now:") {
			t.Errorf("%s: %v, want %d saying %q", name, err, c.status, c.says)
		}
	}
}
