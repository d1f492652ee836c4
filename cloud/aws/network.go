package aws

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/astropulse/astroplane/cloud"
)

// DefaultVPCCIDR is the address range of a VPC the provider creates when the spec
// gives none.
const DefaultVPCCIDR = "10.0.0.0/16"

// Subnet roles (TagRole).
const (
	rolePublic  = "public"
	rolePrivate = "private"
)

// CreateNetwork creates the cluster's VPC: a public and a private subnet in each of
// the region's first two availability zones (the VPC's range cut in four), an
// internet gateway the public subnets route through, and a NAT gateway (with its
// elastic IP, in the first public subnet) the private subnets route through, where
// node groups run. Every piece is tagged with the cluster and the call's token (the
// NAT gateway also takes it as its client token), so a retry finds and completes
// what an earlier attempt made. A spec naming a VPC (EKS.VPCID) gets that VPC,
// checked to exist, never changed. The network's ID is the VPC's ARN.
func (p *Provider) CreateNetwork(ctx context.Context, c cloud.Call, spec cloud.ClusterSpec) (cloud.NetworkRef, error) {
	if err := ctx.Err(); err != nil {
		return cloud.NetworkRef{}, err
	}
	if spec.Name == "" {
		return cloud.NetworkRef{}, cloud.Errorf(cloud.ErrInvalid, "a network needs the cluster's name")
	}
	region := p.regionOf(c, spec.Region)
	cl, account := p.in(region), p.accountID(&spec)
	ref := func(vpcID string) cloud.NetworkRef {
		return cloud.NetworkRef{ID: fmt.Sprintf("arn:%s:ec2:%s:%s:vpc/%s", partition(region), region, account, vpcID)}
	}
	if spec.EKS != nil && spec.EKS.VPCID != "" {
		id := spec.EKS.VPCID
		c.Report("using the existing VPC " + id)
		if _, err := cl.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{id}}); err != nil {
			err = classify(err, "describe VPC "+id)
			if isKind(err, cloud.ErrNotFound) {
				return cloud.NetworkRef{}, cloud.Errorf(cloud.ErrInvalid, "the manifest's VPC %s does not exist in %s of account %s", id, region, account)
			}
			return cloud.NetworkRef{}, err
		}
		return ref(id), nil
	}
	cidr := DefaultVPCCIDR
	if spec.EKS != nil && spec.EKS.VPCCIDR != "" {
		cidr = spec.EKS.VPCCIDR
	}
	blocks, err := quarter(cidr)
	if err != nil {
		return cloud.NetworkRef{}, err
	}
	tok := requestToken(c.Token)
	n := &network{p: p, c: c, cl: cl, spec: spec, token: tok}

	vpcID, err := n.vpc(ctx, cidr)
	if err != nil {
		return cloud.NetworkRef{}, err
	}
	igw, err := n.internetGateway(ctx, vpcID)
	if err != nil {
		return cloud.NetworkRef{}, err
	}
	zones, err := n.zones(ctx)
	if err != nil {
		return cloud.NetworkRef{}, err
	}
	public, private, err := n.subnets(ctx, vpcID, zones, blocks)
	if err != nil {
		return cloud.NetworkRef{}, err
	}
	if err := n.routes(ctx, vpcID, rolePublic, ec2types.Route{GatewayId: aws.String(igw)}, public); err != nil {
		return cloud.NetworkRef{}, err
	}
	nat, err := n.natGateway(ctx, public[0])
	if err != nil {
		return cloud.NetworkRef{}, err
	}
	if err := n.routes(ctx, vpcID, rolePrivate, ec2types.Route{NatGatewayId: aws.String(nat)}, private); err != nil {
		return cloud.NetworkRef{}, err
	}
	c.Report(fmt.Sprintf("VPC %s ready: public and private subnets in %s", vpcID, strings.Join(zones, ", ")))
	return ref(vpcID), nil
}

// network is one CreateNetwork in progress.
type network struct {
	p     *Provider
	c     cloud.Call
	cl    *clients
	spec  cloud.ClusterSpec
	token string
}

