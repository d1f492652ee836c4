package argosim_test

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/astropulse/astroplane/cloud/sim/simnode"
	"github.com/astropulse/astroplane/internal/argosim"
	"github.com/astropulse/astroplane/internal/testkube"
)

// Workloads on a real API server: a Deployment gets a Running pod per replica on the
// node, with a scheduler's and a kubelet's events, and reports available; a new template replaces the pods, a scale-down drops
// the extra one, and a deleted Deployment's pods go (there is no garbage collector).
func TestWorkloads(t *testing.T) {
	kube := testkube.Start(t)
	cfg := kube.RESTConfig()
	ctx := t.Context()
	node, err := simnode.Start(ctx, cfg, "node-1", &simnode.MemoryLogs{}, simnode.CA{Cert: kube.KubeletCACert, Key: kube.KubeletCAKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Close() })
	w, err := argosim.NewWorkloads(cfg, node)
	if err != nil {
		t.Fatal(err)
	}
	typed := kubernetes.NewForConfigOrDie(cfg)
	if _, err := typed.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "web"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	replicas := int32(2)
	labels := map[string]string{"app": "web"}
	dep, err := typed.AppsV1().Deployments("web").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:1"}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if argosim.DeploymentAvailable(dep) {
		t.Fatal("a new Deployment is available before any pod runs")
	}
	pods := func() (names []string) {
		t.Helper()
		list, err := typed.CoreV1().Pods("web").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range list.Items {
			if p.Spec.NodeName != "node-1" || p.Status.Phase != corev1.PodRunning {
				t.Fatalf("pod %s on %q, %s", p.Name, p.Spec.NodeName, p.Status.Phase)
			}
			names = append(names, p.Name+" "+p.Spec.Containers[0].Image)
		}
		return names
	}
	pass := func() *appsv1.Deployment {
		t.Helper()
		if err := w.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		d, err := typed.AppsV1().Deployments("web").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	if d := pass(); !argosim.DeploymentAvailable(d) || d.Status.AvailableReplicas != 2 {
		t.Fatalf("after a pass: %+v", d.Status)
	}
	first := pods()
	if len(first) != 2 || !strings.HasSuffix(first[0], "web:1") {
		t.Fatalf("pods %v", first)
	}
	events, err := typed.CoreV1().Events("web").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + strings.Fields(first[0])[0]})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, e := range events.Items {
		reasons = append(reasons, e.Reason)
	}
	if slices.Sort(reasons); strings.Join(reasons, ",") != "Created,Pulled,Scheduled,Started" {
		t.Fatalf("the pod's events: %v", reasons)
	}
	before := pass().ResourceVersion
	if again := pass(); strings.Join(pods(), ",") != strings.Join(first, ",") || again.ResourceVersion != before {
		t.Fatalf("a pass with nothing to do changed things: %v", pods())
	}

	// A new image: new pods, the old ones gone; then one replica.
	d := pass()
	d.Spec.Template.Spec.Containers[0].Image = "web:2"
	one := int32(1)
	d.Spec.Replicas = &one
	if d, err = typed.AppsV1().Deployments("web").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if argosim.DeploymentAvailable(d) {
		t.Fatal("a changed Deployment is available before its pods run")
	}
	if d := pass(); !argosim.DeploymentAvailable(d) || d.Status.ObservedGeneration != d.Generation {
		t.Fatalf("after the change: %+v", d.Status)
	}
	if got := pods(); len(got) != 1 || !strings.HasSuffix(got[0], "web:2") {
		t.Fatalf("pods after the change: %v", got)
	}

	if err := typed.AppsV1().Deployments("web").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if got := pods(); len(got) != 0 {
		t.Fatalf("pods of a deleted Deployment: %v", got)
	}
}
