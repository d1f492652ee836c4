package argosim

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

const resourcesFinalizer = "resources-finalizer.argocd.argoproj.io"

// Reconciler plays Argo CD's application controller, acting only through the
// Kubernetes API, so a real Argo CD could take its place unchanged. Every pass it
// reads the Applications of its namespace and, for each:
//   - being deleted: deletes the objects it applied (cascade) and drops Argo CD's
//     resources finalizer;
//   - else, when automated sync is on or a sync operation is asked: creates the
//     destination namespace (CreateNamespace=true), applies the objects of
//     helm.valuesObject.manifests (the platform's own chart: its template emits
//     them as they are) with server-side apply, and reports status.sync Synced at
//     the source's revision, status.health and the operation's outcome. Charts and
//     Git repositories elsewhere are not fetched: they are reported synced as is.
//
// Health is Healthy once the objects are stored, unless WorkloadHealth is set: then,
// as Argo CD judges it, an Application is Progressing until each Deployment it
// applied is available (all its replicas updated and available, at its current
// generation), which on a server without controllers takes Workloads. SetHealth
// overrides either. Changes of sync and health and sync operations are recorded as
// Kubernetes Events on the Application, with Argo CD's reasons (ResourceUpdated,
// OperationStarted, OperationCompleted).
//
// Manual sync without an operation leaves an Application OutOfSync and Missing.
type Reconciler struct {
	// WorkloadHealth judges health by the applied Deployments' status (see above).
	WorkloadHealth bool

	client    dynamic.Interface
	typed     kubernetes.Interface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	namespace string
	// applied is the spec of each Application (by UID) last synced, so an unchanged
	// one is not applied again every pass (its generation would not do: without a
	// status subresource, writing the status bumps it).
	applied map[types.UID]string

	mu     sync.Mutex
	health map[string]string // set by SetHealth
}

// NewReconciler returns a Reconciler over the Applications in namespace of the API
// server cfg reaches; Run runs it.
func NewReconciler(cfg *rest.Config, namespace string) (*Reconciler, error) {
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Reconciler{client: client, typed: typed, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
		namespace: namespace, health: map[string]string{}, applied: map[types.UID]string{}}, nil
}

