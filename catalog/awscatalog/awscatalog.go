// Package awscatalog is the live catalog of a connected AWS account: the EC2
// instance types a region offers (DescribeInstanceTypeOfferings and
// DescribeInstanceTypes) and the Kubernetes versions EKS supports
// (DescribeClusterVersions), through aws-sdk-go-v2, and the zones of a region
// (DescribeAvailabilityZones; DescribeRegions settles whether a region that
// answers no zones exists).
//
// Types are described as the static tables describe them (catalog/internal/rules),
// with the static table's price where it has one. An endpoint that does not
// implement DescribeClusterVersions (moto does not) answers
// catalog.ErrLiveUnavailable, and callers fall back to the static versions.
package awscatalog

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/smithy-go"

	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/catalog/internal/rules"
)

// EC2 is the part of the EC2 API the catalog calls; *ec2.Client implements it.
type EC2 interface {
	ec2.DescribeInstanceTypesAPIClient
	ec2.DescribeInstanceTypeOfferingsAPIClient
	DescribeAvailabilityZones(ctx context.Context, in *ec2.DescribeAvailabilityZonesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeAvailabilityZonesOutput, error)
	DescribeRegions(ctx context.Context, in *ec2.DescribeRegionsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeRegionsOutput, error)
}

// EKS is the part of the EKS API the catalog calls; *eks.Client implements it.
type EKS interface {
	DescribeClusterVersions(ctx context.Context, in *eks.DescribeClusterVersionsInput, optFns ...func(*eks.Options)) (*eks.DescribeClusterVersionsOutput, error)
}

var (
	_ EKS = (*eks.Client)(nil)
	_ EC2 = (*ec2.Client)(nil)
	_     = catalog.Zones((*Catalog)(nil))
	_     = catalog.RegionLister((*Catalog)(nil))
)

// Catalog answers catalog.Live for one AWS account, with credentials the clients
// carry (a connected account's assumed role). Safe for concurrent use.
type Catalog struct {
	ec2 EC2
	eks EKS
}

// New returns the live catalog behind the clients. Each machine-type lookup goes to
// the region it names; versions come from the EKS client's region.
func New(ec2Client EC2, eksClient EKS) *Catalog {
	return &Catalog{ec2: ec2Client, eks: eksClient}
}

var _ catalog.Live = (*Catalog)(nil)