// tags are the tags of a network resource of role (empty for the VPC and gateway).
func (n *network) tags(kind ec2types.ResourceType, role, zone string) []ec2types.TagSpecification {
	name := n.spec.Name
	if role != "" {
		name += "-" + role
	}
	if zone != "" {
		name += "-" + zone
	}
	m := tagsWith(n.spec.Tags, "Name", name, TagCluster, n.spec.Name, TagToken, n.token, TagManaged, "true",
		"kubernetes.io/cluster/"+n.spec.Name, "shared")
	if role != "" {
		m[TagRole] = role
	}
	switch role {
	case rolePublic:
		if kind == ec2types.ResourceTypeSubnet {
			m["kubernetes.io/role/elb"] = "1"
		}
	case rolePrivate:
		m["kubernetes.io/role/internal-elb"] = "1"
	}
	return []ec2types.TagSpecification{{ResourceType: kind, Tags: ec2Tags(m)}}
}

func (n *network) mine(extra ...ec2types.Filter) []ec2types.Filter {
	return append([]ec2types.Filter{{Name: aws.String("tag:" + TagToken), Values: []string{n.token}}}, extra...)
}

func (n *network) vpc(ctx context.Context, cidr string) (string, error) {
	out, err := n.cl.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: n.mine()})
	if err != nil {
		return "", classify(err, "find the cluster's VPC")
	}
	var id string
	if len(out.Vpcs) > 0 {
		id = aws.ToString(out.Vpcs[0].VpcId)
		n.c.Report("found VPC " + id + ", made by an earlier attempt")
	} else {
		n.c.Report("creating VPC " + cidr)
		made, err := n.cl.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(cidr), TagSpecifications: n.tags(ec2types.ResourceTypeVpc, "", "")})
		if err != nil {
			return "", classify(err, "create VPC "+cidr)
		}
		id = aws.ToString(made.Vpc.VpcId)
	}
	// EKS needs DNS hostnames in the VPC (private endpoint, node registration).
	for _, in := range []*ec2.ModifyVpcAttributeInput{
		{VpcId: aws.String(id), EnableDnsSupport: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}},
		{VpcId: aws.String(id), EnableDnsHostnames: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}},
	} {
		if _, err := n.cl.ec2.ModifyVpcAttribute(ctx, in); err != nil {
			return "", classify(err, "enable DNS in VPC "+id)
		}
	}
	return id, nil
}

func (n *network) internetGateway(ctx context.Context, vpcID string) (string, error) {
	out, err := n.cl.ec2.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{Filters: n.mine()})
	if err != nil {
		return "", classify(err, "find the VPC's internet gateway")
	}
	var igw ec2types.InternetGateway
	if len(out.InternetGateways) > 0 {
		igw = out.InternetGateways[0]
	} else {
		n.c.Report("creating the internet gateway of VPC " + vpcID)
		made, err := n.cl.ec2.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{TagSpecifications: n.tags(ec2types.ResourceTypeInternetGateway, "", "")})
		if err != nil {
			return "", classify(err, "create an internet gateway")
		}
		igw = *made.InternetGateway
	}
	id := aws.ToString(igw.InternetGatewayId)
	if slices.ContainsFunc(igw.Attachments, func(a ec2types.InternetGatewayAttachment) bool { return aws.ToString(a.VpcId) == vpcID }) {
		return id, nil
	}
	if _, err := n.cl.ec2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(id), VpcId: aws.String(vpcID)}); err != nil {
		return "", classify(err, "attach internet gateway "+id+" to VPC "+vpcID)
	}
	return id, nil
}

