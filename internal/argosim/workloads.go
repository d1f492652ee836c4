package argosim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// PodRunner runs a pod on a node: creates it bound to the node and reports it
// Running, as a scheduler and a kubelet together would (cloud/sim/simnode's Node is
// one whose pods' logs are readable through pods/log).
type PodRunner interface {
	RunPod(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error)
}

// ManagedLabel marks the pods Workloads runs, with their Deployment's name.
const ManagedLabel = "sim.astropulse.io/deployment"

// templateHashLabel is the pod-template-hash label a Deployment's pods carry.
const templateHashLabel = "pod-template-hash"

// Workloads plays a cluster's controllers and kubelet for Deployments, on an API
// server that has none: each pass it runs, through its PodRunner, a Pod for each
// replica of each Deployment (named DEPLOYMENT-HASH-N, labelled with the template's
// labels and its pod-template-hash), deletes the pods of a template gone by or of a
// Deployment deleted (there is no garbage collector), and reports each Deployment's
// status as its controller would: observed, replicas updated, ready and available,
// Available and Progressing conditions. A pod it starts gets the Events a scheduler
// and a kubelet would record (Scheduled, Pulled, Created, Started). It acts only
// through the Kubernetes API.
type Workloads struct {
	client kubernetes.Interface
	pods   PodRunner
}

// NewWorkloads returns Workloads acting on the API server cfg reaches, running pods
// through pods.
func NewWorkloads(cfg *rest.Config, pods PodRunner) (*Workloads, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Workloads{client: client, pods: pods}, nil
}

// Run runs a pass every interval (250 ms when zero) until ctx ends, handing each
// pass's error to report (nil: dropped).
func (w *Workloads) Run(ctx context.Context, interval time.Duration, report func(error)) {
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	for ctx.Err() == nil {
		if err := w.Pass(ctx); err != nil && ctx.Err() == nil && report != nil {
			report(err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(interval):
		}
	}
}

// Pass brings every Deployment's pods and status up to date once.
func (w *Workloads) Pass(ctx context.Context) error {
	deps, err := w.client.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	pods, err := w.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: ManagedLabel})
	if err != nil {
		return err
	}
	running := map[string]*corev1.Pod{} // by namespace/name
	for i := range pods.Items {
		p := &pods.Items[i]
		running[p.Namespace+"/"+p.Name] = p
	}
	want := map[string]bool{} // namespace/pod of every pod a Deployment wants
	var errs []error
	for i := range deps.Items {
		d := &deps.Items[i]
		names, err := w.deployment(ctx, d, running)
		for _, n := range names {
			want[d.Namespace+"/"+n] = true
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("deployment %s/%s: %w", d.Namespace, d.Name, err))
		}
	}
	zero := int64(0)
	for _, p := range pods.Items {
		if want[p.Namespace+"/"+p.Name] {
			continue
		}
		// No kubelet confirms a graceful deletion: the pod goes at once.
		if err := w.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// deployment runs d's pods and reports its status; it returns the names of the
// pods d wants (those running, and those it could not run yet).
func (w *Workloads) deployment(ctx context.Context, d *appsv1.Deployment, running map[string]*corev1.Pod) ([]string, error) {
	replicas := int32(1)
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	hash, err := templateHash(d.Spec.Template)
	if err != nil {
		return nil, err
	}
	var names []string
	ready := int32(0)
	for i := range replicas {
		name := fmt.Sprintf("%s-%s-%d", d.Name, hash, i)
		names = append(names, name)
		p, ok := running[d.Namespace+"/"+name]
		if !ok {
			var err error
			if p, err = w.pods.RunPod(ctx, w.pod(d, name, hash)); err != nil && !apierrors.IsAlreadyExists(err) {
				return names, fmt.Errorf("pod %s: %w", name, err)
			}
			if err != nil {
				continue // made since the list: counted next pass
			}
			w.started(ctx, p)
		}
		if p.Status.Phase == corev1.PodRunning {
			ready++
		}
	}
	s := d.Status
	now := metav1.Now()
	next := appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas, UpdatedReplicas: replicas,
		ReadyReplicas: ready, AvailableReplicas: ready, UnavailableReplicas: replicas - ready}
	available, progressing := corev1.ConditionFalse, corev1.ConditionTrue
	availableReason, progressingReason := "MinimumReplicasUnavailable", "ReplicaSetUpdated"
	if ready >= replicas {
		available, availableReason, progressingReason = corev1.ConditionTrue, "MinimumReplicasAvailable", "NewReplicaSetAvailable"
	}
	next.Conditions = []appsv1.DeploymentCondition{
		condition(s.Conditions, appsv1.DeploymentAvailable, available, availableReason, "Deployment has minimum availability.", now),
		condition(s.Conditions, appsv1.DeploymentProgressing, progressing, progressingReason,
			fmt.Sprintf("ReplicaSet %q has successfully progressed.", d.Name+"-"+hash), now),
	}
	if statusEqual(s, next) {
		return names, nil
	}
	d.Status = next
	_, err = w.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		err = nil // read again next pass
	}
	return names, err
}

