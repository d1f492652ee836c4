// Package awsconnect is how a customer's AWS account is connected without long-lived
// keys: a CloudFormation template creating a cross-account IAM role that trusts the
// platform's AWS principal only with the organization's external ID, with
// least-privilege policies for the access level asked for (read: describe and list;
// manage: what the EKS/EC2 cluster lifecycle needs, plus the EKS cluster and node
// roles); the console's quick-create link for it; and the STS calls that verify the
// role and issue temporary credentials through it. It knows no Temporal and no store.
package awsconnect

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
)

// Access levels.
const (
	LevelRead   = "read"
	LevelManage = "manage"
)

// The EKS roles a manage-level template creates, named as package cloud/aws names
// them (aws.ClusterRoleName, aws.NodeRoleName): the EKS provider passes them to EKS.
const (
	ClusterRoleName = "AstroEKSClusterRole"
	NodeRoleName    = "AstroEKSNodeRole"
)

// RoleName is the name of the role the platform assumes for cluster: "AstroPlane-"
// and the cluster's name (at most 61 characters; IAM allows 64).
func RoleName(cluster string) string { return "AstroPlane-" + cluster }

// StackName is the CloudFormation stack the quick-create link proposes for cluster.
func StackName(cluster string) string { return "astroplane-" + cluster }

// NewExternalID returns a fresh external ID: "astro-" and 32 random hex digits.
func NewExternalID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return "astro-" + hex.EncodeToString(b)
}

// ReadActions are the platform role's permissions at level read: describe, list and
// get only, nothing that changes the account.
var ReadActions = []string{
	"eks:Describe*", "eks:List*",
	"ec2:Describe*",
	"autoscaling:Describe*",
	"iam:ListRoles",
	"cloudformation:DescribeStacks",
	"servicequotas:GetServiceQuota", "servicequotas:ListServiceQuotas",
}

// ManageActions are the actions level manage adds to ReadActions: the EKS and EC2
// calls of a cluster's lifecycle (network, control plane, node groups, add-ons,
// upgrades, delete). Passing roles is granted separately, for the two EKS roles only.
var ManageActions = []string{
	"eks:CreateCluster", "eks:DeleteCluster", "eks:UpdateClusterConfig", "eks:UpdateClusterVersion",
	"eks:CreateNodegroup", "eks:DeleteNodegroup", "eks:UpdateNodegroupConfig", "eks:UpdateNodegroupVersion",
	"eks:CreateAddon", "eks:DeleteAddon", "eks:UpdateAddon",
	"eks:CreateAccessEntry", "eks:DeleteAccessEntry", "eks:AssociateAccessPolicy", "eks:DisassociateAccessPolicy",
	"eks:TagResource", "eks:UntagResource",
	"ec2:CreateVpc", "ec2:DeleteVpc", "ec2:ModifyVpcAttribute",
	"ec2:CreateSubnet", "ec2:DeleteSubnet", "ec2:ModifySubnetAttribute",
	"ec2:CreateInternetGateway", "ec2:AttachInternetGateway", "ec2:DetachInternetGateway", "ec2:DeleteInternetGateway",
	"ec2:CreateNatGateway", "ec2:DeleteNatGateway", "ec2:AllocateAddress", "ec2:ReleaseAddress",
	"ec2:CreateRouteTable", "ec2:DeleteRouteTable", "ec2:CreateRoute", "ec2:DeleteRoute",
	"ec2:AssociateRouteTable", "ec2:DisassociateRouteTable",
	"ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup",
	"ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress",
	"ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress",
	"ec2:CreateLaunchTemplate", "ec2:CreateLaunchTemplateVersion", "ec2:DeleteLaunchTemplate", "ec2:RunInstances",
	"ec2:CreateTags", "ec2:DeleteTags",
}

// TemplateInput is what a connection's template is made of.
type TemplateInput struct {
	// PlatformPrincipal is the AWS principal (an account root or role ARN) the
	// platform's workers run as; the role trusts it alone.
	PlatformPrincipal string
	// ExternalID is the organization's external ID, required by the trust policy.
	ExternalID string
	// RoleName is the role's name (RoleName(cluster)).
	RoleName string
	// Level is read or manage.
	Level string
	// Cluster names the cluster, for the description and tags.
	Cluster string
}