// routes makes the route table of role (its default route to via) and associates
// subnets with it.
func (n *network) routes(ctx context.Context, vpcID, role string, via ec2types.Route, subnets []string) error {
	out, err := n.cl.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: n.mine(
		ec2types.Filter{Name: aws.String("vpc-id"), Values: []string{vpcID}},
		ec2types.Filter{Name: aws.String("tag:" + TagRole), Values: []string{role}})})
	if err != nil {
		return classify(err, "find the VPC's "+role+" route table")
	}
	var rt ec2types.RouteTable
	if len(out.RouteTables) > 0 {
		rt = out.RouteTables[0]
	} else {
		made, err := n.cl.ec2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: aws.String(vpcID), TagSpecifications: n.tags(ec2types.ResourceTypeRouteTable, role, "")})
		if err != nil {
			return classify(err, "create the "+role+" route table of VPC "+vpcID)
		}
		rt = *made.RouteTable
	}
	if !slices.ContainsFunc(rt.Routes, func(r ec2types.Route) bool { return aws.ToString(r.DestinationCidrBlock) == "0.0.0.0/0" }) {
		_, err = n.cl.ec2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: rt.RouteTableId, DestinationCidrBlock: aws.String("0.0.0.0/0"),
			GatewayId: via.GatewayId, NatGatewayId: via.NatGatewayId})
		if err = classify(err, "route the "+role+" subnets' traffic out"); err != nil && !isKind(err, cloud.ErrAlreadyExists) {
			return err
		}
	}
	associated := map[string]bool{}
	for _, a := range rt.Associations {
		associated[aws.ToString(a.SubnetId)] = true
	}
	for _, id := range subnets {
		if associated[id] {
			continue
		}
		if _, err := n.cl.ec2.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: rt.RouteTableId, SubnetId: aws.String(id)}); err != nil {
			return classify(err, "route subnet "+id+" through the "+role+" route table")
		}
	}
	return nil
}

// natGateway makes the NAT gateway of the private subnets in subnet, with an
// elastic IP, and waits until it is available.
func (n *network) natGateway(ctx context.Context, subnet string) (string, error) {
	live := ec2types.Filter{Name: aws.String("state"), Values: []string{"pending", "available"}}
	out, err := n.cl.ec2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{Filter: n.mine(live)})
	if err != nil {
		return "", classify(err, "find the VPC's NAT gateway")
	}
	var id string
	if len(out.NatGateways) > 0 {
		id = aws.ToString(out.NatGateways[0].NatGatewayId)
	} else {
		addrs, err := n.cl.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: n.mine()})
		if err != nil {
			return "", classify(err, "find the NAT gateway's elastic IP")
		}
		var alloc string
		if len(addrs.Addresses) > 0 {
			alloc = aws.ToString(addrs.Addresses[0].AllocationId)
		} else {
			n.c.Report("allocating the NAT gateway's elastic IP")
			made, err := n.cl.ec2.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc, TagSpecifications: n.tags(ec2types.ResourceTypeElasticIp, "", "")})
			if err != nil {
				return "", classify(err, "allocate an elastic IP for the NAT gateway")
			}
			alloc = aws.ToString(made.AllocationId)
		}
		n.c.Report("creating the NAT gateway of the private subnets in " + subnet)
		made, err := n.cl.ec2.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{SubnetId: aws.String(subnet), AllocationId: aws.String(alloc),
			ClientToken: aws.String(n.token), TagSpecifications: n.tags(ec2types.ResourceTypeNatgateway, "", "")})
		if err != nil {
			return "", classify(err, "create a NAT gateway in "+subnet)
		}
		id = aws.ToString(made.NatGateway.NatGatewayId)
	}
	start := time.Now()
	for {
		out, err := n.cl.ec2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{id}})
		if err != nil {
			return "", classify(err, "describe NAT gateway "+id)
		}
		if len(out.NatGateways) == 0 {
			return "", fmt.Errorf("NAT gateway %s vanished while it was being created", id)
		}
		switch g := out.NatGateways[0]; g.State {
		case ec2types.NatGatewayStateAvailable:
			return id, nil
		case ec2types.NatGatewayStatePending:
			n.c.Report(fmt.Sprintf("NAT gateway %s pending for %s", id, time.Since(start).Round(time.Second)))
		default:
			return "", &cloud.Error{Kind: cloud.ErrFailed, Msg: fmt.Sprintf("NAT gateway %s is %s: %s", id, g.State, aws.ToString(g.FailureMessage)),
				Code: aws.ToString(g.FailureCode)}
		}
		if err := n.p.sleep(ctx); err != nil {
			return "", err
		}
	}
}

// zones are the region's first two available zones.
func (n *network) zones(ctx context.Context) ([]string, error) {
	out, err := n.cl.ec2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{Filters: []ec2types.Filter{
		{Name: aws.String("state"), Values: []string{"available"}},
		{Name: aws.String("zone-type"), Values: []string{"availability-zone"}},
	}})
	if err != nil {
		return nil, classify(err, "list availability zones")
	}
	var zones []string
	for _, z := range out.AvailabilityZones {
		zones = append(zones, aws.ToString(z.ZoneName))
	}
	slices.Sort(zones)
	if len(zones) < 2 {
		return nil, cloud.Errorf(cloud.ErrFailed, "EKS needs subnets in two availability zones; the region has %d available", len(zones))
	}
	return zones[:2], nil
}

