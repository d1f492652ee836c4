package validate_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/validate"
)

// zonedLive is a fakeLive that lists zones: zones of every region, or zonesErr.
type zonedLive struct {
	fakeLive
	zones      []string
	zonesErr   error
	zonesAsked int
}

func (z *zonedLive) Zones(context.Context, string) ([]string, error) {
	z.zonesAsked++
	return z.zones, z.zonesErr
}

// eksSubnets is the EKS example in region with a bring-your-own VPC whose subnets
// lie in zones.
func eksSubnets(t *testing.T, region string, zones ...string) api.K8sClusterSpec {
	t.Helper()
	s := clusterSpec(t, eksExample, region)
	subnets := map[string][]api.EksSubnet{}
	for i, z := range zones {
		subnets[z] = []api.EksSubnet{{Id: fmt.Sprintf("subnet-0123456789abcdef%d", i), Type: api.Private}}
	}
	vpc, cidr := "vpc-0a1b2c3d4e5f67890", "10.0.0.0/16"
	s.Provisioner.Eks.VpcId, s.Provisioner.Eks.VpcCIDR, s.Provisioner.Eks.Subnets = &vpc, &cidr, &subnets
	return s
}

// The live catalog settles regions and zones: a region the provider says does not
// exist is a fault of spec.region (whether or not the static table lists it), and
// nothing is checked against it; a region it lists zones of is no warning even
// when the static table lacks it; when it cannot answer (or lists no zones, or
// lists none at all), the static table decides as without it.
func TestCheckLiveRegions(t *testing.T) {
	const region = "spec.region"
	unknown := fmt.Errorf("DescribeRegions does not list it: %w", catalog.ErrUnknownRegion)
	for _, r := range []string{"us-west-9", "us-east-1"} {
		live := &zonedLive{zonesErr: unknown} // and no machine type
		errs, warnings := validate.CheckLive(t.Context(), clusterSpec(t, eksExample, r), live)
		assertPaths(t, errs, region)
		if want := fmt.Sprintf("%q is not a region of aws: the connected aws account's catalog says so (DescribeRegions does not list it", r); !strings.Contains(errs[region], want) {
			t.Errorf("%s: fault %q, want %q", r, errs[region], want)
		}
		if warnings[region] != "" || live.typesAsked != 0 || live.zonesAsked != 1 {
			t.Errorf("%s: warnings %v; %d machine-type and %d zone questions, want 0 and 1", r, warnings, live.typesAsked, live.zonesAsked)
		}
	}

	offered := []string{"t3.medium"}
	live := &zonedLive{fakeLive: fakeLive{types: offered}, zones: []string{"us-west-9a", "us-west-9b"}}
	errs, warnings := validate.CheckLive(t.Context(), clusterSpec(t, eksExample, "us-west-9"), live)
	assertPaths(t, errs)
	if len(warnings) != 0 {
		t.Errorf("a region the account lists zones of: warnings %v", warnings)
	}

	for name, l := range map[string]catalog.Live{
		"zones fail":     &zonedLive{fakeLive: fakeLive{types: offered}, zonesErr: errors.New("RequestLimitExceeded")},
		"no zones":       &zonedLive{fakeLive: fakeLive{types: offered}},
		"no zone lister": &fakeLive{types: offered},
	} {
		errs, warnings := validate.CheckLive(t.Context(), clusterSpec(t, eksExample, "us-west-9"), l)
		assertPaths(t, errs)
		if !strings.Contains(warnings[region], "has the shape of one") {
			t.Errorf("%s: warnings %v, want the static one on %s", name, warnings, region)
		}
	}
	errs, warnings = validate.CheckLive(t.Context(), clusterSpec(t, eksExample, "us-east-1"), &zonedLive{fakeLive: fakeLive{types: offered}, zonesErr: errors.New("x")})
	assertPaths(t, errs)
	if len(warnings) != 0 {
		t.Errorf("a listed region whose zones fail: warnings %v", warnings)
	}
}

// EKS subnets' zones are checked against the account's zones of the region: one it
// does not list is a fault naming the field and the zones it lists, even when the
// static table lists it; one it lists passes even when the static table lacks it.
// Without an answer, the static table decides (a zone with the region's shape is a
// warning).
func TestCheckLiveZones(t *testing.T) {
	const sub = "spec.provisioner.eks.subnets."
	live := &zonedLive{fakeLive: fakeLive{types: []string{"t3.medium"}}, zones: []string{"us-east-1a", "us-east-1b", "us-east-1g"}}
	errs, warnings := validate.CheckLive(t.Context(), eksSubnets(t, "us-east-1", "us-east-1a", "us-east-1f", "us-east-1g"), live)
	assertPaths(t, errs, sub+"us-east-1f")
	if want := `"us-east-1f" is not an availability zone of us-east-1: the connected aws account's catalog lists us-east-1a, us-east-1b, us-east-1g`; errs[sub+"us-east-1f"] != want {
		t.Errorf("fault %q, want %q", errs[sub+"us-east-1f"], want)
	}
	if len(warnings) != 0 || live.zonesAsked != 1 {
		t.Errorf("warnings %v (us-east-1g is the account's), zones asked %d times, want once", warnings, live.zonesAsked)
	}
	// Static alone: us-east-1f passes, us-east-1g is a warning.
	errs, warnings = validate.Check(eksSubnets(t, "us-east-1", "us-east-1a", "us-east-1f", "us-east-1g"))
	assertPaths(t, errs)
	if warnings[sub+"us-east-1g"] == "" {
		t.Errorf("static: warnings %v, want one on us-east-1g", warnings)
	}

	failing := &zonedLive{fakeLive: fakeLive{types: []string{"t3.medium"}}, zonesErr: errors.New("UnauthorizedOperation")}
	errs, warnings = validate.CheckLive(t.Context(), eksSubnets(t, "us-east-1", "us-east-1a", "us-east-1x"), failing)
	assertPaths(t, errs)
	if !strings.Contains(warnings[sub+"us-east-1x"], "the cloud will say whether it exists") {
		t.Errorf("zones that fail: warnings %v, want the static one on us-east-1x", warnings)
	}
	// A zone of another region is the static fault with or without an answer.
	errs, _ = validate.CheckLive(t.Context(), eksSubnets(t, "us-east-1", "us-east-1a", "eu-west-1a"), failing)
	assertPaths(t, errs, sub+"eu-west-1a")
}
