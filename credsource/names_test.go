package credsource_test

import (
	"testing"

	"github.com/astropulse/astroplane/awsconnect"
	"github.com/astropulse/astroplane/cloud/aws"
	"github.com/astropulse/astroplane/credsource"
)

// The credential keys the source fills and the EKS roles the connect template
// creates are the names the EKS provider reads and passes.
func TestNamesMatchTheEKSProvider(t *testing.T) {
	for got, want := range map[string]string{
		credsource.KeyAccessKeyID:     aws.CredAccessKeyID,
		credsource.KeySecretAccessKey: aws.CredSecretAccessKey,
		credsource.KeySessionToken:    aws.CredSessionToken,
		awsconnect.ClusterRoleName:    aws.ClusterRoleName,
		awsconnect.NodeRoleName:       aws.NodeRoleName,
	} {
		if got != want {
			t.Errorf("%q, cloud/aws says %q", got, want)
		}
	}
}
