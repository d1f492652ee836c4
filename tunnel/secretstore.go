package tunnel

import (
	"context"
	"fmt"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// SecretStore keeps the agent's key and certificate in a Secret of its namespace (the
// install manifest makes it, empty, and lets only the agent's ServiceAccount read and
// update it), so a restarted pod reconnects without a new registration token.
type SecretStore struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string
}

// Load implements CertStore: os.ErrNotExist while the Secret holds no certificate.
func (s SecretStore) Load(ctx context.Context) ([]byte, []byte, error) {
	sec, err := s.Client.CoreV1().Secrets(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	key, cert := sec.Data["key.pem"], sec.Data["cert.pem"]
	if len(key) == 0 || len(cert) == 0 {
		return nil, nil, os.ErrNotExist
	}
	return key, cert, nil
}

// Save implements CertStore.
func (s SecretStore) Save(ctx context.Context, key, cert []byte) error {
	sec, err := s.Client.CoreV1().Secrets(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	if sec.Data == nil {
		sec.Data = map[string][]byte{}
	}
	sec.Data["key.pem"], sec.Data["cert.pem"] = key, cert
	_, err = s.Client.CoreV1().Secrets(s.Namespace).Update(ctx, sec, metav1.UpdateOptions{})
	return err
}