// Template returns the CloudFormation template (JSON) of in: the platform role (its
// trust policy requiring sts:ExternalId, its inline policy of in.Level, sessions of up
// to 12 hours, its ARN as output RoleArn) and, for manage, the EKS cluster and node
// roles unless the stack's parameter CreateEKSRoles is "false" (the account has them
// from another connection).
func Template(in TemplateInput) ([]byte, error) {
	if in.PlatformPrincipal == "" || in.ExternalID == "" || in.RoleName == "" {
		return nil, fmt.Errorf("template: platform principal, external ID and role name are required")
	}
	actions := ReadActions
	switch in.Level {
	case LevelRead:
	case LevelManage:
		actions = append(append([]string{}, ReadActions...), ManageActions...)
	default:
		return nil, fmt.Errorf("template: level %q is neither read nor manage", in.Level)
	}
	statements := []any{
		map[string]any{"Sid": "AstroPlane" + title(in.Level), "Effect": "Allow", "Action": actions, "Resource": "*"},
		// The platform reads its own role to verify the connection (trust policy, level).
		map[string]any{"Sid": "AstroPlaneVerify", "Effect": "Allow", "Action": []string{"iam:GetRole"},
			"Resource": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + in.RoleName)},
	}
	if in.Level == LevelManage {
		roles := []any{
			sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + ClusterRoleName),
			sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + NodeRoleName),
		}
		statements = append(statements,
			map[string]any{"Sid": "AstroPlanePassEKSRoles", "Effect": "Allow", "Action": []string{"iam:PassRole", "iam:GetRole"},
				"Resource": roles,
				"Condition": map[string]any{"StringEqualsIfExists": map[string]any{
					"iam:PassedToService": []string{"eks.amazonaws.com", "ec2.amazonaws.com"}}}},
			map[string]any{"Sid": "AstroPlaneServiceLinkedRoles", "Effect": "Allow", "Action": []string{"iam:CreateServiceLinkedRole"},
				"Resource": "*",
				"Condition": map[string]any{"StringEquals": map[string]any{
					"iam:AWSServiceName": []string{"eks.amazonaws.com", "eks-nodegroup.amazonaws.com"}}}},
		)
	}
	tags := []any{
		map[string]any{"Key": "astroplane:cluster", "Value": in.Cluster},
		map[string]any{"Key": "astroplane:level", "Value": in.Level},
	}
	resources := map[string]any{
		"AstroPlaneRole": map[string]any{
			"Type": "AWS::IAM::Role",
			"Properties": map[string]any{
				"RoleName":           in.RoleName,
				"Description":        "Assumed by Astro Plane to manage clusters (" + in.Level + " access)",
				"MaxSessionDuration": 43200,
				"AssumeRolePolicyDocument": map[string]any{
					"Version": "2012-10-17",
					"Statement": []any{map[string]any{
						"Effect":    "Allow",
						"Principal": map[string]any{"AWS": in.PlatformPrincipal},
						"Action":    "sts:AssumeRole",
						"Condition": map[string]any{"StringEquals": map[string]any{"sts:ExternalId": map[string]any{"Ref": "ExternalId"}}},
					}},
				},
				"Policies": []any{map[string]any{
					"PolicyName":     "astroplane-" + in.Level,
					"PolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": statements},
				}},
				"Tags": tags,
			},
		},
	}
	params := map[string]any{
		"ExternalId": map[string]any{
			"Type": "String", "Default": in.ExternalID, "AllowedValues": []string{in.ExternalID},
			"Description": "Your organization's external ID at Astro Plane (do not change it)",
		},
	}
	var conditions map[string]any
	if in.Level == LevelManage {
		params["CreateEKSRoles"] = map[string]any{
			"Type": "String", "Default": "true", "AllowedValues": []string{"true", "false"},
			"Description": "Create " + ClusterRoleName + " and " + NodeRoleName + " (false when this account already has them)",
		}
		conditions = map[string]any{"CreateEKSRoles": map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "CreateEKSRoles"}, "true"}}}
		resources["AstroEKSClusterRole"] = serviceRole(ClusterRoleName, "eks.amazonaws.com", tags,
			"AmazonEKSClusterPolicy")
		resources["AstroEKSNodeRole"] = serviceRole(NodeRoleName, "ec2.amazonaws.com", tags,
			"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly")
	}
	t := map[string]any{
		"AWSTemplateFormatVersion": "2010-09-09",
		"Description":              fmt.Sprintf("Astro Plane access (%s) for cluster %s", in.Level, in.Cluster),
		"Parameters":               params,
		"Resources":                resources,
		"Outputs": map[string]any{
			"RoleArn":    map[string]any{"Value": map[string]any{"Fn::GetAtt": []string{"AstroPlaneRole", "Arn"}}},
			"ExternalId": map[string]any{"Value": map[string]any{"Ref": "ExternalId"}},
		},
	}
	if conditions != nil {
		t["Conditions"] = conditions
	}
	return json.MarshalIndent(t, "", "  ")
}

func serviceRole(name, service string, tags []any, managed ...string) map[string]any {
	var arns []any
	for _, m := range managed {
		arns = append(arns, sub("arn:${AWS::Partition}:iam::aws:policy/"+m))
	}
	return map[string]any{
		"Type":      "AWS::IAM::Role",
		"Condition": "CreateEKSRoles",
		"Properties": map[string]any{
			"RoleName": name,
			"AssumeRolePolicyDocument": map[string]any{
				"Version": "2012-10-17",
				"Statement": []any{map[string]any{
					"Effect": "Allow", "Principal": map[string]any{"Service": service}, "Action": "sts:AssumeRole"}},
			},
			"ManagedPolicyArns": arns,
			"Tags":              tags,
		},
	}
}

func sub(s string) map[string]any { return map[string]any{"Fn::Sub": s} }

func title(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// QuickCreateURL is the CloudFormation console's quick-create link for the stack
// stackName from templateURL in region, with the ExternalId parameter filled (and
// CreateEKSRoles, when createEKSRoles is not nil).
func QuickCreateURL(region, templateURL, stackName, externalID string, createEKSRoles *bool) string {
	q := url.Values{}
	q.Set("templateURL", templateURL)
	q.Set("stackName", stackName)
	q.Set("param_ExternalId", externalID)
	if createEKSRoles != nil {
		q.Set("param_CreateEKSRoles", fmt.Sprint(*createEKSRoles))
	}
	return "https://console.aws.amazon.com/cloudformation/home?region=" + url.QueryEscape(region) +
		"#/stacks/quickcreate?" + q.Encode()
}