// subnets makes the public subnets (blocks 0, 1) and private ones (2, 3), in zones
// 0 and 1, the public ones giving their instances public addresses, and returns
// their IDs by role.
func (n *network) subnets(ctx context.Context, vpcID string, zones []string, blocks []string) (public, private []string, err error) {
	out, err := n.cl.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: n.mine(ec2types.Filter{Name: aws.String("vpc-id"), Values: []string{vpcID}})})
	if err != nil {
		return nil, nil, classify(err, "find the VPC's subnets")
	}
	have := map[string]ec2types.Subnet{}
	for _, s := range out.Subnets {
		have[tagOf(s.Tags, TagRole)+"/"+aws.ToString(s.AvailabilityZone)] = s
	}
	for i, role := range []string{rolePublic, rolePublic, rolePrivate, rolePrivate} {
		zone := zones[i%2]
		s, ok := have[role+"/"+zone]
		if !ok {
			n.c.Report(fmt.Sprintf("creating the %s subnet %s in %s", role, blocks[i], zone))
			made, err := n.cl.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), CidrBlock: aws.String(blocks[i]),
				AvailabilityZone: aws.String(zone), TagSpecifications: n.tags(ec2types.ResourceTypeSubnet, role, zone)})
			if err != nil {
				return nil, nil, classify(err, fmt.Sprintf("create the %s subnet %s in %s", role, blocks[i], zone))
			}
			s = *made.Subnet
		}
		id := aws.ToString(s.SubnetId)
		if role == rolePrivate {
			private = append(private, id)
			continue
		}
		public = append(public, id)
		if !aws.ToBool(s.MapPublicIpOnLaunch) {
			if _, err := n.cl.ec2.ModifySubnetAttribute(ctx, &ec2.ModifySubnetAttributeInput{SubnetId: aws.String(id),
				MapPublicIpOnLaunch: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}}); err != nil {
				return nil, nil, classify(err, "give subnet "+id+" public addresses")
			}
		}
	}
	return public, private, nil
}

// quarter cuts cidr into four equal blocks.
func quarter(cidr string) ([]string, error) {
	pfx, err := netip.ParsePrefix(cidr)
	if err != nil || !pfx.Addr().Is4() || pfx.Bits() > 24 || pfx.Bits() < 16 {
		return nil, cloud.Errorf(cloud.ErrInvalid, "VPC range %q: want an IPv4 block from /16 to /24", cidr)
	}
	pfx = pfx.Masked()
	bits := pfx.Bits() + 2
	base := pfx.Addr().As4()
	start := binary.BigEndian.Uint32(base[:])
	out := make([]string, 4)
	for i := range out {
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], start+uint32(i)<<(32-bits))
		out[i] = netip.PrefixFrom(netip.AddrFrom4(a), bits).String()
	}
	return out, nil
}

