package aws

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/astropulse/astroplane/cloud"
)

// CreateNodeGroup creates a managed node group in the cluster's node subnets (see
// nodeSubnets) with the node role (NodeRoleName), scaling (desired = min, at least
// one node), instance types, capacity type (SPOT or ON_DEMAND), labels, taints, the
// AMI type of its image family (ng.ImageType, else the cluster's TagAMIFamily, else
// AL2023) and its machines' architecture, and the rollout bound as updateConfig;
// then it polls the group until it is ACTIVE. A create retried after EKS took the
// first waits for that group when its token tag matches.
func (p *Provider) CreateNodeGroup(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, ng cloud.NodeGroupSpec) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validNodeGroup(ng); err != nil {
		return err
	}
	name, region, ok := p.clusterOf(c, ref)
	if !ok {
		return cloud.Errorf(cloud.ErrNotFound, "no EKS cluster for node group %s: the reference is empty", ng.Name)
	}
	cl := p.in(region)
	cluster, err := cl.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
	if err != nil {
		return classify(err, "describe EKS cluster "+name)
	}
	family := ng.ImageType
	if family == "" {
		family = cluster.Cluster.Tags[TagAMIFamily]
	}
	ami, err := amiType(family, ng.MachineTypes)
	if err != nil {
		return err
	}
	var subnets []string
	if vc := cluster.Cluster.ResourcesVpcConfig; vc != nil {
		if subnets, err = p.nodeSubnets(ctx, cl, vc.SubnetIds); err != nil {
			return err
		}
	}
	account := p.accountID(nil)
	if a, ok := parseARN(aws.ToString(cluster.Cluster.Arn)); ok && a.Account != "" {
		account = a.Account
	}
	tok := requestToken(c.Token)
	taints, err := eksTaints(ng.Taints)
	if err != nil {
		return err
	}
	in := &eks.CreateNodegroupInput{
		ClusterName:        aws.String(name),
		NodegroupName:      aws.String(ng.Name),
		NodeRole:           aws.String(roleARN(region, account, NodeRoleName)),
		Subnets:            subnets,
		ScalingConfig:      scaling(ng),
		InstanceTypes:      ng.MachineTypes,
		AmiType:            ami,
		CapacityType:       capacity(ng),
		Labels:             ng.Labels,
		Taints:             taints,
		UpdateConfig:       updateConfig(ng, 0),
		ClientRequestToken: aws.String(tok),
		Tags:               tagsWith(c.Tags, TagCluster, name, TagToken, tok),
	}
	if ng.Version != "" {
		in.Version = aws.String(ng.Version)
	}
	c.Report(fmt.Sprintf("creating node group %s (%s, %s, %d–%d nodes) in EKS cluster %s", ng.Name, strings.Join(ng.MachineTypes, ","), ami, ng.MinNode, ng.MaxNode, name))
	if _, err := cl.eks.CreateNodegroup(ctx, in); err != nil {
		err = classify(err, fmt.Sprintf("create node group %s of EKS cluster %s", ng.Name, name))
		if !isKind(err, cloud.ErrAlreadyExists) {
			return err
		}
		got, derr := cl.eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String(name), NodegroupName: aws.String(ng.Name)})
		if derr != nil {
			if derr = classify(derr, "describe node group "+ng.Name); isKind(derr, cloud.ErrNotFound) {
				return fmt.Errorf("create node group %s of EKS cluster %s: EKS says it exists but cannot find it (deleted meanwhile?), transient: %v", ng.Name, name, derr) //nolint:errorlint // %v on purpose: its kind (not found) must not reach the caller
			}
			return derr
		}
		if got.Nodegroup.Tags[TagToken] != tok {
			return cloud.Errorf(cloud.ErrAlreadyExists, "EKS cluster %s has a node group named %s already (not made by this operation)", name, ng.Name)
		}
		c.Report("node group " + ng.Name + " was created by an earlier attempt")
	}
	return p.waitNodegroup(ctx, c, cl, name, ng.Name)
}

