package placement_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/astropulse/astroplane/apps/placement"
)

func TestResolve(t *testing.T) {
	clusters := []placement.Cluster{
		{ID: "1", Name: "prod-east", Provider: "aws", Region: "us-east-1", Status: "READY", KubernetesVersion: "1.30", Applications: 4},
		{ID: "2", Name: "prod-west", Provider: "aws", Region: "us-west-2", Status: "READY", KubernetesVersion: "1.31", Applications: 1},
		{ID: "3", Name: "west-b", Provider: "aws", Region: "us-west-2", Status: "READY", KubernetesVersion: "1.29", Applications: 1},
		{ID: "4", Name: "west-new", Provider: "aws", Region: "us-west-2", Status: "PROVISIONING", KubernetesVersion: "1.32"},
		{ID: "5", Name: "gke-1", Provider: "gcp", Region: "us-central1", Status: "FAILED"},
		{ID: "6", Name: "aks-1", Provider: "azure", Region: "eastus", Status: "READY", KubernetesVersion: "1.31.2", Applications: 1},
	}
	for _, c := range []struct {
		name     string
		want     placement.Want
		strategy placement.Strategy
		cluster  string
		reason   string // a part of the reason, or of the error
		noneFits bool
	}{
		{"explicit", placement.Want{ClusterName: "prod-east", Provider: "gcp"}, placement.ByCluster, "prod-east", `names cluster "prod-east"`, false},
		{"explicit not ready", placement.Want{ClusterName: "west-new"}, placement.ByCluster, "", "PROVISIONING", true},
		{"explicit unknown", placement.Want{ClusterName: "nope"}, placement.ByCluster, "", `no cluster named "nope"`, true},
		{"fewest apps, then newest version", placement.Want{Provider: "aws", Region: "us-west-2"}, placement.ByProvider, "prod-west", "newest Kubernetes version (1.31)", false},
		{"provider any region", placement.Want{Provider: "aws"}, placement.ByProvider, "prod-west", "best of 3 READY clusters on aws:", false},
		{"only one", placement.Want{Provider: "azure", Region: "eastus"}, placement.ByProvider, "aks-1", "only one", false},
		{"none ready", placement.Want{Provider: "gcp"}, placement.ByProvider, "", "none of the 1 clusters on gcp is READY", true},
		{"none there", placement.Want{Provider: "aws", Region: "eu-west-1"}, placement.ByProvider, "", "no cluster on aws in eu-west-1", true},
		{"nearest", placement.Want{}, placement.Nearest, "aks-1", "without a known location", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.want.Strategy(); got != c.strategy {
				t.Fatalf("strategy %s, want %s", got, c.strategy)
			}
			got, err := placement.Resolve(c.want, clusters)
			if c.noneFits {
				if !errors.Is(err, placement.ErrNoCluster) || !strings.Contains(err.Error(), c.reason) {
					t.Fatalf("err %v, want ErrNoCluster with %q", err, c.reason)
				}
				return
			}
			if err != nil || got.Cluster.Name != c.cluster || !strings.Contains(got.Reason, c.reason) {
				t.Fatalf("got %+v, %v; want %s because %q", got, err, c.cluster, c.reason)
			}
		})
	}
	if _, err := placement.Resolve(placement.Want{}, nil); !errors.Is(err, placement.ErrNoCluster) {
		t.Fatalf("nearest of none: %v", err)
	}
}
