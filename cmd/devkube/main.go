// Command devkube is the Kubernetes of make run's simulated cloud: a real etcd and
// kube-apiserver on loopback (internal/devkube, binaries in bin/), Argo CD's
// Application CRD, and internal/argosim in Argo CD's place (its reconciler over the
// argocd namespace; Deployments' pods run on a simulated node, cloud/sim/simnode, and
// become available; their logs, a few made-up lines and a request line every few
// seconds, are served through the API server's pods/log).
// Once all is up it writes an admin kubeconfig to -kubeconfig, which the worker's
// simulated cloud issues for every cluster (ASTRO_SIM_KUBECONFIG), and runs until
// SIGINT or SIGTERM, then stops the servers and removes the kubeconfig. etcd's data
// stays in -dir, so applications outlive a restart as the store's records do.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/astropulse/astroplane/cloud/sim/simnode"
	"github.com/astropulse/astroplane/internal/argosim"
	"github.com/astropulse/astroplane/internal/devkube"
)

// ArgoNamespace is where Applications are reconciled (apps/argocd's default).
const ArgoNamespace = "argocd"

// NodeName is the simulated node pods are bound to.
const NodeName = "sim-node-1"

func main() {
	var o options
	flag.StringVar(&o.dir, "dir", ".data/kube", "directory of etcd's data, the keys and the logs")
	flag.StringVar(&o.binDir, "bin", devkube.BinDir(), "directory holding etcd and kube-apiserver")
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "where to write the admin kubeconfig once ready (default DIR/kubeconfig)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "devkube")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := serve(ctx, o, log, nil)
	stop()
	if err != nil {
		log.Error("devkube stopped", "err", err)
		os.Exit(1)
	}
}

type options struct {
	dir, binDir, kubeconfig string
}

// serve runs everything until ctx ends; ready, if set, is called with the cluster
// once the kubeconfig is written.
func serve(ctx context.Context, o options, log *slog.Logger, ready func(*devkube.Cluster)) error {
	if o.kubeconfig == "" {
		o.kubeconfig = filepath.Join(o.dir, "kubeconfig")
	}
	_ = os.Remove(o.kubeconfig) // a previous run's, naming a server gone
	began := time.Now()
	c, err := devkube.Start(ctx, o.binDir, o.dir, devkube.Options{})
	if err != nil {
		return fmt.Errorf("start etcd and kube-apiserver: %w (logs in %s)", err, o.dir)
	}
	defer c.Stop()
	cfg := c.RESTConfig()
	if err := argosim.InstallApplicationCRD(ctx, cfg); err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	_, err = client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ArgoNamespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s: %w", ArgoNamespace, err)
	}
	node, err := simnode.Start(ctx, cfg, NodeName, newAppLogs(), simnode.CA{Cert: c.KubeletCACert, Key: c.KubeletCAKey})
	if err != nil {
		return err
	}
	defer func() { _ = node.Close() }()
	recon, err := argosim.NewReconciler(cfg, ArgoNamespace)
	if err != nil {
		return err
	}
	recon.WorkloadHealth = true
	workloads, err := argosim.NewWorkloads(cfg, node)
	if err != nil {
		return err
	}

	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { recon.Run(runCtx, 250*time.Millisecond, reporter(log, "argo cd reconciler")) })
	wg.Go(func() { workloads.Run(runCtx, 250*time.Millisecond, reporter(log, "workloads")) })
	defer func() { cancel(); wg.Wait() }()

	if err := writeFile(o.kubeconfig, c.Kubeconfig()); err != nil {
		return err
	}
	defer func() { _ = os.Remove(o.kubeconfig) }()
	log.Info("kubernetes API ready", "url", c.URL, "kubeconfig", o.kubeconfig, "node", NodeName,
		"startup", time.Since(began).Round(time.Millisecond))
	if ready != nil {
		ready(c)
	}
	select {
	case <-ctx.Done():
		return nil
	case <-c.Exited():
		select { // a Ctrl-C reaches the servers too, maybe first
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
		return errors.New("etcd or kube-apiserver exited; see their logs in " + o.dir)
	}
}

// reporter logs a loop's errors, each new one at once and a repeated one once a minute.
func reporter(log *slog.Logger, what string) func(error) {
	var last string
	var at time.Time
	return func(err error) {
		if msg := err.Error(); msg != last || time.Since(at) > time.Minute {
			last, at = msg, time.Now()
			log.Warn(what, "err", err)
		}
	}
}

// writeFile writes content to path (mode 0600) in one step: a reader sees the whole
// file or none.
func writeFile(path string, content []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, content, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
