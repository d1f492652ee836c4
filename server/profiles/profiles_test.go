package profiles_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/server/profiles"
	"github.com/astropulse/astroplane/store"
)

// A profile applications use is never deleted: delete answers 409 naming them, and
// bulk delete skips it with the reason and the applications, deleting the rest. The
// users come from Deps.Users here; server/profiles_test.go checks the same through
// the router with applications recorded in the store.
func TestProfileInUseIsKept(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "astro.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	org := store.Organization{ID: store.NewID(), Name: "acme"}
	if err := st.CreateOrganization(ctx, &org); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"used", "free"} {
		if err := st.CreateAppProfile(ctx, &store.AppProfile{OrgID: org.ID, Name: name, AvailabilityTier: "basic"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateAppProfile(ctx, &store.AppProfile{OrgID: org.ID, Name: "used"}); err == nil {
		t.Fatal("a second profile of the same name was stored")
	}
	users := func(_ context.Context, orgID, profile string) ([]string, error) {
		if orgID == org.ID && profile == "used" {
			return []string{"hello-world", "api"}, nil
		}
		return []string{}, nil
	}
	srv := profiles.NewServer(profiles.Deps{Store: st, Users: users})
	e := echo.New()
	e.HTTPErrorHandler = httpx.ErrorHandler(slog.New(slog.DiscardHandler))
	as := func(h echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			httpx.SetPrincipal(c, httpx.Principal{OrgID: org.ID, Role: store.RoleAdmin})
			if raw, _ := io.ReadAll(c.Request().Body); len(raw) > 0 {
				httpx.SetBody(c, raw)
			}
			return h(c)
		}
	}
	e.DELETE("/p/:id", as(func(c echo.Context) error {
		return srv.DeleteApplicationProfile(c, c.Param("id"), api.DeleteApplicationProfileParams{})
	}))
	e.POST("/bulk", as(func(c echo.Context) error {
		return srv.BulkDeleteApplicationProfiles(c, api.BulkDeleteApplicationProfilesParams{})
	}))
	e.GET("/p/:id", as(func(c echo.Context) error {
		return srv.GetApplicationProfile(c, c.Param("id"), api.GetApplicationProfileParams{})
	}))
	do := func(method, path, body string) (int, map[string]any) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}

	code, body := do(http.MethodGet, "/p/used", "")
	if d, _ := body["data"].(map[string]any); code != http.StatusOK || d["applicationCount"] != 2.0 {
		t.Fatalf("get: %d %v", code, body)
	}
	code, body = do(http.MethodDelete, "/p/used", "")
	details, _ := body["details"].(map[string]any)
	if code != http.StatusConflict || details["path.profileId"] == nil || len(details["applications"].([]any)) != 2 {
		t.Fatalf("delete in use: %d %v", code, body)
	}
	code, body = do(http.MethodPost, "/bulk", `{"profileNames":["used","free","gone"]}`)
	d, _ := body["data"].(map[string]any)
	skipped, _ := d["skipped"].([]any)
	if code != http.StatusOK || len(skipped) != 1 || !slices.Equal(toStrings(d["deleted"]), []string{"free"}) || !slices.Equal(toStrings(d["notFound"]), []string{"gone"}) {
		t.Fatalf("bulk: %d %v", code, body)
	}
	s := skipped[0].(map[string]any)
	if s["profileName"] != "used" || !strings.Contains(s["reason"].(string), "in use by 2 applications") || len(s["applications"].([]any)) != 2 {
		t.Fatalf("skipped: %v", s)
	}
	if _, err := st.GetAppProfile(ctx, org.ID, "used"); err != nil {
		t.Fatalf("the profile in use is gone: %v", err)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
