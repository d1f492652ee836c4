package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/astropulse/astroplane/cmd/astroctl/internal/apiclient"
)

// cloudProvider is what differs between the three providers' commands.
type cloudProvider struct {
	name string // aws, gcp, azure
	// connect sends the connect request (body built from the flags).
	connect func(ctx context.Context, s *session, body []byte) (response, []byte, error)
	status  func(ctx context.Context, s *session, id string) (response, []byte, error)
	creds   func(ctx context.Context, s *session, f *cloudFlags) (response, []byte, error)
	// script is where a setup script is saved (gcp, azure), "" when the setup is a link (aws).
	script string
}

// cloudFlags are every provider's connect and credentials flags.
type cloudFlags struct {
	cluster, region, level, duration string
	accountID                        string // aws
	projectID, projectNumber         string // gcp
	subscriptionID, resourceGroup    string // azure
	tenantID                         string // azure
	forceUpdate                      bool
}

func (a *app) cloudCommand() *cobra.Command {
	c := &cobra.Command{Use: "cloud", Short: "Connect cloud accounts (dynamic credentials), follow connections, get temporary credentials"}
	aws := cloudProvider{name: "aws",
		connect: func(ctx context.Context, s *session, body []byte) (response, []byte, error) {
			r, err := s.client.ConnectAwsAccountWithBodyWithResponse(ctx, &apiclient.ConnectAwsAccountParams{}, "application/json", bytes.NewReader(body))
			if err != nil {
				return nil, nil, err
			}
			return r, r.Body, nil
		},
		status: func(ctx context.Context, s *session, id string) (response, []byte, error) {
			r, err := s.client.GetAwsConnectionStatusWithResponse(ctx, id, &apiclient.GetAwsConnectionStatusParams{})
			if err != nil {
				return nil, nil, err
			}
			return r, r.Body, nil
		},
		creds: func(ctx context.Context, s *session, f *cloudFlags) (response, []byte, error) {
			body, _ := json.Marshal(omitEmpty(map[string]any{"clusterName": f.cluster, "targetRegion": f.region, "destinationAccountId": f.accountID, "duration": f.duration}))
			r, err := s.client.GetAwsCredentialsWithBodyWithResponse(ctx, &apiclient.GetAwsCredentialsParams{}, "application/json", bytes.NewReader(body))
			if err != nil {
				return nil, nil, err
			}
			return r, r.Body, nil
		},
	}
	gcp := cloudProvider{name: "gcp", script: "astro-gcp-setup-%s.sh",
		connect: func(ctx context.Context, s *session, body []byte) (response, []byte, error) {
			r, err := s.client.ConnectGcpProjectWithBodyWithResponse(ctx, &apiclient.ConnectGcpProjectParams{}, "application/json", bytes.NewReader(body))
			if err != nil {
				return nil, nil, err
			}
			return r, r.Body, nil
		},
		status: func(ctx context.Context, s *session, id string) (response, []byte, error) {
			r, err := s.client.GetGcpConnectionStatusWithResponse(ctx, id, &apiclient.GetGcpConnectionStatusParams{})
			if err != nil {
				return nil, nil, err
			}
			return r, r.Body, nil
		},
		creds: func(ctx context.Context, s *session, f *cloudFlags) (response, []byte, error) {
			body, _ := json.Marshal(omitEmpty(map[string]any{"clusterName": f.cluster, "targetRegion": f.region, "targetProjectId": f.projectID, "duration": f.duration}))
			r, err := s.client.GetGcpCredentialsWithBodyWithResponse(ctx, &apiclient.GetGcpCredentialsParams{}, "application/json", bytes.NewReader(body))
			if err != nil {
				return nil, nil, err
			}
			return r, r.Body, nil
		},
	}
	azure := cloudProvider{name: "azure", script: "astro-azure-setup-%s.sh",
		connect: func(ctx context.Context, s *session, body []byte) (response, []byte, error) {
			r, err := s.client.ConnectAzureSubscriptionWithBodyWithResponse(ctx, &apiclient.ConnectAzureSubscriptionParams{}, "application/json", bytes.NewReader(body))
			if err != nil {
				return nil, nil, err
			}
			return r, r.Body, nil
		},
		status: func(ctx context.Context, s *session, id string) (response, []byte, error) {
			r, err := s.client.GetAzureConnectionStatusWithResponse(ctx, id, &apiclient.GetAzureConnectionStatusParams{})
			if err != nil {
				return nil, nil, err
			}
			return r, r.Body, nil
		},
		creds: func(ctx context.Context, s *session, f *cloudFlags) (response, []byte, error) {
			p := &apiclient.GetAzureCredentialsParams{ClusterName: f.cluster}
			for _, kv := range []struct {
				v   string
				dst **string
			}{{f.subscriptionID, &p.SubscriptionId}, {f.resourceGroup, &p.ResourceGroup}, {f.region, &p.TargetRegion}, {f.duration, &p.Duration}} {
				if kv.v != "" {
					v := kv.v
					*kv.dst = &v
				}
			}
			r, err := s.client.GetAzureCredentialsWithResponse(ctx, p)
			if err != nil {
				return nil, nil, err
			}
			return r, r.Body, nil
		},
	}
	for _, p := range []cloudProvider{aws, gcp, azure} {
		c.AddCommand(a.cloudProviderCommand(p))
	}
	return c
}