// waitNodegroup polls the node group until it is ACTIVE; CREATE_FAILED, DEGRADED
// and DELETING end it with ErrFailed and EKS's health issues.
func (p *Provider) waitNodegroup(ctx context.Context, c cloud.Call, cl *clients, cluster, group string) error {
	start := time.Now()
	for {
		out, err := cl.eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String(cluster), NodegroupName: aws.String(group)})
		if err != nil {
			return classify(err, "describe node group "+group)
		}
		switch st := out.Nodegroup.Status; st {
		case ekstypes.NodegroupStatusActive:
			c.Report(fmt.Sprintf("node group %s ACTIVE after %s", group, time.Since(start).Round(time.Second)))
			return nil
		case ekstypes.NodegroupStatusCreateFailed, ekstypes.NodegroupStatusDegraded, ekstypes.NodegroupStatusDeleting, ekstypes.NodegroupStatusDeleteFailed:
			return &cloud.Error{Kind: cloud.ErrFailed, Msg: fmt.Sprintf("node group %s of EKS cluster %s is %s: %s", group, cluster, st, issues(out.Nodegroup.Health)), Code: string(st)}
		default:
			c.Report(fmt.Sprintf("node group %s %s for %s", group, st, time.Since(start).Round(time.Second)))
		}
		if err := p.sleep(ctx); err != nil {
			return err
		}
	}
}

func issues(h *ekstypes.NodegroupHealth) string {
	if h == nil || len(h.Issues) == 0 {
		return "EKS gives no reason"
	}
	var out []string
	for _, is := range h.Issues {
		out = append(out, fmt.Sprintf("%s: %s", is.Code, aws.ToString(is.Message)))
	}
	return strings.Join(out, "; ")
}

// UpdateNodeGroup brings the node group to ng: its scaling, labels, taints and
// rollout bound change in place (UpdateNodegroupConfig, labels and taints as
// additions and removals), then, when replace is set or ng names another version,
// its nodes roll to the version (ng.Version, else the control plane's) with the
// latest AMI release (UpdateNodegroupVersion), at most maxUnavailable at a time
// (ng.Rollout, else the group's size over batches). Each update is polled until it
// ends. EKS cannot change a group's AMI type in place: a different ng.ImageType is
// reported and kept for groups created later.
func (p *Provider) UpdateNodeGroup(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, ng cloud.NodeGroupSpec, replace bool, batches int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validNodeGroup(ng); err != nil {
		return err
	}
	name, region, ok := p.clusterOf(c, ref)
	if !ok {
		return cloud.Errorf(cloud.ErrNotFound, "no EKS cluster for node group %s: the reference is empty", ng.Name)
	}
	cl := p.in(region)
	out, err := cl.eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String(name), NodegroupName: aws.String(ng.Name)})
	if err != nil {
		return classify(err, "describe node group "+ng.Name)
	}
	cur := out.Nodegroup
	in := &eks.UpdateNodegroupConfigInput{ClusterName: aws.String(name), NodegroupName: aws.String(ng.Name), ClientRequestToken: aws.String(requestToken(c.Token + "-config"))}
	var changes []string
	if want := scaling(ng); cur.ScalingConfig == nil || aws.ToInt32(cur.ScalingConfig.MinSize) != *want.MinSize || aws.ToInt32(cur.ScalingConfig.MaxSize) != *want.MaxSize {
		// Keep the current desired size when it fits the new bounds: a scaling change
		// is not a reason to add or remove nodes the autoscaler placed.
		if cur.ScalingConfig != nil {
			if d := aws.ToInt32(cur.ScalingConfig.DesiredSize); d >= *want.MinSize && d <= *want.MaxSize {
				want.DesiredSize = aws.Int32(d)
			}
		}
		in.ScalingConfig, changes = want, append(changes, fmt.Sprintf("scaling %d–%d", *want.MinSize, *want.MaxSize))
	}
	if add, remove := labelDiff(cur.Labels, ng.Labels); len(add) > 0 || len(remove) > 0 {
		in.Labels, changes = &ekstypes.UpdateLabelsPayload{AddOrUpdateLabels: add, RemoveLabels: remove}, append(changes, "labels")
	}
	want, err := eksTaints(ng.Taints)
	if err != nil {
		return err
	}
	if add, remove := taintDiff(cur.Taints, want); len(add) > 0 || len(remove) > 0 {
		in.Taints, changes = &ekstypes.UpdateTaintsPayload{AddOrUpdateTaints: add, RemoveTaints: remove}, append(changes, "taints")
	}
	size := i32(ng.MaxNode)
	if cur.ScalingConfig != nil && cur.ScalingConfig.DesiredSize != nil {
		size = *cur.ScalingConfig.DesiredSize
	}
	if uc := updateConfig(ng, rolloutBatches(replace, batches, size)); uc != nil && !sameUpdateConfig(cur.UpdateConfig, uc) {
		in.UpdateConfig, changes = uc, append(changes, "rollout bound")
	}
	if len(changes) > 0 {
		what := fmt.Sprintf("update of node group %s (%s)", ng.Name, strings.Join(changes, ", "))
		c.Report(what)
		up, err := cl.eks.UpdateNodegroupConfig(ctx, in)
		if err != nil {
			return classify(err, what)
		}
		if err := p.waitUpdate(ctx, c, cl, name, ng.Name, "", up.Update, what); err != nil {
			return err
		}
	}
	if ng.ImageType != "" {
		if ami, err := amiType(ng.ImageType, ng.MachineTypes); err == nil && ami != cur.AmiType {
			c.Report(fmt.Sprintf("node group %s keeps AMI type %s: EKS cannot change it in place (%s applies to node groups created from now on)", ng.Name, cur.AmiType, ami))
		}
	}
	version := ng.Version
	if !replace && (version == "" || version == aws.ToString(cur.Version)) {
		if len(changes) == 0 {
			c.Report("node group " + ng.Name + " is as asked already")
		}
		return nil
	}
	vin := &eks.UpdateNodegroupVersionInput{ClusterName: aws.String(name), NodegroupName: aws.String(ng.Name), ClientRequestToken: aws.String(requestToken(c.Token + "-version"))}
	target := "the control plane's version"
	if version != "" {
		vin.Version, target = aws.String(version), version
	}
	what := fmt.Sprintf("rolling node group %s to %s (latest AMI release)", ng.Name, target)
	c.Report(what)
	up, err := cl.eks.UpdateNodegroupVersion(ctx, vin)
	if err != nil {
		return classify(err, what)
	}
	return p.waitUpdate(ctx, c, cl, name, ng.Name, "", up.Update, what)
}

