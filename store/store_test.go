package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/astropulse/astroplane/internal/testpg"
	"github.com/astropulse/astroplane/store"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpg.Stop()
	os.Exit(code)
}

// eachStore runs test against a fresh SQLite file and a fresh PostgreSQL database.
func eachStore(t *testing.T, test func(t *testing.T, s *store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		test(t, open(t, "sqlite://"+filepath.Join(t.TempDir(), "astro.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		pg := testpg.Require(t)
		test(t, open(t, pg.NewDatabase(t)))
	})
}

func open(t *testing.T, url string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url, nil)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// seed creates an organization with an admin and returns both.
func seed(t *testing.T, s *store.Store, name string) (store.Organization, store.User) {
	t.Helper()
	ctx := context.Background()
	org := store.Organization{ID: store.NewID(), Name: name}
	user := store.User{ID: store.NewID(), Email: name + "@example.com"}
	if err := s.CreateOrganization(ctx, &org); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, &user); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(ctx, org.ID, user.ID, store.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	return org, user
}

func TestOrganizationsAndMembers(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		org, user := seed(t, s, "acme")

		if err := s.CreateOrganization(ctx, &store.Organization{ID: store.NewID(), Name: "acme"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate org name: got %v, want ErrConflict", err)
		}
		if err := s.AddMember(ctx, org.ID, user.ID, store.RoleViewer); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate membership: got %v, want ErrConflict", err)
		}
		if _, err := s.GetOrganization(ctx, store.NewID()); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing org: got %v, want ErrNotFound", err)
		}

		other, _ := seed(t, s, "other")
		if err := s.AddMember(ctx, other.ID, user.ID, store.RoleViewer); err != nil {
			t.Fatal(err)
		}
		orgs, total, err := s.ListOrganizationsForUser(ctx, user.ID, store.Page{Number: 1, Size: 1})
		if err != nil {
			t.Fatal(err)
		}
		if total != 2 || len(orgs) != 1 || orgs[0].Name != "acme" {
			t.Fatalf("first page: total=%d orgs=%+v", total, orgs)
		}
		if orgs, _, err = s.ListOrganizationsForUser(ctx, user.ID, store.Page{Number: 2, Size: 1}); err != nil {
			t.Fatal(err)
		}
		if len(orgs) != 1 || orgs[0].Name != "other" {
			t.Fatalf("second page: %+v", orgs)
		}

		members, total, err := s.ListMembers(ctx, other.ID, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if total != 2 || len(members) != 2 {
			t.Fatalf("members of other: total=%d %+v", total, members)
		}
		for _, m := range members {
			if m.ID == user.ID && m.Role != store.RoleViewer {
				t.Fatalf("role of acme's admin in other = %q, want viewer", m.Role)
			}
		}
	})
}

func TestBootstrapOnlyOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		first := &store.Bootstrap{
			Org:  store.Organization{ID: store.NewID(), Name: "default"},
			User: store.User{ID: store.NewID(), Email: "admin@localhost"},
			Key:  store.APIKey{ID: "k1", Source: "bootstrap", Hash: []byte("h1")},
		}
		if err := s.BootstrapInstall(ctx, first); err != nil {
			t.Fatal(err)
		}
		m, err := s.GetMembership(ctx, first.Org.ID, first.User.ID)
		if err != nil || m.Role != store.RoleAdmin {
			t.Fatalf("admin membership: %+v %v", m, err)
		}
		k, err := s.GetAPIKey(ctx, "k1")
		if err != nil || k.OrgID != first.Org.ID || k.UserID != first.User.ID {
			t.Fatalf("bootstrap key: %+v %v", k, err)
		}
		second := &store.Bootstrap{
			Org:  store.Organization{ID: store.NewID(), Name: "second"},
			User: store.User{ID: store.NewID(), Email: "other@localhost"},
			Key:  store.APIKey{ID: "k2", Source: "bootstrap", Hash: []byte("h2")},
		}
		if err := s.BootstrapInstall(ctx, second); !errors.Is(err, store.ErrAlreadyBootstrapped) {
			t.Fatalf("second bootstrap: got %v, want ErrAlreadyBootstrapped", err)
		}
		if _, err := s.GetAPIKey(ctx, "k2"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second bootstrap left a key behind: %v", err)
		}
	})
}

