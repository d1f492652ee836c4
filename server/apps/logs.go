package apps

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/labstack/echo/v4"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
)

// Bounds of a log stream.
const (
	// maxLogContainers is how many containers one stream reads at once; more is
	// 400, asking for a pod or a container.
	maxLogContainers = 20
	// maxLogLine is the longest line sent; longer ones are cut.
	maxLogLine = 64 << 10
)

// logTarget is one container whose log a stream reads.
type logTarget struct{ pod, container string }

// StreamApplicationLogs upgrades to a WebSocket and sends the logs of the
// application's containers, one frame per line (pod, container, line, the time
// the kubelet stamped it): every container of every pod in the application's
// namespace, or of one pod (pod=) and/or one container (container=); the last tail
// lines only (tail=); the previous instance's (previous=true); and, unless
// follow=false, the lines written after, until the client leaves. Logs are read
// through the cluster's Kubernetes API (pods/log), as `kubectl logs` does. The pods
// are chosen before the upgrade: a pod or container that is not there is 404 or
// 400. Without follow the stream closes (1000) after the last line; it closes
// (1008) when the API key is revoked and (1000) when the application is deleted.
func (s *Server) StreamApplicationLogs(c echo.Context, appID string, params api.StreamApplicationLogsParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	faults := map[string]any{}
	if params.Tail != nil && *params.Tail < 0 {
		faults["tail"] = "must be 0 or more"
	}
	for field, v := range map[string]*string{"pod": params.Pod, "container": params.Container} {
		if v == nil {
			continue
		}
		if errs := validation.IsDNS1123Subdomain(*v); len(errs) > 0 {
			faults[field] = fmt.Sprintf("%q is not a Kubernetes name: %s", *v, strings.Join(errs, "; "))
		}
	}
	if len(faults) > 0 {
		return httpx.ValidationFailed(faults)
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
	client, _, err := s.clusterOf(ctx, row)
	if err != nil {
		return err
	}
	var pods []corev1.Pod
	if params.Pod != nil {
		pod, err := client.CoreV1().Pods(row.Namespace).Get(ctx, *params.Pod, metav1.GetOptions{})
		if err != nil {
			return s.kubeAnswer(row, fmt.Sprintf("pod %s of application %s", *params.Pod, row.Name), err)
		}
		pods = []corev1.Pod{*pod}
	} else {
		list, err := client.CoreV1().Pods(row.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return s.kubeAnswer(row, "pods of application "+row.Name, err)
		}
		pods = list.Items
		slices.SortFunc(pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	}
	var targets []logTarget
	for _, pod := range pods {
		for _, ct := range pod.Spec.Containers {
			if params.Container == nil || *params.Container == ct.Name {
				targets = append(targets, logTarget{pod.Name, ct.Name})
			}
		}
	}
	switch {
	case len(targets) == 0 && params.Container != nil:
		return httpx.NotFound(fmt.Sprintf("container %s in the pods of application %s", *params.Container, row.Name))
	case len(targets) == 0:
		return httpx.NotFound(fmt.Sprintf("pods of application %s (none runs in namespace %s now)", row.Name, row.Namespace))
	case len(targets) > maxLogContainers:
		return httpx.BadRequest(fmt.Sprintf("application %s has %d containers, more than the %d one stream reads: choose a pod (pod=) or a container (container=)",
			row.Name, len(targets), maxLogContainers), map[string]any{"pod": "choose one", "container": "or choose one"})
	}
	follow := params.Follow == nil || *params.Follow
	opts := corev1.PodLogOptions{Follow: follow, Previous: params.Previous != nil && *params.Previous, Timestamps: true}
	if params.Tail != nil {
		opts.TailLines = new(int64(*params.Tail))
	}
	// The first container's log is opened before the upgrade, so that a log the
	// cluster refuses (a container not started, no previous instance) is an HTTP
	// answer; the others are opened once the stream is up.
	first := opts
	first.Container = targets[0].container
	body, err := client.CoreV1().Pods(row.Namespace).GetLogs(targets[0].pod, &first).Stream(ctx)
	if err != nil {
		return s.kubeAnswer(row, fmt.Sprintf("log of container %s in pod %s", targets[0].container, targets[0].pod), err)
	}
	accepted = true
	st := accept(c, release)
	if st == nil {
		_ = body.Close()
		return nil // Accept has answered the client
	}
	defer st.close()
	go s.guard(st, p, row.ID)

	frames := make(chan api.ApplicationLogFrame, 256)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			if i == 0 {
				s.readLog(st.ctx, body, t, frames)
				return
			}
			o := opts
			o.Container = t.container
			rc, err := client.CoreV1().Pods(row.Namespace).GetLogs(t.pod, &o).Stream(st.ctx)
			if err != nil {
				s.log.Info("application log stream: a container's log", "appID", row.ID, "pod", t.pod, "container", t.container, "err", err)
				return
			}
			s.readLog(st.ctx, rc, t, frames)
		})
	}
	go func() {
		wg.Wait()
		close(frames)
	}()
	for {
		select {
		case <-st.ctx.Done():
			return nil
		case f, ok := <-frames:
			if !ok {
				_ = st.conn.Close(websocket.StatusNormalClosure, "end of the logs")
				return nil
			}
			if err := wsjson.Write(st.ctx, st.conn, f); err != nil {
				return nil
			}
		}
	}
}

// readLog sends each line of one container's log (timestamped by the kubelet)
// until it ends or ctx does, then closes it.
func (s *Server) readLog(ctx context.Context, body io.ReadCloser, t logTarget, frames chan<- api.ApplicationLogFrame) {
	stop := context.AfterFunc(ctx, func() { _ = body.Close() })
	defer stop()
	defer func() { _ = body.Close() }()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := api.ApplicationLogFrame{Pod: t.pod, Container: t.container, Line: sc.Text()}
		if ts, rest, ok := strings.Cut(f.Line, " "); ok {
			if at, err := time.Parse(time.RFC3339Nano, ts); err == nil {
				at = at.UTC()
				f.Timestamp, f.Line = &at, rest
			}
		}
		if len(f.Line) > maxLogLine {
			f.Line = f.Line[:maxLogLine]
		}
		select {
		case frames <- f:
		case <-ctx.Done():
			return
		}
	}
}