// MachineTypes returns every instance type the region offers.
func (c *Catalog) MachineTypes(ctx context.Context, region string) ([]catalog.MachineTypeInfo, error) {
	inRegion := func(o *ec2.Options) { o.Region = region }
	offered := map[string]bool{}
	offers := ec2.NewDescribeInstanceTypeOfferingsPaginator(c.ec2, &ec2.DescribeInstanceTypeOfferingsInput{
		LocationType: ec2types.LocationTypeRegion,
		Filters:      []ec2types.Filter{{Name: strPtr("location"), Values: []string{region}}},
	})
	for offers.HasMorePages() {
		page, err := offers.NextPage(ctx, inRegion)
		if err != nil {
			return nil, fmt.Errorf("describe instance type offerings in %s: %w", region, classify(err))
		}
		for _, o := range page.InstanceTypeOfferings {
			offered[string(o.InstanceType)] = true
		}
	}
	names := make([]ec2types.InstanceType, 0, len(offered))
	for n := range offered {
		names = append(names, ec2types.InstanceType(n))
	}
	slices.Sort(names)
	// Described 100 at a time, the most one call takes: only the region's types
	// travel.
	var out []catalog.MachineTypeInfo
	for chunk := range slices.Chunk(names, 100) {
		types := ec2.NewDescribeInstanceTypesPaginator(c.ec2, &ec2.DescribeInstanceTypesInput{InstanceTypes: chunk})
		for types.HasMorePages() {
			page, err := types.NextPage(ctx, inRegion)
			if err != nil {
				return nil, fmt.Errorf("describe instance types in %s: %w", region, classify(err))
			}
			for _, t := range page.InstanceTypes {
				out = append(out, describe(t))
			}
		}
	}
	slices.SortFunc(out, func(a, b catalog.MachineTypeInfo) int {
		if fa, fb := rules.FamilyKey("aws", a.Name), rules.FamilyKey("aws", b.Name); fa != fb {
			return strings.Compare(fa, fb)
		}
		if a.CPUMillicores != b.CPUMillicores {
			return a.CPUMillicores - b.CPUMillicores
		}
		if a.MemoryMiB != b.MemoryMiB {
			return a.MemoryMiB - b.MemoryMiB
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// Zones returns the region's zones (availability, local and wavelength zones, opted
// in or not: every zone the region has), asked of the region's endpoint. When that
// fails or lists none, DescribeRegions (every region of the partition, asked of
// its home region) settles whether the region exists: an error wrapping
// catalog.ErrUnknownRegion when it does not; else the first error.
func (c *Catalog) Zones(ctx context.Context, region string) ([]string, error) {
	out, err := c.ec2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{AllAvailabilityZones: aws.Bool(true),
		Filters: []ec2types.Filter{{Name: strPtr("region-name"), Values: []string{region}}}}, func(o *ec2.Options) { o.Region = region })
	var zones []string
	if err == nil {
		for _, z := range out.AvailabilityZones {
			if z.ZoneName != nil && !slices.Contains(zones, *z.ZoneName) {
				zones = append(zones, *z.ZoneName)
			}
		}
		if len(zones) > 0 {
			slices.Sort(zones)
			return zones, nil
		}
		err = fmt.Errorf("describe availability zones of %s: none listed: %w", region, catalog.ErrLiveUnavailable)
	} else {
		err = fmt.Errorf("describe availability zones of %s: %w", region, classify(err))
	}
	home := homeRegion(region)
	if home == "" {
		return nil, err
	}
	regions, rerr := c.ec2.DescribeRegions(ctx, &ec2.DescribeRegionsInput{AllRegions: aws.Bool(true)}, func(o *ec2.Options) { o.Region = home })
	if rerr != nil || len(regions.Regions) == 0 {
		return nil, err
	}
	for _, r := range regions.Regions {
		if deref(r.RegionName) == region {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%s is not a region of this AWS account's partition (DescribeRegions in %s lists %d others): %w",
		region, home, len(regions.Regions), catalog.ErrUnknownRegion)
}

// Regions returns the regions enabled for the account (DescribeRegions with
// AllRegions false: opt-in regions the account has not enabled are left out),
// asked of the client's own region.
func (c *Catalog) Regions(ctx context.Context) ([]string, error) {
	out, err := c.ec2.DescribeRegions(ctx, &ec2.DescribeRegionsInput{AllRegions: aws.Bool(false)})
	if err != nil {
		return nil, fmt.Errorf("describe regions: %w", classify(err))
	}
	var regions []string
	for _, r := range out.Regions {
		if n := deref(r.RegionName); n != "" && !slices.Contains(regions, n) {
			regions = append(regions, n)
		}
	}
	if len(regions) == 0 {
		return nil, fmt.Errorf("describe regions: none listed: %w", catalog.ErrLiveUnavailable)
	}
	slices.Sort(regions)
	return regions, nil
}

// homeRegion is the region asked for the partition's list of regions: us-east-1,
// cn-north-1 or us-gov-west-1 by the region's prefix; "" for partitions this does
// not know (the isolated ones), which are never declared unknown.
func homeRegion(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "cn-north-1"
	case strings.HasPrefix(region, "us-gov-"):
		return "us-gov-west-1"
	case strings.HasPrefix(region, "us-iso"), strings.HasPrefix(region, "eu-isoe-"):
		return ""
	}
	return "us-east-1"
}

// describe turns DescribeInstanceTypes' answer into the catalog's form.
func describe(t ec2types.InstanceTypeInfo) catalog.MachineTypeInfo {
	name := string(t.InstanceType)
	m := catalog.MachineTypeInfo{Name: name, Architecture: catalog.ArchX8664}
	if t.VCpuInfo != nil && t.VCpuInfo.DefaultVCpus != nil {
		m.CPUMillicores = int(*t.VCpuInfo.DefaultVCpus) * 1000
	}
	if t.MemoryInfo != nil && t.MemoryInfo.SizeInMiB != nil {
		m.MemoryMiB = int(*t.MemoryInfo.SizeInMiB)
	}
	if t.ProcessorInfo != nil {
		for _, a := range t.ProcessorInfo.SupportedArchitectures {
			if strings.HasPrefix(string(a), "arm64") {
				m.Architecture = catalog.ArchARM64
			}
		}
	}
	if t.GpuInfo != nil {
		for _, g := range t.GpuInfo.Gpus {
			if g.Count == nil || *g.Count == 0 {
				continue // a fractional GPU counts none, as in the static table
			}
			m.GPUs += int(*g.Count)
			var mib int
			if g.MemoryInfo != nil && g.MemoryInfo.SizeInMiB != nil {
				mib = int(*g.MemoryInfo.SizeInMiB)
			}
			m.GPUType = rules.AWSGPU(deref(g.Manufacturer), deref(g.Name), mib)
		}
	}
	m.Category = catalog.Category(rules.AWS(name, m.GPUs))
	if static, _, ok := catalog.MachineTypeAnyRegion(catalog.AWS, name); ok {
		m.PricePerHour = static.PricePerHour
	}
	return m
}

// KubernetesVersions returns the EKS versions in standard or extended support,
// newest first, EKS's default marked.
func (c *Catalog) KubernetesVersions(ctx context.Context) ([]catalog.Version, error) {
	var out []catalog.Version
	in := &eks.DescribeClusterVersionsInput{}
	for {
		page, err := c.eks.DescribeClusterVersions(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("describe eks cluster versions: %w", classify(err))
		}
		for _, v := range page.ClusterVersions {
			if v.ClusterVersion == nil || v.Status == ekstypes.ClusterVersionStatusUnsupported {
				continue
			}
			ver := catalog.Version{Minor: *v.ClusterVersion, Default: v.DefaultVersion}
			if v.EndOfStandardSupportDate != nil {
				ver.EndOfStandardSupport = *v.EndOfStandardSupportDate
			}
			out = append(out, ver)
		}
		if page.NextToken == nil || *page.NextToken == "" {
			break
		}
		in.NextToken = page.NextToken
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("describe eks cluster versions: no supported version: %w", catalog.ErrLiveUnavailable)
	}
	slices.SortFunc(out, func(a, b catalog.Version) int { return compareMinor(b.Minor, a.Minor) })
	return out, nil
}

// classify wraps an error of an endpoint that does not implement the call (HTTP
// 404 or 501, or smithy's "not implemented" codes) with catalog.ErrLiveUnavailable.
func classify(err error) error {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && (re.HTTPStatusCode() == http.StatusNotFound || re.HTTPStatusCode() == http.StatusNotImplemented) {
		return fmt.Errorf("%w: %w", catalog.ErrLiveUnavailable, err)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "NotImplemented" || ae.ErrorCode() == "InvalidAction" || ae.ErrorCode() == "UnknownOperationException") {
		return fmt.Errorf("%w: %w", catalog.ErrLiveUnavailable, err)
	}
	return err
}

// compareMinor orders "1.9" before "1.10".
func compareMinor(a, b string) int {
	ma, na := split(a)
	mb, nb := split(b)
	if ma != mb {
		return ma - mb
	}
	return na - nb
}

func split(v string) (major, minor int) {
	a, b, _ := strings.Cut(v, ".")
	major, _ = strconv.Atoi(a)
	minor, _ = strconv.Atoi(b)
	return major, minor
}

func strPtr(s string) *string { return &s }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
