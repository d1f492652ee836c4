// Package argocd writes Argo CD Applications (argoproj.io/v1alpha1) on a cluster for
// the platform's applications, through client-go's dynamic client: Argo CD is never
// imported (../shared/deps.md), its Application is built as unstructured data from
// the small types here, and whatever plays Argo CD's controller — Argo CD itself, or
// a test's reconciler — acts only through the Kubernetes API.
//
// Sources map onto the Application's source as follows:
//   - helm: the chart of the repository at the version, values as helm.valuesObject;
//   - repository: the Git repository's path at the revision (default HEAD, path .);
//   - image and yaml: the platform renders the objects itself (RenderImage,
//     ParseManifests) and the source is the platform's own chart (ManifestsChart) in
//     the Helm repository the API serves, whose one template emits
//     .Values.manifests; the objects travel as helm.valuesObject.manifests, so the
//     Application alone says exactly what is deployed.
//
// Applications carry Argo CD's resources finalizer, so deleting one deletes what it
// deployed (cascade); Delete waits until the controller has done so.
package argocd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
)

// GVR is the resource Argo CD Applications are served as.
var GVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

// Well-known names of Argo CD.
const (
	APIVersion = "argoproj.io/v1alpha1"
	Kind       = "Application"
	// ResourcesFinalizer makes Argo CD delete an Application's resources before the
	// Application itself (cascade).
	ResourcesFinalizer = "resources-finalizer.argocd.argoproj.io"
	// RefreshAnnotation asks the controller to compare with the source again.
	RefreshAnnotation = "argocd.argoproj.io/refresh"
	// InClusterServer is the destination of the cluster Argo CD runs in.
	InClusterServer = "https://kubernetes.default.svc"
	// DefaultNamespace is where Argo CD watches Applications by default.
	DefaultNamespace = "argocd"
)

// The platform's chart for rendered objects: one template, `{{- range
// .Values.manifests }}\n---\n{{ toYaml . }}{{- end }}`.
const (
	ManifestsChart        = "astro-manifests"
	ManifestsChartVersion = "1.0.0"
)

// Labels the platform sets on its Applications.
const (
	LabelOrg   = "platform.astropulse.io/org-id"
	LabelAppID = "platform.astropulse.io/app-id"
)

// Sync and health statuses of an Application, as Argo CD reports them.
const (
	SyncSynced    = "Synced"
	SyncOutOfSync = "OutOfSync"
	HealthHealthy = "Healthy"
	HealthDegr    = "Degraded"
)

// App is an application as the Application describes it.
type App struct {
	// Name is the Application's name (unique in the Argo CD namespace).
	Name string
	// OrgID and AppID label the Application.
	OrgID, AppID string
	// Namespace is the destination namespace, created on sync.
	Namespace string
	Source    Source
	// Manifests are the rendered objects of an image or yaml source (see the
	// package doc); ignored for helm and repository sources.
	Manifests []map[string]any
	// ManualSync: no automated sync; a sync happens only when asked (Resync).
	ManualSync bool
}

// Writer writes Applications with a dynamic client.
type Writer struct {
	Client dynamic.Interface
	// Namespace is Argo CD's namespace; default DefaultNamespace.
	Namespace string
	// Project is the Argo CD project; default "default".
	Project string
	// ChartRepoURL is the Helm repository the API serves ManifestsChart from; needed
	// for image and yaml sources.
	ChartRepoURL string
	// Server is the destination cluster as Argo CD knows it; default InClusterServer
	// (Argo CD runs in the application's cluster).
	Server string
	// Poll is Delete's wait between reads; default 500 ms.
	Poll time.Duration
}

func (w *Writer) apps() dynamic.ResourceInterface {
	ns := w.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	return w.Client.Resource(GVR).Namespace(ns)
}

