package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/astropulse/astroplane/cmd/astroctl/internal/apiclient"
	"github.com/astropulse/astroplane/cmd/astroctl/internal/manifest"
)

func (a *app) appCommand() *cobra.Command {
	c := &cobra.Command{Use: "app", Aliases: []string{"apps"}, Short: "Application profiles and applications"}
	var mf manifestFlags
	var wf waitFlags
	apply := &cobra.Command{
		Use:     "apply -f FILE|DIR|-",
		Short:   "Deploy the applications a manifest describes (Application; ApplicationProfile documents go first), waiting until DEPLOYED",
		Example: "  astroctl app apply -f demo.yaml\n  astroctl app apply -f apps/ --set YOUR_PROFILE_NAME=web --no-wait",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.applyFiles(cmd, mf, wf, manifest.KindProfile, manifest.KindApplication)
		},
	}
	mf.add(apply)
	wf.add(apply)

	get := &cobra.Command{
		Use:     "get [NAME]",
		Short:   "List the applications, or show one",
		Example: "  astroctl app get\n  astroctl app get hello-world -o yaml",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.getApps(cmd, args)
		},
	}
	status := &cobra.Command{
		Use:     "status NAME",
		Short:   "Show an application's status, sync state and health",
		Example: "  astroctl app status hello-world\n  astroctl app status hello-world -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.getApps(cmd, args)
		},
	}
	var delWait waitFlags
	del := &cobra.Command{
		Use:     "delete NAME",
		Short:   "Delete an application (its resources are removed from the cluster), waiting until it is gone",
		Example: "  astroctl app delete hello-world\n  astroctl app delete hello-world --no-wait",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.session()
			if err != nil {
				return err
			}
			name := args[0]
			resp, err := s.client.DeleteApplicationWithResponse(cmd.Context(), name, &apiclient.DeleteApplicationParams{})
			if err != nil {
				return err
			}
			if _, err := data(resp, resp.Body, nil); err != nil {
				return err
			}
			return a.accepted(fmt.Sprintf("app/%s: delete requested", name), "Its state: astroctl app status "+name+" (not found once deleted)", delWait,
				func(timeout time.Duration) error { return a.waitAppGone(cmd.Context(), s, name, timeout) })
		},
	}
	delWait.add(del)
	resync := &cobra.Command{
		Use:     "resync NAME",
		Short:   "Sync an application with its source again",
		Example: "  astroctl app resync hello-world",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.session()
			if err != nil {
				return err
			}
			resp, err := s.client.ResyncApplicationWithBodyWithResponse(cmd.Context(), args[0], &apiclient.ResyncApplicationParams{}, "application/json", bytes.NewReader([]byte("{}")))
			if err != nil {
				return err
			}
			if _, err := data(resp, resp.Body, nil); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "app/%s: resync requested\n", args[0])
			return nil
		},
	}
	c.AddCommand(apply, get, status, del, resync, a.appEventsCommand(), a.appLogsCommand(), a.profileCommand())
	completeArgs(c, a.completeNames(appNames))
	return c
}

func (a *app) getApps(cmd *cobra.Command, args []string) error {
	return getOrList(a, cmd, args, func(ctx context.Context, s *session, name string) (response, []byte, error) {
		r, err := s.client.GetApplicationWithResponse(ctx, name, &apiclient.GetApplicationParams{})
		if err != nil {
			return nil, nil, err
		}
		return r, r.Body, nil
	}, func(ctx context.Context, s *session) (response, []byte, error) {
		r, err := s.client.ListApplicationsWithResponse(ctx, &apiclient.ListApplicationsParams{})
		if err != nil {
			return nil, nil, err
		}
		return r, r.Body, nil
	}, appTable)
}

func appTable(list ...apiclient.Application) table {
	t := table{header: []string{"NAME", "PROFILE", "CLUSTER", "STATUS", "SYNC", "HEALTH", "AGE"}, wide: []string{"NAMESPACE", "URL", "MESSAGE"}}
	for _, x := range list {
		sync, health := "", ""
		if x.SyncStatus != nil {
			sync = string(*x.SyncStatus)
		}
		if x.Health != nil {
			health = string(*x.Health)
		}
		t.rows = append(t.rows, []string{x.Name, x.ProfileName, str(x.ClusterName), string(x.Status), sync, health, age(x.CreatedAt), str(x.Namespace), str(x.Url), str(x.Message)})
	}
	return t
}

