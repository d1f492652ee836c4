package awsconnect

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TemplateKey is the object key of the template whose unguessable token is token.
func TemplateKey(token string) string { return "astroplane/templates/" + token + ".json" }

// BucketURL is the public base URL of bucket's objects (virtual-hosted style).
func BucketURL(bucket string) string { return "https://" + bucket + ".s3.amazonaws.com/" }

// PublishTemplate puts template in the platform's bucket under TemplateKey(token)
// and returns its URL (baseURL, or BucketURL(bucket) when empty, and the key).
// CloudFormation reads a quick-create link's templateURL from Amazon S3 only: the
// bucket's policy must let anyone read astroplane/templates/* (the templates hold no
// secret, and their keys are unguessable). Putting the same template again is
// harmless.
func PublishTemplate(ctx context.Context, cfg aws.Config, bucket, baseURL, token string, template []byte) (string, error) {
	key := TemplateKey(token)
	// A custom endpoint (moto, MinIO) takes path-style requests: a bucket is no host
	// name there.
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = cfg.BaseEndpoint != nil })
	_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: bytes.NewReader(template), ContentType: aws.String("application/json"),
		CacheControl: aws.String("no-cache")})
	if err != nil {
		return "", fmt.Errorf("publish template to s3://%s/%s: %w", bucket, key, err)
	}
	if baseURL == "" {
		baseURL = BucketURL(bucket)
	}
	return strings.TrimSuffix(baseURL, "/") + "/" + key, nil
}