// Application builds the Application for a as unstructured data.
func (w *Writer) Application(a App) (*unstructured.Unstructured, error) {
	if a.Name == "" || a.Namespace == "" {
		return nil, errors.New("application: name and namespace are required")
	}
	source, err := w.source(a)
	if err != nil {
		return nil, err
	}
	project, server := w.Project, w.Server
	if project == "" {
		project = "default"
	}
	if server == "" {
		server = InClusterServer
	}
	policy := map[string]any{"syncOptions": []any{"CreateNamespace=true"}}
	if !a.ManualSync {
		policy["automated"] = map[string]any{"prune": true, "selfHeal": true}
	}
	labels := map[string]any{}
	if a.OrgID != "" {
		labels[LabelOrg] = a.OrgID
	}
	if a.AppID != "" {
		labels[LabelAppID] = a.AppID
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": APIVersion, "kind": Kind,
		"metadata": map[string]any{"name": a.Name, "labels": labels, "finalizers": []any{ResourcesFinalizer}},
		"spec": map[string]any{
			"project":     project,
			"source":      source,
			"destination": map[string]any{"server": server, "namespace": a.Namespace},
			"syncPolicy":  policy,
		},
	}}
	return u, nil
}

func (w *Writer) source(a App) (map[string]any, error) {
	s := a.Source
	switch s.Type {
	case SourceHelm:
		if s.Helm == nil || s.Helm.RepoURL == "" || s.Helm.Chart == "" {
			return nil, errors.New("helm source: repoURL and chart are required")
		}
		out := map[string]any{"repoURL": s.Helm.RepoURL, "chart": s.Helm.Chart, "targetRevision": s.Helm.Version}
		helm := map[string]any{"releaseName": a.Name}
		if len(s.Helm.Values) > 0 {
			values, err := jsonCopy(s.Helm.Values)
			if err != nil {
				return nil, fmt.Errorf("helm values: %w", err)
			}
			helm["valuesObject"] = values
		}
		out["helm"] = helm
		return out, nil
	case SourceRepository:
		if s.Repository == nil || s.Repository.RepoURL == "" {
			return nil, errors.New("repository source: repoURL is required")
		}
		rev, path := s.Repository.Revision, s.Repository.Path
		if rev == "" {
			rev = "HEAD"
		}
		if path == "" {
			path = "."
		}
		return map[string]any{"repoURL": s.Repository.RepoURL, "targetRevision": rev, "path": path}, nil
	case SourceImage, SourceYAML:
		if w.ChartRepoURL == "" {
			return nil, fmt.Errorf("%s source: the platform's chart repository URL is not configured", s.Type)
		}
		if len(a.Manifests) == 0 {
			return nil, fmt.Errorf("%s source: no rendered manifests", s.Type)
		}
		manifests, err := jsonCopy(a.Manifests)
		if err != nil {
			return nil, fmt.Errorf("%s source: %w", s.Type, err)
		}
		return map[string]any{"repoURL": w.ChartRepoURL, "chart": ManifestsChart, "targetRevision": ManifestsChartVersion,
			"helm": map[string]any{"releaseName": a.Name, "valuesObject": map[string]any{"manifests": manifests}}}, nil
	default:
		return nil, fmt.Errorf("source type %q: must be image, helm, repository or yaml", s.Type)
	}
}

// Apply creates a's Application or, when it exists, replaces its spec and the
// platform's labels (keeping what others set: other labels, annotations, status,
// operation). It retries write conflicts and returns the stored object.
func (w *Writer) Apply(ctx context.Context, a App) (*unstructured.Unstructured, error) {
	want, err := w.Application(a)
	if err != nil {
		return nil, err
	}
	var out *unstructured.Unstructured
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := w.apps().Get(ctx, a.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			out, err = w.apps().Create(ctx, want, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(GVR.GroupResource(), a.Name, err) // created meanwhile: update it
			}
			return err
		}
		if err != nil {
			return err
		}
		if cur.GetDeletionTimestamp() != nil {
			return fmt.Errorf("application %s is being deleted", a.Name)
		}
		next := cur.DeepCopy()
		next.Object["spec"] = want.Object["spec"]
		labels := next.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		for k, v := range want.GetLabels() {
			labels[k] = v
		}
		next.SetLabels(labels)
		if !slices.Contains(next.GetFinalizers(), ResourcesFinalizer) {
			next.SetFinalizers(append(next.GetFinalizers(), ResourcesFinalizer))
		}
		out, err = w.apps().Update(ctx, next, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("apply application %s: %w", a.Name, err)
	}
	return out, nil
}

