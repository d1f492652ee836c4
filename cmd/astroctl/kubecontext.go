package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/astropulse/astroplane/cmd/astroctl/internal/apiclient"
	"github.com/astropulse/astroplane/cmd/astroctl/internal/config"
)

// kubeconfigPath is the file set-context writes: the first of $KUBECONFIG, else
// ~/.kube/config (as kubectl reads them).
func kubeconfigPath() (string, error) {
	if list := filepath.SplitList(os.Getenv("KUBECONFIG")); len(list) > 0 && list[0] != "" {
		return list[0], nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".kube", "config"), nil
}

// kubeName is the name set-context gives the context, cluster and user it adds.
func kubeName(cluster string) string { return "astro-" + cluster }

func (a *app) setContextCommands() []*cobra.Command {
	var duration string
	set := &cobra.Command{
		Use:   "set-context NAME",
		Short: "Write the cluster's kubeconfig into ~/.kube/config (or $KUBECONFIG) as context astro-NAME and switch kubectl to it",
		Long: `Asks the API for the cluster's kubeconfig and merges it into your kubeconfig file (the first
of $KUBECONFIG, else ~/.kube/config) as the context, cluster and user astro-NAME, then makes
it kubectl's current context. astroctl remembers what it added: delete-context NAME removes
exactly that and nothing else. The credentials expire (the API says when); run set-context
again for fresh ones.`,
		Example: "  astroctl clusters set-context prod && kubectl get nodes\n  astroctl clusters set-context prod --duration 8h",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.session()
			if err != nil {
				return err
			}
			kc, err := a.kubeconfig(cmd, s, args[0], duration)
			if err != nil {
				return err
			}
			added, err := clientcmd.Load([]byte(kc.Kubeconfig))
			if err != nil {
				return fmt.Errorf("the API's kubeconfig: %w", err)
			}
			cluster, user, namespace := pickContext(added)
			if cluster == nil {
				return errors.New("the API's kubeconfig names no cluster")
			}
			path, err := kubeconfigPath()
			if err != nil {
				return err
			}
			target, err := loadKubeconfig(path)
			if err != nil {
				return err
			}
			name := kubeName(args[0])
			target.Clusters[name] = cluster
			target.AuthInfos[name] = user
			ctx := clientcmdapi.NewContext()
			ctx.Cluster, ctx.AuthInfo, ctx.Namespace = name, name, namespace
			target.Contexts[name] = ctx
			target.CurrentContext = name
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return err
			}
			if err := clientcmd.WriteToFile(*target, path); err != nil {
				return err
			}
			if err := os.Chmod(path, 0o600); err != nil { // it holds credentials
				return err
			}
			if err := a.rememberKubeContext(name, path, true); err != nil {
				return err
			}
			msg := fmt.Sprintf("Context %q written to %s and made current", name, path)
			if kc.ExpiresAt != nil {
				msg += fmt.Sprintf("; its credentials expire at %s (set-context again then)", kc.ExpiresAt.Local().Format(time.DateTime))
			}
			fmt.Fprintln(a.stdout, msg+".")
			return nil
		},
	}
	set.Flags().StringVar(&duration, "duration", "1h", "how long the credentials last (5m to 24h; a cloud may give less)")
	del := &cobra.Command{
		Use:     "delete-context NAME",
		Short:   "Remove the kubeconfig context set-context added for the cluster (and only that)",
		Example: "  astroctl clusters delete-context prod",
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			name := kubeName(args[0])
			_, cfg, err := loadConfig()
			if err != nil {
				return err
			}
			var path string
			for _, k := range cfg.KubeContexts {
				if k.Name == name {
					path = k.File
				}
			}
			if path == "" {
				return withCode(exitNotFound, fmt.Errorf("astroctl added no kubeconfig context %q (set-context adds them)", name))
			}
			target, err := loadKubeconfig(path)
			if err != nil {
				return err
			}
			delete(target.Contexts, name)
			delete(target.Clusters, name)
			delete(target.AuthInfos, name)
			if target.CurrentContext == name {
				target.CurrentContext = ""
			}
			if err := clientcmd.WriteToFile(*target, path); err != nil {
				return err
			}
			if err := a.rememberKubeContext(name, path, false); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Context %q removed from %s.\n", name, path)
			return nil
		},
	}
	return []*cobra.Command{set, del}
}