// DeleteNodeGroup deletes the node group and waits until it is gone; a group (or
// cluster) already gone is success.
func (p *Provider) DeleteNodeGroup(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, group string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name, region, ok := p.clusterOf(c, ref)
	if !ok {
		c.Report("no EKS cluster: node group " + group + " is gone with it")
		return nil
	}
	cl := p.in(region)
	c.Report(fmt.Sprintf("deleting node group %s of EKS cluster %s", group, name))
	_, err := cl.eks.DeleteNodegroup(ctx, &eks.DeleteNodegroupInput{ClusterName: aws.String(name), NodegroupName: aws.String(group)})
	if err = classify(err, fmt.Sprintf("delete node group %s of EKS cluster %s", group, name)); err != nil {
		if isKind(err, cloud.ErrNotFound) {
			c.Report("node group " + group + " is already gone")
			return nil
		}
		return err
	}
	return p.waitGone(ctx, c, "node group "+group, func() (string, error) {
		out, err := cl.eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String(name), NodegroupName: aws.String(group)})
		if err != nil {
			return "", err
		}
		return string(out.Nodegroup.Status), nil
	})
}

func validNodeGroup(ng cloud.NodeGroupSpec) error {
	switch {
	case ng.Name == "":
		return cloud.Errorf(cloud.ErrInvalid, "a node group needs a name")
	case ng.MinNode < 0 || ng.MaxNode < 1:
		return cloud.Errorf(cloud.ErrInvalid, "node group %s: minNode %d, maxNode %d: EKS needs minNode ≥ 0 and maxNode ≥ 1", ng.Name, ng.MinNode, ng.MaxNode)
	case ng.MinNode > ng.MaxNode:
		return cloud.Errorf(cloud.ErrInvalid, "node group %s: minNode %d is above maxNode %d", ng.Name, ng.MinNode, ng.MaxNode)
	}
	if _, err := eksTaints(ng.Taints); err != nil {
		return err
	}
	_, err := amiType(ng.ImageType, ng.MachineTypes)
	return err
}