func (a *app) profileCommand() *cobra.Command {
	c := &cobra.Command{Use: "profile", Aliases: []string{"profiles"}, Short: "Application profiles: where applications are placed"}
	var mf manifestFlags
	apply := &cobra.Command{
		Use:     "apply -f FILE|DIR|-",
		Short:   "Create the application profiles a manifest describes (ApplicationProfile)",
		Example: "  astroctl app profile apply -f profile3.yaml --set YOUR_CLUSTER_NAME=prod\n  astroctl app profile apply -f profiles/",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.applyFiles(cmd, mf, waitFlags{}, manifest.KindProfile)
		},
	}
	mf.add(apply)
	get := &cobra.Command{
		Use:     "get [NAME]",
		Short:   "List the application profiles, or show one",
		Example: "  astroctl app profile get\n  astroctl app profile get profile3 -o yaml",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return getOrList(a, cmd, args, func(ctx context.Context, s *session, name string) (response, []byte, error) {
				r, err := s.client.GetApplicationProfileWithResponse(ctx, name, &apiclient.GetApplicationProfileParams{})
				if err != nil {
					return nil, nil, err
				}
				return r, r.Body, nil
			}, func(ctx context.Context, s *session) (response, []byte, error) {
				r, err := s.client.ListApplicationProfilesWithResponse(ctx, &apiclient.ListApplicationProfilesParams{})
				if err != nil {
					return nil, nil, err
				}
				return r, r.Body, nil
			}, profileTable)
		},
	}
	del := &cobra.Command{
		Use:     "delete NAME",
		Short:   "Delete an application profile (refused while applications use it)",
		Example: "  astroctl app profile delete profile3",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.session()
			if err != nil {
				return err
			}
			resp, err := s.client.DeleteApplicationProfileWithResponse(cmd.Context(), args[0], &apiclient.DeleteApplicationProfileParams{})
			if err != nil {
				return err
			}
			if _, err := data(resp, resp.Body, nil); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "profile/%s: deleted\n", args[0])
			return nil
		},
	}
	c.AddCommand(apply, get, del)
	completeArgs(c, a.completeNames(profileNames))
	return c
}

func profileTable(list ...apiclient.ApplicationProfile) table {
	t := table{header: []string{"NAME", "CLUSTER", "PLACEMENT", "TIER", "AGE"}, wide: []string{"ID", "PLACEMENT ERROR"}}
	for _, p := range list {
		t.rows = append(t.rows, []string{p.ProfileName, str(p.ClusterName), string(p.Placement), string(p.AvailabilityTier), age(p.CreatedAt), p.Id, str(p.PlacementError)})
	}
	return t
}

