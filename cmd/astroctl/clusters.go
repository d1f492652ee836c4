package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/spf13/cobra"

	"github.com/astropulse/astroplane/cmd/astroctl/internal/apiclient"
	"github.com/astropulse/astroplane/cmd/astroctl/internal/manifest"
)

// waitFlags are the flags of a command that starts an operation.
type waitFlags struct {
	noWait  bool
	timeout time.Duration
}

func (w *waitFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&w.noWait, "no-wait", false, "print the operation ID and return at once instead of waiting for the operation")
	cmd.Flags().DurationVar(&w.timeout, "timeout", 0, "stop waiting after this long (exit 5; the operation carries on); 0: wait until it ends")
}

func (a *app) clustersCommand() *cobra.Command {
	c := &cobra.Command{Use: "clusters", Aliases: []string{"cluster"}, Short: "Deploy, update, follow and delete Kubernetes clusters"}

	var mf manifestFlags
	var wf waitFlags
	apply := &cobra.Command{
		Use:   "apply -f FILE|DIR|-",
		Short: "Deploy the clusters a manifest describes (K8sCluster), or update those that exist; register (K8sClusterRegistration)",
		Long: `Applies K8sCluster and K8sClusterRegistration manifests: a cluster that does not exist is
deployed, one that exists is updated to the manifest (Kubernetes version, node groups, tags).
Waits for each operation with a live progress display (--no-wait: print the operation ID);
Ctrl-C detaches and says how to re-attach or cancel.`,
		Example: `  astroctl clusters apply -f eks.yaml
  astroctl clusters apply -f aws_eks_byoa.yaml --set YOUR_CLUSTER_NAME=prod --set YOUR_REGION=us-east-1 --set YOUR_AWS_ACCOUNT_ID=123456789012
  astroctl clusters apply -f clusters/ --no-wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.applyFiles(cmd, mf, wf, manifest.KindCluster, manifest.KindRegistration)
		},
	}
	mf.add(apply)
	wf.add(apply)

	var uf manifestFlags
	var uw waitFlags
	update := &cobra.Command{
		Use:     "update NAME -f FILE",
		Short:   "Update a cluster with a K8sClusterUpdate manifest",
		Example: "  astroctl clusters update prod -f eks-update.yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			docs, err := uf.load(a)
			if err != nil {
				return err
			}
			s, err := a.session()
			if err != nil {
				return err
			}
			for _, d := range docs {
				if d.Kind != manifest.KindUpdate {
					return withCode(exitValidation, fmt.Errorf("%s: kind %s: clusters update takes K8sClusterUpdate", d.Source, d.Kind))
				}
				if err := a.updateCluster(cmd, s, args[0], d, uw); err != nil {
					return err
				}
			}
			return nil
		},
	}
	uf.add(update)
	uw.add(update)

	get := &cobra.Command{
		Use:     "get [NAME]",
		Short:   "List the clusters, or show one",
		Example: "  astroctl clusters get\n  astroctl clusters get prod -o yaml\n  astroctl clusters get -o wide",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return getOrList(a, cmd, args, func(ctx context.Context, s *session, name string) (response, []byte, error) {
				r, err := s.client.GetClusterWithResponse(ctx, name, &apiclient.GetClusterParams{})
				if err != nil {
					return nil, nil, err
				}
				return r, r.Body, nil
			}, func(ctx context.Context, s *session) (response, []byte, error) {
				r, err := s.client.ListClustersWithResponse(ctx, &apiclient.ListClustersParams{})
				if err != nil {
					return nil, nil, err
				}
				return r, r.Body, nil
			}, clusterTable)
		},
	}

	var dw waitFlags
	del := &cobra.Command{
		Use:     "delete NAME",
		Short:   "Delete a cluster and every cloud resource it has, waiting for the delete",
		Example: "  astroctl clusters delete prod\n  astroctl clusters delete prod --no-wait",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.session()
			if err != nil {
				return err
			}
			resp, err := s.client.DeleteClusterWithBodyWithResponse(cmd.Context(), args[0], &apiclient.DeleteClusterParams{}, "application/json", http.NoBody) // no credentials: the cluster's own
			if err != nil {
				return err
			}
			op, _, err := decode[apiclient.OperationAccepted](resp, resp.Body, nil)
			if err != nil {
				return err
			}
			return a.started(cmd, s, args[0], "delete", op.OperationId, dw)
		},
	}
	dw.add(del)

	var watch bool
	var opID string
	progress := &cobra.Command{
		Use:     "progress NAME [--watch] [--operation ID]",
		Short:   "Show the progress of the cluster's latest (or a given) operation; --watch follows it to its end",
		Example: "  astroctl clusters progress prod\n  astroctl clusters progress prod --watch\n  astroctl clusters progress prod --operation deploy-prod-… -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.outputSession()
			if err != nil {
				return err
			}
			if watch {
				return a.wait(cmd.Context(), s, args[0], opID, 0)
			}
			params := &apiclient.GetClusterProgressParams{}
			if opID != "" {
				params.OperationId = &opID
			}
			resp, err := s.client.GetClusterProgressWithResponse(cmd.Context(), args[0], params)
			if err != nil {
				return err
			}
			p, raw, err := decode[apiclient.ClusterProgress](resp, resp.Body, nil)
			if err != nil {
				return err
			}
			t := table{header: []string{"STEP", "STATUS", "DURATION", "MESSAGE"}}
			for _, st := range p.Steps {
				d := ""
				if st.StartedAt != nil && st.EndedAt != nil {
					d = st.EndedAt.Sub(*st.StartedAt).Round(time.Second).String()
				}
				t.rows = append(t.rows, []string{st.Name, string(st.Status), d, str(st.Message)})
			}
			if a.output == "table" || a.output == "wide" {
				fmt.Fprintf(a.stdout, "Operation %s (%s): %s, %d%%", p.OperationId, p.OperationType, a.statusColor(string(p.Status)), p.Percent)
				if m := str(p.Message); m != "" {
					fmt.Fprintf(a.stdout, " · %s", m)
				}
				fmt.Fprintln(a.stdout)
			}
			return a.print(raw, t)
		},
	}
	progress.Flags().BoolVarP(&watch, "watch", "w", false, "follow the operation until it ends")
	progress.Flags().StringVar(&opID, "operation", "", "the operation ID (default: the cluster's latest)")

	history := &cobra.Command{
		Use:     "history NAME",
		Short:   "List the cluster's operations, newest first",
		Example: "  astroctl clusters history prod",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.outputSession()
			if err != nil {
				return err
			}
			resp, err := s.client.GetClusterHistoryWithResponse(cmd.Context(), args[0], &apiclient.GetClusterHistoryParams{})
			if err != nil {
				return err
			}
			h, raw, err := decode[apiclient.ClusterHistory](resp, resp.Body, nil)
			if err != nil {
				return err
			}
			t := table{header: []string{"OPERATION", "TYPE", "STATUS", "STARTED", "DURATION"}, wide: []string{"BY", "MESSAGE"}}
			for _, o := range h.Operations {
				started, d := "", ""
				if o.StartedAt != nil {
					started = o.StartedAt.Local().Format(time.DateTime)
					if o.EndedAt != nil {
						d = o.EndedAt.Sub(*o.StartedAt).Round(time.Second).String()
					}
				}
				t.rows = append(t.rows, []string{o.OperationId, string(o.OperationType), string(o.Status), started, d, str(o.RequestedBy), str(o.Message)})
			}
			return a.print(raw, t)
		},
	}

	cancel := &cobra.Command{
		Use:     "cancel NAME",
		Short:   "Cancel the cluster's running operation (it rolls back what it did and ends CANCELLED)",
		Example: "  astroctl clusters cancel prod",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.session()
			if err != nil {
				return err
			}
			resp, err := s.client.CancelClusterOperationWithResponse(cmd.Context(), args[0], &apiclient.CancelClusterOperationParams{})
			if err != nil {
				return err
			}
			if _, err := data(resp, resp.Body, nil); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "cluster/%s: cancellation requested; follow it with: astroctl clusters progress %s --watch\n", args[0], args[0])
			return nil
		},
	}
	c.AddCommand(apply, update, get, del, progress, history, cancel)
	c.AddCommand(a.setContextCommands()...)
	c.AddCommand(a.registerCommand(), a.unregisterCommand())
	completeArgs(c, a.completeNames(clusterNames))
	return c
}

// isUnchanged recognises the update answer that nothing differs.
func isUnchanged(msg string) bool { return strings.Contains(strings.ToLower(msg), "nothing to change") }

func clusterTable(list ...apiclient.Cluster) table {
	t := table{header: []string{"NAME", "STATUS", "PROVIDER", "REGION", "VERSION", "AGE"}, wide: []string{"PROVISIONER", "LAST OPERATION", "MESSAGE"}}
	for _, c := range list {
		prov := ""
		if c.ProvisionerType != nil {
			prov = string(*c.ProvisionerType)
		}
		t.rows = append(t.rows, []string{c.Name, string(c.Status), str(c.Provider), str(c.Region), str(c.KubernetesVersion), age(c.CreatedAt), prov, str(c.LastOperationId), str(c.StatusMessage)})
	}
	return t
}

// started reports an operation the API accepted, and waits for it unless --no-wait.
func (a *app) started(cmd *cobra.Command, s *session, cluster, what, opID string, wf waitFlags) error {
	return a.accepted(fmt.Sprintf("cluster/%s: %s started, operation %s", cluster, what, opID),
		fmt.Sprintf("Follow it with: astroctl clusters progress %s --watch --operation %s", cluster, opID), wf,
		func(timeout time.Duration) error { return a.wait(cmd.Context(), s, cluster, opID, timeout) })
}

// applyCluster deploys a K8sCluster, or updates the cluster when it exists.
func (a *app) applyCluster(cmd *cobra.Command, s *session, d manifest.Doc, wf waitFlags) error {
	resp, err := s.client.GetClusterWithResponse(cmd.Context(), d.Name, &apiclient.GetClusterParams{})
	if err != nil {
		return err
	}
	if resp.StatusCode() == http.StatusOK {
		return a.updateCluster(cmd, s, d.Name, asUpdate(d), wf)
	}
	if resp.StatusCode() != http.StatusNotFound {
		_, err := data(resp, resp.Body, nil)
		return err
	}
	body, err := d.JSON()
	if err != nil {
		return err
	}
	dresp, err := s.client.DeployClusterWithBodyWithResponse(cmd.Context(), &apiclient.DeployClusterParams{}, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	op, _, err := decode[apiclient.OperationAccepted](dresp, dresp.Body, nil)
	if err != nil {
		return fmt.Errorf("%s: cluster/%s: %w", d.Source, d.Name, err)
	}
	return a.started(cmd, s, d.Name, "deploy", op.OperationId, wf)
}

// asUpdate turns a K8sCluster manifest into the K8sClusterUpdate of what may change:
// the Kubernetes version, the node groups and the tags.
func asUpdate(d manifest.Doc) manifest.Doc {
	spec := d.Spec()
	up := map[string]any{}
	if v, ok := spec["kubernetesVersion"]; ok {
		up["kubernetesVersion"] = v
	}
	if v, ok := spec["tags"]; ok {
		up["tags"] = v
	}
	if cs, ok := spec["clusterSpec"].(map[string]any); ok {
		if dp, ok := cs["dataPlane"].(map[string]any); ok {
			if ngs, ok := dp["nodeGroups"].([]any); ok {
				var out []any
				for _, ng := range ngs {
					m, ok := ng.(map[string]any)
					if !ok {
						continue
					}
					g := map[string]any{}
					for _, k := range []string{"name", "minNode", "maxNode", "machineTypes", "labels", "taints"} {
						if v, ok := m[k]; ok {
							g[k] = v
						}
					}
					out = append(out, g)
				}
				up["nodeGroups"] = out
			}
		}
	}
	return manifest.Doc{Source: d.Source, Kind: manifest.KindUpdate, Name: d.Name,
		Object: map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": manifest.KindUpdate, "spec": up}}
}

func (a *app) updateCluster(cmd *cobra.Command, s *session, name string, d manifest.Doc, wf waitFlags) error {
	body, err := d.JSON()
	if err != nil {
		return err
	}
	resp, err := s.client.UpdateClusterWithBodyWithResponse(cmd.Context(), name, &apiclient.UpdateClusterParams{}, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	if st := resp.StatusCode(); st != http.StatusOK && st != http.StatusAccepted {
		return fmt.Errorf("%s: cluster/%s: update: %w", d.Source, name, newAPIError(st, resp.Body))
	}
	raw := json.RawMessage(resp.Body) // bare, not in the envelope (as the reference answers)
	var res struct {
		OperationID      string   `json:"operationId"`
		ValidationPassed *bool    `json:"validationPassed"`
		Status           string   `json:"status"`
		Message          string   `json:"message"`
		Warnings         []string `json:"warnings"`
		Errors           []string `json:"errors"`
	}
	_ = json.Unmarshal(raw, &res)
	unchanged := res.OperationID == "" && isUnchanged(res.Message)
	for _, w := range res.Warnings {
		if !unchanged { // "no changes" is what unchanged says
			fmt.Fprintf(a.stderr, "warning: %s\n", w)
		}
	}
	if res.OperationID == "" { // nothing to change, a dry run or a report: the answer is the plan
		blocked := res.ValidationPassed != nil && !*res.ValidationPassed
		switch {
		case a.output == "json" || a.output == "yaml":
			if err := a.print(raw, table{}); err != nil {
				return err
			}
		case unchanged && !blocked && len(res.Errors) == 0:
			fmt.Fprintf(a.stdout, "cluster/%s: unchanged (%s)\n", name, res.Message)
		default:
			out, err := yaml.JSONToYAML(raw)
			if err != nil {
				return err
			}
			_, _ = a.stdout.Write(out)
		}
		for _, e := range res.Errors {
			fmt.Fprintf(a.stderr, "error: %s\n", e)
		}
		if blocked {
			return &silentError{exitValidation}
		}
		return nil
	}
	return a.started(cmd, s, name, "update", res.OperationID, wf)
}