// kubeconfig asks the API to make the cluster's kubeconfig with the credentials its
// spec uses (dynamic unless it says otherwise), polling while it is being made.
func (a *app) kubeconfig(cmd *cobra.Command, s *session, cluster, duration string) (apiclient.ClusterKubeconfig, error) {
	var kc apiclient.ClusterKubeconfig
	credType := "dynamic"
	if resp, err := s.client.GetClusterSpecWithResponse(cmd.Context(), cluster, &apiclient.GetClusterSpecParams{}); err == nil {
		if raw, err := data(resp, resp.Body, nil); err == nil {
			var spec struct {
				Spec struct {
					Provisioner map[string]any `json:"provisioner"`
				} `json:"spec"`
			}
			_ = json.Unmarshal(raw, &spec)
			if t, ok := spec.Spec.Provisioner["type"].(string); ok {
				if p, ok := spec.Spec.Provisioner[t].(map[string]any); ok {
					if c, ok := p["credentials"].(map[string]any); ok {
						if ct, ok := c["type"].(string); ok && ct != "" {
							credType = ct
						}
					}
				}
			}
		}
	}
	body, _ := json.Marshal(map[string]any{"clusterName": cluster, "credentials": map[string]any{"type": credType}, "duration": duration})
	resp, err := s.client.GenerateClusterKubeconfigWithBodyWithResponse(cmd.Context(), cluster, &apiclient.GenerateClusterKubeconfigParams{}, "application/json", bytes.NewReader(body))
	if err != nil {
		return kc, err
	}
	if resp.StatusCode() != http.StatusAccepted {
		list, _, err := decode[[]apiclient.ClusterKubeconfig](resp, resp.Body, nil) // a list, as the reference answers
		if err == nil && len(list) == 0 {
			err = errors.New("the API answered no kubeconfig")
		}
		if err != nil {
			return kc, err
		}
		return list[0], nil
	}
	for deadline := time.Now().Add(5 * time.Minute); ; { // self-hosted: being made
		select {
		case <-cmd.Context().Done():
			return kc, &silentError{exitDetached}
		case <-time.After(pollInterval):
		}
		resp, err := s.client.GetClusterKubeconfigWithResponse(cmd.Context(), cluster, &apiclient.GetClusterKubeconfigParams{})
		if err != nil {
			return kc, err
		}
		if resp.StatusCode() == http.StatusAccepted && time.Now().Before(deadline) {
			continue
		}
		kc, _, err = decode[apiclient.ClusterKubeconfig](resp, resp.Body, nil)
		return kc, err
	}
}

// pickContext is the cluster, user and namespace of kc's current context (else its
// only one); a kubeconfig without contexts gives its first cluster and user (an empty
// user when it has none).
func pickContext(kc *clientcmdapi.Config) (*clientcmdapi.Cluster, *clientcmdapi.AuthInfo, string) {
	ctx := kc.Contexts[kc.CurrentContext]
	if ctx == nil && len(kc.Contexts) == 1 {
		for _, c := range kc.Contexts {
			ctx = c
		}
	}
	if ctx != nil && kc.Clusters[ctx.Cluster] != nil {
		user := kc.AuthInfos[ctx.AuthInfo]
		if user == nil {
			user = clientcmdapi.NewAuthInfo()
		}
		return kc.Clusters[ctx.Cluster], user, ctx.Namespace
	}
	first := func(m map[string]*clientcmdapi.Cluster) *clientcmdapi.Cluster {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			return m[k]
		}
		return nil
	}
	user := clientcmdapi.NewAuthInfo()
	for _, k := range slices.Sorted(maps.Keys(kc.AuthInfos)) {
		user = kc.AuthInfos[k]
		break
	}
	return first(kc.Clusters), user, ""
}

func loadKubeconfig(path string) (*clientcmdapi.Config, error) {
	cfg, err := clientcmd.LoadFromFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return clientcmdapi.NewConfig(), nil
	}
	return cfg, err
}

// rememberKubeContext records (or forgets) a kubeconfig context astroctl added.
func (a *app) rememberKubeContext(name, file string, add bool) error {
	path, cfg, err := loadConfig()
	if err != nil {
		return err
	}
	kept := cfg.KubeContexts[:0]
	for _, k := range cfg.KubeContexts {
		if k.Name != name || k.File != file {
			kept = append(kept, k)
		}
	}
	if add {
		kept = append(kept, config.KubeContext{Name: name, File: file})
	}
	cfg.KubeContexts = kept
	return cfg.Save(path)
}