// applyProfile creates a profile.
func (a *app) applyProfile(cmd *cobra.Command, s *session, d manifest.Doc) error {
	body, err := d.JSON()
	if err != nil {
		return err
	}
	resp, err := s.client.CreateApplicationProfileWithBodyWithResponse(cmd.Context(), &apiclient.CreateApplicationProfileParams{}, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	if resp.StatusCode() == http.StatusConflict {
		return a.existingProfile(cmd, s, d)
	}
	p, _, err := decode[apiclient.ApplicationProfile](resp, resp.Body, nil)
	if err != nil {
		return fmt.Errorf("%s: profile/%s: %w", d.Source, d.Name, err)
	}
	fmt.Fprintf(a.stdout, "profile/%s: created (cluster %s)\n", p.ProfileName, str(p.ClusterName))
	return nil
}

// existingProfile answers the apply of a profile that exists: unchanged when every
// field the manifest sets has that value already, else an error saying which differ
// (profiles are not changed in place).
func (a *app) existingProfile(cmd *cobra.Command, s *session, d manifest.Doc) error {
	resp, err := s.client.GetApplicationProfileWithResponse(cmd.Context(), d.Name, &apiclient.GetApplicationProfileParams{})
	if err != nil {
		return err
	}
	raw, err := data(resp, resp.Body, nil)
	if err != nil {
		return err
	}
	var have map[string]any
	if err := json.Unmarshal(raw, &have); err != nil {
		return err
	}
	var diffs []string
	for _, k := range slices.Sorted(maps.Keys(d.Spec())) {
		want, _ := json.Marshal(d.Spec()[k])
		got, _ := json.Marshal(have[k])
		if !bytes.Equal(want, got) {
			diffs = append(diffs, fmt.Sprintf("spec.%s is %s, the manifest says %s", k, got, want))
		}
	}
	if len(diffs) == 0 {
		fmt.Fprintf(a.stdout, "profile/%s: unchanged\n", d.Name)
		return nil
	}
	return withCode(exitFailed, fmt.Errorf("%s: profile/%s exists with other settings (%s); profiles are not changed in place: astroctl app profile delete %s, then apply", d.Source, d.Name, strings.Join(diffs, "; "), d.Name))
}

// applyApp deploys an application.
func (a *app) applyApp(cmd *cobra.Command, s *session, d manifest.Doc, wf waitFlags) error {
	body, err := d.JSON()
	if err != nil {
		return err
	}
	resp, err := s.client.DeployApplicationWithBodyWithResponse(cmd.Context(), &apiclient.DeployApplicationParams{}, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	op, _, err := decode[apiclient.ApplicationOperationAccepted](resp, resp.Body, nil)
	if err != nil {
		return fmt.Errorf("%s: app/%s: %w", d.Source, d.Name, err)
	}
	return a.accepted(fmt.Sprintf("app/%s: deploy started on cluster %s", d.Name, str(op.ClusterName)),
		"Its state: astroctl app status "+d.Name, wf,
		func(timeout time.Duration) error { return a.waitApp(cmd.Context(), s, d.Name, timeout) })
}

// waitAppGone polls a deleted application until it is gone (exit 0) or its delete
// FAILED (exit 1, with the message and where to look), printing each change.
func (a *app) waitAppGone(ctx context.Context, s *session, name string, timeout time.Duration) error {
	last := ""
	return a.pollUntil(ctx, timeout, "Stopped waiting; the delete carries on. Its state: astroctl app status "+name, func(ctx context.Context) (bool, error) {
		resp, err := s.client.GetApplicationWithResponse(ctx, name, &apiclient.GetApplicationParams{})
		if err != nil {
			return false, err
		}
		if resp.StatusCode() == http.StatusNotFound {
			fmt.Fprintf(a.stdout, "app/%s: deleted\n", name)
			return true, nil
		}
		x, _, err := decode[apiclient.Application](resp, resp.Body, nil)
		if err != nil {
			return true, err
		}
		line := string(x.Status)
		if m := str(x.Message); m != "" {
			line += " · " + m
		}
		a.showChange(&last, line)
		if x.Status == apiclient.ApplicationStatusFAILED {
			fmt.Fprintf(a.stderr, "app/%s: delete %s: %s\nEvents: astroctl app events %s -k\n", name, a.statusColor("FAILED"), str(x.Message), name)
			return true, &silentError{exitFailed}
		}
		return false, nil
	})
}

// waitApp polls the application until it is DEPLOYED (exit 0) or FAILED or DEGRADED
// (exit 1), printing each change of status, sync and health.
func (a *app) waitApp(ctx context.Context, s *session, name string, timeout time.Duration) error {
	last := ""
	return a.pollUntil(ctx, timeout, "Stopped waiting; the deploy carries on. Its state: astroctl app status "+name, func(ctx context.Context) (bool, error) {
		resp, err := s.client.GetApplicationWithResponse(ctx, name, &apiclient.GetApplicationParams{})
		if err != nil {
			return false, err
		}
		x, _, err := decode[apiclient.Application](resp, resp.Body, nil)
		if err != nil {
			return true, err
		}
		line := string(x.Status)
		if x.SyncStatus != nil {
			line += " · " + string(*x.SyncStatus)
		}
		if x.Health != nil {
			line += " · " + string(*x.Health)
		}
		if m := str(x.Message); m != "" {
			line += " · " + m
		}
		a.showChange(&last, line)
		switch x.Status {
		case apiclient.ApplicationStatusDEPLOYED:
			msg := fmt.Sprintf("app/%s: %s", name, a.statusColor("DEPLOYED"))
			if u := str(x.Url); u != "" {
				msg += " at " + u
			}
			fmt.Fprintln(a.stdout, msg)
			return true, nil
		case apiclient.ApplicationStatusFAILED, apiclient.ApplicationStatusDEGRADED:
			fmt.Fprintf(a.stderr, "app/%s: %s: %s\nEvents: astroctl app events %s -k\n", name, a.statusColor(string(x.Status)), str(x.Message), name)
			return true, &silentError{exitFailed}
		}
		return false, nil
	})
}
