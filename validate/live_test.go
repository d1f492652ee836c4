package validate_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/catalog/awscatalog"
	"github.com/astropulse/astroplane/internal/testmoto"
	"github.com/astropulse/astroplane/validate"
)

func liveAWS(endpoint string) catalog.Live {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIATEST", "test-secret", ""),
		BaseEndpoint: aws.String(endpoint), RetryMaxAttempts: 1}
	return catalog.NewCache(awscatalog.New(ec2.NewFromConfig(cfg), eks.NewFromConfig(cfg)), 0)
}

// With a connected account, what EC2 says of the region decides: a type it does not
// offer there is refused, naming the region; without an answer from EC2, the static
// catalog decides as before (a warning).
func TestCheckLive(t *testing.T) {
	moto := testmoto.Start(t)
	live := liveAWS(moto.URL)
	const mt0 = "spec.clusterSpec.dataPlane.nodeGroups.0.machineTypes.0"

	s := clusterSpec(t, eksExample, "ca-west-1")
	errs, warnings := validate.CheckLive(t.Context(), s, live)
	assertPaths(t, errs)
	if len(warnings) != 0 {
		t.Errorf("warnings on t3.medium in ca-west-1: %v", warnings)
	}

	s.ClusterSpec.DataPlane.NodeGroups[0].MachineTypes = []string{"p5.48xlarge"}
	errs, _ = validate.CheckLive(t.Context(), s, live)
	assertPaths(t, errs, mt0)
	if !strings.Contains(errs[mt0], "not offered in ca-west-1") {
		t.Errorf("fault %q does not name the region", errs[mt0])
	}
	// The static catalog alone only warns: it may be behind the cloud.
	errs, warnings = validate.Check(s)
	assertPaths(t, errs)
	if warnings[mt0] == "" {
		t.Errorf("static check: warnings %v, want one on %s", warnings, mt0)
	}

	// EC2 unreachable: the static catalog decides.
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	errs, warnings = validate.CheckLive(t.Context(), s, liveAWS(down.URL))
	assertPaths(t, errs)
	if warnings[mt0] == "" {
		t.Errorf("without an answer: warnings %v, want the static one on %s", warnings, mt0)
	}
}
