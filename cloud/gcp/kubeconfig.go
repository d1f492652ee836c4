package gcp

import (
	"context"
	"encoding/base64"
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/astropulse/astroplane/cloud"
)

// authPlugin is the credential plugin kubectl runs for GKE clusters.
const authPlugin = "gke-gcloud-auth-plugin"

// Kubeconfig returns a kubeconfig for the cluster: its endpoint and CA from GKE, and
// authentication by gke-gcloud-auth-plugin (the user's own Google credentials), or,
// with Options.KubeconfigToken, the session's access token until it expires. It
// holds credentials in the latter case: never log it.
func (p *Provider) Kubeconfig(ctx context.Context, c cloud.Call, r cloud.ClusterRef) (string, error) {
	path, err := p.resolve(ctx, r.ExternalID)
	if err != nil {
		return "", err
	}
	cl, err := p.getCluster(ctx, path)
	if err != nil {
		return "", err
	}
	if cl.Endpoint == "" || cl.MasterAuth == nil || cl.MasterAuth.ClusterCaCertificate == "" {
		return "", fmt.Errorf("kubeconfig of cluster %s: it has no endpoint yet (%s)", cl.Name, cl.Status)
	}
	ca, err := base64.StdEncoding.DecodeString(cl.MasterAuth.ClusterCaCertificate)
	if err != nil {
		return "", cloud.Errorf(cloud.ErrFailed, "kubeconfig of cluster %s: GKE's CA certificate is not base64: %w", cl.Name, err)
	}
	name := fmt.Sprintf("gke_%s_%s_%s", p.projectOfPath(path), cl.Location, cl.Name)
	user := &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
		APIVersion: "client.authentication.k8s.io/v1beta1", Command: authPlugin, ProvideClusterInfo: true,
		InteractiveMode: clientcmdapi.IfAvailableExecInteractiveMode,
		InstallHint:     "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin (https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin)",
	}}
	if p.opts.KubeconfigToken {
		if p.token == nil {
			return "", cloud.Errorf(cloud.ErrInvalid, "kubeconfig of cluster %s: the session has no access token", cl.Name)
		}
		user = &clientcmdapi.AuthInfo{Token: p.token.AccessToken}
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: "https://" + cl.Endpoint, CertificateAuthorityData: ca}
	cfg.AuthInfos[name] = user
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		return "", fmt.Errorf("kubeconfig of cluster %s: %w", cl.Name, err)
	}
	c.Report(fmt.Sprintf("kubeconfig of cluster %s at %s", cl.Name, cl.Endpoint))
	return string(out), nil
}

// projectOfPath is the project of a resource name projects/P/….
func (p *Provider) projectOfPath(path string) string {
	if seg := splitPath(path); len(seg) > 1 {
		return seg[1]
	}
	return p.project
}
