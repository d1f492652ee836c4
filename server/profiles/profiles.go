// Package profiles serves the reference's ApplicationProfile group: create, list,
// get, delete and bulk delete of the profiles that place an organization's
// applications. Every answer carries the cluster the profile resolves to now and why
// (apps/placement), or why none fits. A profile that applications use is never
// deleted: delete refuses it (409) and bulk delete skips it, saying which
// applications use it.
package profiles

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/astropulse/astroplane/apps/placement"
	apptiers "github.com/astropulse/astroplane/apps/tiers"
	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/plans"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// UsersFunc returns the names of orgID's applications that use the profile named
// profile (none: empty).
type UsersFunc func(ctx context.Context, orgID, profile string) ([]string, error)

// Deps are what the profile handlers use.
type Deps struct {
	Store *store.Store
	// Users says which applications use a profile; nil: Store.AppProfileUsers.
	Users UsersFunc
}

// Server answers the application profile operations.
type Server struct {
	store *store.Store
	users UsersFunc
}

// NewServer returns the ApplicationProfile group using d.
func NewServer(d Deps) *Server {
	s := &Server{store: d.Store, users: d.Users}
	if s.users == nil {
		s.users = d.Store.AppProfileUsers
	}
	return s
}

// CreateApplicationProfile records a profile from an ApplicationProfile manifest or
// its flat spec. Beyond the schema: a resource minimum above its maximum and a region
// the provider does not have are 400, a tier the plan lacks is 403 PLAN_REQUIRED, a
// cluster name the organization does not have is 422, a taken name 409 — each naming
// the field. A placement no READY cluster fits now is accepted and answered with
// placementError: clusters come and go, and every deploy resolves it again.
func (s *Server) CreateApplicationProfile(c echo.Context, _ api.CreateApplicationProfileParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	spec, prefix, err := bindSpec(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	row := store.AppProfile{ID: store.NewID(), OrgID: p.OrgID, Name: spec.ProfileName, AvailabilityTier: apptiers.Default}
	if spec.AvailabilityTier != nil {
		row.AvailabilityTier = string(*spec.AvailabilityTier)
	}
	if spec.ClusterName != nil {
		row.ClusterName = *spec.ClusterName
	}
	faults := map[string]any{}
	if cp := spec.CloudProvider; cp != nil {
		row.Provider = string(cp.Provider)
		if cp.Region != nil {
			row.Region = *cp.Region
			if _, ok := catalog.Region(row.Provider, row.Region); !ok {
				faults[prefix+"cloudProvider.region"] = fmt.Sprintf("%s has no region %q", row.Provider, row.Region)
			}
		}
	}
	if r := spec.Resources; r != nil {
		checkRange(faults, prefix+"resources.cpu", r.Cpu)
		checkRange(faults, prefix+"resources.memory", r.Memory)
		if row.Resources, err = json.Marshal(r); err != nil {
			return err
		}
	}
	if len(faults) > 0 {
		return httpx.ValidationFailed(faults)
	}
	org, err := s.store.GetOrganization(ctx, p.OrgID)
	if err != nil {
		return err
	}
	if t, _ := apptiers.Get(row.AvailabilityTier); !t.AvailableOn(org.Plan) {
		return &httpx.APIError{Status: http.StatusForbidden, Code: httpx.CodePlanRequired,
			Message: fmt.Sprintf("the %s availability tier needs the %s plan; organization %s is on %s", t.ID, t.RequiredPlan, org.Name, plans.Of(org.Plan).ID),
			Details: map[string]any{prefix + "availabilityTier": "needs the " + t.RequiredPlan + " plan", "plan": plans.Of(org.Plan).ID, "requiredPlan": t.RequiredPlan}}
	}
	if row.ClusterName != "" {
		if _, err := s.store.GetCluster(ctx, p.OrgID, row.ClusterName); errors.Is(err, store.ErrNotFound) {
			return &httpx.APIError{Status: http.StatusUnprocessableEntity, Code: httpx.CodeUnprocessable,
				Message: fmt.Sprintf("the organization has no cluster named %q", row.ClusterName),
				Details: map[string]any{prefix + "clusterName": "no such cluster in the organization"}}
		} else if err != nil {
			return err
		}
	}
	if err := s.store.CreateAppProfile(ctx, &row); errors.Is(err, store.ErrConflict) {
		return httpx.Conflict(fmt.Sprintf("a profile named %q already exists", row.Name),
			map[string]any{prefix + "profileName": "taken in the organization"})
	} else if err != nil {
		return err
	}
	v, err := s.view(ctx, row)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, httpx.Envelope{Data: v, ID: httpx.TraceID(c), Message: "profile " + row.Name + " created", Status: "success"})
}