// started records the Events a scheduler and a kubelet would for a pod they started
// (a failure to is not the pod's).
func (w *Workloads) started(ctx context.Context, p *corev1.Pod) {
	type ev struct{ component, reason, message string }
	evs := []ev{{"default-scheduler", "Scheduled", fmt.Sprintf("Successfully assigned %s/%s to %s", p.Namespace, p.Name, p.Spec.NodeName)}}
	for _, c := range p.Spec.Containers {
		evs = append(evs,
			ev{"kubelet", "Pulled", fmt.Sprintf("Container image %q already present on machine", c.Image)},
			ev{"kubelet", "Created", "Created container " + c.Name},
			ev{"kubelet", "Started", "Started container " + c.Name})
	}
	now := metav1.Now()
	for _, e := range evs {
		_, _ = w.client.CoreV1().Events(p.Namespace).Create(ctx, &corev1.Event{
			ObjectMeta: metav1.ObjectMeta{GenerateName: p.Name + "."},
			InvolvedObject: corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Name: p.Name, Namespace: p.Namespace,
				UID: p.UID, ResourceVersion: p.ResourceVersion},
			Reason: e.reason, Message: e.message, Type: corev1.EventTypeNormal, Count: 1, FirstTimestamp: now, LastTimestamp: now,
			Source: corev1.EventSource{Component: e.component, Host: p.Spec.NodeName},
		}, metav1.CreateOptions{})
	}
}

// pod is the pod of d's template called name.
func (w *Workloads) pod(d *appsv1.Deployment, name, hash string) *corev1.Pod {
	labels := map[string]string{}
	for k, v := range d.Spec.Template.Labels {
		labels[k] = v
	}
	labels[templateHashLabel] = hash
	labels[ManagedLabel] = d.Name
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: d.Namespace, Labels: labels, Annotations: d.Spec.Template.Annotations,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID}}},
		Spec: *d.Spec.Template.Spec.DeepCopy(),
	}
}

// condition is a condition of type t, keeping its last transition time from old when
// its status is unchanged.
func condition(old []appsv1.DeploymentCondition, t appsv1.DeploymentConditionType, status corev1.ConditionStatus, reason, message string, now metav1.Time) appsv1.DeploymentCondition {
	c := appsv1.DeploymentCondition{Type: t, Status: status, Reason: reason, Message: message, LastUpdateTime: now, LastTransitionTime: now}
	for _, o := range old {
		if o.Type == t && o.Status == status {
			c.LastTransitionTime = o.LastTransitionTime
			if o.Reason == reason && o.Message == message {
				c.LastUpdateTime = o.LastUpdateTime
			}
		}
	}
	return c
}

// statusEqual compares statuses but for the conditions' times.
func statusEqual(a, b appsv1.DeploymentStatus) bool {
	strip := func(s appsv1.DeploymentStatus) appsv1.DeploymentStatus {
		s = *s.DeepCopy()
		for i := range s.Conditions {
			s.Conditions[i].LastUpdateTime, s.Conditions[i].LastTransitionTime = metav1.Time{}, metav1.Time{}
		}
		return s
	}
	x, _ := json.Marshal(strip(a))
	y, _ := json.Marshal(strip(b))
	return string(x) == string(y)
}

// templateHash is a short hash of a pod template, as pod-template-hash is.
func templateHash(t corev1.PodTemplateSpec) (string, error) {
	raw, err := json.Marshal(t)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])[:10], nil
}
