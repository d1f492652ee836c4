package main

import (
	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/ghapp"
)

// githubApp is the platform's GitHub App as the ASTRO_GITHUB_* variables configure
// it (ghapp.ConfigFromEnv, the API's too): application deploys mint the read-only
// tokens of private repositories with it. Not configured: nil, and a deploy from a
// repository of a linked installation fails saying so.
func githubApp() (activities.GitHubApp, error) {
	cfg, ok, err := ghapp.ConfigFromEnv()
	if err != nil || !ok {
		return nil, err
	}
	app, err := ghapp.New(cfg, nil)
	if err != nil {
		return nil, err
	}
	return app, nil
}
