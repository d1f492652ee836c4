// Package simnode runs a simulated Kubernetes node against a real API server: a
// Node object whose kubelet endpoint (status.daemonEndpoints.kubeletEndpoint and an
// InternalIP address) is an HTTPS server in this process. The API server proxies a
// pod's pods/log subresource to the kubelet of the pod's node, so a client reading
// logs with client-go (CoreV1().Pods(ns).GetLogs(...).Stream) reads, through the
// API server's real path, what a LogSource holds for that container.
//
// It runs no containers: RunPod records a Pod bound to the node and marks it
// Running, and the logs are whatever the LogSource says. The kubelet endpoint serves
// only /containerLogs/{namespace}/{pod}/{container} with the query parameters the
// API server sends (follow, tailLines, previous, timestamps, limitBytes); other
// kubelet paths answer 404.
//
// The API server verifies the kubelet's serving certificate: it must be started
// with --kubelet-certificate-authority naming CA.Cert (internal/testkube does, and
// gives its CA in Cluster.KubeletCACert/KubeletCAKey; NewCA makes one for a server
// started elsewhere). The endpoint listens on 127.0.0.1, so the API server must run
// on the same machine.
package simnode

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// CA is the certificate authority (PEM certificate and key) the API server trusts
// for kubelets' serving certificates (--kubelet-certificate-authority=file of Cert).
type CA struct {
	Cert, Key []byte
}

// NewCA makes a CA valid for a year, for an API server that simulated nodes will
// serve: write Cert to a file and pass it with --kubelet-certificate-authority.
func NewCA() (CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return CA{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "simnode kubelet CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return CA{}, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return CA{}, err
	}
	return CA{Cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Key: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})}, nil
}

// Node is a running simulated node: its Node object and its kubelet endpoint.
type Node struct {
	// Name is the Node object's name.
	Name string
	// Port is the kubelet endpoint's port on 127.0.0.1.
	Port int

	client kubernetes.Interface
	srv    *http.Server
	done   chan struct{}
}

// Start serves a kubelet endpoint on 127.0.0.1 with a certificate signed by ca,
// and creates (or takes over) the Node name on the API server of cfg, Ready, with
// the endpoint as its kubelet. Close stops it. ctx bounds the start only.
func Start(ctx context.Context, cfg *rest.Config, name string, logs LogSource, ca CA) (*Node, error) {
	if logs == nil {
		return nil, errors.New("simnode: a LogSource is required")
	}
	cert, err := servingCert(ca, name)
	if err != nil {
		return nil, fmt.Errorf("simnode: serving certificate: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	n := &Node{Name: name, Port: ln.Addr().(*net.TCPAddr).Port, client: client, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.Handle("GET /containerLogs/{namespace}/{pod}/{container}", &logHandler{logs: logs})
	n.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:  log.New(io.Discard, "", 0), // a refused handshake shows in the client's error
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	go func() {
		defer close(n.done)
		_ = n.srv.ServeTLS(ln, "", "")
	}()
	if err := n.register(ctx); err != nil {
		_ = n.srv.Close()
		<-n.done
		return nil, fmt.Errorf("simnode: register node %s: %w", name, err)
	}
	return n, nil
}

// Close stops the kubelet endpoint (open log streams end). The Node object stays,
// as a stopped kubelet's does.
func (n *Node) Close() error {
	err := n.srv.Close()
	<-n.done
	return err
}

// register creates the Node, or takes over one of the same name, and writes its
// status: Ready, the kubelet endpoint, a little capacity.
func (n *Node) register(ctx context.Context) error {
	nodes := n.client.CoreV1().Nodes()
	node, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name,
		Labels: map[string]string{"kubernetes.io/hostname": n.Name, "kubernetes.io/os": "linux", "node.astropulse.io/simulated": "true"}}},
		metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		node, err = nodes.Get(ctx, n.Name, metav1.GetOptions{})
	}
	if err != nil {
		return err
	}
	now := metav1.Now()
	capacity := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"),
		corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110")}
	node.Status = corev1.NodeStatus{
		Capacity: capacity, Allocatable: capacity,
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(n.Port)}}, //nolint:gosec // a TCP port fits in int32,
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			Message: "simulated kubelet is posting ready status", LastHeartbeatTime: now, LastTransitionTime: now}},
		NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.37.2-sim", OperatingSystem: "linux", Architecture: "amd64"},
	}
	_, err = nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{})
	return err
}

