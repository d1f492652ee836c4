package testkube_test

import (
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/astropulse/astroplane/internal/testkube"
)

// One server: the admin stores and reads objects over verified TLS, a user without
// a role binding is refused (RBAC), the same user is allowed once bound, and the
// kubeconfig reaches the same server. The servers are gone after the test.
func TestStartServesAuthenticatedAndAuthorizedAPI(t *testing.T) {
	var c *testkube.Cluster
	t.Run("server", func(t *testing.T) {
		c = testkube.StartWith(t, testkube.Options{Users: []string{"alice"}})
		ctx := t.Context()
		admin := kubernetes.NewForConfigOrDie(c.RESTConfig())

		v, err := admin.Discovery().ServerVersion()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(v.GitVersion, "v1.") || v.Major != "1" {
			t.Errorf("server version %+v: want the real kube-apiserver's (v1.x, set at build time)", v)
		}

		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}
		if _, err := admin.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create namespace: %v", err)
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"k": "v"}}
		if _, err := admin.CoreV1().ConfigMaps("team-a").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create configmap: %v", err)
		}
		// Validation is the real server's.
		bad := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "Not_A_Name"}}
		if _, err := admin.CoreV1().ConfigMaps("team-a").Create(ctx, bad, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
			t.Errorf("create configmap named Not_A_Name: %v, want Invalid", err)
		}

		alice := kubernetes.NewForConfigOrDie(c.RESTConfigFor("alice"))
		if _, err := alice.CoreV1().ConfigMaps("team-a").Get(ctx, "settings", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
			t.Fatalf("alice reads a configmap without a role: %v, want Forbidden", err)
		}
		role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "read"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}}}
		if _, err := admin.RbacV1().Roles("team-a").Create(ctx, role, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-read"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "read"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"}}}
		if _, err := admin.RbacV1().RoleBindings("team-a").Create(ctx, binding, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The authorizer sees the binding through an informer: allowed within moments.
		deadline := time.Now().Add(15 * time.Second)
		for {
			got, err := alice.CoreV1().ConfigMaps("team-a").Get(ctx, "settings", metav1.GetOptions{})
			if err == nil && got.Data["k"] == "v" {
				break
			}
			if !apierrors.IsForbidden(err) || time.Now().After(deadline) {
				t.Fatalf("alice reads the configmap once bound: %v, %v", got, err)
			}
			time.Sleep(50 * time.Millisecond)
		}

		cfg, err := clientcmd.RESTConfigFromKubeConfig(c.Kubeconfig())
		if err != nil {
			t.Fatalf("kubeconfig: %v", err)
		}
		if _, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Namespaces().Get(ctx, "team-a", metav1.GetOptions{}); err != nil {
			t.Fatalf("through the kubeconfig: %v", err)
		}
	})
	if c == nil {
		return
	}
	if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
		t.Errorf("%s is left behind after the test: %v", c.Dir, err)
	}
	if _, err := kubernetes.NewForConfigOrDie(c.RESTConfig()).Discovery().ServerVersion(); err == nil {
		t.Errorf("the server at %s still answers after the test", c.URL)
	}
}
