package argocd

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
)

// SecretGVR is the resource Secrets are served as.
var SecretGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// Argo CD's declarative repository credentials: a Secret in Argo CD's namespace
// labelled secret-type=repository, whose url, username and password Argo CD uses for
// the repository of that URL.
const (
	LabelSecretType        = "argocd.argoproj.io/secret-type" //nolint:gosec // a label's name, not a credential
	SecretTypeRepository   = "repository"
	LabelManagedBy         = "app.kubernetes.io/managed-by"
	ManagedByPlatform      = "astro-plane"
	RepoCredentialPrefix   = "astro-repo-" //nolint:gosec // a name prefix, not a credential
	AnnotationExpiresAt    = "platform.astropulse.io/token-expires-at"
	AnnotationRepository   = "platform.astropulse.io/repository"
	RepoCredentialUsername = "x-access-token"
)

// RepoCredential is a short-lived credential of one Git repository over https.
// Password is a secret: never log it.
type RepoCredential struct {
	// URL is the repository's URL exactly as Applications name it.
	URL string
	// Repository is a readable name of it (annotation), e.g. acme/web.
	Repository         string
	Username, Password string
	// ExpiresAt is when the password stops working (annotation, RFC 3339).
	ExpiresAt time.Time
}

// RepoCredentialName is the name of url's credential Secret: the same for every
// writer, valid as a Secret's name whatever url holds.
func RepoCredentialName(url string) string {
	sum := sha256.Sum256([]byte(url))
	return RepoCredentialPrefix + hex.EncodeToString(sum[:8])
}

func (w *Writer) secrets() dynamic.ResourceInterface {
	ns := w.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	return w.Client.Resource(SecretGVR).Namespace(ns)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// ApplyRepoCredential creates or replaces c's repository Secret in Argo CD's
// namespace. Its errors never hold the password.
func (w *Writer) ApplyRepoCredential(ctx context.Context, c RepoCredential) error {
	if c.URL == "" || c.Username == "" || c.Password == "" {
		return errors.New("repository credential: url, username and password are required")
	}
	name := RepoCredentialName(c.URL)
	labels := map[string]any{LabelSecretType: SecretTypeRepository, LabelManagedBy: ManagedByPlatform}
	annotations := map[string]any{AnnotationExpiresAt: c.ExpiresAt.UTC().Format(time.RFC3339), AnnotationRepository: c.Repository}
	data := map[string]any{"type": b64("git"), "url": b64(c.URL), "username": b64(c.Username), "password": b64(c.Password)}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := w.secrets().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = w.secrets().Create(ctx, &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
				"metadata": map[string]any{"name": name, "labels": labels, "annotations": annotations},
				"data":     data,
			}}, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(SecretGVR.GroupResource(), name, errors.New("created meanwhile"))
			}
			return err
		}
		if err != nil {
			return err
		}
		next := cur.DeepCopy()
		l, a := next.GetLabels(), next.GetAnnotations()
		if l == nil {
			l = map[string]string{}
		}
		if a == nil {
			a = map[string]string{}
		}
		for k, v := range labels {
			l[k] = v.(string)
		}
		for k, v := range annotations {
			a[k] = v.(string)
		}
		next.SetLabels(l)
		next.SetAnnotations(a)
		next.Object["data"] = data
		delete(next.Object, "stringData")
		_, err = w.secrets().Update(ctx, next, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("write repository credential %s: %w", name, scrub(err))
	}
	return nil
}

// scrub keeps an API error's reason and drops its text, which could echo what was
// sent.
func scrub(err error) error {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		s := st.Status()
		return fmt.Errorf("kubernetes API: %s (HTTP %d)", s.Reason, s.Code)
	}
	return err
}

// DeleteRepoCredential deletes url's repository Secret; none is no error.
func (w *Writer) DeleteRepoCredential(ctx context.Context, url string) error {
	name := RepoCredentialName(url)
	err := w.secrets().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete repository credential %s: %w", name, scrub(err))
	}
	return nil
}
