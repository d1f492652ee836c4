package server

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// publishedDocument serves a public document a worker published at the request's
// path (store.PublishedDocument): the platform's Azure identity's OpenID discovery
// document and keys, which Microsoft Entra ID fetches from the issuer URL
// (ASTRO_PUBLIC_URL/oidc/azure by default). Public and cacheable for a few minutes;
// an unknown path is a 404.
func (s *Server) publishedDocument(c echo.Context) error {
	d, err := s.store.GetPublishedDocument(c.Request().Context(), c.Request().URL.Path)
	if errors.Is(err, store.ErrNotFound) {
		return httpx.NotFound("document " + c.Request().URL.Path)
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, d.ContentType, d.Body)
}