// scaling is ng's scaling config: desired = min, at least one node.
func scaling(ng cloud.NodeGroupSpec) *ekstypes.NodegroupScalingConfig {
	desired := max(ng.MinNode, 1)
	desired = min(desired, ng.MaxNode)
	return &ekstypes.NodegroupScalingConfig{MinSize: aws.Int32(i32(ng.MinNode)), MaxSize: aws.Int32(i32(ng.MaxNode)), DesiredSize: aws.Int32(i32(desired))}
}

// i32 is n as an int32, clamped.
func i32(n int) int32 {
	switch {
	case n > math.MaxInt32:
		return math.MaxInt32
	case n < 0:
		return 0
	}
	return int32(n)
}

func capacity(ng cloud.NodeGroupSpec) ekstypes.CapacityTypes {
	if ng.Spot() {
		return ekstypes.CapacityTypesSpot
	}
	return ekstypes.CapacityTypesOnDemand
}

// eksTaints are taints in EKS's effect names.
func eksTaints(taints []cloud.Taint) ([]ekstypes.Taint, error) {
	var out []ekstypes.Taint
	for _, t := range taints {
		var e ekstypes.TaintEffect
		switch t.Effect {
		case "NoSchedule", "NO_SCHEDULE":
			e = ekstypes.TaintEffectNoSchedule
		case "PreferNoSchedule", "PREFER_NO_SCHEDULE":
			e = ekstypes.TaintEffectPreferNoSchedule
		case "NoExecute", "NO_EXECUTE":
			e = ekstypes.TaintEffectNoExecute
		default:
			return nil, cloud.Errorf(cloud.ErrInvalid, "taint %s: effect %q is not NoSchedule, PreferNoSchedule or NoExecute", t.Key, t.Effect)
		}
		tt := ekstypes.Taint{Key: aws.String(t.Key), Effect: e}
		if t.Value != "" {
			tt.Value = aws.String(t.Value)
		}
		out = append(out, tt)
	}
	return out, nil
}

// labelDiff is what makes labels want: labels to add or change, keys to remove.
func labelDiff(cur, want map[string]string) (add map[string]string, remove []string) {
	for k, v := range want {
		if c, ok := cur[k]; !ok || c != v {
			if add == nil {
				add = map[string]string{}
			}
			add[k] = v
		}
	}
	for k := range cur {
		if _, ok := want[k]; !ok {
			remove = append(remove, k)
		}
	}
	slices.Sort(remove)
	return add, remove
}

// taintDiff is what makes taints want: taints to add or change, taints to remove
// (a taint is identified by key and effect).
func taintDiff(cur, want []ekstypes.Taint) (add, remove []ekstypes.Taint) {
	id := func(t ekstypes.Taint) string { return aws.ToString(t.Key) + "\x00" + string(t.Effect) }
	wanted := map[string]ekstypes.Taint{}
	for _, t := range want {
		wanted[id(t)] = t
	}
	have := map[string]ekstypes.Taint{}
	for _, t := range cur {
		have[id(t)] = t
		if _, ok := wanted[id(t)]; !ok {
			remove = append(remove, t)
		}
	}
	for _, t := range want {
		if h, ok := have[id(t)]; !ok || aws.ToString(h.Value) != aws.ToString(t.Value) {
			add = append(add, t)
		}
	}
	return add, remove
}

// rolloutBatches is the batch count a replacement asks for (0 = no bound from it).
func rolloutBatches(replace bool, batches int, size int32) int {
	if !replace || batches <= 0 || size <= 0 {
		return 0
	}
	return batches
}

