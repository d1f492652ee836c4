package awsconnect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// Bounds of temporary credentials' duration (STS AssumeRole's, with the role's
// MaxSessionDuration of 12 hours), and the default.
const (
	MinDuration     = 15 * time.Minute
	MaxDuration     = 12 * time.Hour
	DefaultDuration = time.Hour
)

var (
	// ErrNotReady means the role cannot be assumed or read yet: the customer has not
	// created the stack, or IAM has not propagated it. Worth waiting for.
	ErrNotReady = errors.New("the role is not ready")
	// ErrTrustPolicy means the role exists but its trust policy does not require the
	// organization's external ID (or does not trust the platform): never accepted.
	ErrTrustPolicy = errors.New("the role's trust policy does not require the external ID")
)

// Credentials are temporary AWS credentials.
type Credentials struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	SessionToken    string `json:"sessionToken"`
	Expiration      time.Time
}

// RoleARN is the ARN of role name in account (partition aws).
func RoleARN(account, name string) string {
	return "arn:aws:iam::" + account + ":role/" + name
}

// AssumeRole assumes roleARN with externalID for d (clamped to MinDuration …
// MaxDuration) through the platform's configuration cfg. A refusal of the role
// (access denied, no such role) wraps ErrNotReady.
func AssumeRole(ctx context.Context, cfg aws.Config, roleARN, externalID, session string, d time.Duration) (Credentials, error) {
	d = min(max(d, MinDuration), MaxDuration)
	out, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String(session), ExternalId: aws.String(externalID),
		DurationSeconds: aws.Int32(int32(d / time.Second)),
	})
	if err != nil {
		return Credentials{}, classify("assume role "+roleARN, err)
	}
	c := out.Credentials
	if c == nil || c.AccessKeyId == nil || c.SecretAccessKey == nil {
		return Credentials{}, fmt.Errorf("assume role %s: STS answered no credentials", roleARN)
	}
	return Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey,
		SessionToken: aws.ToString(c.SessionToken), Expiration: aws.ToTime(c.Expiration)}, nil
}

// WithCredentials is cfg acting with c (same region, endpoints, retries).
func WithCredentials(cfg aws.Config, c Credentials) aws.Config {
	out := cfg.Copy()
	out.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken))
	return out
}

// Verified is what Verify learnt of a connected role.
type Verified struct {
	AccountID string
	RoleARN   string
}

// Verify checks that the platform can act through roleName in account: AssumeRole
// with externalID succeeds, and, as the role, reading the role itself shows a trust
// policy requiring that external ID. ErrNotReady while the role cannot be assumed or
// read; ErrTrustPolicy when its trust policy does not require the external ID.
func Verify(ctx context.Context, cfg aws.Config, account, roleName, externalID string) (Verified, error) {
	arn := RoleARN(account, roleName)
	creds, err := AssumeRole(ctx, cfg, arn, externalID, "astroplane-verify", MinDuration)
	if err != nil {
		return Verified{}, err
	}
	as := WithCredentials(cfg, creds)
	role, err := iam.NewFromConfig(as).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(roleName)})
	if err != nil {
		return Verified{}, classify("read role "+roleName, err)
	}
	if role.Role == nil || !requiresExternalID(aws.ToString(role.Role.AssumeRolePolicyDocument), externalID) {
		return Verified{}, fmt.Errorf("role %s: %w", arn, ErrTrustPolicy)
	}
	id, err := sts.NewFromConfig(as).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Verified{}, classify("caller identity", err)
	}
	if got := aws.ToString(id.Account); got != "" && got != account {
		return Verified{}, fmt.Errorf("role %s acts in account %s, not %s", arn, got, account)
	}
	return Verified{AccountID: account, RoleARN: aws.ToString(role.Role.Arn)}, nil
}

// requiresExternalID reports whether the (URL-encoded) trust policy doc lets every
// sts:AssumeRole statement through only with externalID.
func requiresExternalID(doc, externalID string) bool {
	if d, err := url.QueryUnescape(doc); err == nil {
		doc = d
	}
	var p struct {
		Statement []struct {
			Effect    string
			Action    any
			Condition map[string]map[string]any
		}
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil || len(p.Statement) == 0 {
		return false
	}
	allows := 0
	for _, s := range p.Statement {
		if s.Effect != "Allow" {
			continue
		}
		allows++
		if fmt.Sprint(s.Condition["StringEquals"]["sts:ExternalId"]) != externalID {
			return false
		}
	}
	return allows > 0
}

// classify wraps err in ErrNotReady when AWS refused the role (it is absent or does
// not trust the platform yet); other errors (network, throttling) are returned as they
// are, for the caller's retries.
func classify(what string, err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch code := api.ErrorCode(); {
		case code == "AccessDenied", code == "AccessDeniedException", code == "NoSuchEntity",
			strings.HasPrefix(code, "InvalidClientTokenId"):
			return fmt.Errorf("%s: %w: %s", what, ErrNotReady, api.ErrorMessage())
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}
