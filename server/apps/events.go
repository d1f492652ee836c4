package apps

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/coder/websocket/wsjson"
	"github.com/labstack/echo/v4"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/astropulse/astroplane/apps/argocd"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// recentEvents is how many past events a new events stream starts with, per source.
const recentEvents = 50

// maxRemembered bounds the events a stream remembers having sent (to skip them
// when it lists again after a watch ended).
const maxRemembered = 10000

// StreamApplicationEvents upgrades to a WebSocket and sends the application's
// events, oldest first, as they happen: Argo CD's (source "pulse") — the
// Application's sync operations (SyncStarted, then SyncSucceeded, SyncFailed…),
// health changes and conditions as its status records them, and the Kubernetes
// Events Argo CD writes about the Application — and, with k8s=true, the Kubernetes
// Events of the application's namespace (source "kubernetes"). It starts with the
// recent ones (at most 50 of each source) and follows through client-go watches of
// the cluster's API (no polling), reconnecting with fresh credentials. The cluster
// is reached before the upgrade: an application not placed yet is 409, a cluster
// that cannot be reached 409 or 503. The stream closes (1000) when the application
// is deleted and (1008) when the API key is revoked.
func (s *Server) StreamApplicationEvents(c echo.Context, appID string, params api.StreamApplicationEventsParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	row, err := s.get(c.Request().Context(), p.OrgID, appID)
	if err != nil {
		return err
	}
	if !webSocketUpgrade(c.Request()) {
		return upgradeRequired(c)
	}
	// Counted before the cluster is asked anything: a key at its cap costs the
	// cluster nothing.
	release, err := s.streams.acquire(p)
	if err != nil {
		return err
	}
	accepted := false
	defer func() {
		if !accepted {
			release()
		}
	}()
	ctx := c.Request().Context()
	client, cfg, err := s.clusterOf(ctx, row)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	// The first reads, before the upgrade: a cluster that does not answer is an
	// HTTP answer, not a stream that closes at once.
	appSel := fields.OneTermEqualSelector("metadata.name", row.Name).String()
	apps, err := dyn.Resource(argocd.GVR).Namespace(s.argoNamespace).List(ctx, metav1.ListOptions{FieldSelector: appSel})
	if err != nil {
		return s.kubeAnswer(row, "the Argo CD Application of "+row.Name, err)
	}
	argoSel := fields.Set{"involvedObject.kind": argocd.Kind, "involvedObject.name": row.Name}.AsSelector().String()
	argoEvents, err := client.CoreV1().Events(s.argoNamespace).List(ctx, metav1.ListOptions{FieldSelector: argoSel})
	if err != nil {
		return s.kubeAnswer(row, "events of the Argo CD Application of "+row.Name, err)
	}
	var nsEvents *corev1.EventList
	if params.K8s != nil && *params.K8s {
		if nsEvents, err = client.CoreV1().Events(row.Namespace).List(ctx, metav1.ListOptions{}); err != nil {
			return s.kubeAnswer(row, "events of namespace "+row.Namespace, err)
		}
	}

	accepted = true
	st := accept(c, release)
	if st == nil {
		return nil // Accept has answered the client
	}
	defer st.close()
	go s.guard(st, p, row.ID)

	frames := make(chan api.ApplicationEventFrame, 64)
	send := func(f api.ApplicationEventFrame) bool {
		select {
		case frames <- f:
			return true
		case <-st.ctx.Done():
			return false
		}
	}
	w := &eventWatch{s: s, row: row, send: send}
	go w.application(st.ctx, apps)
	go w.events(st.ctx, s.argoNamespace, argoSel, api.Pulse, argoEvents)
	if nsEvents != nil {
		go w.events(st.ctx, row.Namespace, "", api.Kubernetes, nsEvents)
	}
	for {
		select {
		case <-st.ctx.Done():
			return nil
		case f := <-frames:
			if err := wsjson.Write(st.ctx, st.conn, f); err != nil {
				return nil
			}
		}
	}
}

// eventWatch follows one application's event sources on its cluster.
type eventWatch struct {
	s    *Server
	row  store.Application
	send func(api.ApplicationEventFrame) bool
}

