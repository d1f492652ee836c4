package activities

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/store"
)

// KubeconfigSeal binds a grant's sealed kubeconfig to its organization and grant
// ID: the API opens it with the same binding, and a sealed file copied to another
// grant's row does not open.
func KubeconfigSeal(orgID, grantID string) []byte {
	return secrets.Bind("kubeconfig-grant", orgID, grantID)
}

// IssueKubeconfigInput asks for a kubeconfig of a cluster for one grant. It names
// the cluster and its account, never credentials.
type IssueKubeconfigInput struct {
	OrgID   string
	GrantID string
	Spec    ClusterSpec
	Ref     ClusterRef
	// Duration is how long the credentials in the file may last.
	Duration time.Duration
}

// IssuedKubeconfig is what the workflow learns of the file: never the file.
type IssuedKubeconfig struct {
	Context   string
	ExpiresAt time.Time
}

// IssueKubeconfig asks the cluster's provider for a kubeconfig, seals it bound to
// the grant and records it READY; the file itself stays in the store, sealed.
func (a *Cluster) IssueKubeconfig(ctx context.Context, in IssueKubeconfigInput) (IssuedKubeconfig, error) {
	if a.Box == nil {
		return IssuedKubeconfig{}, temporal.NewNonRetryableApplicationError(
			"this worker has no encryption key (ASTRO_ENCRYPTION_KEY) to seal kubeconfigs with", "InvalidInput", nil)
	}
	p, err := a.providerFor(ctx, in.Spec)
	if err != nil {
		return IssuedKubeconfig{}, err
	}
	var kc string
	err = inActivity(ctx, in.Spec, cloud.Call{Token: in.GrantID, Step: "kubeconfig"}, func(c cloud.Call) (err error) {
		kc, err = p.Kubeconfig(ctx, c, in.Ref)
		return err
	})
	if err != nil {
		return IssuedKubeconfig{}, err
	}
	cfg, err := clientcmd.Load([]byte(kc))
	if err != nil || len(cfg.Clusters) == 0 {
		// The provider's answer is not a kubeconfig: its text may hold credentials,
		// so the error does not quote it.
		return IssuedKubeconfig{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("the %s provider returned a kubeconfig that does not parse or names no cluster", in.Spec.Provider), "InvalidInput", nil)
	}
	sealed, err := a.Box.SealBound([]byte(kc), KubeconfigSeal(in.OrgID, in.GrantID))
	if err != nil {
		return IssuedKubeconfig{}, err
	}
	expires := time.Now().UTC().Add(in.Duration).Truncate(time.Second)
	if t, ok := credentialsExpiry(kc); ok && t.Before(expires) {
		// The file's credentials stop working sooner than asked (an EKS token lasts
		// 15 minutes whatever the grant asks): the grant says when they really do.
		expires = t.UTC().Truncate(time.Second)
	}
	if err := a.Store.CompleteKubeconfigGrant(ctx, in.OrgID, in.GrantID, sealed, cfg.CurrentContext, "", &expires); err != nil {
		return IssuedKubeconfig{}, grantError(in.GrantID, err)
	}
	return IssuedKubeconfig{Context: cfg.CurrentContext, ExpiresAt: expires}, nil
}

// expiresAt finds the time in a kubeconfig's leading comment "... expires at
// <RFC 3339>", which providers whose credentials expire on their own write first
// (cloud/aws: "# EKS cluster NAME; the token expires at …").
var expiresAt = regexp.MustCompile(`expires at (\S+)`)

// credentialsExpiry returns when the credentials of kc stop working, if its
// leading comments say.
func credentialsExpiry(kc string) (time.Time, bool) {
	for line := range strings.Lines(kc) {
		if !strings.HasPrefix(line, "#") {
			break
		}
		if m := expiresAt.FindStringSubmatch(line); m != nil {
			if t, err := time.Parse(time.RFC3339, m[1]); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// FailKubeconfigInput ends a grant that could not be made.
type FailKubeconfigInput struct {
	OrgID   string
	GrantID string
	Message string
}

// FailKubeconfig records the grant FAILED with a message for the user.
func (a *Cluster) FailKubeconfig(ctx context.Context, in FailKubeconfigInput) error {
	return grantError(in.GrantID, a.Store.CompleteKubeconfigGrant(ctx, in.OrgID, in.GrantID, "", "", in.Message, nil))
}

// grantError makes a grant that is gone (pruned, its organization deleted) a
// non-retryable NotFound; other store errors are retried.
func grantError(id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("kubeconfig grant %s not found", id), ErrTypeNotFound, err)
	}
	return err
}