// Run reconciles every interval (50 ms when zero) until ctx ends, handing each pass's
// error to report (nil: dropped).
func (r *Reconciler) Run(ctx context.Context, interval time.Duration, report func(error)) {
	if interval <= 0 {
		interval = 50 * time.Millisecond
	}
	for ctx.Err() == nil {
		if err := r.Pass(ctx); err != nil && ctx.Err() == nil && report != nil {
			report(err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(interval):
		}
	}
}

// SetHealth makes the reconciler report health for the Application name ("" to go
// back to the judged health).
func (r *Reconciler) SetHealth(name, health string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.health[name] = health
}

func (r *Reconciler) setHealth(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.health[name]
}

// healthOf is the Application's health: SetHealth's, else Healthy, or with
// WorkloadHealth Progressing while an applied Deployment is not available.
func (r *Reconciler) healthOf(ctx context.Context, name string, manifests []any, dest string) (string, error) {
	if h := r.setHealth(name); h != "" {
		return h, nil
	}
	if !r.WorkloadHealth {
		return "Healthy", nil
	}
	for _, m := range manifests {
		obj, ok := m.(map[string]any)
		if !ok {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GroupVersionKind().GroupKind() != (appsv1.SchemeGroupVersion.WithKind("Deployment")).GroupKind() {
			continue
		}
		ns := u.GetNamespace()
		if ns == "" {
			ns = dest
		}
		d, err := r.typed.AppsV1().Deployments(ns).Get(ctx, u.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return "Missing", nil
		}
		if err != nil {
			return "", err
		}
		if !DeploymentAvailable(d) {
			return "Progressing", nil
		}
	}
	return "Healthy", nil
}

// DeploymentAvailable says whether d's rollout is complete, as Argo CD's health check
// of a Deployment does: observed at its generation, every replica updated and
// available.
func DeploymentAvailable(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas >= want && s.AvailableReplicas >= want && s.Replicas == s.UpdatedReplicas
}

func (r *Reconciler) apps() dynamic.ResourceInterface {
	return r.client.Resource(ApplicationsGVR).Namespace(r.namespace)
}

// Pass reconciles every Application once.
func (r *Reconciler) Pass(ctx context.Context) error {
	list, err := r.apps().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range list.Items {
		app := &list.Items[i]
		if err := r.reconcile(ctx, app); err != nil {
			return fmt.Errorf("application %s: %w", app.GetName(), err)
		}
	}
	return nil
}

func (r *Reconciler) reconcile(ctx context.Context, app *unstructured.Unstructured) error {
	manifests, _, _ := unstructured.NestedSlice(app.Object, "spec", "source", "helm", "valuesObject", "manifests")
	dest, _, _ := unstructured.NestedString(app.Object, "spec", "destination", "namespace")
	if app.GetDeletionTimestamp() != nil {
		for _, m := range manifests {
			obj, ok := m.(map[string]any)
			if !ok {
				continue
			}
			u := &unstructured.Unstructured{Object: obj}
			res, err := r.resource(u, dest)
			if err != nil {
				return err
			}
			if err := res.Delete(ctx, u.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
		var keep []string
		for _, f := range app.GetFinalizers() {
			if f != resourcesFinalizer {
				keep = append(keep, f)
			}
		}
		app.SetFinalizers(keep)
		_, err := r.apps().Update(ctx, app, metav1.UpdateOptions{})
		return ignoreConflict(err)
	}
	_, automated, _ := unstructured.NestedMap(app.Object, "spec", "syncPolicy", "automated")
	op, asked, _ := unstructured.NestedMap(app.Object, "operation")
	revision, _, _ := unstructured.NestedString(app.Object, "spec", "source", "targetRevision")
	specJSON, err := json.Marshal(app.Object["spec"])
	if err != nil {
		return err
	}
	spec := string(specJSON)
	status := map[string]any{}
	if old, ok, _ := unstructured.NestedMap(app.Object, "status"); ok {
		status = old
	}
	next := runtime.DeepCopyJSON(status)
	synced := false
	var events []event
	if !automated && !asked {
		if _, ok := next["sync"]; !ok || r.applied[app.GetUID()] != spec {
			next["sync"] = map[string]any{"status": "OutOfSync", "revision": revision}
			if !ok {
				next["health"] = map[string]any{"status": "Missing"}
			}
		}
	} else if r.applied[app.GetUID()] != spec || asked {
		initiated := "automated sync"
		if asked {
			initiated = "sync"
		}
		events = append(events, event{"OperationStarted", fmt.Sprintf("Initiated %s to %s", initiated, revision)})
		if err := r.ensureNamespace(ctx, dest); err != nil {
			return err
		}
		for _, m := range manifests {
			obj, ok := m.(map[string]any)
			if !ok {
				continue
			}
			if err := r.apply(ctx, &unstructured.Unstructured{Object: runtime.DeepCopyJSON(obj)}, dest); err != nil {
				return err
			}
		}
		next["sync"] = map[string]any{"status": "Synced", "revision": revision}
		synced = true
		events = append(events, event{"OperationCompleted", fmt.Sprintf("Sync operation to %s succeeded", revision)})
		if asked {
			now := time.Now().UTC().Format(time.RFC3339)
			next["operationState"] = map[string]any{"phase": "Succeeded", "message": "successfully synced (all tasks run)", "operation": op,
				"startedAt": now, "finishedAt": now}
		}
	}
	if synced || r.applied[app.GetUID()] == spec {
		health, err := r.healthOf(ctx, app.GetName(), manifests, dest)
		if err != nil {
			return err
		}
		next["health"] = map[string]any{"status": health} // SetHealth and workloads take effect without a new sync
	}
	if reflect.DeepEqual(next, status) && !asked {
		return nil
	}
	for _, what := range []string{"sync", "health"} {
		before, _, _ := unstructured.NestedString(status, what, "status")
		after, _, _ := unstructured.NestedString(next, what, "status")
		if before != after {
			events = append(events, event{"ResourceUpdated", fmt.Sprintf("Updated %s status: %s -> %s", what, before, after)})
		}
	}
	app.Object["status"] = next
	delete(app.Object, "operation")
	if _, err = r.apps().Update(ctx, app, metav1.UpdateOptions{}); err != nil {
		return ignoreConflict(err)
	}
	if synced {
		r.applied[app.GetUID()] = spec
	}
	for _, e := range events {
		r.record(ctx, app, e)
	}
	return nil
}

type event struct{ reason, message string }

// record writes e as an Event of app, as Argo CD's controller does; a failure to is
// not the sync's failure.
func (r *Reconciler) record(ctx context.Context, app *unstructured.Unstructured, e event) {
	now := metav1.NewTime(time.Now())
	_, _ = r.typed.CoreV1().Events(app.GetNamespace()).Create(ctx, &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: app.GetName() + "."},
		InvolvedObject: corev1.ObjectReference{APIVersion: "argoproj.io/v1alpha1", Kind: "Application", Name: app.GetName(),
			Namespace: app.GetNamespace(), UID: app.GetUID(), ResourceVersion: app.GetResourceVersion()},
		Reason: e.reason, Message: e.message, Type: corev1.EventTypeNormal, Count: 1,
		FirstTimestamp: now, LastTimestamp: now,
		Source: corev1.EventSource{Component: "argocd-application-controller"},
	}, metav1.CreateOptions{})
}

func (r *Reconciler) ensureNamespace(ctx context.Context, name string) error {
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}}
	_, err := r.client.Resource(corev1.SchemeGroupVersion.WithResource("namespaces")).Create(ctx, ns, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func (r *Reconciler) resource(u *unstructured.Unstructured, namespace string) (dynamic.ResourceInterface, error) {
	gvk := u.GroupVersionKind()
	m, err := r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		r.mapper.Reset()
		if m, err = r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return nil, err
		}
	}
	if m.Scope.Name() == "namespace" {
		if u.GetNamespace() != "" {
			namespace = u.GetNamespace()
		}
		return r.client.Resource(m.Resource).Namespace(namespace), nil
	}
	return r.client.Resource(m.Resource), nil
}

func (r *Reconciler) apply(ctx context.Context, u *unstructured.Unstructured, namespace string) error {
	res, err := r.resource(u, namespace)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	force := true
	_, err = res.Patch(ctx, u.GetName(), types.ApplyPatchType, raw, metav1.PatchOptions{FieldManager: "argocd-controller", Force: &force})
	return err
}

func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil // read again next pass
	}
	return err
}
