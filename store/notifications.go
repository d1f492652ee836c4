package store

import (
	"context"
	"time"

	"gorm.io/gorm/clause"
)

// NotificationIntegration is an organization's delivery channel (email, slack).
// SealedConfig is the channel's configuration as JSON, sealed (encrypted) by the
// caller: it holds webhook URLs and SMTP passwords.
type NotificationIntegration struct {
	OrgID        string `gorm:"primaryKey;size:36"`
	Channel      string `gorm:"primaryKey;size:20"`
	Enabled      bool
	SealedConfig string `gorm:"type:text;not null"`
	UpdatedBy    string `gorm:"size:36"`
	CreatedAt    time.Time
	UpdatedAt    time.Time

	Org Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
}

// NotificationSubscription routes one topic of an organization to channels.
type NotificationSubscription struct {
	OrgID     string `gorm:"primaryKey;size:36"`
	Topic     string `gorm:"primaryKey;size:100"`
	Channels  string `gorm:"size:100;not null"` // comma-separated
	Enabled   bool
	CreatedAt time.Time
	UpdatedAt time.Time

	Org Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
}

// PutIntegration creates or replaces orgID's integration for its channel.
func (s *Store) PutIntegration(ctx context.Context, in *NotificationIntegration) error {
	return translate(s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "org_id"}, {Name: "channel"}},
		DoUpdates: clause.AssignmentColumns([]string{"enabled", "sealed_config", "updated_by", "updated_at"}),
	}).Create(in).Error)
}

// GetIntegration returns orgID's integration for channel.
func (s *Store) GetIntegration(ctx context.Context, orgID, channel string) (NotificationIntegration, error) {
	var in NotificationIntegration
	err := s.db.WithContext(ctx).Where("org_id = ? AND channel = ?", orgID, channel).Take(&in).Error
	return in, translate(err)
}

// ListIntegrations returns orgID's integrations by channel.
func (s *Store) ListIntegrations(ctx context.Context, orgID string) ([]NotificationIntegration, error) {
	out := []NotificationIntegration{}
	err := s.db.WithContext(ctx).Where("org_id = ?", orgID).Order("channel").Find(&out).Error
	return out, translate(err)
}

// DeleteIntegration removes orgID's integration for channel.
func (s *Store) DeleteIntegration(ctx context.Context, orgID, channel string) error {
	res := s.db.WithContext(ctx).Where("org_id = ? AND channel = ?", orgID, channel).Delete(&NotificationIntegration{})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// PutSubscription creates or replaces orgID's subscription to its topic.
func (s *Store) PutSubscription(ctx context.Context, sub *NotificationSubscription) error {
	return translate(s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "org_id"}, {Name: "topic"}},
		DoUpdates: clause.AssignmentColumns([]string{"channels", "enabled", "updated_at"}),
	}).Create(sub).Error)
}

// GetSubscription returns orgID's subscription to topic.
func (s *Store) GetSubscription(ctx context.Context, orgID, topic string) (NotificationSubscription, error) {
	var sub NotificationSubscription
	err := s.db.WithContext(ctx).Where("org_id = ? AND topic = ?", orgID, topic).Take(&sub).Error
	return sub, translate(err)
}

// ListSubscriptions returns orgID's subscriptions by topic.
func (s *Store) ListSubscriptions(ctx context.Context, orgID string) ([]NotificationSubscription, error) {
	out := []NotificationSubscription{}
	err := s.db.WithContext(ctx).Where("org_id = ?", orgID).Order("topic").Find(&out).Error
	return out, translate(err)
}

// DeleteSubscription removes orgID's subscription to topic.
func (s *Store) DeleteSubscription(ctx context.Context, orgID, topic string) error {
	res := s.db.WithContext(ctx).Where("org_id = ? AND topic = ?", orgID, topic).Delete(&NotificationSubscription{})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// NotificationOptOut records that one recipient of an organization's channel no
// longer wants one topic: deliveries of that topic skip that recipient only.
type NotificationOptOut struct {
	OrgID     string `gorm:"primaryKey;size:36"`
	Channel   string `gorm:"primaryKey;size:20"`
	Topic     string `gorm:"primaryKey;size:100"`
	Recipient string `gorm:"primaryKey;size:320"` // an e-mail address, lower-cased
	CreatedAt time.Time

	Org Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
}

// AddOptOut records that recipient opted out of topic on orgID's channel.
// Opting out twice keeps the first record.
func (s *Store) AddOptOut(ctx context.Context, o *NotificationOptOut) error {
	return translate(s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(o).Error)
}

// OptedOut returns the recipients who opted out of topic on orgID's channel.
func (s *Store) OptedOut(ctx context.Context, orgID, channel, topic string) ([]string, error) {
	var out []string
	err := s.db.WithContext(ctx).Model(&NotificationOptOut{}).
		Where("org_id = ? AND channel = ? AND topic = ?", orgID, channel, topic).
		Order("recipient").Pluck("recipient", &out).Error
	return out, translate(err)
}