func TestAPIKeys(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		org, user := seed(t, s, "acme")
		other, _ := seed(t, s, "other")
		key := store.APIKey{ID: store.NewID(), OrgID: org.ID, UserID: user.ID, Source: "cli", Hash: []byte{1, 2, 3}}
		if err := s.CreateAPIKey(ctx, &key); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetAPIKeyInOrg(ctx, other.ID, key.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("key seen from another org: %v", err)
		}
		if err := s.RevokeAPIKey(ctx, other.ID, key.ID, "nope", time.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoke from another org: got %v, want ErrNotFound", err)
		}
		at := time.Now().UTC().Truncate(time.Second)
		if err := s.RevokeAPIKey(ctx, org.ID, key.ID, "leaked", at); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeAPIKey(ctx, org.ID, key.ID, "again", at.Add(time.Hour)); err != nil {
			t.Fatalf("second revoke: %v", err)
		}
		got, err := s.GetAPIKeyByHash(ctx, []byte{1, 2, 3})
		if err != nil || got.ID != key.ID {
			t.Fatalf("by hash: %+v %v", got, err)
		}
		if _, err := s.GetAPIKeyByHash(ctx, []byte{1, 2}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown hash: %v", err)
		}
		owner, err := s.LookupAPIKey(ctx, []byte{1, 2, 3})
		if err != nil || owner.Key.ID != key.ID || owner.OrgName != "acme" || owner.Role != store.RoleAdmin {
			t.Fatalf("LookupAPIKey = %+v, %v", owner, err)
		}
		if owner.Key.RevokedAt == nil || owner.Key.RevokeReason != "leaked" || string(owner.Key.Hash) != "\x01\x02\x03" || owner.Key.OrgID != org.ID || owner.Key.UserID != user.ID {
			t.Fatalf("LookupAPIKey lost the key's fields: %+v", owner.Key)
		}
		if _, err := s.LookupAPIKey(ctx, []byte{9}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("LookupAPIKey of an unknown hash: %v", err)
		}
		dupHash := store.APIKey{ID: store.NewID(), OrgID: org.ID, UserID: user.ID, Source: "cli", Hash: []byte{1, 2, 3}}
		if err := s.CreateAPIKey(ctx, &dupHash); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate hash: %v", err)
		}
		if got.RevokedAt == nil || !got.RevokedAt.Equal(at) || got.RevokeReason != "leaked" {
			t.Fatalf("revocation = %v %q, want %v leaked", got.RevokedAt, got.RevokeReason, at)
		}
		if err := s.TouchAPIKey(ctx, key.ID, at); err != nil {
			t.Fatal(err)
		}
		got = checked(s.GetAPIKey(ctx, key.ID))(t)
		if got.LastUsedAt == nil {
			t.Fatal("last used not recorded")
		}
	})
}

