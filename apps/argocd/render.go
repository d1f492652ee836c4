package argocd

import (
	"errors"
	"fmt"
	"io"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/astropulse/astroplane/apps/tiers"
)

// Source types, as Application manifests name them (spec.source.type).
const (
	SourceImage      = "image"
	SourceHelm       = "helm"
	SourceRepository = "repository"
	SourceYAML       = "yaml"
)

// Source is where an application's manifests come from: exactly the field of Type
// is set.
type Source struct {
	Type       string
	Image      *ImageSource      `json:",omitempty"`
	Helm       *HelmSource       `json:",omitempty"`
	Repository *RepositorySource `json:",omitempty"`
	YAML       string            `json:",omitempty"` // inline manifests, documents separated by ---
}

// ImageSource is a container image the platform wraps in a Deployment, a Service and,
// with a host, an Ingress.
type ImageSource struct {
	Registry   string // default docker.io
	Repository string
	Tag        string // default latest
	// Port is the container's port the Service sends to; default 8080.
	Port int32
}

// Ref is the image reference, registry/repository:tag.
func (i ImageSource) Ref() string {
	reg, tag := i.Registry, i.Tag
	if reg == "" {
		reg = "docker.io"
	}
	if tag == "" {
		tag = "latest"
	}
	return reg + "/" + i.Repository + ":" + tag
}

// HelmSource is a chart of a Helm repository, with values.
type HelmSource struct {
	RepoURL, Chart, Version string
	Values                  map[string]any `json:",omitempty"`
}

// RepositorySource is a path of a Git repository at a revision.
type RepositorySource struct {
	RepoURL, Revision, Path string
}

// Resources are the requests (minimum) and limits (maximum) of the containers the
// platform generates, as Kubernetes quantities; empty: none set.
type Resources struct {
	CPUMin, CPUMax, MemoryMin, MemoryMax string
}

// Workload is what Render needs to generate an image source's objects.
type Workload struct {
	Name, Namespace string
	Image           ImageSource
	Tier            tiers.Tier
	Resources       Resources
	// Host, when set, is served by an Ingress to the Service.
	Host string
	// IngressClass names the Ingress's class; empty: the cluster's default.
	IngressClass string
}

// Labels are the labels of everything generated for the application name; the
// Deployment selects its pods by them.
func Labels(name string) map[string]string {
	return map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "astro-plane"}
}

// RenderImage returns the objects an image source deploys: a Deployment with the
// tier's replicas and topology spread and the profile's resources, a Service, the
// tier's PodDisruptionBudget (if any) and, with a host, an Ingress; as unstructured
// maps in that order.
func RenderImage(w Workload) ([]map[string]any, error) {
	if w.Name == "" || w.Image.Repository == "" {
		return nil, errors.New("render image: name and image repository are required")
	}
	port := w.Image.Port
	if port == 0 {
		port = 8080
	}
	labels := Labels(w.Name)
	res, err := w.Resources.requirements()
	if err != nil {
		return nil, err
	}
	replicas := max(w.Tier.Replicas, 1)
	meta := metav1.ObjectMeta{Name: w.Name, Namespace: w.Namespace, Labels: labels}
	objs := []runtime.Object{
		&appsv1.Deployment{
			TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta,
			Spec: appsv1.DeploymentSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{
						Containers: []corev1.Container{{Name: w.Name, Image: w.Image.Ref(), Resources: res,
							Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: port}}}},
						TopologySpreadConstraints: w.Tier.TopologySpreadConstraints(labels),
					},
				},
			},
		},
		&corev1.Service{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: meta,
			Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}},
		},
	}
	if pdb := w.Tier.PodDisruptionBudget(w.Namespace, w.Name, labels); pdb != nil {
		objs = append(objs, pdb)
	}
	if w.Host != "" {
		pathType := networkingv1.PathTypePrefix
		ing := &networkingv1.Ingress{
			TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"}, ObjectMeta: meta,
			Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: w.Host, IngressRuleValue: networkingv1.IngressRuleValue{
				HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &pathType,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: w.Name, Port: networkingv1.ServiceBackendPort{Name: "http"}}}}}},
			}}}},
		}
		if w.IngressClass != "" {
			ing.Spec.IngressClassName = &w.IngressClass
		}
		objs = append(objs, ing)
	}
	out := make([]map[string]any, 0, len(objs))
	for _, o := range objs {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			return nil, fmt.Errorf("render image: %w", err)
		}
		dropEmpty(m)
		out = append(out, m)
	}
	return out, nil
}

// dropEmpty removes the zero creationTimestamp and status the converter leaves in
// every object, which a server would refuse or ignore.
func dropEmpty(m map[string]any) {
	delete(m, "status")
	if meta, ok := m["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	if spec, ok := m["spec"].(map[string]any); ok {
		if tmpl, ok := spec["template"].(map[string]any); ok {
			if meta, ok := tmpl["metadata"].(map[string]any); ok {
				delete(meta, "creationTimestamp")
			}
		}
	}
}

func (r Resources) requirements() (corev1.ResourceRequirements, error) {
	var out corev1.ResourceRequirements
	for _, q := range []struct {
		v    string
		name corev1.ResourceName
		dst  *corev1.ResourceList
	}{
		{r.CPUMin, corev1.ResourceCPU, &out.Requests}, {r.CPUMax, corev1.ResourceCPU, &out.Limits},
		{r.MemoryMin, corev1.ResourceMemory, &out.Requests}, {r.MemoryMax, corev1.ResourceMemory, &out.Limits},
	} {
		if q.v == "" {
			continue
		}
		v, err := resource.ParseQuantity(q.v)
		if err != nil {
			return out, fmt.Errorf("resources: %q is not a quantity: %w", q.v, err)
		}
		if *q.dst == nil {
			*q.dst = corev1.ResourceList{}
		}
		(*q.dst)[q.name] = v
	}
	return out, nil
}

// ParseManifests splits inline YAML (or JSON) documents into objects, refusing a
// document without apiVersion, kind or metadata.name, naming it by position. Empty
// documents are skipped; at least one object is required.
func ParseManifests(src string) ([]map[string]any, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(src), 4096)
	var out []map[string]any
	for i := 1; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(m) == 0 {
			continue
		}
		meta, _ := m["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		if s, _ := m["apiVersion"].(string); s == "" {
			return nil, fmt.Errorf("document %d: apiVersion is required", i)
		}
		if s, _ := m["kind"].(string); s == "" {
			return nil, fmt.Errorf("document %d: kind is required", i)
		}
		if name == "" {
			return nil, fmt.Errorf("document %d (%s): metadata.name is required", i, m["kind"])
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, errors.New("no manifests")
	}
	return out, nil
}