func omitEmpty(m map[string]any) map[string]any {
	for k, v := range m {
		if v == "" || v == false {
			delete(m, k)
		}
	}
	return m
}

func (a *app) cloudProviderCommand(p cloudProvider) *cobra.Command {
	c := &cobra.Command{Use: p.name, Short: map[string]string{"aws": "AWS accounts", "gcp": "GCP projects", "azure": "Azure subscriptions"}[p.name]}
	var f cloudFlags
	var wf waitFlags
	examples := map[string]string{
		"aws":   "  astroctl cloud aws connect --account-id 123456789012 --cluster-name prod --region us-east-1",
		"gcp":   "  astroctl cloud gcp connect --project-id my-project-123456 --project-number 123456789012 --cluster-name analytics --region us-central1",
		"azure": "  astroctl cloud azure connect --subscription-id 0b1f6471-1bf0-4dda-aec3-cb9272f09590 --resource-group rg-prod --cluster-name billing --region eastus",
	}
	connect := &cobra.Command{
		Use:   "connect",
		Short: "Connect the account so clusters can use dynamic credentials; waits until it is CONNECTED",
		Long: `Starts the connection and says what to do on your side: open the setup link (AWS: a
CloudFormation quick-create of the IAM role) or run the setup script astroctl saves (GCP and
Azure: ` + "`bash astro-<provider>-setup-NAME.sh`" + `). Then waits until the connection is CONNECTED
(--no-wait: print the operation ID; astroctl cloud ` + p.name + ` status ID follows it).`,
		Example: examples[p.name],
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.cluster == "" {
				return withCode(exitValidation, fmt.Errorf("--cluster-name is required"))
			}
			body := map[string]any{"clusterName": f.cluster, "targetRegion": f.region, "level": f.level, "duration": f.duration, "forceUpdate": f.forceUpdate}
			switch p.name {
			case "aws":
				body["destinationAccountId"] = f.accountID
			case "gcp":
				body["targetProjectId"], body["targetProjectNumber"] = f.projectID, f.projectNumber
			case "azure":
				body["subscriptionId"], body["resourceGroup"], body["tenantId"] = f.subscriptionID, f.resourceGroup, f.tenantID
			}
			raw, _ := json.Marshal(omitEmpty(body))
			s, err := a.session()
			if err != nil {
				return err
			}
			resp, b, err := p.connect(cmd.Context(), s, raw)
			acc, _, err := decode[apiclient.CloudConnectionAccepted](resp, b, err)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s connection for cluster %s started, operation %s\n", p.name, f.cluster, acc.OperationId)
			w := &connWatch{a: a, s: s, p: p, id: acc.OperationId, cluster: f.cluster}
			if acc.SetupUrl != nil && *acc.SetupUrl != "" && p.script == "" {
				w.showLink(*acc.SetupUrl, str(acc.ExternalId))
			}
			if wf.noWait {
				// The customer's part is what they need now: wait for it only.
				w.untilSetup = true
				if wf.timeout == 0 {
					wf.timeout = time.Minute
				}
			}
			return w.wait(cmd.Context(), wf.timeout)
		},
	}
	fl := connect.Flags()
	fl.StringVar(&f.cluster, "cluster-name", "", "the cluster the connection is for (required)")
	fl.StringVar(&f.region, "region", "", "the cluster's region")
	fl.StringVar(&f.level, "level", "", "access level: manage (default) or read")
	fl.StringVar(&f.duration, "duration", "", "how long issued credentials last, e.g. 1h")
	fl.BoolVar(&f.forceUpdate, "force-update", false, "connect again an account already connected")
	switch p.name {
	case "aws":
		fl.StringVar(&f.accountID, "account-id", "", "the 12-digit AWS account ID")
	case "gcp":
		fl.StringVar(&f.projectID, "project-id", "", "the GCP project ID")
		fl.StringVar(&f.projectNumber, "project-number", "", `the project's number (gcloud projects describe PROJECT_ID --format="value(projectNumber)")`)
	case "azure":
		fl.StringVar(&f.subscriptionID, "subscription-id", "", "the Azure subscription ID")
		fl.StringVar(&f.resourceGroup, "resource-group", "", "the resource group clusters go into")
		fl.StringVar(&f.tenantID, "tenant-id", "", "the subscription's Entra tenant ID")
	}
	wf.add(connect)

	var watch bool
	status := &cobra.Command{
		Use:     "status OPERATION_ID [--watch]",
		Short:   "Show a connection's state and steps; --watch follows it until it ends",
		Example: "  astroctl cloud " + p.name + " status " + p.name + "-connect-… --watch",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.outputSession()
			if err != nil {
				return err
			}
			if watch {
				w := &connWatch{a: a, s: s, p: p, id: args[0]}
				return w.wait(cmd.Context(), 0)
			}
			resp, b, err := p.status(cmd.Context(), s, args[0])
			st, raw, err := decode[apiclient.CloudConnectionStatus](resp, b, err)
			if err != nil {
				return err
			}
			if err := a.print(raw, table{header: []string{"OPERATION", "PROVIDER", "CLUSTER", "STATUS", "MESSAGE"},
				rows: [][]string{{st.OperationId, string(st.Provider), str(st.ClusterName), string(st.Status), str(st.Message)}}}); err != nil {
				return err
			}
			if link, ext, script := setupOf(st); a.output == "table" || a.output == "wide" {
				switch {
				case link != "":
					fmt.Fprintf(a.stdout, "Setup link: %s\nExternal ID: %s\n", link, ext)
				case script != "":
					fmt.Fprintf(a.stdout, "Setup script: astroctl cloud %s status %s -o json | jq -r .%s.setupScript > setup.sh\n", p.name, st.OperationId, p.name)
				}
			}
			return nil
		},
	}
	status.Flags().BoolVarP(&watch, "watch", "w", false, "follow the connection until it ends")

	var cf cloudFlags
	creds := &cobra.Command{
		Use:     "credentials --cluster-name NAME",
		Short:   "Print temporary credentials for the cluster's connected account (secrets: handle with care)",
		Example: "  astroctl cloud " + p.name + " credentials --cluster-name prod -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			if cf.cluster == "" {
				return withCode(exitValidation, fmt.Errorf("--cluster-name is required"))
			}
			s, err := a.session()
			if err != nil {
				return err
			}
			resp, b, err := p.creds(cmd.Context(), s, &cf)
			raw, err := data(resp, b, err)
			if err != nil {
				return err
			}
			if a.output == "table" || a.output == "wide" {
				a.output = "yaml" // credentials have no table shape
			}
			return a.print(raw, table{})
		},
	}
	cl := creds.Flags()
	cl.StringVar(&cf.cluster, "cluster-name", "", "the cluster whose account (required)")
	cl.StringVar(&cf.region, "region", "", "the region the credentials are for")
	cl.StringVar(&cf.duration, "duration", "", "how long they last, e.g. 1h")
	switch p.name {
	case "aws":
		cl.StringVar(&cf.accountID, "account-id", "", "the AWS account")
	case "gcp":
		cl.StringVar(&cf.projectID, "project-id", "", "the GCP project")
	case "azure":
		cl.StringVar(&cf.subscriptionID, "subscription-id", "", "the Azure subscription")
		cl.StringVar(&cf.resourceGroup, "resource-group", "", "the resource group")
	}
	c.AddCommand(connect, status, creds)
	return c
}

