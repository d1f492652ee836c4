package credsource_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/credsource"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/store"
)

// A vault record sealed with an older key opens with a keyring holding it, and is
// sealed anew with the current key, after which the old key is no longer needed.
func TestVaultRecordIsResealedAfterRotation(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "v.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	org := store.Organization{ID: store.NewID(), Name: "acme"}
	if err := st.CreateOrganization(ctx, &org); err != nil {
		t.Fatal(err)
	}
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	oldBox, _ := secrets.NewBox(oldKey)
	rec := store.SelfHostedCredential{ID: store.NewID(), OrgID: org.ID, ClusterName: "edge", Provider: "aws", AccountID: "1",
		BucketName: "b", Region: "r", CredentialKeys: "secretAccessKey", KeyID: oldBox.KeyID()}
	rec.Sealed, _ = oldBox.SealBound([]byte(`{"secretAccessKey":"s3cr3t-value"}`), credsource.VaultAD(org.ID, rec.ID))
	if err := st.CreateSelfHostedCredential(ctx, &rec); err != nil {
		t.Fatal(err)
	}
	ring, _ := secrets.NewKeyring(newKey, oldKey)
	ref := cloud.AccountRef{OrgID: org.ID, Provider: "aws", CredentialsType: "vault", VaultRef: rec.ID}
	c, err := credsource.New(st, ring, nil).Credentials(ctx, ref)
	if err != nil || c.Values["secretAccessKey"] != "s3cr3t-value" {
		t.Fatalf("with the keyring: %v %v", c.Values, err)
	}
	got, _ := st.GetSelfHostedCredentialByID(ctx, org.ID, rec.ID)
	if got.KeyID != ring.KeyID() || secrets.SealedKeyID(got.Sealed) != ring.KeyID() {
		t.Fatalf("not resealed: key %s, sealed with %s", got.KeyID, secrets.SealedKeyID(got.Sealed))
	}
	onlyNew, _ := secrets.NewBox(newKey)
	if c, err := credsource.New(st, onlyNew, nil).Credentials(ctx, ref); err != nil || c.Values["secretAccessKey"] != "s3cr3t-value" {
		t.Fatalf("with the new key alone: %v", err)
	}
	if _, err := credsource.New(st, oldBox, nil).Credentials(ctx, ref); !errors.Is(err, cloud.ErrInvalid) {
		t.Fatalf("with the old key alone: %v, want ErrInvalid", err)
	}
	if _, err := credsource.New(st, ring, nil).Credentials(ctx, cloud.AccountRef{OrgID: org.ID, CredentialsType: "vault", VaultRef: "nope"}); !errors.Is(err, cloud.ErrNotFound) {
		t.Fatalf("unknown record: %v", err)
	}
}
