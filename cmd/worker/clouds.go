package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/astropulse/astroplane/cloud"
	cloudaws "github.com/astropulse/astroplane/cloud/aws"
	"github.com/astropulse/astroplane/cloud/azure"
	"github.com/astropulse/astroplane/cloud/gcp"
	"github.com/astropulse/astroplane/cloud/sim"
)

// realClouds are the values ASTRO_CLOUDS may list.
var realClouds = []string{"aws", "gcp", "azure"}

// checkClouds reports a name in ASTRO_CLOUDS that is no cloud Astro Plane knows.
func checkClouds(names []string) error {
	for _, n := range names {
		if !slices.Contains(realClouds, n) {
			return fmt.Errorf("ASTRO_CLOUDS: %q is none of %s (an empty list keeps every cloud simulated)", n, strings.Join(realClouds, ", "))
		}
	}
	return nil
}

// platformAWS is the platform's own AWS identity (the principal customers' roles
// trust): the SDK's default chain (AWS_* variables, shared config, instance or pod
// role), with AWS_ENDPOINT_URL pointing it at moto in development. Loading it
// checks nothing: a missing identity fails the first call that needs it, with
// AWS's reason.
func platformAWS(ctx context.Context) (*aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1" // STS is global; calls in a cluster's region name it
	}
	return &cfg, nil
}

// cloudRegistry serves every (provider, provisioner) pair from the simulated cloud,
// except the managed provisioners of the clouds listed in real (ASTRO_CLOUDS),
// which get their SDK providers and the credentials creds loads. selfHosted stays
// simulated on every cloud: no real provider builds it yet.
func cloudRegistry(cloudSim *sim.Provider, real []string, creds cloud.CredentialSource) *cloud.Registry {
	r := sim.Registry(cloudSim)
	for _, name := range real {
		switch name {
		case "aws":
			r.Register(cloud.Key{Provider: "aws", Provisioner: "eks"}, cloudaws.Factory(cloudaws.Options{}))
		case "gcp":
			r.Register(gcp.Key, gcp.Factory(gcp.Options{}))
		case "azure":
			r.Register(cloud.Key{Provider: "azure", Provisioner: "aks"}, azure.Factory(azure.Options{}))
		}
	}
	r.Credentials = realOnly{src: creds, real: real}
	return r
}

// realOnly loads credentials for the accounts of real clouds only: the simulated
// cloud needs none, and asking for them (assuming a role that does not exist)
// would fail every simulated operation.
type realOnly struct {
	src  cloud.CredentialSource
	real []string
}

func (r realOnly) Credentials(ctx context.Context, account cloud.AccountRef) (cloud.Credentials, error) {
	if r.src == nil || !slices.Contains(r.real, account.Provider) {
		return cloud.Credentials{}, nil
	}
	return r.src.Credentials(ctx, account)
}
