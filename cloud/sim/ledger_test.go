package sim_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
)

var ledgerSpec = cloud.ClusterSpec{Name: "prod", Provider: "aws", Region: "us-east-1", AccountID: "123456789012", KubernetesVersion: "1.31",
	Account:    cloud.AccountRef{OrgID: "org"},
	NodeGroups: []cloud.NodeGroupSpec{{Name: "default-pool", MinNode: 1, MaxNode: 3}}}

// openProvider is a simulated cloud on the ledger file at path, as a worker with
// ASTRO_SIM_LEDGER=path has.
func openProvider(t *testing.T, path string, ignoreTokens bool) *sim.Provider {
	t.Helper()
	l, err := sim.OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return &sim.Provider{Ledger: l, IgnoreTokens: ignoreTokens}
}

// deploy creates a network, a control plane and a node group with op's tokens.
func deploy(t *testing.T, p *sim.Provider, op string) cloud.ClusterRef {
	t.Helper()
	ctx := context.Background()
	net, err := p.CreateNetwork(ctx, cloud.Call{Token: op + "-network"}, ledgerSpec)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := p.CreateControlPlane(ctx, cloud.Call{Token: op + "-control-plane"}, ledgerSpec, net)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CreateNodeGroup(ctx, cloud.Call{Token: op + "-node-groups-default-pool"}, ref, ledgerSpec.NodeGroups[0]); err != nil {
		t.Fatal(err)
	}
	if err := p.UpgradeControlPlane(ctx, cloud.Call{Token: op + "-upgrade"}, ref, "1.32"); err != nil {
		t.Fatal(err)
	}
	return ref
}

// A worker killed in the middle of a deploy leaves what the cloud accepted in the
// ledger file; the next worker's retries, with the same tokens, find it there and
// make nothing twice.
func TestLedgerFileMakesRetriesIdempotentAcrossWorkers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	first := openProvider(t, path, false)
	ref1 := deploy(t, first, "op1")
	second := openProvider(t, path, false) // the worker after the kill
	ref2 := deploy(t, second, "op1")
	if ref1.ExternalID != ref2.ExternalID || !ref1.CreatedAt.Equal(ref2.CreatedAt) {
		t.Fatalf("retried control plane create: %+v, then %+v", ref1, ref2)
	}
	a, err := sim.AuditLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Resources) != 3 || len(a.Duplicates) != 0 || len(a.Changes) != 1 || len(a.Repeated) != 0 {
		t.Fatalf("audit after a retried deploy: %+v", a)
	}

	// Deleting by reference (or, without one, by the create's token) removes them.
	ctx := context.Background()
	if err := second.DeleteNodeGroup(ctx, cloud.Call{}, ref1, "default-pool"); err != nil {
		t.Fatal(err)
	}
	if err := first.DeleteControlPlane(ctx, cloud.Call{Token: "op1-control-plane"}, cloud.ClusterRef{}); err != nil {
		t.Fatal(err)
	}
	if err := second.DeleteNetwork(ctx, cloud.Call{Token: "op1-network"}, cloud.NetworkRef{}); err != nil {
		t.Fatal(err)
	}
	if a, err = sim.AuditLedger(path); err != nil || len(a.Live()) != 0 {
		t.Fatalf("live after deletes: %+v (%v)", a.Live(), err)
	}
	// A new deploy of the same cluster after the delete is no duplicate.
	deploy(t, first, "op2")
	if a, err = sim.AuditLedger(path); err != nil || len(a.Live()) != 3 || len(a.Duplicates) != 0 {
		t.Fatalf("redeploy: live %+v, duplicates %+v (%v)", a.Live(), a.Duplicates, err)
	}
}

// A cloud without idempotency makes a second of everything a retry asks for again,
// and the audit finds each pair and the change applied twice.
func TestLedgerAuditFindsWhatACloudWithoutIdempotencyDuplicates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	deploy(t, openProvider(t, path, true), "op1")
	deploy(t, openProvider(t, path, true), "op1")
	a, err := sim.AuditLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Duplicates) != 2 { // the network and the control plane; the node groups hang off different control planes
		t.Fatalf("duplicates %+v", a.Duplicates)
	}
	for _, d := range a.Duplicates {
		if len(d) != 2 || d[0].Name != "prod" || d[0].ID == d[1].ID || d[0].Kind != d[1].Kind {
			t.Errorf("duplicate group %+v", d)
		}
	}
	if a.Repeated["op1-upgrade"] != 2 {
		t.Errorf("repeated changes %v", a.Repeated)
	}
}

// The ledger file tolerates a line a killed writer left unfinished and refuses a
// corrupt one.
func TestLedgerFileReading(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.jsonl")
	deploy(t, openProvider(t, path, false), "op1")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"op":"create","resource":{"kind":"net`)
	_ = f.Close()
	if a, err := sim.AuditLedger(path); err != nil || len(a.Resources) != 3 {
		t.Fatalf("ledger with a cut line: %d resources, %v", len(a.Resources), err)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte("not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.AuditLedger(bad); err == nil {
		t.Fatal("a corrupt ledger was read")
	}
	if _, err := sim.AuditLedger(filepath.Join(dir, "missing.jsonl")); err == nil {
		t.Fatal("a missing ledger was audited")
	}
}

// Duplicates are resources that existed at the same time, however they ended.
func TestLedgerOverlapIsADuplicate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	p := openProvider(t, path, true)
	ctx := context.Background()
	n1, _ := p.CreateNetwork(ctx, cloud.Call{Token: "a"}, ledgerSpec)
	n2, _ := p.CreateNetwork(ctx, cloud.Call{Token: "a"}, ledgerSpec)
	for _, n := range []cloud.NetworkRef{n1, n2} {
		if err := p.DeleteNetwork(ctx, cloud.Call{}, n); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Millisecond)
	if _, err := p.CreateNetwork(ctx, cloud.Call{Token: "b"}, ledgerSpec); err != nil {
		t.Fatal(err)
	}
	a, err := sim.AuditLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Duplicates) != 1 || len(a.Duplicates[0]) != 2 || a.Duplicates[0][0].ID != n1.ID || a.Duplicates[0][1].ID != n2.ID {
		t.Fatalf("duplicates %+v", a.Duplicates)
	}
}
