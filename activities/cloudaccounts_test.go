package activities_test

import (
	"context"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/awsconnect"
	"github.com/astropulse/astroplane/internal/testmoto"
	"github.com/astropulse/astroplane/store"
)

// With a template bucket, the connection's template is published to S3 (where the
// CloudFormation console reads it from) and the link names it there; repeated, the
// same token and link. The organization's external ID is made once.
func TestPrepareAWSConnectionPublishesToTheBucket(t *testing.T) {
	moto := testmoto.Start(t)
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIAPLATFORM", "platform-secret", "")))
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseEndpoint = aws.String(moto.URL)
	s := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("astro-tpl")}); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "c.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	org := store.Organization{ID: store.NewID(), Name: "acme"}
	if err := st.CreateOrganization(ctx, &org); err != nil {
		t.Fatal(err)
	}
	conn := store.CloudConnection{ID: "acme.prod.connect-aws.1", OrgID: org.ID, Provider: "aws", ClusterName: "prod",
		Level: "read", Status: store.ConnectionPending, AccountID: "123456789012", Region: "eu-west-1"}
	if err := st.CreateCloudConnection(ctx, &conn); err != nil {
		t.Fatal(err)
	}
	a := &activities.CloudAccounts{Store: st, AWS: &cfg, PlatformPrincipal: "arn:aws:iam::999999999999:root",
		TemplateBucket: "astro-tpl", TemplateBucketURL: "https://astro-tpl.s3.eu-west-1.amazonaws.com"}
	first, err := a.PrepareAWSConnection(ctx, activities.PrepareAWSConnectionInput{OrgID: org.ID, ConnectionID: conn.ID})
	if err != nil {
		t.Fatal(err)
	}
	again, err := a.PrepareAWSConnection(ctx, activities.PrepareAWSConnectionInput{OrgID: org.ID, ConnectionID: conn.ID})
	if err != nil || again != first {
		t.Fatalf("again: %+v %v, first %+v", again, err, first)
	}
	_, frag, _ := strings.Cut(first.SetupURL, "#/stacks/quickcreate?")
	q, _ := url.ParseQuery(frag)
	tu := q.Get("templateURL")
	key, ok := strings.CutPrefix(tu, "https://astro-tpl.s3.eu-west-1.amazonaws.com/")
	if !ok || !strings.HasPrefix(key, "astroplane/templates/") || q.Get("param_ExternalId") != first.ExternalID || q.Get("param_CreateEKSRoles") != "" {
		t.Fatalf("link %s", first.SetupURL)
	}
	out, err := s.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("astro-tpl"), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = out.Body.Close() }()
	body, _ := io.ReadAll(out.Body)
	rec, err := st.GetCloudConnection(ctx, org.ID, conn.ID)
	if err != nil || string(body) != string(rec.Template) || !strings.Contains(string(body), first.ExternalID) ||
		rec.RoleName != awsconnect.RoleName("prod") {
		t.Fatalf("published %q, recorded %q, %v", body, rec.Template, err)
	}
	if ext, _ := st.EnsureExternalID(ctx, org.ID, "another"); ext != first.ExternalID {
		t.Fatalf("external ID %s then %s", first.ExternalID, ext)
	}
}