// DeleteNetwork deletes a VPC the provider made, in reverse order: route tables,
// subnets, internet gateway, VPC. An empty reference finds the VPC by the create's
// token tag in the call's region (a create interrupted before it returned). A VPC
// without the provider's TagManaged (the manifest's own) is left as it is; one
// already gone, or a reference this provider did not make, is success.
func (p *Provider) DeleteNetwork(ctx context.Context, c cloud.Call, net cloud.NetworkRef) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var in *ec2.DescribeVpcsInput
	var cl *clients
	vpcID := "made with this operation's token"
	switch a, ok := parseARN(net.ID); {
	case ok && a.Service == "ec2" && strings.HasPrefix(a.Resource, "vpc/"):
		vpcID, cl = strings.TrimPrefix(a.Resource, "vpc/"), p.in(a.Region)
		in = &ec2.DescribeVpcsInput{VpcIds: []string{vpcID}}
	case net.ID == "" && c.Token != "":
		// A create interrupted before it returned: its VPC carries the create's token.
		cl = p.in(p.regionOf(c, ""))
		in = &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:" + TagToken), Values: []string{requestToken(c.Token)}}}}
	default:
		c.Report("no VPC of this provider to delete")
		return nil
	}
	out, err := cl.ec2.DescribeVpcs(ctx, in)
	if err = classify(err, "describe VPC "+vpcID); err != nil {
		if isKind(err, cloud.ErrNotFound) {
			c.Report("VPC " + vpcID + " is already gone")
			return nil
		}
		return err
	}
	if len(out.Vpcs) == 0 {
		c.Report("no VPC " + vpcID + " to delete")
		return nil
	}
	vpcID = aws.ToString(out.Vpcs[0].VpcId)
	if tagOf(out.Vpcs[0].Tags, TagManaged) != "true" {
		c.Report("VPC " + vpcID + " was not made by Astro Plane: left as it is")
		return nil
	}
	inVPC := []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpcID}}}
	if err := p.deleteNATs(ctx, c, cl, vpcID, tagOf(out.Vpcs[0].Tags, TagToken)); err != nil {
		return err
	}
	c.Report("deleting the route tables of VPC " + vpcID)
	rts, err := cl.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: inVPC})
	if err != nil {
		return classify(err, "list the route tables of VPC "+vpcID)
	}
	for _, rt := range rts.RouteTables {
		main := false
		for _, as := range rt.Associations {
			if aws.ToBool(as.Main) {
				main = true
				continue
			}
			_, err := cl.ec2.DisassociateRouteTable(ctx, &ec2.DisassociateRouteTableInput{AssociationId: as.RouteTableAssociationId})
			if err = classify(err, "disassociate route table "+aws.ToString(rt.RouteTableId)); err != nil && !isKind(err, cloud.ErrNotFound) {
				return err
			}
		}
		if main {
			continue // goes with the VPC
		}
		_, err := cl.ec2.DeleteRouteTable(ctx, &ec2.DeleteRouteTableInput{RouteTableId: rt.RouteTableId})
		if err = classify(err, "delete route table "+aws.ToString(rt.RouteTableId)); err != nil && !isKind(err, cloud.ErrNotFound) {
			return err
		}
	}
	c.Report("deleting the subnets of VPC " + vpcID)
	subnets, err := cl.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: inVPC})
	if err != nil {
		return classify(err, "list the subnets of VPC "+vpcID)
	}
	for _, s := range subnets.Subnets {
		_, err := cl.ec2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: s.SubnetId})
		if err = classify(err, "delete subnet "+aws.ToString(s.SubnetId)); err != nil && !isKind(err, cloud.ErrNotFound) {
			return err // DependencyViolation while EKS's network interfaces go: transient
		}
	}
	igws, err := cl.ec2.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{Filters: []ec2types.Filter{{Name: aws.String("attachment.vpc-id"), Values: []string{vpcID}}}})
	if err != nil {
		return classify(err, "list the internet gateways of VPC "+vpcID)
	}
	for _, g := range igws.InternetGateways {
		id := aws.ToString(g.InternetGatewayId)
		c.Report("deleting internet gateway " + id)
		_, err := cl.ec2.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{InternetGatewayId: g.InternetGatewayId, VpcId: aws.String(vpcID)})
		if err = classify(err, "detach internet gateway "+id); err != nil && !isKind(err, cloud.ErrNotFound) {
			return err
		}
		_, err = cl.ec2.DeleteInternetGateway(ctx, &ec2.DeleteInternetGatewayInput{InternetGatewayId: g.InternetGatewayId})
		if err = classify(err, "delete internet gateway "+id); err != nil && !isKind(err, cloud.ErrNotFound) {
			return err
		}
	}
	c.Report("deleting VPC " + vpcID)
	_, err = cl.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(vpcID)})
	if err = classify(err, "delete VPC "+vpcID); err != nil && !isKind(err, cloud.ErrNotFound) {
		return err
	}
	return nil
}

