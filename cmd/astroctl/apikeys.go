package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/astropulse/astroplane/cmd/astroctl/internal/apiclient"
)

func (a *app) apikeysCommand() *cobra.Command {
	c := &cobra.Command{Use: "apikeys", Aliases: []string{"apikey"}, Short: "Create, list and revoke the organization's API keys"}
	var name, duration string
	var permanent bool
	create := &cobra.Command{
		Use:     "create [--name NAME] [--duration 720h | --permanent]",
		Short:   "Create an API key in the context's organization; the key is shown once",
		Example: "  astroctl apikeys create --name ci --duration 720h\n  astroctl apikeys create --name deployer --permanent -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			s, err := a.session()
			if err != nil {
				return err
			}
			if s.ctx.Org == "" {
				return withCode(exitValidation, fmt.Errorf("no organization: pass --org ORG (or log in again)"))
			}
			body := map[string]any{"orgId": s.ctx.Org, "source": apiclient.ApiKeyCreateRequestSourceCli}
			if name != "" {
				body["name"] = name
			}
			if permanent {
				body["isPermanent"] = true
			} else if duration != "" {
				body["duration"] = duration
			}
			raw, _ := json.Marshal(body)
			resp, err := s.client.CreateApiKeyWithBodyWithResponse(cmd.Context(), &apiclient.CreateApiKeyParams{}, "application/json", bytes.NewReader(raw))
			if err != nil {
				return err
			}
			k, data, err := decode[apiclient.ApiKeyCreated](resp, resp.Body, nil)
			if err != nil {
				return err
			}
			if a.output == "json" || a.output == "yaml" {
				return a.print(data, table{})
			}
			expires := "never"
			if k.ExpiresAt != nil {
				expires = k.ExpiresAt.Local().Format(time.DateTime)
			}
			fmt.Fprintf(a.stderr, "API key %s created (expires %s). Copy it now: it is never shown again.\n", k.Id, expires)
			fmt.Fprintln(a.stdout, k.Key)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "a label for the key")
	create.Flags().StringVar(&duration, "duration", "", "how long it is valid, e.g. 720h or 30d (default 24h)")
	create.Flags().BoolVar(&permanent, "permanent", false, "a key that never expires")

	list := &cobra.Command{
		Use:     "list",
		Short:   "List the API keys (never their values)",
		Example: "  astroctl apikeys list\n  astroctl apikeys list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			s, err := a.session()
			if err != nil {
				return err
			}
			resp, err := s.client.ListApiKeysWithResponse(cmd.Context(), &apiclient.ListApiKeysParams{})
			if err != nil {
				return err
			}
			keys, raw, err := decode[[]apiclient.ApiKey](resp, resp.Body, nil)
			if err != nil {
				return err
			}
			t := table{header: []string{"ID", "NAME", "STATUS", "EXPIRES", "LAST USED"}, wide: []string{"PREFIX", "SOURCE", "CREATED BY", "ORGANIZATION"}}
			for _, k := range keys {
				t.rows = append(t.rows, []string{k.Id, str(k.Name), string(k.Status), when(k.ExpiresAt, "never"), when(k.LastUsedAt, ""), str(k.Prefix), string(k.Source), str(k.CreatedBy), k.OrgId})
			}
			return a.print(raw, t)
		},
	}

	var reason string
	revoke := &cobra.Command{
		Use:     "revoke KEY_ID [--reason TEXT]",
		Short:   "Revoke an API key: it stops authenticating at once",
		Example: "  astroctl apikeys revoke 3f2a… --reason \"leaked in a CI log\"",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.session()
			if err != nil {
				return err
			}
			if s.ctx.Org == "" {
				return withCode(exitValidation, fmt.Errorf("no organization: pass --org ORG (or log in again)"))
			}
			body := map[string]any{"keyId": args[0]}
			if reason != "" {
				body["reason"] = reason
			}
			raw, _ := json.Marshal(body)
			resp, err := s.client.RevokeApiKeyWithBodyWithResponse(cmd.Context(), s.ctx.Org, &apiclient.RevokeApiKeyParams{}, "application/json", bytes.NewReader(raw))
			if err != nil {
				return err
			}
			if _, err := data(resp, resp.Body, nil); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "API key %s revoked\n", args[0])
			return nil
		},
	}
	revoke.Flags().StringVar(&reason, "reason", "", "why (kept with the key)")
	c.AddCommand(create, list, revoke)
	return c
}

func when(t *time.Time, none string) string {
	if t == nil || t.IsZero() {
		return none
	}
	return t.Local().Format(time.DateTime)
}
