package placement

import (
	"context"

	"github.com/astropulse/astroplane/store"
)

// Candidates are orgID's live clusters as placement sees them, with how many
// applications each runs.
func Candidates(ctx context.Context, st *store.Store, orgID string) ([]Cluster, error) {
	rows, err := st.ListClusters(ctx, orgID, store.ClusterFilter{})
	if err != nil {
		return nil, err
	}
	apps, err := st.ApplicationsPerCluster(ctx, orgID)
	if err != nil {
		return nil, err
	}
	out := make([]Cluster, len(rows))
	for i, c := range rows {
		out[i] = Cluster{ID: c.ID, Name: c.Name, Provider: c.Provider, Region: c.Region, Status: c.Status,
			KubernetesVersion: c.KubernetesVersion, Applications: apps[c.ID]}
	}
	return out, nil
}