// setupOf is the customer's part a connection status carries: the AWS setup link and
// external ID, or the GCP or Azure setup script.
func setupOf(st apiclient.CloudConnectionStatus) (link, externalID, script string) {
	switch {
	case st.Aws != nil:
		return str(st.Aws.SetupUrl), str(st.Aws.ExternalId), ""
	case st.Gcp != nil:
		return "", "", str(st.Gcp.SetupScript)
	case st.Azure != nil:
		return "", "", str(st.Azure.SetupScript)
	}
	return "", "", ""
}

// connWatch follows a connection: it shows the customer's part once it is known
// (prints the link, saves the script) and waits for the end (CONNECTED is exit 0), or
// with untilSetup only until the customer's part is shown.
type connWatch struct {
	a          *app
	s          *session
	p          cloudProvider
	id         string
	cluster    string
	untilSetup bool
	shown      bool
}

func (w *connWatch) showLink(link, externalID string) {
	w.shown = true
	fmt.Fprintf(w.a.stdout, "Your part: open the setup link (it creates the IAM role):\n  %s\n", link)
	if externalID != "" {
		fmt.Fprintf(w.a.stdout, "External ID: %s\n", externalID)
	}
}

func (w *connWatch) showScript(script, cluster string) error {
	w.shown = true
	name := fmt.Sprintf(w.p.script, cluster)
	if err := os.WriteFile(name, []byte(script), 0o700); err != nil { //nolint:gosec // G306: a script its owner runs
		return err
	}
	fmt.Fprintf(w.a.stdout, "Your part: run the setup script astroctl saved: bash %s\n", name)
	return nil
}