// watchFrom follows what watchFn watches from resourceVersion rv with a client-go
// RetryWatcher (which resumes after a dropped connection), each (re)connection
// with a fresh config of the cluster; handle gets each event. It returns when ctx
// ends or the watch cannot resume (e.g. its resource version expired: the caller
// lists again).
func (w *eventWatch) watchFrom(ctx context.Context, rv string, watchFn func(ctx context.Context, client kubernetes.Interface, dyn dynamic.Interface, o metav1.ListOptions) (watch.Interface, error), handle func(watch.Event) bool) {
	lw := &cache.ListWatch{WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		cfg, err := w.s.clusters.Config(ctx, w.row.OrgID, w.row.ClusterID)
		if err != nil {
			return nil, err
		}
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		wi, err := watchFn(ctx, client, dyn, o)
		if apierrors.IsUnauthorized(err) {
			w.s.clusters.Forget(w.row.OrgID, w.row.ClusterID)
		}
		return wi, err
	}}
	rw, err := watchtools.NewRetryWatcherWithContext(ctx, rv, lw)
	if err != nil {
		return
	}
	defer rw.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-rw.ResultChan():
			if !ok || ev.Type == watch.Error {
				return
			}
			if !handle(ev) {
				return
			}
		}
	}
}

// relist waits a moment before listing again after a watch ended, or reports that
// ctx has ended.
func relist(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Second):
		return true
	}
}

// events sends the Events of namespace matching selector: the recent ones of
// first, then each one created or repeated (count up) as it happens.
func (w *eventWatch) events(ctx context.Context, namespace, selector string, source api.ApplicationEventFrameSource, first *corev1.EventList) {
	sent := map[string]string{} // UID → resource version sent (a repeated event is sent again)
	list := first
	for {
		items := slices.Clone(list.Items)
		slices.SortStableFunc(items, func(a, b corev1.Event) int { return eventTime(a).Compare(eventTime(b)) })
		if list == first && len(items) > recentEvents {
			items = items[len(items)-recentEvents:]
		}
		for i := range items {
			if !w.sendEvent(&items[i], source, sent) {
				return
			}
		}
		w.watchFrom(ctx, list.ResourceVersion, func(ctx context.Context, client kubernetes.Interface, _ dynamic.Interface, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			return client.CoreV1().Events(namespace).Watch(ctx, o)
		}, func(ev watch.Event) bool {
			e, ok := ev.Object.(*corev1.Event)
			if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) {
				return true
			}
			return w.sendEvent(e, source, sent)
		})
		for {
			if !relist(ctx) {
				return
			}
			cfg, err := w.s.clusters.Config(ctx, w.row.OrgID, w.row.ClusterID)
			if err != nil {
				continue
			}
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				continue
			}
			if list, err = client.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{FieldSelector: selector}); err == nil {
				break
			}
		}
	}
}

