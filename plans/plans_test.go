package plans_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/astropulse/astroplane/plans"
)

func TestAllows(t *testing.T) {
	for _, tc := range []struct {
		plan    string
		feature plans.Feature
		want    bool
	}{
		{plans.Enterprise, plans.FeatureAudit, true},
		{plans.Team, plans.FeatureAudit, false},
		{plans.Free, plans.FeatureAudit, false},
		{"", plans.FeatureAudit, false},
		{"ENTERPRISE", plans.FeatureAudit, false}, // IDs are exact; unknown is Free
		{"platinum", plans.FeatureClusters, true},
		{plans.Free, plans.FeatureClusters, true},
		{plans.Free, plans.FeatureApplications, false},
		{plans.Team, plans.FeatureApplications, true},
		{plans.Enterprise, plans.FeatureSSO, true},
		{plans.Team, plans.FeatureSSO, false},
	} {
		t.Run(tc.plan+"/"+string(tc.feature), func(t *testing.T) {
			require.Equal(t, tc.want, plans.Allows(tc.plan, tc.feature))
		})
	}
}

func TestPriceList(t *testing.T) {
	all := plans.All()
	require.Equal(t, plans.Free, all[0].ID, "Free comes first: it is the default")
	ids := map[string]bool{}
	for i, p := range all {
		require.False(t, ids[p.ID], "duplicate plan %s", p.ID)
		ids[p.ID] = true
		require.NotEmpty(t, p.Name)
		require.NotEmpty(t, p.Features)
		if i > 0 {
			prev := all[i-1]
			require.Greater(t, p.MonthlyPrice, prev.MonthlyPrice, "plans are listed cheapest first")
			for _, f := range prev.Features {
				require.True(t, plans.Allows(p.ID, f), "%s loses %s that %s has", p.ID, f, prev.ID)
			}
		}
	}
	for _, id := range []string{plans.Free, plans.Team, plans.Enterprise} {
		_, ok := plans.Get(id)
		require.True(t, ok, id)
	}
	_, ok := plans.Get("nope")
	require.False(t, ok)
	require.Equal(t, plans.Free, plans.Of("nope").ID)
	require.Equal(t, plans.Enterprise, plans.Cheapest(plans.FeatureAudit))
	require.Equal(t, plans.Free, plans.Cheapest(plans.FeatureClusters))
	require.Equal(t, "", plans.Cheapest("teleport"))
	require.NotEmpty(t, plans.Categories())
}

func TestResultsAreCopies(t *testing.T) {
	a := plans.All()
	a[0].Features[0] = "changed"
	a[0].ID = "changed"
	require.Equal(t, plans.Free, plans.All()[0].ID)
	require.Equal(t, plans.FeatureClusters, plans.All()[0].Features[0])
	c := plans.Categories()
	c[0].Items[0].Price = -1
	require.NotEqual(t, -1.0, plans.Categories()[0].Items[0].Price)
}
