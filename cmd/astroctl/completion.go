package main

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/astropulse/astroplane/cmd/astroctl/internal/apiclient"
)

// Shell completion: cobra's `astroctl completion bash|zsh|fish|powershell` scripts,
// with cluster, application and profile names asked of the API (the current context,
// 5 s at most; nothing on an error).

func (a *app) completeNames(list func(ctx context.Context, s *session) ([]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		s, err := a.session()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
		defer cancel()
		names, err := list(ctx, s)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, n := range names {
			if strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func clusterNames(ctx context.Context, s *session) ([]string, error) {
	resp, err := s.client.ListClustersWithResponse(ctx, &apiclient.ListClustersParams{})
	if err != nil {
		return nil, err
	}
	list, _, err := decode[[]apiclient.Cluster](resp, resp.Body, nil)
	names := make([]string, 0, len(list))
	for _, c := range list {
		names = append(names, c.Name)
	}
	return names, err
}

func appNames(ctx context.Context, s *session) ([]string, error) {
	resp, err := s.client.ListApplicationsWithResponse(ctx, &apiclient.ListApplicationsParams{})
	if err != nil {
		return nil, err
	}
	list, _, err := decode[[]apiclient.Application](resp, resp.Body, nil)
	names := make([]string, 0, len(list))
	for _, x := range list {
		names = append(names, x.Name)
	}
	return names, err
}

func profileNames(ctx context.Context, s *session) ([]string, error) {
	resp, err := s.client.ListApplicationProfilesWithResponse(ctx, &apiclient.ListApplicationProfilesParams{})
	if err != nil {
		return nil, err
	}
	list, _, err := decode[[]apiclient.ApplicationProfile](resp, resp.Body, nil)
	names := make([]string, 0, len(list))
	for _, x := range list {
		names = append(names, x.ProfileName)
	}
	return names, err
}

// completeArgs sets the name completion of every subcommand of parent taking a NAME
// (its Use says so) but the excluded ones.
func completeArgs(parent *cobra.Command, f cobra.CompletionFunc) {
	for _, c := range parent.Commands() {
		use := strings.Fields(c.Use)
		if len(use) > 1 && strings.Contains(use[1], "NAME") && c.ValidArgsFunction == nil && c.HasParent() && !c.HasSubCommands() {
			c.ValidArgsFunction = f
		}
	}
}