func TestClustersAndOperations(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		org, _ := seed(t, s, "acme")
		other, _ := seed(t, s, "other")
		newCluster := func(orgID, name string) (*store.Cluster, *store.Operation) {
			return &store.Cluster{ID: store.NewID(), OrgID: orgID, Name: name, Provider: "aws", ProvisionerType: "eks", Status: store.ClusterPending},
				&store.Operation{ID: store.NewID(), Type: "deploy", Status: store.OperationRunning, WorkflowID: "wf-" + name}
		}

		c, op := newCluster(org.ID, "prod")
		if err := s.CreateClusterWithOperation(ctx, c, op); err != nil {
			t.Fatal(err)
		}
		// The same name in another org is fine; in the same org it is a conflict and
		// writes nothing.
		oc, oop := newCluster(other.ID, "prod")
		if err := s.CreateClusterWithOperation(ctx, oc, oop); err != nil {
			t.Fatalf("same name in another org: %v", err)
		}
		// Names by ID in one query, of the organization's own clusters only.
		if names, err := s.ClusterNames(ctx, org.ID, []string{c.ID, oc.ID, "missing"}); err != nil || len(names) != 1 || names[c.ID] != "prod" {
			t.Fatalf("ClusterNames = %v, %v; want only %s → prod", names, err, c.ID)
		}
		dup, dupOp := newCluster(org.ID, "prod")
		if err := s.CreateClusterWithOperation(ctx, dup, dupOp); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate live name: got %v, want ErrConflict", err)
		}
		if _, err := s.GetOperation(ctx, org.ID, dupOp.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("failed create left its operation behind: %v", err)
		}

		for _, ref := range []string{c.ID, "prod"} {
			got, err := s.GetCluster(ctx, org.ID, ref)
			if err != nil || got.ID != c.ID {
				t.Fatalf("GetCluster(%q) = %+v, %v", ref, got, err)
			}
		}
		if _, err := s.GetCluster(ctx, other.ID, c.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("cluster seen from another org: %v", err)
		}

		// A deleted cluster is kept, leaves the list, and frees its name.
		if err := s.SetClusterStatus(ctx, org.ID, c.ID, store.ClusterDeleted, "deleted"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetClusterStatus(ctx, other.ID, c.ID, store.ClusterReady, ""); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("status set from another org: %v", err)
		}
		list, err := s.ListClusters(ctx, org.ID, store.ClusterFilter{})
		if err != nil || len(list) != 0 {
			t.Fatalf("list after delete = %+v, %v", list, err)
		}
		list = checked(s.ListClusters(ctx, org.ID, store.ClusterFilter{IncludeDeleted: true}))(t)
		if len(list) != 1 {
			t.Fatalf("list with deleted = %+v", list)
		}
		again, againOp := newCluster(org.ID, "prod")
		if err := s.CreateClusterWithOperation(ctx, again, againOp); err != nil {
			t.Fatalf("reuse a deleted cluster's name: %v", err)
		}
		got, _ := s.GetCluster(ctx, org.ID, "prod")
		if got.ID != again.ID {
			t.Fatalf("by name after reuse got %s, want the live cluster %s", got.ID, again.ID)
		}
		list = checked(s.ListClusters(ctx, org.ID, store.ClusterFilter{Provider: "gcp"}))(t)
		if len(list) != 0 {
			t.Fatalf("provider filter: %+v", list)
		}

		// Operations: idempotency keys are unique per org; finishing is first-wins.
		k1, k1op := newCluster(org.ID, "keyed")
		k1op.IdempotencyKey = "key-1"
		if err := s.CreateClusterWithOperation(ctx, k1, k1op); err != nil {
			t.Fatal(err)
		}
		k2, k2op := newCluster(org.ID, "keyed-2")
		k2op.IdempotencyKey = "key-1"
		if err := s.CreateClusterWithOperation(ctx, k2, k2op); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("reused idempotency key: got %v, want ErrConflict", err)
		}
		if _, err := s.GetCluster(ctx, org.ID, "keyed-2"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("conflicting create left its cluster behind: %v", err)
		}
		byKey, err := s.GetOperationByIdempotencyKey(ctx, org.ID, "key-1")
		if err != nil || byKey.ID != k1op.ID {
			t.Fatalf("by key = %+v, %v", byKey, err)
		}
		if _, err := s.GetOperationByIdempotencyKey(ctx, other.ID, "key-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("key seen from another org: %v", err)
		}
		now := time.Now().UTC()
		// Only one operation runs per cluster.
		second := &store.Operation{ID: store.NewID(), OrgID: org.ID, ClusterID: k1.ID, ClusterName: k1.Name, Type: "update", Status: store.OperationRunning, WorkflowID: "wf-2"}
		if err := s.StartOperation(ctx, second); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second running operation: got %v, want ErrConflict", err)
		}
		running, err := s.RunningOperation(ctx, org.ID, k1.ID)
		if err != nil || running.ID != k1op.ID {
			t.Fatalf("running operation = %+v, %v", running, err)
		}
		if done, err := s.FinishOperation(ctx, org.ID, k1op.ID, store.OperationSucceeded, "done", now); err != nil || !done {
			t.Fatalf("finish: %v %v", done, err)
		}
		if done, err := s.FinishOperation(ctx, org.ID, k1op.ID, store.OperationFailed, "late retry", now); err != nil || done {
			t.Fatalf("second finish: %v %v", done, err)
		}
		if _, err := s.RunningOperation(ctx, org.ID, k1.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("running operation after finish: %v", err)
		}
		if err := s.StartOperation(ctx, second); err != nil {
			t.Fatalf("operation after the first finished: %v", err)
		}
		if c := checked(s.GetCluster(ctx, org.ID, k1.ID))(t); c.LastOperationID != second.ID {
			t.Fatalf("last operation = %q, want %q", c.LastOperationID, second.ID)
		}
		if err := s.RecordClusterOutcome(ctx, org.ID, k1.ID, store.ClusterReady, "ok", store.ClusterFacts{Endpoint: "https://x", State: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		if c := checked(s.GetCluster(ctx, org.ID, k1.ID))(t); c.Endpoint != "https://x" || c.Status != store.ClusterReady || string(c.State) != "{}" {
			t.Fatalf("outcome not recorded: %+v", c)
		}
		fin := checked(s.GetOperation(ctx, org.ID, k1op.ID))(t)
		if fin.Status != store.OperationSucceeded || fin.EndedAt == nil {
			t.Fatalf("finished operation = %+v", fin)
		}
		if _, err := s.FinishOperation(ctx, other.ID, k1op.ID, store.OperationFailed, "", now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("finish from another org: %v", err)
		}
	})
}

