package awsconnect_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/astropulse/astroplane/awsconnect"
	"github.com/astropulse/astroplane/internal/testmoto"
)

// account is moto's default account, where the stacks of these tests are created.
const account = "123456789012"

func motoConfig(t *testing.T, endpoint string) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(t.Context(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIAPLATFORM", "platform-secret", "")),
		config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseEndpoint = aws.String(endpoint)
	return cfg
}

// CreateStack creates the template's stack as a customer would from the link, and
// waits until it is complete.
func createStack(t *testing.T, cfg aws.Config, name string, body []byte, params map[string]string) {
	t.Helper()
	cf := cloudformation.NewFromConfig(cfg)
	in := &cloudformation.CreateStackInput{StackName: aws.String(name), TemplateBody: aws.String(string(body)),
		Capabilities: []cftypes.Capability{cftypes.CapabilityCapabilityNamedIam}}
	for k, v := range params {
		in.Parameters = append(in.Parameters, cftypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
	}
	if _, err := cf.CreateStack(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := cf.DescribeStacks(t.Context(), &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		st := out.Stacks[0].StackStatus
		if st == cftypes.StackStatusCreateComplete {
			return
		}
		if strings.Contains(string(st), "FAILED") || strings.Contains(string(st), "ROLLBACK") || time.Now().After(deadline) {
			t.Fatalf("stack %s: %s %s", name, st, aws.ToString(out.Stacks[0].StackStatusReason))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTemplateStackVerifiesInMoto(t *testing.T) {
	moto := testmoto.Start(t)
	cfg := motoConfig(t, moto.URL)
	ext := awsconnect.NewExternalID()
	ctx := t.Context()

	role := awsconnect.RoleName("prod")
	if _, err := awsconnect.Verify(ctx, cfg, account, role, ext); !errors.Is(err, awsconnect.ErrNotReady) {
		t.Fatalf("before the stack: %v, want ErrNotReady", err)
	}
	body, err := awsconnect.Template(awsconnect.TemplateInput{PlatformPrincipal: "arn:aws:iam::999999999999:root",
		ExternalID: ext, RoleName: role, Level: awsconnect.LevelManage, Cluster: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	createStack(t, cfg, awsconnect.StackName("prod"), body, map[string]string{"ExternalId": ext})
	v, err := awsconnect.Verify(ctx, cfg, account, role, ext)
	if err != nil {
		t.Fatalf("after the stack: %v", err)
	}
	if v.RoleARN != awsconnect.RoleARN(account, role) {
		t.Fatalf("role ARN %s", v.RoleARN)
	}
	// The EKS roles exist, with their services trusted.
	for name, service := range map[string]string{awsconnect.ClusterRoleName: "eks.amazonaws.com", awsconnect.NodeRoleName: "ec2.amazonaws.com"} {
		r, err := iam.NewFromConfig(cfg).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		doc, _ := url.QueryUnescape(aws.ToString(r.Role.AssumeRolePolicyDocument))
		if !strings.Contains(doc, service) {
			t.Errorf("%s trusts %s, want %s", name, doc, service)
		}
	}
	// Another organization's external ID does not verify.
	if _, err := awsconnect.Verify(ctx, cfg, account, role, awsconnect.NewExternalID()); !errors.Is(err, awsconnect.ErrTrustPolicy) {
		t.Fatalf("another external ID: %v, want ErrTrustPolicy", err)
	}
	creds, err := awsconnect.AssumeRole(ctx, cfg, v.RoleARN, ext, "test", 2*time.Hour)
	if err != nil || creds.AccessKeyID == "" || creds.SecretAccessKey == "" || creds.SessionToken == "" {
		t.Fatalf("assume role: %+v %v", creds, err)
	}
}

// A role trusting the platform without the external ID condition is refused: it
// would let any tenant's request act in this account.
func TestRoleWithoutExternalIDIsRefused(t *testing.T) {
	moto := testmoto.Start(t)
	cfg := motoConfig(t, moto.URL)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"sts:AssumeRole"}]}`
	if _, err := iam.NewFromConfig(cfg).CreateRole(t.Context(), &iam.CreateRoleInput{RoleName: aws.String("AstroPlane-x"),
		AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	if _, err := awsconnect.Verify(t.Context(), cfg, account, "AstroPlane-x", awsconnect.NewExternalID()); !errors.Is(err, awsconnect.ErrTrustPolicy) {
		t.Fatalf("%v, want ErrTrustPolicy", err)
	}
}

// Level read grants describe, list and get only; manage adds the lifecycle's calls
// and passes the two EKS roles only.
func TestTemplateLeastPrivilege(t *testing.T) {
	for _, a := range awsconnect.ReadActions {
		verb := a[strings.Index(a, ":")+1:]
		if !strings.HasPrefix(verb, "Describe") && !strings.HasPrefix(verb, "List") && !strings.HasPrefix(verb, "Get") {
			t.Errorf("read level grants %s", a)
		}
	}
	for level, wantEKSRoles := range map[string]bool{awsconnect.LevelRead: false, awsconnect.LevelManage: true} {
		body, err := awsconnect.Template(awsconnect.TemplateInput{PlatformPrincipal: "arn:aws:iam::999999999999:root",
			ExternalID: "astro-x", RoleName: "AstroPlane-c", Level: level, Cluster: "c"})
		if err != nil {
			t.Fatal(err)
		}
		var tpl struct{ Resources map[string]json.RawMessage }
		if err := json.Unmarshal(body, &tpl); err != nil {
			t.Fatal(err)
		}
		_, has := tpl.Resources["AstroEKSNodeRole"]
		if has != wantEKSRoles {
			t.Errorf("%s: EKS roles in template = %v", level, has)
		}
		s := string(body)
		if strings.Contains(s, "eks:CreateCluster") != (level == awsconnect.LevelManage) {
			t.Errorf("%s: eks:CreateCluster granted = %v", level, strings.Contains(s, "eks:CreateCluster"))
		}
		if strings.Contains(s, `"iam:*"`) || strings.Contains(s, `"*:*"`) || strings.Contains(s, `"Action": "*"`) {
			t.Errorf("%s: a wildcard action", level)
		}
	}
	if _, err := awsconnect.Template(awsconnect.TemplateInput{PlatformPrincipal: "p", ExternalID: "x", RoleName: "r", Level: "admin"}); err == nil {
		t.Error("level admin accepted")
	}
	link := awsconnect.QuickCreateURL("eu-west-1", "https://api.example.com/t/abc", "astroplane-c", "astro-x", nil)
	for _, want := range []string{"region=eu-west-1", "#/stacks/quickcreate?", "templateURL=https%3A%2F%2Fapi.example.com%2Ft%2Fabc", "stackName=astroplane-c", "param_ExternalId=astro-x"} {
		if !strings.Contains(link, want) {
			t.Errorf("link %s lacks %s", link, want)
		}
	}
}

// The template published to the platform's bucket is there, under its unguessable
// key, at the URL the link names.
func TestPublishTemplate(t *testing.T) {
	moto := testmoto.Start(t)
	cfg := motoConfig(t, moto.URL)
	s := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("astro-templates")}); err != nil {
		t.Fatal(err)
	}
	u, err := awsconnect.PublishTemplate(t.Context(), cfg, "astro-templates", "", "tok123", []byte(`{"Resources":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if u != "https://astro-templates.s3.amazonaws.com/astroplane/templates/tok123.json" {
		t.Fatalf("url %s", u)
	}
	out, err := s.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("astro-templates"), Key: aws.String(awsconnect.TemplateKey("tok123"))})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = out.Body.Close() }()
	body, _ := io.ReadAll(out.Body)
	if string(body) != `{"Resources":{}}` || aws.ToString(out.ContentType) != "application/json" {
		t.Fatalf("object %q %s", body, aws.ToString(out.ContentType))
	}
}
