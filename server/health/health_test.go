package health

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// The public readiness probe names what is down, never the error's text (which names
// files, hosts, ports or users).
func TestReadyzTellsNoInternalErrorText(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secret-dir-name")
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(dir, "astro.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Close() // the store now fails every ping
	e := echo.New()
	e.HTTPErrorHandler = httpx.ErrorHandler(slog.New(slog.DiscardHandler))
	s := NewServer(st, nil, nil)
	e.GET("/readyz", s.Readyz)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("readyz %d %s", rec.Code, body)
	}
	for _, leak := range []string{"secret-dir-name", "closed", "sql", "database"} {
		if strings.Contains(body, leak) {
			t.Fatalf("readyz tells %q: %s", leak, body)
		}
	}
	if !strings.Contains(body, `"store":"unavailable"`) || !strings.Contains(body, `"temporal":"not configured"`) {
		t.Fatalf("readyz does not say what is down: %s", body)
	}
}
