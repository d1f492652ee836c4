package main

import (
	"context"
	"testing"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
)

type countingSource struct{ asked []string }

func (c *countingSource) Credentials(_ context.Context, a cloud.AccountRef) (cloud.Credentials, error) {
	c.asked = append(c.asked, a.Provider)
	return cloud.Credentials{Values: map[string]string{"accessKeyId": "AKIA"}}, nil
}

// ASTRO_CLOUDS=aws puts EKS on its SDK provider with the account's credentials;
// every other pair stays simulated and is never asked for credentials.
func TestRealCloudsGetTheirProvidersAndCredentials(t *testing.T) {
	src := &countingSource{}
	simCloud := sim.New(0)
	r := cloudRegistry(simCloud, []string{"aws"}, src)
	ctx := context.Background()

	if _, err := r.Provider(ctx, cloud.Key{Provider: "gcp", Provisioner: "gke"}, cloud.AccountRef{Provider: "gcp", AccountID: "p", CredentialsType: "dynamic"}); err != nil {
		t.Fatalf("simulated gke: %v", err)
	}
	if len(src.asked) != 0 {
		t.Fatalf("credentials loaded for a simulated cloud: %v", src.asked)
	}
	// The EKS provider checks its keys with STS when it is built: without a
	// reachable AWS it fails, after the credentials were asked for.
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	_, err := r.Provider(ctx, cloud.Key{Provider: "aws", Provisioner: "eks"}, cloud.AccountRef{Provider: "aws", AccountID: "123456789012", CredentialsType: "dynamic"})
	if len(src.asked) != 1 || src.asked[0] != "aws" {
		t.Fatalf("credentials asked for %v, want aws once", src.asked)
	}
	if err == nil {
		t.Fatal("the EKS provider was built without reaching AWS: it is not the SDK provider")
	}
	if p, err := r.Provider(ctx, cloud.Key{Provider: "aws", Provisioner: "selfHosted"}, cloud.AccountRef{Provider: "aws", AccountID: "1"}); err != nil || p == nil {
		t.Fatalf("selfHosted on aws stays simulated: %v", err)
	}
	if err := checkClouds([]string{"aws", "azure", "gcp"}); err != nil {
		t.Fatal(err)
	}
	if err := checkClouds([]string{"aws", "EKS"}); err == nil {
		t.Fatal("an unknown cloud was accepted")
	}
}
