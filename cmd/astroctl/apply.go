package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/astropulse/astroplane/cmd/astroctl/internal/apiclient"
	"github.com/astropulse/astroplane/cmd/astroctl/internal/manifest"
)

// manifestFlags are -f and --set.
type manifestFlags struct {
	files []string
	set   []string
}

func (m *manifestFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&m.files, "filename", "f", nil, "manifest file, directory (its *.yaml, *.yml, *.json) or - for standard input; repeatable")
	cmd.Flags().StringArrayVar(&m.set, "set", nil, "fill a placeholder: --set YOUR_REGION=us-east-1 replaces <YOUR_REGION> and ${YOUR_REGION}; repeatable")
}

func (m *manifestFlags) load(a *app) ([]manifest.Doc, error) {
	set := map[string]string{}
	for _, kv := range m.set {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, withCode(exitValidation, fmt.Errorf("--set %q: NAME=VALUE", kv))
		}
		set[strings.Trim(k, "<>${}")] = v
	}
	return manifest.Load(m.files, a.stdin, set)
}

func (a *app) applyCommand() *cobra.Command {
	var mf manifestFlags
	var wf waitFlags
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR|-",
		Short: "Apply manifests of any kind: clusters first, then application profiles, then applications",
		Long: `Applies every manifest given, whatever its kind, in dependency order: K8sCluster (deploy, or
update when the cluster exists), K8sClusterRegistration (register), ApplicationProfile (create),
Application (deploy). Every manifest is read and checked before the first is sent; a cluster
operation is waited for (with progress) before what follows is applied. A K8sClusterUpdate
names no cluster: use astroctl clusters update NAME -f FILE.`,
		Example: `  astroctl apply -f manifests/
  astroctl apply -f stack.yaml --set YOUR_CLUSTER_NAME=prod
  cat app.json | astroctl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.applyFiles(cmd, mf, wf)
		},
	}
	mf.add(cmd)
	wf.add(cmd)
	return cmd
}

// applyFiles loads the manifests (only kinds, when given, are accepted) and applies
// them in order, stopping at the first failure.
func (a *app) applyFiles(cmd *cobra.Command, mf manifestFlags, wf waitFlags, kinds ...string) error {
	docs, err := mf.load(a)
	if err != nil {
		return err
	}
	var problems []manifest.Problem
	for _, d := range docs {
		switch {
		case len(kinds) > 0 && !slices.Contains(kinds, d.Kind):
			problems = append(problems, manifest.Problem{Source: d.Source, Field: "kind", Message: fmt.Sprintf("%s: %s applies %s (astroctl apply takes every kind)", d.Kind, cmd.CommandPath(), strings.Join(kinds, ", "))})
		case d.Kind == manifest.KindUpdate:
			problems = append(problems, manifest.Problem{Source: d.Source, Field: "kind", Message: "K8sClusterUpdate names no cluster: astroctl clusters update NAME -f " + d.Source})
		}
	}
	if len(problems) > 0 {
		return &manifest.ValidationError{Problems: problems}
	}
	s, err := a.session()
	if err != nil {
		return err
	}
	for _, d := range docs {
		var err error
		switch d.Kind {
		case manifest.KindCluster:
			err = a.applyCluster(cmd, s, d, wf)
		case manifest.KindRegistration:
			err = a.register(cmd, s, d)
		case manifest.KindProfile:
			err = a.applyProfile(cmd, s, d)
		case manifest.KindApplication:
			err = a.applyApp(cmd, s, d, wf)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// register registers an existing cluster's agent and prints the manifest to install.
func (a *app) register(cmd *cobra.Command, s *session, d manifest.Doc) error {
	body, err := d.JSON()
	if err != nil {
		return err
	}
	resp, err := s.client.RegisterClusterAgentWithBodyWithResponse(cmd.Context(), d.Name, &apiclient.RegisterClusterAgentParams{}, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	reg, _, err := decode[apiclient.ClusterAgentRegistration](resp, resp.Body, nil)
	if err != nil {
		return fmt.Errorf("%s: cluster/%s: register: %w", d.Source, d.Name, err)
	}
	fmt.Fprintf(a.stderr, "cluster/%s: registered; install the agent on the cluster with the manifest below (kubectl apply -f -). Its token is single-use", d.Name)
	if reg.TokenExpiresAt != nil {
		fmt.Fprintf(a.stderr, " and expires at %s", reg.TokenExpiresAt.Local())
	}
	fmt.Fprintln(a.stderr, ".")
	fmt.Fprint(a.stdout, reg.AgentManifest)
	if !strings.HasSuffix(reg.AgentManifest, "\n") {
		fmt.Fprintln(a.stdout)
	}
	if op := str(reg.OperationId); op != "" {
		fmt.Fprintf(a.stderr, "Follow the registration with: astroctl clusters progress %s --watch --operation %s\n", d.Name, op)
	}
	return nil
}
