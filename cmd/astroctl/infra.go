package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/astropulse/astroplane/cmd/astroctl/internal/apiclient"
	"github.com/astropulse/astroplane/cmd/astroctl/internal/manifest"
)

// infraCommand is `astroctl infra k8s …`, the older CLI's spelling the example
// manifests still print (`astroctl infra k8s apply -f byoa.yaml`): the same commands
// as `astroctl clusters`, so muscle memory and scripts keep working.
func (a *app) infraCommand() *cobra.Command {
	infra := &cobra.Command{Use: "infra", Short: "The older CLI's spelling: astroctl infra k8s … is astroctl clusters …"}
	k8s := a.clustersCommand()
	k8s.Use, k8s.Aliases = "k8s", []string{"kubernetes"}
	k8s.Short = "Kubernetes clusters (the same commands as astroctl clusters)"
	infra.AddCommand(k8s)
	return infra
}

// registerCommand is `clusters register -f FILE | --cluster-name NAME`.
func (a *app) registerCommand() *cobra.Command {
	var mf manifestFlags
	var name string
	cmd := &cobra.Command{
		Use:   "register -f FILE | --cluster-name NAME",
		Short: "Register an existing cluster (K8sClusterRegistration): prints the agent manifest to install on it",
		Long: `Registers a cluster you already run (any Kubernetes: EKS, GKE, AKS, on-premises, kind) and
prints the agent's install manifest on stdout, with a one-time registration token:

  astroctl clusters register --cluster-name my-cluster | kubectl apply -f -`,
		Example: "  astroctl clusters register -f register.yaml > agent.yaml\n  astroctl infra k8s register --cluster-name my-existing-cluster | kubectl apply -f -",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var docs []manifest.Doc
			switch {
			case name != "" && len(mf.files) > 0:
				return withCode(exitValidation, fmt.Errorf("-f or --cluster-name, not both"))
			case name != "":
				d, problems := manifest.Parse("--cluster-name", []byte(fmt.Sprintf(`{"apiVersion":"platform.astropulse.io/v1","kind":"K8sClusterRegistration","spec":{"clusterName":%q}}`, name)), nil)
				if len(problems) > 0 {
					return &manifest.ValidationError{Problems: problems}
				}
				docs = d
			default:
				var err error
				if docs, err = mf.load(a); err != nil {
					return err
				}
			}
			s, err := a.session()
			if err != nil {
				return err
			}
			for _, d := range docs {
				if d.Kind != manifest.KindRegistration {
					return withCode(exitValidation, fmt.Errorf("%s: kind %s: register takes K8sClusterRegistration", d.Source, d.Kind))
				}
				if err := a.register(cmd, s, d); err != nil {
					return err
				}
			}
			return nil
		},
	}
	mf.add(cmd)
	cmd.Flags().StringVar(&name, "cluster-name", "", "the name the cluster gets in the platform (instead of -f)")
	return cmd
}

// unregisterCommand is `clusters unregister NAME [--agent-only]`: the way out of a
// registration, as `clusters delete` is of a cluster the platform made.
func (a *app) unregisterCommand() *cobra.Command {
	var agentOnly bool
	var wf waitFlags
	cmd := &cobra.Command{
		Use:   "unregister NAME [--agent-only]",
		Short: "Unregister a registered cluster: remove the agent from it and forget it, waiting for the cleanup",
		Long: `Unregisters a cluster registered with an agent. By default the platform removes what it
installed in the cluster (the astro-agent namespace and binding, through the agent's
tunnel) and forgets the cluster. With --agent-only the cluster's record stays and its
agent is refused from then on. The cluster itself is never deleted: it is yours.`,
		Example: "  astroctl clusters unregister my-existing-cluster\n  astroctl infra k8s unregister my-existing-cluster --agent-only --no-wait",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.session()
			if err != nil {
				return err
			}
			resp, err := s.client.UnregisterClusterAgentWithResponse(cmd.Context(), args[0], &apiclient.UnregisterClusterAgentParams{AgentOnly: &agentOnly})
			if err != nil {
				return err
			}
			if _, _, err := decode[apiclient.ClusterAgentUnregisterResult](resp, resp.Body, nil); err != nil {
				return err
			}
			// The answer names the operation in its message only ("unregistering:
			// operation ID"); without it, the cluster's latest operation is followed.
			op := ""
			if resp.JSON200 != nil {
				op, _ = strings.CutPrefix(resp.JSON200.Message, "unregistering: operation ")
				op = strings.TrimSpace(op)
			}
			return a.started(cmd, s, args[0], "unregister", op, wf)
		},
	}
	cmd.Flags().BoolVar(&agentOnly, "agent-only", false, "keep the cluster's record; only refuse its agent from now on")
	wf.add(cmd)
	return cmd
}