// ListApplicationProfiles lists the organization's profiles by name.
func (s *Server) ListApplicationProfiles(c echo.Context, _ api.ListApplicationProfilesParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	rows, err := s.store.ListAppProfiles(ctx, p.OrgID)
	if err != nil {
		return err
	}
	clusters, err := s.clusters(ctx, p.OrgID)
	if err != nil {
		return err
	}
	out := make([]api.ApplicationProfile, 0, len(rows))
	for _, r := range rows {
		v, err := s.viewWith(ctx, r, clusters)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	return httpx.OK(c, out, httpx.Count(len(out), "profile", "profiles"))
}

// GetApplicationProfile returns one profile, by ID or name.
func (s *Server) GetApplicationProfile(c echo.Context, profileID string, _ api.GetApplicationProfileParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	row, err := s.get(c.Request().Context(), p.OrgID, profileID)
	if err != nil {
		return err
	}
	v, err := s.view(c.Request().Context(), row)
	if err != nil {
		return err
	}
	return httpx.OK(c, v, "profile "+row.Name)
}

// DeleteApplicationProfile removes a profile no application uses, answering it as it
// was; one in use is 409 naming the applications.
func (s *Server) DeleteApplicationProfile(c echo.Context, profileID string, _ api.DeleteApplicationProfileParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	row, err := s.get(ctx, p.OrgID, profileID)
	if err != nil {
		return err
	}
	v, err := s.view(ctx, row)
	if err != nil {
		return err
	}
	users, err := s.users(ctx, p.OrgID, row.Name)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return httpx.Conflict(fmt.Sprintf("profile %q is in use by %s; delete or move them first", row.Name, httpx.Count(len(users), "application", "applications")),
			map[string]any{"path.profileId": "in use", "applications": users})
	}
	users, err = s.store.DeleteUnusedAppProfile(ctx, p.OrgID, row.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return httpx.NotFound("profile " + profileID)
	case errors.Is(err, store.ErrConflict): // an application came meanwhile
		return httpx.Conflict(fmt.Sprintf("profile %q is in use by %s; delete or move them first", row.Name, httpx.Count(len(users), "application", "applications")),
			map[string]any{"path.profileId": "in use", "applications": users})
	case err != nil:
		return err
	}
	return httpx.OK(c, v, "profile "+row.Name+" deleted")
}

// BulkDeleteApplicationProfiles deletes the named profiles no application uses,
// reporting each name as deleted, skipped (in use: why and by which applications)
// or not found. A name listed twice counts once.
func (s *Server) BulkDeleteApplicationProfiles(c echo.Context, _ api.BulkDeleteApplicationProfilesParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	var req api.ApplicationProfileBulkDeleteRequest
	if err := httpx.BindBody(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	out := api.ApplicationProfileBulkDeleteResult{Deleted: []string{}, NotFound: []string{}, Skipped: []skipped{}}
	seen := map[string]bool{}
	for _, name := range req.ProfileNames {
		if seen[name] {
			continue
		}
		seen[name] = true
		row, err := s.store.GetAppProfile(ctx, p.OrgID, name)
		if errors.Is(err, store.ErrNotFound) || (err == nil && row.Name != name) {
			out.NotFound = append(out.NotFound, name) // names only: an ID that matches is not a name
			continue
		} else if err != nil {
			return err
		}
		users, err := s.users(ctx, p.OrgID, row.Name)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			apps := users
			out.Skipped = append(out.Skipped, skipped{Applications: &apps, ProfileName: name, Reason: "in use by " + httpx.Count(len(users), "application", "applications")})
			continue
		}
		users, err = s.store.DeleteUnusedAppProfile(ctx, p.OrgID, row.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			out.NotFound = append(out.NotFound, name) // deleted meanwhile
		case errors.Is(err, store.ErrConflict): // an application came meanwhile
			apps := users
			out.Skipped = append(out.Skipped, skipped{Applications: &apps, ProfileName: name, Reason: "in use by " + httpx.Count(len(users), "application", "applications")})
		case err != nil:
			return err
		default:
			out.Deleted = append(out.Deleted, name)
		}
	}
	return httpx.OK(c, out, fmt.Sprintf("%d deleted, %d skipped, %d not found", len(out.Deleted), len(out.Skipped), len(out.NotFound)))
}

// skipped is an entry of ApplicationProfileBulkDeleteResult.Skipped (an anonymous
// struct in the generated code).
type skipped = struct {
	Applications *[]string `json:"applications,omitempty"`
	ProfileName  string    `json:"profileName"`
	Reason       string    `json:"reason"`
}

func (s *Server) get(ctx context.Context, orgID, ref string) (store.AppProfile, error) {
	row, err := s.store.GetAppProfile(ctx, orgID, ref)
	if errors.Is(err, store.ErrNotFound) {
		return row, httpx.NotFound("profile " + ref)
	}
	return row, err
}