// deleteNATs deletes the VPC's NAT gateways, waits until they are gone (their
// addresses are in use until then), and releases the elastic IPs made with token.
func (p *Provider) deleteNATs(ctx context.Context, c cloud.Call, cl *clients, vpcID, token string) error {
	live := []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpcID}},
		{Name: aws.String("state"), Values: []string{"pending", "available", "deleting", "failed"}}}
	start := time.Now()
	for {
		out, err := cl.ec2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{Filter: live})
		if err != nil {
			return classify(err, "list the NAT gateways of VPC "+vpcID)
		}
		if len(out.NatGateways) == 0 {
			break
		}
		for _, g := range out.NatGateways {
			if g.State == ec2types.NatGatewayStateDeleting {
				continue
			}
			c.Report("deleting NAT gateway " + aws.ToString(g.NatGatewayId))
			_, err := cl.ec2.DeleteNatGateway(ctx, &ec2.DeleteNatGatewayInput{NatGatewayId: g.NatGatewayId})
			if err = classify(err, "delete NAT gateway "+aws.ToString(g.NatGatewayId)); err != nil && !isKind(err, cloud.ErrNotFound) {
				return err
			}
		}
		c.Report(fmt.Sprintf("NAT gateways of VPC %s deleting for %s", vpcID, time.Since(start).Round(time.Second)))
		if err := p.sleep(ctx); err != nil {
			return err
		}
	}
	if token == "" {
		return nil
	}
	addrs, err := cl.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: []ec2types.Filter{{Name: aws.String("tag:" + TagToken), Values: []string{token}}}})
	if err != nil {
		return classify(err, "list the elastic IPs of VPC "+vpcID)
	}
	for _, a := range addrs.Addresses {
		c.Report("releasing elastic IP " + aws.ToString(a.PublicIp))
		_, err := cl.ec2.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: a.AllocationId})
		if err = classify(err, "release elastic IP "+aws.ToString(a.PublicIp)); err != nil && !isKind(err, cloud.ErrNotFound) {
			return err
		}
	}
	return nil
}

// subnetsOf are the subnets EKS should use for the control plane of a cluster on
// net (a VPC ARN), or on the spec's own VPC, or, with neither, on the region's
// default VPC.
func (p *Provider) subnetsOf(ctx context.Context, cl *clients, spec cloud.ClusterSpec, net cloud.NetworkRef) ([]string, error) {
	if spec.EKS != nil && len(spec.EKS.Subnets) > 0 {
		var ids []string
		for _, zone := range sortedKeys(spec.EKS.Subnets) {
			for _, s := range spec.EKS.Subnets[zone] {
				ids = append(ids, s.ID)
			}
		}
		return ids, nil
	}
	var filter ec2types.Filter
	switch a, ok := parseARN(net.ID); {
	case ok && strings.HasPrefix(a.Resource, "vpc/"):
		filter = ec2types.Filter{Name: aws.String("vpc-id"), Values: []string{strings.TrimPrefix(a.Resource, "vpc/")}}
	case spec.EKS != nil && spec.EKS.VPCID != "":
		filter = ec2types.Filter{Name: aws.String("vpc-id"), Values: []string{spec.EKS.VPCID}}
	default:
		filter = ec2types.Filter{Name: aws.String("default-for-az"), Values: []string{"true"}}
	}
	out, err := cl.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{filter}})
	if err != nil {
		return nil, classify(err, "list the cluster's subnets")
	}
	var ids []string
	for _, s := range out.Subnets {
		ids = append(ids, aws.ToString(s.SubnetId))
	}
	slices.Sort(ids)
	if len(ids) == 0 {
		return nil, cloud.Errorf(cloud.ErrInvalid, "no subnets for the control plane (%s = %v)", aws.ToString(filter.Name), filter.Values)
	}
	return ids, nil
}

// nodeSubnets are the subnets of the cluster's own subnets a node group runs in:
// the private ones (the provider's own role tag, kubernetes.io/role/internal-elb, or
// not giving public addresses), else all.
func (p *Provider) nodeSubnets(ctx context.Context, cl *clients, clusterSubnets []string) ([]string, error) {
	if len(clusterSubnets) == 0 {
		return nil, nil
	}
	out, err := cl.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: clusterSubnets})
	if err != nil {
		return nil, classify(err, "describe the cluster's subnets")
	}
	var private []string
	for _, s := range out.Subnets {
		if tagOf(s.Tags, TagRole) == rolePrivate || tagOf(s.Tags, "kubernetes.io/role/internal-elb") != "" || !aws.ToBool(s.MapPublicIpOnLaunch) {
			private = append(private, aws.ToString(s.SubnetId))
		}
	}
	if len(private) > 0 {
		return private, nil
	}
	return clusterSubnets, nil
}

func ec2Tags(m map[string]string) []ec2types.Tag {
	out := make([]ec2types.Tag, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func tagOf(tags []ec2types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