// Status is what Argo CD reports of an Application.
type Status struct {
	Sync, Health string
	// Revision is the synced revision.
	Revision string
	// OperationPhase and OperationMessage are the last sync operation's.
	OperationPhase, OperationMessage string
	// Deleting: the Application is being deleted.
	Deleting bool
}

// Get reads the status of the Application name; ErrNotFound when there is none.
func (w *Writer) Get(ctx context.Context, name string) (Status, error) {
	u, err := w.apps().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Status{}, fmt.Errorf("application %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Status{}, err
	}
	return StatusOf(u), nil
}

// StatusOf reads the status of an Application object.
func StatusOf(u *unstructured.Unstructured) Status {
	str := func(fields ...string) string {
		s, _, _ := unstructured.NestedString(u.Object, fields...)
		return s
	}
	return Status{
		Sync: str("status", "sync", "status"), Health: str("status", "health", "status"),
		Revision:       str("status", "sync", "revision"),
		OperationPhase: str("status", "operationState", "phase"), OperationMessage: str("status", "operationState", "message"),
		Deleting: u.GetDeletionTimestamp() != nil,
	}
}

// ErrNotFound means the Application does not exist.
var ErrNotFound = errors.New("application not found")

// Resync asks Argo CD to refresh the Application name and sync it now (an operation
// on the Application, as `argocd app sync` does); force also replaces resources that
// cannot be patched, and is how a stuck sync is pushed through.
func (w *Writer) Resync(ctx context.Context, name string, force bool) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := w.apps().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("application %s: %w", name, ErrNotFound)
		}
		if err != nil {
			return err
		}
		ann := cur.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[RefreshAnnotation] = "hard"
		cur.SetAnnotations(ann)
		syncOp := map[string]any{"prune": true}
		if force {
			syncOp["syncStrategy"] = map[string]any{"apply": map[string]any{"force": true}}
		}
		cur.Object["operation"] = map[string]any{"sync": syncOp, "initiatedBy": map[string]any{"username": "astro-plane"}}
		_, err = w.apps().Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}

// Delete deletes the Application name with cascade (its resources finalizer, added
// here if it went missing, makes Argo CD delete what it deployed first) and waits
// until it is gone or ctx ends. An Application already gone is no error.
func (w *Writer) Delete(ctx context.Context, name string) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := w.apps().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.GetDeletionTimestamp() != nil || slices.Contains(cur.GetFinalizers(), ResourcesFinalizer) {
			return nil
		}
		cur.SetFinalizers(append(cur.GetFinalizers(), ResourcesFinalizer))
		_, err = w.apps().Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete application %s: %w", name, err)
	}
	background := metav1.DeletePropagationBackground
	if err := w.apps().Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &background}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete application %s: %w", name, err)
	}
	return w.WaitGone(ctx, name)
}

// WaitGone returns once the Application name no longer exists, or ctx's error.
func (w *Writer) WaitGone(ctx context.Context, name string) error {
	poll := w.Poll
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	for {
		_, err := w.apps().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("wait for application %s to go: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for application %s to go: %w", name, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// jsonCopy copies v through JSON: the Application then shares no maps with the
// caller, and holds only JSON types (numbers of any Go type become float64 or
// int64, as unstructured data must).
func jsonCopy(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return numbers(out), nil
}

// numbers turns json.Numbers into int64 where they are whole, else float64.
func numbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	}
	return v
}