// bindSpec reads the body as a manifest (spec under "spec") or a flat spec, and
// returns the spec and the prefix of its fields' paths in error details.
func bindSpec(c echo.Context) (api.ApplicationProfileSpec, string, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(httpx.Body(c), &probe); err != nil {
		return api.ApplicationProfileSpec{}, "", httpx.BadRequest("request body is not a JSON object", map[string]any{"body": err.Error()})
	}
	if _, ok := probe["spec"]; ok {
		var m api.ApplicationProfileManifest
		if err := decodeStrict(httpx.Body(c), &m); err != nil {
			return m.Spec, "", err
		}
		return m.Spec, "spec.", nil
	}
	var spec api.ApplicationProfileSpec
	err := decodeStrict(httpx.Body(c), &spec)
	return spec, "", err
}

func decodeStrict(raw []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return httpx.BadRequest("request body does not fit the operation", map[string]any{"body": err.Error()})
	}
	return nil
}

// checkRange reports a range whose quantities do not parse or whose minimum exceeds
// its maximum.
func checkRange(faults map[string]any, field string, r *api.ApplicationProfileResourceRange) {
	if r == nil {
		return
	}
	var lo, hi *resource.Quantity
	for _, q := range []struct {
		name string
		v    *string
		dst  **resource.Quantity
	}{{"minimum", r.Minimum, &lo}, {"maximum", r.Maximum, &hi}} {
		if q.v == nil {
			continue
		}
		v, err := resource.ParseQuantity(*q.v)
		if err != nil {
			faults[field+"."+q.name] = fmt.Sprintf("%q is not a Kubernetes quantity", *q.v)
			continue
		}
		*q.dst = &v
	}
	if lo != nil && hi != nil && lo.Cmp(*hi) > 0 {
		faults[field+".minimum"] = fmt.Sprintf("%s exceeds the maximum %s", lo, hi)
	}
}

// clusters are orgID's live clusters as placement sees them.
func (s *Server) clusters(ctx context.Context, orgID string) ([]placement.Cluster, error) {
	return placement.Candidates(ctx, s.store, orgID)
}

func (s *Server) view(ctx context.Context, row store.AppProfile) (api.ApplicationProfile, error) {
	clusters, err := s.clusters(ctx, row.OrgID)
	if err != nil {
		return api.ApplicationProfile{}, err
	}
	return s.viewWith(ctx, row, clusters)
}

// Want is the placement a stored profile asks for.
func Want(row store.AppProfile) placement.Want {
	return placement.Want{ClusterName: row.ClusterName, Provider: row.Provider, Region: row.Region}
}

// viewWith is row as the API answers it, resolved against clusters.
func (s *Server) viewWith(ctx context.Context, row store.AppProfile, clusters []placement.Cluster) (api.ApplicationProfile, error) {
	users, err := s.users(ctx, row.OrgID, row.Name)
	if err != nil {
		return api.ApplicationProfile{}, err
	}
	want := Want(row)
	count, updated := len(users), row.UpdatedAt
	v := api.ApplicationProfile{Id: row.ID, ProfileName: row.Name, OrgId: row.OrgID,
		AvailabilityTier: api.ApplicationProfileAvailabilityTier(row.AvailabilityTier),
		Placement:        api.ApplicationProfilePlacement(want.Strategy()),
		ApplicationCount: &count, CreatedAt: row.CreatedAt, UpdatedAt: &updated}
	if row.ClusterName != "" {
		v.ClusterName = &row.ClusterName
	}
	if row.Provider != "" {
		cp := api.ApplicationProfileCloudProvider{Provider: api.ApplicationProfileCloudProviderProvider(row.Provider)}
		if row.Region != "" {
			cp.Region = &row.Region
		}
		v.CloudProvider = &cp
	}
	if row.Resources != nil {
		var r api.ApplicationProfileResources
		if err := json.Unmarshal(row.Resources, &r); err != nil {
			return v, fmt.Errorf("profile %s resources: %w", row.ID, err)
		}
		v.Resources = &r
	}
	// A placement no cluster fits is not the read's failure: the answer says why.
	if choice, err := placement.Resolve(want, clusters); err != nil {
		msg := err.Error()
		v.PlacementError = &msg
	} else {
		cl := choice.Cluster
		v.ResolvedCluster = &struct {
			Id       string  `json:"id"`
			Name     string  `json:"name"`
			Provider *string `json:"provider,omitempty"`
			Reason   string  `json:"reason"`
			Region   *string `json:"region,omitempty"`
		}{Id: cl.ID, Name: cl.Name, Provider: &cl.Provider, Reason: choice.Reason, Region: &cl.Region}
	}
	return v, nil
}
