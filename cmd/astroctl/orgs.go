package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/astropulse/astroplane/cmd/astroctl/internal/apiclient"
)

func (a *app) orgsCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "orgs",
		Aliases: []string{"org"},
		Short:   "List the organizations the credentials belong to, with their role and plan",
		Example: "  astroctl orgs\n  astroctl orgs -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			s, err := a.session()
			if err != nil {
				return err
			}
			resp, err := s.client.ListOrganizationsWithResponse(cmd.Context(), &apiclient.ListOrganizationsParams{})
			if err != nil {
				return err
			}
			list, raw, err := decode[[]apiclient.Organization](resp, resp.Body, nil)
			if err != nil {
				return err
			}
			t := table{header: []string{"NAME", "TITLE", "ROLE", "PLAN", "MEMBERS"}, wide: []string{"ID", "STATUS"}}
			for _, o := range list {
				role, members := "", ""
				if o.Role != nil {
					role = string(*o.Role)
				}
				if o.MemberCount != nil {
					members = fmt.Sprint(*o.MemberCount)
				}
				t.rows = append(t.rows, []string{o.Name, str(o.Title), role, str(o.Plan), members, o.Id.String(), string(o.Status)})
			}
			return a.print(raw, t)
		},
	}
}

func (a *app) auditCommand() *cobra.Command {
	audit := &cobra.Command{Use: "audit", Short: "The organization's audit trail"}
	var format, out string
	var p apiclient.ExportAuditEventsParams
	var eventType, action, user, since, until string
	export := &cobra.Command{
		Use:   "export [--format json|csv] [--output-file FILE]",
		Short: "Export audit events (admin role; enterprise plan)",
		Example: `  astroctl audit export --format csv --output-file audit.csv
  astroctl audit export --type CLUSTER --since 2026-11-01 --until 2026-11-30`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "json" && format != "csv" {
				return withCode(exitValidation, fmt.Errorf("--format %s: json or csv", format))
			}
			f := apiclient.ExportAuditEventsParamsFormat(format)
			p.Format = &f
			for _, kv := range []struct {
				v   string
				dst **string
			}{{eventType, &p.EventType}, {action, &p.Action}, {user, &p.UserId}, {since, &p.StartDate}, {until, &p.EndDate}} {
				if kv.v != "" {
					v := kv.v
					*kv.dst = &v
				}
			}
			s, err := a.session()
			if err != nil {
				return err
			}
			resp, err := s.client.ExportAuditEventsWithResponse(cmd.Context(), &p)
			if err != nil {
				return err
			}
			if st := resp.StatusCode(); st != 200 {
				return newAPIError(st, resp.Body)
			}
			if out == "" || out == "-" {
				_, err := a.stdout.Write(resp.Body)
				return err
			}
			if err := os.WriteFile(out, resp.Body, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "Audit events written to %s.\n", out)
			return nil
		},
	}
	fl := export.Flags()
	fl.StringVar(&format, "format", "json", "json or csv")
	fl.StringVar(&out, "output-file", "", "write to this file (0600) instead of stdout")
	fl.StringVar(&eventType, "type", "", "only events of this type (API_KEY, CLUSTER, APPLICATION, …)")
	fl.StringVar(&action, "action", "", "only this action (CREATE, DELETE, UPDATE, REVOKE)")
	fl.StringVar(&user, "user", "", "only this user's")
	fl.StringVar(&since, "since", "", "from this date (2026-11-01 or RFC 3339)")
	fl.StringVar(&until, "until", "", "until this date")
	audit.AddCommand(export)
	return audit
}
