package simnode_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/astropulse/astroplane/cloud/sim/simnode"
	"github.com/astropulse/astroplane/internal/testkube"
)

// Logs reach a client through the real kube-apiserver's pods/log path, proxied to
// the simulated node's kubelet over TLS the API server verifies: the whole log,
// its tail, a previous instance's, and lines written while the client follows.
func TestLogsThroughTheAPIServer(t *testing.T) {
	kube := testkube.Start(t)
	cfg := kube.RESTConfig()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cs := kubernetes.NewForConfigOrDie(cfg)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	logs := &simnode.MemoryLogs{}
	node, err := simnode.Start(ctx, cfg, "sim-node-1", logs, simnode.CA{Cert: kube.KubeletCACert, Key: kube.KubeletCAKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Close() })

	n, err := cs.CoreV1().Nodes().Get(ctx, "sim-node-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Status.DaemonEndpoints.KubeletEndpoint.Port != int32(node.Port) || len(n.Status.Conditions) == 0 || n.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Fatalf("node status %+v", n.Status)
	}
	pod, err := node.RunPod(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}, {Name: "sidecar", Image: "envoy"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Spec.NodeName != "sim-node-1" || pod.Status.Phase != corev1.PodRunning || len(pod.Status.ContainerStatuses) != 2 {
		t.Fatalf("pod %+v %+v", pod.Spec, pod.Status)
	}
	web := simnode.Container{Namespace: "shop", Pod: "web-1", Name: "web"}
	logs.Write(web, "old 1", "old 2")
	logs.Restart(web)
	logs.Write(web, "one", "two", "three")
	logs.Write(simnode.Container{Namespace: "shop", Pod: "web-1", Name: "sidecar"}, "sidecar says hi")

	read := func(opts *corev1.PodLogOptions) (string, error) {
		t.Helper()
		b, err := cs.CoreV1().Pods("shop").GetLogs("web-1", opts).DoRaw(ctx)
		return string(b), err
	}
	for _, tc := range []struct {
		name string
		opts corev1.PodLogOptions
		want string
	}{
		{"all", corev1.PodLogOptions{Container: "web"}, "one\ntwo\nthree\n"},
		{"tail", corev1.PodLogOptions{Container: "web", TailLines: new(int64(2))}, "two\nthree\n"},
		{"previous", corev1.PodLogOptions{Container: "web", Previous: true}, "old 1\nold 2\n"},
		{"other container", corev1.PodLogOptions{Container: "sidecar"}, "sidecar says hi\n"},
	} {
		got, err := read(&tc.opts)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	got, err := read(&corev1.PodLogOptions{Container: "web", Timestamps: true, TailLines: new(int64(1))})
	if ts, text, _ := strings.Cut(strings.TrimSuffix(got, "\n"), " "); err != nil || text != "three" {
		t.Errorf("timestamps: %q, %v", got, err)
	} else if _, perr := time.Parse(time.RFC3339Nano, ts); perr != nil {
		t.Errorf("timestamp %q: %v", ts, perr)
	}

	// Follow: the past lines, then lines as they are written.
	stream, err := cs.CoreV1().Pods("shop").GetLogs("web-1", &corev1.PodLogOptions{Container: "web", Follow: true, TailLines: new(int64(1))}).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stream.Close() }()
	lines := bufio.NewScanner(stream)
	want := []string{"three", "four", "five"}
	for i, w := range want {
		if i == 1 {
			logs.Write(web, "four", "five")
		}
		if !lines.Scan() || lines.Text() != w {
			t.Fatalf("followed line %d: %q (%v), want %q", i, lines.Text(), lines.Err(), w)
		}
	}
	// A new instance ends the old one's stream.
	logs.Restart(web)
	if lines.Scan() {
		t.Fatalf("after a restart the followed stream went on: %q", lines.Text())
	}
	if err := lines.Err(); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("followed stream: %v", err)
	}
}
