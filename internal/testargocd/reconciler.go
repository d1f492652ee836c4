package testargocd

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

const resourcesFinalizer = "resources-finalizer.argocd.argoproj.io"

// Reconciler plays Argo CD's application controller in tests, acting only through the
// Kubernetes API, so a real Argo CD could take its place unchanged. Every Poll it
// reads the Applications of its namespace and, for each:
//   - being deleted: deletes the objects it applied (cascade) and drops Argo CD's
//     resources finalizer;
//   - else, when automated sync is on or a sync operation is asked: creates the
//     destination namespace (CreateNamespace=true), applies the objects of
//     helm.valuesObject.manifests (the platform's own chart: its template emits
//     them as they are) with server-side apply, and reports status.sync Synced at
//     the source's revision, status.health Healthy (there is no kubelet: health is
//     assumed once the objects are stored) and the operation's outcome. Charts and
//     Git repositories elsewhere are not fetched: they are reported synced as is.
//
// Manual sync without an operation leaves an Application OutOfSync and Missing.
type Reconciler struct {
	client    dynamic.Interface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	namespace string
	// applied is the spec of each Application (by UID) last synced, so an unchanged
	// one is not applied again every pass (its generation would not do: without a
	// status subresource, writing the status bumps it).
	applied map[types.UID]string

	mu     sync.Mutex
	health map[string]string // set by SetHealth
}

// StartReconciler runs a Reconciler over the Applications in namespace of the API
// server cfg reaches, until the test ends.
func StartReconciler(t testing.TB, cfg *rest.Config, namespace string) *Reconciler {
	t.Helper()
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &Reconciler{client: client, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
		namespace: namespace, health: map[string]string{}, applied: map[types.UID]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := r.pass(ctx); err != nil && ctx.Err() == nil {
				t.Logf("test reconciler: %v", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// SetHealth makes the reconciler report health for the Application name ("" to go
// back to Healthy).
func (r *Reconciler) SetHealth(name, health string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.health[name] = health
}

func (r *Reconciler) healthOf(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if h := r.health[name]; h != "" {
		return h
	}
	return "Healthy"
}

func (r *Reconciler) apps() dynamic.ResourceInterface {
	return r.client.Resource(ApplicationsGVR).Namespace(r.namespace)
}

func (r *Reconciler) pass(ctx context.Context) error {
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
	next := runtimeCopy(status)
	synced := false
	if !automated && !asked {
		if _, ok := next["sync"]; !ok || r.applied[app.GetUID()] != spec {
			next["sync"] = map[string]any{"status": "OutOfSync", "revision": revision}
			if !ok {
				next["health"] = map[string]any{"status": "Missing"}
			}
		}
	} else if r.applied[app.GetUID()] != spec || asked {
		if err := r.ensureNamespace(ctx, dest); err != nil {
			return err
		}
		for _, m := range manifests {
			obj, ok := m.(map[string]any)
			if !ok {
				continue
			}
			if err := r.apply(ctx, &unstructured.Unstructured{Object: runtimeCopy(obj)}, dest); err != nil {
				return err
			}
		}
		next["sync"] = map[string]any{"status": "Synced", "revision": revision}
		next["health"] = map[string]any{"status": r.healthOf(app.GetName())}
		synced = true
		if asked {
			now := time.Now().UTC().Format(time.RFC3339)
			next["operationState"] = map[string]any{"phase": "Succeeded", "message": "successfully synced (all tasks run)", "operation": op,
				"startedAt": now, "finishedAt": now}
		}
	}
	if health := r.healthOf(app.GetName()); synced || r.applied[app.GetUID()] == spec {
		next["health"] = map[string]any{"status": health} // SetHealth takes effect without a new sync
	}
	if reflect.DeepEqual(next, status) && !asked {
		return nil
	}
	app.Object["status"] = next
	delete(app.Object, "operation")
	if _, err = r.apps().Update(ctx, app, metav1.UpdateOptions{}); err != nil {
		return ignoreConflict(err)
	}
	if synced {
		r.applied[app.GetUID()] = spec
	}
	return nil
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

func runtimeCopy(m map[string]any) map[string]any {
	return runtime.DeepCopyJSON(m)
}