func (w *connWatch) wait(ctx context.Context, timeout time.Duration) error {
	a := w.a
	last := ""
	stopped := fmt.Sprintf("Stopped waiting; the connection carries on. Follow it: astroctl cloud %s status %s --watch", w.p.name, w.id)
	return a.pollUntil(ctx, timeout, stopped, func(ctx context.Context) (bool, error) {
		resp, b, err := w.p.status(ctx, w.s, w.id)
		if err != nil {
			return false, err
		}
		st, _, err := decode[apiclient.CloudConnectionStatus](resp, b, nil)
		if err != nil {
			return true, err
		}
		if link, ext, script := setupOf(st); !w.shown && st.Status != "CONNECTED" {
			cluster := w.cluster
			if cluster == "" {
				cluster = str(st.ClusterName)
			}
			switch {
			case link != "" && w.p.script == "":
				w.showLink(link, ext)
			case script != "" && w.p.script != "":
				if err := w.showScript(script, cluster); err != nil {
					return true, err
				}
			}
		}
		if w.untilSetup && w.shown {
			fmt.Fprintf(a.stderr, "Follow it with: astroctl cloud %s status %s --watch\n", w.p.name, w.id)
			return true, nil
		}
		a.showChange(&last, fmt.Sprintf("%s %s", st.Status, str(st.Message)))
		switch st.Status {
		case "CONNECTED":
			fmt.Fprintf(a.stdout, "%s connection %s: %s\n", w.p.name, w.id, a.statusColor("CONNECTED"))
			return true, nil
		case "FAILED", "CANCELLED":
			fmt.Fprintf(a.stderr, "%s connection %s: %s: %s\n", w.p.name, w.id, a.statusColor(string(st.Status)), str(st.Message))
			return true, &silentError{exitFailed}
		}
		return false, nil
	})
}
