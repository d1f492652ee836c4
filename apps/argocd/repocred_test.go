package argocd_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/astropulse/astroplane/apps/argocd"
)

// A repository credential is Argo CD's repository Secret: created, then replaced
// in place (data and the platform's labels and annotations; others' labels kept),
// deleted (none: no error); a write the API refuses never carries the password in
// its error; the name is a valid Secret name for any URL.
func TestRepoCredential(t *testing.T) {
	ctx := context.Background()
	client := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{argocd.SecretGVR: "SecretList"})
	w := &argocd.Writer{Client: client}
	secrets := client.Resource(argocd.SecretGVR).Namespace("argocd")
	const url = "https://github.com/acme/web.git"
	exp := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	if err := w.ApplyRepoCredential(ctx, argocd.RepoCredential{URL: url, Repository: "acme/web", Username: "x-access-token", Password: "ghs_one", ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	name := argocd.RepoCredentialName(url)
	if !regexp.MustCompile(`^astro-repo-[0-9a-f]{16}$`).MatchString(name) || name == argocd.RepoCredentialName("https://github.com/acme/api.git") {
		t.Fatalf("name %q", name)
	}
	u, err := secrets.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data := func() map[string]string {
		m, _, _ := unstructuredStrings(u.Object, "data")
		return m
	}
	// base64 of "git", the URL, x-access-token, ghs_one
	if d := data(); d["type"] != "Z2l0" || d["url"] != "aHR0cHM6Ly9naXRodWIuY29tL2FjbWUvd2ViLmdpdA==" || d["username"] != "eC1hY2Nlc3MtdG9rZW4=" || d["password"] != "Z2hzX29uZQ==" {
		t.Fatalf("data %v", d)
	}
	if u.GetLabels()[argocd.LabelSecretType] != "repository" || u.GetAnnotations()[argocd.AnnotationExpiresAt] != "2026-12-01T10:00:00Z" ||
		u.GetAnnotations()[argocd.AnnotationRepository] != "acme/web" {
		t.Fatalf("labels %v annotations %v", u.GetLabels(), u.GetAnnotations())
	}

	labels := u.GetLabels()
	labels["team"] = "web"
	u.SetLabels(labels)
	if _, err := secrets.Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := w.ApplyRepoCredential(ctx, argocd.RepoCredential{URL: url, Username: "x-access-token", Password: "ghs_two", ExpiresAt: exp.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if u, err = secrets.Get(ctx, name, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if d := data(); d["password"] != "Z2hzX3R3bw==" || u.GetLabels()["team"] != "web" || u.GetAnnotations()[argocd.AnnotationExpiresAt] != "2026-12-01T11:00:00Z" {
		t.Fatalf("after the update: data %v labels %v annotations %v", d, u.GetLabels(), u.GetAnnotations())
	}

	for _, c := range []argocd.RepoCredential{{Username: "u", Password: "p"}, {URL: url, Password: "p"}, {URL: url, Username: "u"}} {
		if err := w.ApplyRepoCredential(ctx, c); err == nil {
			t.Fatalf("%+v written", c)
		}
	}

	client.PrependReactor("update", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewBadRequest("data.password: ghs_three is invalid")
	})
	err = w.ApplyRepoCredential(ctx, argocd.RepoCredential{URL: url, Username: "x-access-token", Password: "ghs_three", ExpiresAt: exp})
	if err == nil || strings.Contains(err.Error(), "ghs_three") || !strings.Contains(err.Error(), "BadRequest") {
		t.Fatalf("refused write: %v", err)
	}

	if err := w.DeleteRepoCredential(ctx, url); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after delete: %v", err)
	}
	if err := w.DeleteRepoCredential(ctx, url); err != nil {
		t.Fatalf("deleting none: %v", err)
	}
	client.PrependReactor("delete", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(argocd.SecretGVR.GroupResource(), name, errors.New("no"))
	})
	if err := w.DeleteRepoCredential(ctx, url); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("a refused delete: %v", err)
	}
}

func unstructuredStrings(obj map[string]any, field string) (map[string]string, bool, error) {
	out := map[string]string{}
	m, ok := obj[field].(map[string]any)
	for k, v := range m {
		s, _ := v.(string)
		out[k] = s
	}
	return out, ok, nil
}