func TestAudit(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		org, user := seed(t, s, "acme")
		other, _ := seed(t, s, "other")
		base := time.Now().UTC().Add(-time.Hour)
		for i, action := range []string{"CREATE", "DELETE", "CREATE"} {
			e := &store.AuditEvent{OrgID: org.ID, UserID: user.ID, EventType: "CLUSTER", Action: action,
				Outcome: store.OutcomeSuccess, CreatedAt: base.Add(time.Duration(i) * time.Minute)}
			if err := s.RecordAudit(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.RecordAudit(ctx, &store.AuditEvent{OrgID: other.ID, EventType: "CLUSTER", Action: "CREATE", Outcome: store.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
		events, total, err := s.ListAudit(ctx, org.ID, store.AuditFilter{Action: "CREATE"}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if total != 2 || len(events) != 2 || !events[0].CreatedAt.After(events[1].CreatedAt) {
			t.Fatalf("CREATE events newest first: total=%d %+v", total, events)
		}
		events, _, _ = s.ListAudit(ctx, org.ID, store.AuditFilter{From: base.Add(30 * time.Second)}, store.Page{})
		if len(events) != 2 {
			t.Fatalf("events since base+30s = %d, want 2", len(events))
		}
	})
}

func TestApprovalsAndNotifications(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		org, user := seed(t, s, "acme")
		other, _ := seed(t, s, "other")

		if _, err := s.GetApprovalPolicy(ctx, org.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("no policy yet: %v", err)
		}
		for _, ops := range []string{"deploy", "deploy,delete"} {
			if err := s.PutApprovalPolicy(ctx, &store.ApprovalPolicy{OrgID: org.ID, Operations: ops, ApproverRoles: "admin", ExpiresIn: 72 * time.Hour}); err != nil {
				t.Fatal(err)
			}
		}
		if p, err := s.GetApprovalPolicy(ctx, org.ID); err != nil || p.Operations != "deploy,delete" || p.ExpiresIn != 72*time.Hour {
			t.Fatalf("policy %+v %v", p, err)
		}
		if _, err := s.GetApprovalPolicy(ctx, other.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("policy leaked to another org: %v", err)
		}

		req := &store.ApprovalRequest{ID: "acme.prod.deploy.1", OrgID: org.ID, ClusterID: "c", ClusterName: "prod",
			OperationType: "deploy", Status: store.ApprovalPending, ExpiresAt: time.Now().Add(time.Hour)}
		if err := s.CreateApprovalRequest(ctx, req); err != nil {
			t.Fatal(err)
		}
		again := *req
		again.Approvers = "changed"
		if err := s.CreateApprovalRequest(ctx, &again); err != nil {
			t.Fatalf("retried create: %v", err)
		}
		now := time.Now().UTC()
		if err := s.DecideApprovalRequest(ctx, org.ID, req.ID, store.ApprovalApproved, user.Email, now); err != nil {
			t.Fatal(err)
		}
		if err := s.DecideApprovalRequest(ctx, org.ID, req.ID, store.ApprovalRejected, "late", now); err != nil {
			t.Fatal(err)
		}
		got, _ := s.GetApprovalRequest(ctx, org.ID, req.ID)
		if got.Status != store.ApprovalApproved || got.DecidedBy != user.Email || got.Approvers != "" {
			t.Fatalf("request %+v", got)
		}
		if _, err := s.GetApprovalRequest(ctx, other.ID, req.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("request seen from another org: %v", err)
		}

		if err := s.UseToken(ctx, org.ID, "nonce-1", "approval", now); err != nil {
			t.Fatal(err)
		}
		if err := s.UseToken(ctx, org.ID, "nonce-1", "approval", now); !errors.Is(err, store.ErrTokenUsed) {
			t.Fatalf("second use: %v", err)
		}

		admins, err := s.MembersWithRoles(ctx, org.ID, []string{store.RoleAdmin})
		if err != nil || len(admins) != 1 || admins[0].ID != user.ID {
			t.Fatalf("admins %+v %v", admins, err)
		}

		for _, enabled := range []bool{true, false} {
			if err := s.PutIntegration(ctx, &store.NotificationIntegration{OrgID: org.ID, Channel: "slack", Enabled: enabled, SealedConfig: "v1:x"}); err != nil {
				t.Fatal(err)
			}
		}
		ins, _ := s.ListIntegrations(ctx, org.ID)
		if len(ins) != 1 || ins[0].Enabled {
			t.Fatalf("integrations %+v", ins)
		}
		if err := s.DeleteIntegration(ctx, other.ID, "slack"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete from another org: %v", err)
		}
		if err := s.DeleteIntegration(ctx, org.ID, "slack"); err != nil {
			t.Fatal(err)
		}
		if err := s.PutSubscription(ctx, &store.NotificationSubscription{OrgID: org.ID, Topic: "cluster.failed", Channels: "email,slack", Enabled: true}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutSubscription(ctx, &store.NotificationSubscription{OrgID: org.ID, Topic: "cluster.failed", Channels: "email", Enabled: true}); err != nil {
			t.Fatal(err)
		}
		sub, err := s.GetSubscription(ctx, org.ID, "cluster.failed")
		if err != nil || sub.Channels != "email" {
			t.Fatalf("subscription %+v %v", sub, err)
		}
		if subs, _ := s.ListSubscriptions(ctx, other.ID); len(subs) != 0 {
			t.Fatalf("subscriptions leaked: %+v", subs)
		}
		if err := s.DeleteSubscription(ctx, org.ID, "cluster.failed"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteSubscription(ctx, org.ID, "cluster.failed"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	})
}

// TestConcurrentOpensMigrateSafely opens the same fresh database from several stores
// at once, as the API and the worker do when they start together.
func TestConcurrentOpensMigrateSafely(t *testing.T) {
	urls := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "astro.db") },
		"postgres": func(t *testing.T) string { return testpg.Require(t).NewDatabase(t) },
	}
	for name, url := range urls {
		t.Run(name, func(t *testing.T) {
			u := url(t)
			errs := make(chan error, 4)
			for range 4 {
				go func() {
					s, err := store.Open(context.Background(), u, nil)
					if err == nil {
						err = s.Close()
					}
					errs <- err
				}()
			}
			for range 4 {
				if err := <-errs; err != nil {
					t.Fatalf("concurrent open: %v", err)
				}
			}
		})
	}
}

func TestOpenCreatesTheSQLiteDirectory(t *testing.T) {
	s := open(t, "sqlite://"+filepath.Join(t.TempDir(), "nested", "dir", "astro.db"))
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// checked(v, err)(t) fails the test on a non-nil error, else returns v: a failed read
// must never pass for an empty or zero answer.
func checked[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// CreateDeploy writes the cluster, its deploy and the audit event all or none (on
// PostgreSQL one pipelined batch, one implicit transaction): an operation refused
// for its idempotency key leaves neither the cluster nor the event behind.
func TestCreateDeployIsAllOrNone(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		org, user := seed(t, s, "acme")
		deploy := func(name, key string) (*store.Cluster, *store.Operation, *store.AuditEvent, error) {
			c := &store.Cluster{ID: store.NewID(), OrgID: org.ID, Name: name, Provider: "aws", ProvisionerType: "eks", Status: store.ClusterPending, Spec: []byte(`{"a":1}`)}
			op := &store.Operation{ID: store.NewID(), Type: "deploy", Status: store.OperationRunning, WorkflowID: "wf-" + name, IdempotencyKey: key, CreatedBy: user.ID}
			ev := &store.AuditEvent{OrgID: org.ID, UserID: user.ID, EventType: "CLUSTER", Action: "CREATE", ResourceID: op.ID, Outcome: store.OutcomeSuccess}
			return c, op, ev, s.CreateDeploy(ctx, c, op, ev)
		}
		c, op, ev, err := deploy("first", "k1")
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.GetCluster(ctx, org.ID, "first")
		if err != nil || got.ID != c.ID || string(got.Spec) != `{"a":1}` || got.CreatedAt.IsZero() {
			t.Fatalf("cluster = %+v, %v", got, err)
		}
		if o, err := s.GetOperation(ctx, org.ID, op.ID); err != nil || o.ClusterID != c.ID || o.ClusterName != "first" || o.IdempotencyKey != "k1" {
			t.Fatalf("operation = %+v, %v", o, err)
		}
		if ev.ID == "" {
			t.Fatal("the event got no ID")
		}
		// The same idempotency key: the operation's insert fails after the cluster's.
		if _, _, _, err := deploy("second", "k1"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("reused key: %v, want ErrConflict", err)
		}
		if _, err := s.GetCluster(ctx, org.ID, "second"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the refused deploy left its cluster: %v", err)
		}
		// A live name: the cluster's insert fails first.
		if _, _, _, err := deploy("first", "k3"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("taken name: %v, want ErrConflict", err)
		}
		events, n, err := s.ListAudit(ctx, org.ID, store.AuditFilter{EventType: "CLUSTER"}, store.Page{Number: 1, Size: 10})
		if err != nil || n != 1 || len(events) != 1 || events[0].ID != ev.ID {
			t.Fatalf("audit events = %d %+v %v, want only the first deploy's", n, events, err)
		}
		// Inside a transaction it joins it: rolled back with it.
		rollback := errors.New("roll back")
		err = s.InTx(ctx, func(tx *store.Store) error {
			c := &store.Cluster{ID: store.NewID(), OrgID: org.ID, Name: "inside", Provider: "aws", ProvisionerType: "eks", Status: store.ClusterPending}
			op := &store.Operation{ID: store.NewID(), Type: "deploy", Status: store.OperationRunning, WorkflowID: "wf-inside"}
			if err := tx.CreateDeploy(ctx, c, op, &store.AuditEvent{OrgID: org.ID, EventType: "CLUSTER", Action: "CREATE", Outcome: store.OutcomeSuccess}); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatalf("InTx: %v", err)
		}
		if _, err := s.GetCluster(ctx, org.ID, "inside"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a deploy inside a rolled-back transaction stayed: %v", err)
		}
	})
}
