package store

import (
	"context"
	"time"

	"gorm.io/gorm/clause"
)

// PublishedDocument is a public document the API serves as it is at Path, put there by
// a worker: today the OpenID discovery document and key set of the platform's Azure
// identity, which Microsoft Entra ID fetches from the issuer's URL to trust the
// tokens the worker signs. Only public material belongs here.
type PublishedDocument struct {
	Path        string `gorm:"primaryKey;size:200"` // URL path, e.g. /oidc/azure/jwks
	ContentType string `gorm:"size:100;not null"`
	Body        []byte `gorm:"not null"`
	UpdatedAt   time.Time
}

// PutPublishedDocument creates or replaces the document at d.Path.
func (s *Store) PutPublishedDocument(ctx context.Context, d *PublishedDocument) error {
	return translate(s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "path"}},
		DoUpdates: clause.AssignmentColumns([]string{"content_type", "body", "updated_at"}),
	}).Create(d).Error)
}

// GetPublishedDocument returns the document at path; ErrNotFound when none is.
func (s *Store) GetPublishedDocument(ctx context.Context, path string) (PublishedDocument, error) {
	var d PublishedDocument
	err := s.db.WithContext(ctx).Where("path = ?", path).Take(&d).Error
	return d, translate(err)
}
