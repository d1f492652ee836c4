package validate_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/validate"
)

// The examples of shared/examples, converted from YAML to JSON by hand with their
// placeholders filled. {{REGION}} is filled per test.
const (
	eksExample = `{
  "apiVersion": "platform.astropulse.io/v1",
  "kind": "K8sCluster",
  "spec": {
    "clusterName": "demo-eks",
    "provider": "aws",
    "region": "{{REGION}}",
    "provisioner": {
      "type": "eks",
      "eks": {
        "accountId": "123456789012",
        "credentials": {"type": "dynamic"}
      }
    },
    "clusterSpec": {
      "dataPlane": {
        "nodeGroups": [
          {
            "name": "default-pool",
            "minNode": 1,
            "maxNode": 3,
            "instanceType": "ondemand",
            "machineTypes": ["t3.medium"],
            "labels": {"environment": "dev"}
          }
        ]
      }
    }
  }
}`

	gkeExample = `{
  "apiVersion": "platform.astropulse.io/v1",
  "kind": "K8sCluster",
  "spec": {
    "clusterName": "demo-gke",
    "provider": "gcp",
    "region": "{{REGION}}",
    "provisioner": {
      "type": "gke",
      "gke": {
        "projectId": "my-project-123456",
        "credentials": {"type": "dynamic"}
      }
    },
    "clusterSpec": {
      "dataPlane": {
        "nodeGroups": [
          {
            "name": "default-pool",
            "minNode": 1,
            "maxNode": 5,
            "instanceType": "ondemand",
            "machineTypes": ["e2-standard-2"],
            "labels": {"environment": "dev"}
          }
        ]
      }
    }
  }
}`

	aksExample = `{
  "apiVersion": "platform.astropulse.io/v1",
  "kind": "K8sCluster",
  "spec": {
    "clusterName": "demo-aks",
    "provider": "azure",
    "region": "{{REGION}}",
    "provisioner": {
      "type": "aks",
      "aks": {
        "subscriptionId": "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        "resourceGroup": "astro-rg",
        "credentials": {"type": "dynamic"}
      }
    },
    "clusterSpec": {
      "dataPlane": {
        "nodeGroups": [
          {
            "name": "systempool",
            "minNode": 2,
            "maxNode": 5,
            "instanceType": "ondemand",
            "machineTypes": ["Standard_D2s_v7"],
            "labels": {"environment": "dev"}
          }
        ]
      }
    }
  }
}`

	eksUpdateExample = `{
  "apiVersion": "platform.astropulse.io/v1",
  "kind": "K8sClusterUpdate",
  "spec": {
    "nodeGroups": [
      {
        "name": "default-pool",
        "minNode": 2,
        "maxNode": 10,
        "labels": {"environment": "production", "updated": "true"}
      }
    ],
    "updateConfig": {"maxUnavailable": "1", "maxSurge": "1", "dryRun": false},
    "tags": {"environment": "production", "team": "platform", "updated-by": "astroctl"}
  }
}`
)

// decode decodes a manifest strictly, so the hand conversion cannot drift from the
// generated types.
func decode(t *testing.T, doc string, into any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(doc)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		t.Fatalf("decode manifest: %v", err)
	}
}

func clusterSpec(t *testing.T, doc, region string) api.K8sClusterSpec {
	t.Helper()
	var m api.K8sClusterManifest
	decode(t, strings.ReplaceAll(doc, "{{REGION}}", region), &m)
	return m.Spec
}

func updateSpec(t *testing.T, doc string) api.K8sClusterUpdateSpec {
	t.Helper()
	var m api.K8sClusterUpdateManifest
	decode(t, doc, &m)
	return m.Spec
}

// assertPaths fails unless errs faults exactly the fields want (none when empty).
func assertPaths(t *testing.T, errs validate.Errors, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := errs.Paths(); !slices.Equal(got, want) {
		t.Errorf("faulted fields = %q, want %q; errors:\n%s", got, want, errs)
	}
	for p, msg := range errs {
		if msg == "" {
			t.Errorf("%s has an empty message", p)
		}
	}
}

// TestExamples checks that every example passes in every region its client might
// fill in.
func TestExamples(t *testing.T) {
	examples := []struct {
		name, doc, provider string
	}{
		{"aws_eks_byoa", eksExample, "aws"},
		{"gcp_gke_cluster", gkeExample, "gcp"},
		{"azure_aks_byoa", aksExample, "azure"},
	}
	for _, ex := range examples {
		for _, r := range catalog.Regions(ex.provider) {
			t.Run(ex.name+"/"+r.ID, func(t *testing.T) {
				assertPaths(t, validate.ClusterSpec(clusterSpec(t, ex.doc, r.ID)))
			})
		}
	}
	t.Run("aws_eks_eks-update", func(t *testing.T) {
		assertPaths(t, validate.ClusterUpdateSpec("aws", updateSpec(t, eksUpdateExample)))
	})
	// The examples' commented-out options, uncommented.
	t.Run("aws_eks_eks-update/commented", func(t *testing.T) {
		s := updateSpec(t, eksUpdateExample)
		s.KubernetesVersion = ptr("1.30")
		(*s.NodeGroups)[0].MachineTypes = &[]string{"t3.large"}
		s.Eks = &api.ClusterUpdateEks{AmiFamily: ptr(api.ClusterUpdateEksAmiFamily("AL2023"))}
		assertPaths(t, validate.ClusterUpdateSpec("aws", s))
	})
	t.Run("gcp_gke_cluster/commented", func(t *testing.T) {
		s := clusterSpec(t, gkeExample, "us-central1")
		s.Provisioner.Gke.KubernetesVersion = ptr("1.30.5-gke.1443001")
		s.Provisioner.Gke.ReleaseChannel = ptr(api.GkeProvisionerReleaseChannel("STABLE"))
		s.Provisioner.Gke.EnableWorkloadIdentity = ptr(true)
		assertPaths(t, validate.ClusterSpec(s))
	})
}

// TestEveryFault checks that one spec with many faults reports all of them.
func TestEveryFault(t *testing.T) {
	s := clusterSpec(t, eksExample, "us-east-1")
	s.ClusterName = "Bad_Name"
	s.KubernetesVersion = ptr("1.20")
	s.Provisioner.Eks.AccountId = "42"
	g := &s.ClusterSpec.DataPlane.NodeGroups[0]
	g.MinNode, g.MaxNode = 4, 2
	g.MachineTypes = []string{"t3.medium", "e2-standard-4"}
	s.Tags = &api.ClusterTags{"aws:owner": "me"}
	assertPaths(t, validate.ClusterSpec(s),
		"spec.clusterName",
		"spec.kubernetesVersion",
		"spec.provisioner.eks.accountId",
		"spec.clusterSpec.dataPlane.nodeGroups.0.minNode",
		"spec.clusterSpec.dataPlane.nodeGroups.0.machineTypes.1",
		"spec.tags.aws:owner",
	)
}

func ptr[T any](v T) *T { return &v }
