package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/server/livecatalog"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// regionsLive is a connected account's live catalog that lists its regions, or
// fails to (a GCP project without compute.regions.list).
type regionsLive struct {
	regionLive
	err error
}

func (r regionsLive) Regions(context.Context) ([]string, error) {
	if r.err != nil {
		return nil, r.err
	}
	return []string{"eu-west-3", "us-east-1", "xx-new-1"}, nil
}

// The region listing of an organization with a connected account answers the
// account's regions (through the worker's LookupCatalog) and says so; when the
// account's listing fails or cannot be had, the built-in catalog answers with a
// note; without a connection, the built-in catalog alone.
func TestRegionListingFromTheLiveCatalog(t *testing.T) {
	dev := testtemporal.Start(t)
	tc := dev.Client()
	var st *store.Store
	var lookups atomic.Int32
	live := livecatalog.New(func(ctx context.Context, orgID string) ([]store.ConnectedAccountRef, error) {
		return st.ConnectedAccounts(ctx, orgID)
	}, startsCounted{Client: tc, n: &lookups}, workflows.TaskQueue)
	live.Wait = 5 * time.Second
	e := newEnvWith(t, tc, server.Options{LiveCatalog: live})
	st = e.store
	w := worker.New(tc, workflows.TaskQueue, worker.Options{})
	workflows.Register(w, workflows.Dependencies{
		Cluster:  &activities.Cluster{Store: st, Clouds: sim.Registry(sim.New(0)), PollInterval: 20 * time.Millisecond},
		Notifier: &activities.Notifier{Store: st},
		Catalog: &activities.Catalog{Live: map[string]activities.LiveFactory{
			"aws": func(context.Context, cloud.AccountRef, cloud.Credentials, string) (catalog.Live, error) {
				return regionsLive{}, nil
			},
			"gcp": func(context.Context, cloud.AccountRef, cloud.Credentials, string) (catalog.Live, error) {
				return regionsLive{err: errors.New("googleapi: Error 403: Required 'compute.regions.list' permission")}, nil
			}}},
	})
	must(t, w.Start())
	t.Cleanup(w.Stop)

	list := func(key, provider string) (ids []string, names map[string]string, msg string) {
		t.Helper()
		a := e.do(http.MethodGet, "/api/v1/providers/"+provider+"/regions", key, nil)
		if a.Status != http.StatusOK {
			t.Fatalf("regions of %s: %d %s", provider, a.Status, a.Body)
		}
		names = map[string]string{}
		for _, it := range listData(t, a) {
			m := it.(map[string]any)
			id := fmt.Sprint(m["id"])
			ids = append(ids, id)
			names[id] = fmt.Sprint(m["name"])
		}
		return ids, names, a.Envelope(t).Message
	}
	table := len(catalog.Regions("aws"))

	// Without a connection: the built-in catalog, its count alone.
	var names map[string]string
	ids, _, msg := list(e.key, "aws")
	if len(ids) != table || msg != fmt.Sprintf("%d regions", table) {
		t.Errorf("unconnected: %d regions, %q; want the built-in %d", len(ids), msg, table)
	}

	orgID, _, key := e.newOrg("initech", store.RoleViewer)
	now := time.Now().UTC()
	for _, c := range []struct{ provider, account string }{{"aws", "123456789012"}, {"gcp", "proj-1"}, {"azure", "00000000-0000-0000-0000-000000000001"}} {
		must(t, st.CreateCloudConnection(context.Background(), &store.CloudConnection{ID: "initech.c.connect-" + c.provider + ".1", OrgID: orgID,
			Provider: c.provider, ClusterName: "c", Level: "read", Status: store.ConnectionConnected, AccountID: c.account, ConnectedAt: &now, EndedAt: &now}))
	}

	// Connected: the account's regions, described from the table where it knows them.
	ids, names, msg = list(key, "aws")
	if strings.Join(ids, ",") != "eu-west-3,us-east-1,xx-new-1" {
		t.Errorf("connected aws regions = %v, want the account's", ids)
	}
	if msg != "3 regions (from the live catalog of aws account 123456789012)" {
		t.Errorf("connected aws message %q", msg)
	}
	if r, _ := catalog.Region("aws", "us-east-1"); names["us-east-1"] != r.Name || names["xx-new-1"] != "xx-new-1" {
		t.Errorf("names %v", names)
	}

	if _, _, again := list(key, "aws"); again != msg || lookups.Load() != 1 {
		t.Errorf("second aws listing %q after %d look-ups, want the API's cached answer", again, lookups.Load())
	}

	// The account's listing fails: the built-in catalog, and why; not kept.
	list(key, "gcp")
	ids, _, msg = list(key, "gcp")
	if lookups.Load() != 3 {
		t.Errorf("%d look-ups, want the failed gcp listing asked again", lookups.Load())
	}
	if len(ids) != len(catalog.Regions("gcp")) || !strings.Contains(msg, "(from the built-in catalog: the live catalog could not answer: ") ||
		!strings.Contains(msg, "compute.regions.list") {
		t.Errorf("failing gcp listing: %d regions, %q", len(ids), msg)
	}
	// The worker has no live catalog of azure: the built-in catalog, with a note.
	ids, _, msg = list(key, "azure")
	if len(ids) != len(catalog.Regions("azure")) || !strings.Contains(msg, "from the built-in catalog") {
		t.Errorf("azure without a live catalog: %d regions, %q", len(ids), msg)
	}
}
