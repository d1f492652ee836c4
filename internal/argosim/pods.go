package argosim

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// BoundPods is a PodRunner without a kubelet: a Node object, Ready, that pods are
// bound to and reported Running on. Nothing serves their logs (a node of
// cloud/sim/simnode does).
type BoundPods struct {
	client kubernetes.Interface
	node   string
}

// NewBoundPods registers the Node name (or takes over one of that name) on the API
// server cfg reaches and returns a PodRunner binding pods to it.
func NewBoundPods(ctx context.Context, cfg *rest.Config, name string) (*BoundPods, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	nodes := client.CoreV1().Nodes()
	node, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name,
		Labels: map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		node, err = nodes.Get(ctx, name, metav1.GetOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", name, err)
	}
	now := metav1.Now()
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		Message: "simulated node", LastHeartbeatTime: now, LastTransitionTime: now}}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	if _, err := nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return nil, fmt.Errorf("node %s: %w", name, err)
	}
	return &BoundPods{client: client, node: name}, nil
}

// RunPod creates pod bound to the node and marks it Running with every container
// ready. The namespace's ServiceAccount is created when missing (no controller makes
// "default" on a bare API server, and admission requires it); the pod mounts no token.
func (b *BoundPods) RunPod(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	pod = pod.DeepCopy()
	pod.Spec.NodeName = b.node
	no := false
	pod.Spec.AutomountServiceAccountToken = &no
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	_, err := b.client.CoreV1().ServiceAccounts(pod.Namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("service account %s/%s: %w", pod.Namespace, sa, err)
	}
	pods := b.client.CoreV1().Pods(pod.Namespace)
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	now := metav1.Now()
	created.Status.Phase = corev1.PodRunning
	created.Status.HostIP, created.Status.PodIP = "127.0.0.1", "10.244.0.1"
	created.Status.StartTime = &now
	created.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	created.Status.ContainerStatuses = nil
	started := true
	for _, c := range created.Spec.Containers {
		created.Status.ContainerStatuses = append(created.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image, Ready: true, Started: &started,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}})
	}
	return pods.UpdateStatus(ctx, created, metav1.UpdateOptions{})
}