func (w *eventWatch) sendEvent(e *corev1.Event, source api.ApplicationEventFrameSource, sent map[string]string) bool {
	key := string(e.UID)
	if sent[key] == e.ResourceVersion {
		return true
	}
	if len(sent) >= maxRemembered {
		clear(sent) // a long stream of a busy namespace: at worst a relist repeats some
	}
	sent[key] = e.ResourceVersion
	f := api.ApplicationEventFrame{Source: source, Type: e.Type, Message: e.Message, Timestamp: eventTime(*e).UTC()}
	if f.Type == "" {
		f.Type = corev1.EventTypeNormal
	}
	if e.Reason != "" {
		f.Reason = &e.Reason
	}
	o := e.InvolvedObject
	f.InvolvedObject = &struct {
		Kind      *string `json:"kind,omitempty"`
		Name      *string `json:"name,omitempty"`
		Namespace *string `json:"namespace,omitempty"`
	}{Kind: &o.Kind, Name: &o.Name, Namespace: &o.Namespace}
	return w.send(f)
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// appState is what the events stream compares of an Application's status.
type appState struct {
	exists                     bool
	opPhase, opMessage, opTime string
	opStarted                  string
	health, healthMessage      string
	conditions                 map[string]string // type → message
}

func stateOf(u *unstructured.Unstructured) appState {
	str := func(f ...string) string {
		v, _, _ := unstructured.NestedString(u.Object, f...)
		return v
	}
	st := appState{exists: true, opPhase: str("status", "operationState", "phase"), opMessage: str("status", "operationState", "message"),
		opStarted: str("status", "operationState", "startedAt"), opTime: str("status", "operationState", "finishedAt"),
		health: str("status", "health", "status"), healthMessage: str("status", "health", "message"), conditions: map[string]string{}}
	if st.opTime == "" {
		st.opTime = st.opStarted
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		t, _ := m["type"].(string)
		msg, _ := m["message"].(string)
		if t != "" {
			st.conditions[t] = msg
		}
	}
	return st
}

// changes are the frames that tell how the Application went from a to b: a sync
// operation started or ended, health changed, a condition appeared or changed.
func changes(a, b appState) []api.ApplicationEventFrame {
	now := time.Now().UTC()
	at := func(ts string) time.Time {
		if t, err := time.Parse(time.RFC3339, ts); err == nil {
			return t.UTC()
		}
		return now
	}
	var out []api.ApplicationEventFrame
	frame := func(typ, reason, msg string, t time.Time) {
		f := api.ApplicationEventFrame{Source: api.Pulse, Type: typ, Message: msg, Timestamp: t}
		if reason != "" {
			f.Reason = &reason
		}
		out = append(out, f)
	}
	if !b.exists {
		if a.exists {
			frame("Deleted", "ApplicationDeleted", "the Argo CD Application was deleted", now)
		}
		return out
	}
	if b.opPhase != "" && (b.opPhase != a.opPhase || b.opStarted != a.opStarted || b.opMessage != a.opMessage) {
		typ, t := "Sync"+b.opPhase, b.opTime
		if b.opPhase == "Running" {
			typ, t = "SyncStarted", b.opStarted
		}
		msg := b.opMessage
		if msg == "" {
			msg = "sync operation " + b.opPhase
		}
		frame(typ, b.opPhase, msg, at(t))
	}
	if b.health != a.health && a.exists {
		msg := fmt.Sprintf("health %s → %s", orNone(a.health), orNone(b.health))
		if b.healthMessage != "" {
			msg += ": " + b.healthMessage
		}
		frame("HealthChanged", b.health, msg, now)
	}
	for _, t := range slices.Sorted(maps.Keys(b.conditions)) {
		if msg, had := a.conditions[t]; !had || msg != b.conditions[t] {
			frame(corev1.EventTypeWarning, t, b.conditions[t], now)
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// application sends the changes of the Application's status: its last sync
// operation first, then each change as its watch reports it.
func (w *eventWatch) application(ctx context.Context, list *unstructured.UnstructuredList) {
	var last appState
	if len(list.Items) > 0 {
		last = stateOf(&list.Items[0])
		if last.opPhase != "" {
			for _, f := range changes(appState{exists: true, health: last.health, conditions: last.conditions}, last) {
				if !w.send(f) {
					return
				}
			}
		}
	}
	name := w.row.Name
	for {
		w.watchFrom(ctx, list.GetResourceVersion(), func(ctx context.Context, _ kubernetes.Interface, dyn dynamic.Interface, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
			return dyn.Resource(argocd.GVR).Namespace(w.s.argoNamespace).Watch(ctx, o)
		}, func(ev watch.Event) bool {
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				return true
			}
			next := appState{}
			if ev.Type != watch.Deleted {
				next = stateOf(u)
			}
			for _, f := range changes(last, next) {
				if !w.send(f) {
					return false
				}
			}
			last = next
			return true
		})
		for {
			if !relist(ctx) {
				return
			}
			cfg, err := w.s.clusters.Config(ctx, w.row.OrgID, w.row.ClusterID)
			if err != nil {
				continue
			}
			dyn, err := dynamic.NewForConfig(cfg)
			if err != nil {
				continue
			}
			l, err := dyn.Resource(argocd.GVR).Namespace(w.s.argoNamespace).List(ctx,
				metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
			if err != nil {
				continue
			}
			list = l
			next := appState{}
			if len(l.Items) > 0 {
				next = stateOf(&l.Items[0])
			}
			for _, f := range changes(last, next) {
				if !w.send(f) {
					return
				}
			}
			last = next
			break
		}
	}
}