// RunPod creates pod bound to this node (spec.nodeName) and marks it Running with
// every container ready, as a kubelet would once its containers started; its
// containers' logs are then readable through pods/log. The namespace's "default"
// ServiceAccount is created when missing (no controller-manager makes it on a bare
// API server, and admission requires it), and the pod mounts no token.
func (n *Node) RunPod(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	pod = pod.DeepCopy()
	pod.Spec.NodeName = n.Name
	if pod.Spec.AutomountServiceAccountToken == nil {
		no := false
		pod.Spec.AutomountServiceAccountToken = &no
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	_, err := n.client.CoreV1().ServiceAccounts(pod.Namespace).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("service account %s/%s: %w", pod.Namespace, sa, err)
	}
	pods := n.client.CoreV1().Pods(pod.Namespace)
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
	for _, c := range created.Spec.Containers {
		created.Status.ContainerStatuses = append(created.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image, Ready: true, Started: new(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}})
	}
	return pods.UpdateStatus(ctx, created, metav1.UpdateOptions{})
}

// logHandler serves a kubelet's /containerLogs/{namespace}/{pod}/{container}.
type logHandler struct{ logs LogSource }

func (h *logHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := Container{Namespace: r.PathValue("namespace"), Pod: r.PathValue("pod"), Name: r.PathValue("container")}
	q := r.URL.Query()
	follow, previous, timestamps := flag(q.Get("follow")), flag(q.Get("previous")), flag(q.Get("timestamps"))
	tail := -1
	if v := q.Get("tailLines"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			http.Error(w, "tailLines: not a non-negative integer", http.StatusBadRequest)
			return
		}
		tail = n
	}
	limit := int64(-1)
	if v := q.Get("limitBytes"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			http.Error(w, "limitBytes: not a positive integer", http.StatusBadRequest)
			return
		}
		limit = n
	}
	ctx := r.Context()
	past, next, err := h.logs.Log(ctx, c, previous)
	if errors.Is(err, ErrNotFound) {
		http.Error(w, fmt.Sprintf("container %q in pod %s/%s: no log", c.Name, c.Namespace, c.Pod), http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if tail >= 0 && len(past) > tail {
		past = past[len(past)-tail:]
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	written := int64(0)
	write := func(l Line) bool {
		s := l.Text + "\n"
		if timestamps {
			s = l.Time.UTC().Format(time.RFC3339Nano) + " " + s
		}
		if limit >= 0 && written+int64(len(s)) > limit {
			s = s[:limit-written]
		}
		n, err := w.Write([]byte(s))
		written += int64(n)
		return err == nil && (limit < 0 || written < limit)
	}
	for _, l := range past {
		if !write(l) {
			return
		}
	}
	if flusher != nil {
		flusher.Flush()
	}
	if !follow || previous || next == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case l, ok := <-next:
			if !ok || !write(l) {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
}

func flag(v string) bool {
	b, _ := strconv.ParseBool(v)
	return b
}

// servingCert makes the kubelet endpoint's certificate for 127.0.0.1 and the node's
// name, signed by ca.
func servingCert(ca CA, name string) (tls.Certificate, error) {
	caPair, err := tls.X509KeyPair(ca.Cert, ca.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("the CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caPair.Certificate[0])
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "system:node:" + name, Organization: []string{"system:nodes"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     caCert.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{strings.ToLower(name), "localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caPair.PrivateKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}