// updateConfig is the rollout bound of ng: its Rollout's maxUnavailable (a count or
// a percentage), else the group's size over batches, else nil (EKS's default of one
// node). EKS has no maxSurge for managed node groups: it surges by itself.
func updateConfig(ng cloud.NodeGroupSpec, batches int) *ekstypes.NodegroupUpdateConfig {
	if ng.Rollout != nil && ng.Rollout.MaxUnavailable != "" {
		mu := strings.TrimSpace(ng.Rollout.MaxUnavailable)
		if pct, ok := strings.CutSuffix(mu, "%"); ok {
			if n, err := strconv.Atoi(pct); err == nil && n > 0 {
				return &ekstypes.NodegroupUpdateConfig{MaxUnavailablePercentage: aws.Int32(i32(min(n, 100)))}
			}
		} else if n, err := strconv.Atoi(mu); err == nil && n > 0 {
			return &ekstypes.NodegroupUpdateConfig{MaxUnavailable: aws.Int32(i32(min(n, 100)))}
		}
	}
	if batches > 0 {
		n := int32(math.Ceil(float64(max(ng.MaxNode, 1)) / float64(batches)))
		return &ekstypes.NodegroupUpdateConfig{MaxUnavailable: aws.Int32(max(min(n, 100), 1))}
	}
	return nil
}

func sameUpdateConfig(a, b *ekstypes.NodegroupUpdateConfig) bool {
	if a == nil || b == nil {
		return a == b
	}
	return aws.ToInt32(a.MaxUnavailable) == aws.ToInt32(b.MaxUnavailable) && aws.ToInt32(a.MaxUnavailablePercentage) == aws.ToInt32(b.MaxUnavailablePercentage)
}

// armFamily matches instance families of Graviton (arm64) machines: a "g" among the
// letters after the generation (m7g, c6gn, t4g, r8gd, im4gn, is4gen), and a1.
var armFamily = regexp.MustCompile(`^(a1|[a-z]+[0-9]+[a-z]*g[a-z]*)$`)

// gpuFamily matches NVIDIA GPU instance families (p3, p4d, p5, g4dn, g5, g6e, gr6).
var gpuFamily = regexp.MustCompile(`^(p[0-9]+[a-z]*|g[0-9]+[a-z]*|gr[0-9]+[a-z]*)$`)

// amiType is the EKS AMI type of an image family (AL2023 when empty, AL2,
// Bottlerocket) on machines: arm64 for Graviton types, the NVIDIA variant for GPU
// types. Ubuntu and other families need a custom AMI in a launch template, which
// the provider does not manage: ErrInvalid.
func amiType(family string, machines []string) (ekstypes.AMITypes, error) {
	arm, gpu := false, false
	for _, m := range machines {
		f, _, _ := strings.Cut(strings.ToLower(m), ".")
		arm = arm || armFamily.MatchString(f)
		gpu = gpu || gpuFamily.MatchString(f)
	}
	switch strings.ToUpper(family) {
	case "", "AL2023":
		switch {
		case gpu && arm:
			return ekstypes.AMITypesAl2023Arm64Nvidia, nil
		case gpu:
			return ekstypes.AMITypesAl2023X8664Nvidia, nil
		case arm:
			return ekstypes.AMITypesAl2023Arm64Standard, nil
		}
		return ekstypes.AMITypesAl2023X8664Standard, nil
	case "AL2":
		switch {
		case arm:
			return ekstypes.AMITypesAl2Arm64, nil
		case gpu:
			return ekstypes.AMITypesAl2X8664Gpu, nil
		}
		return ekstypes.AMITypesAl2X8664, nil
	case "BOTTLEROCKET":
		switch {
		case gpu && arm:
			return ekstypes.AMITypesBottlerocketArm64Nvidia, nil
		case gpu:
			return ekstypes.AMITypesBottlerocketX8664Nvidia, nil
		case arm:
			return ekstypes.AMITypesBottlerocketArm64, nil
		}
		return ekstypes.AMITypesBottlerocketX8664, nil
	}
	return "", cloud.Errorf(cloud.ErrInvalid, "node image family %q: EKS managed node groups take AL2023, AL2 or Bottlerocket (others need a custom AMI in a launch template, which Astro Plane does not manage yet)", family)
}
