package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// ClusterAgent is the agent of a registered cluster (docs/registered-clusters.md): its
// one-time registration token (only its SHA-256, TokenHash), the serials of the client
// certificates issued to it (the current one and, during a rotation, the previous
// one), which API replica holds its tunnel, and what it last reported. Tombstoned
// agents (unregistered with agent-only) are refused.
type ClusterAgent struct {
	ClusterID      string `gorm:"primaryKey;size:36"`
	OrgID          string `gorm:"size:36;not null;index"`
	TokenHash      string `gorm:"size:64;not null;uniqueIndex"`
	TokenExpiresAt time.Time
	TokenUsedAt    *time.Time
	Architecture   string `gorm:"size:10;not null"`
	CertSerial     string `gorm:"size:64"`
	PrevSerial     string `gorm:"size:64"`
	CertNotAfter   *time.Time
	// Replica is the API replica holding the tunnel ("" when disconnected).
	Replica           string `gorm:"size:200"`
	ConnectedAt       *time.Time
	LastSeenAt        *time.Time
	AgentVersion      string `gorm:"size:100"`
	KubernetesVersion string `gorm:"size:50"`
	Nodes             int
	Region            string `gorm:"size:50"`
	Healthy           bool
	Message           string `gorm:"size:1000"`
	RegisteredAt      *time.Time
	Tombstoned        bool
	CreatedAt         time.Time
	UpdatedAt         time.Time

	Org Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
}

// ErrTokenRefused is a registration token that is unknown, used or expired.
var ErrTokenRefused = errors.New("registration token refused")

// PutClusterAgent records (or replaces, registering again) orgID's cluster's agent
// with a fresh token hash: certificates issued before are no longer admitted.
func (s *Store) PutClusterAgent(ctx context.Context, a *ClusterAgent) error {
	return translate(s.db.WithContext(ctx).Save(a).Error)
}

// GetClusterAgent returns orgID's cluster's agent.
func (s *Store) GetClusterAgent(ctx context.Context, orgID, clusterID string) (ClusterAgent, error) {
	var a ClusterAgent
	err := s.db.WithContext(ctx).Where("org_id = ? AND cluster_id = ?", orgID, clusterID).Take(&a).Error
	return a, translate(err)
}

// RedeemAgentToken uses a registration token once: it marks the unused, unexpired
// token with that hash used and returns its agent; otherwise ErrTokenRefused. The
// conditional update makes two concurrent redemptions end with one winner.
func (s *Store) RedeemAgentToken(ctx context.Context, hash string, now time.Time) (ClusterAgent, error) {
	res := s.db.WithContext(ctx).Model(&ClusterAgent{}).
		Where("token_hash = ? AND token_used_at IS NULL AND token_expires_at > ? AND tombstoned = ?", hash, now, false).
		Update("token_used_at", now)
	if res.Error != nil {
		return ClusterAgent{}, translate(res.Error)
	}
	if res.RowsAffected != 1 {
		return ClusterAgent{}, ErrTokenRefused
	}
	var a ClusterAgent
	err := s.db.WithContext(ctx).Where("token_hash = ?", hash).Take(&a).Error
	return a, translate(err)
}

// AgentCertIssued makes serial the agent's current certificate (the one before it
// stays admitted until the agent connects with the new one).
func (s *Store) AgentCertIssued(ctx context.Context, orgID, clusterID, serial string, notAfter time.Time) error {
	return s.InTx(ctx, func(tx *Store) error {
		a, err := tx.GetClusterAgent(ctx, orgID, clusterID)
		if err != nil {
			return err
		}
		return translate(tx.db.WithContext(ctx).Model(&ClusterAgent{}).
			Where("org_id = ? AND cluster_id = ?", orgID, clusterID).
			Updates(map[string]any{"prev_serial": a.CertSerial, "cert_serial": serial, "cert_not_after": notAfter}).Error)
	})
}

// AdmitAgent says whether a certificate (by serial) of orgID's cluster may hold a
// tunnel: the agent is not tombstoned, the cluster is live in orgID, and the serial
// is the current or previous one. ErrNotFound otherwise.
func (s *Store) AdmitAgent(ctx context.Context, orgID, clusterID, serial string) error {
	if serial == "" {
		return ErrNotFound
	}
	var n int64
	err := s.db.WithContext(ctx).Model(&ClusterAgent{}).
		Joins("JOIN clusters ON clusters.id = cluster_agents.cluster_id AND clusters.org_id = cluster_agents.org_id").
		Where("cluster_agents.org_id = ? AND cluster_agents.cluster_id = ? AND cluster_agents.tombstoned = ? AND clusters.status <> ?",
			orgID, clusterID, false, "DELETED").
		Where("cluster_agents.cert_serial = ? OR cluster_agents.prev_serial = ?", serial, serial).
		Count(&n).Error
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// AgentReport is what a replica records when an agent connects or reports.
type AgentReport struct {
	Replica           string
	Serial            string
	Since, At         time.Time
	AgentVersion      string
	KubernetesVersion string
	Nodes             int
	Region            string
	Healthy           bool
	Message           string
}

// AgentConnected records that r.Replica holds the agent's tunnel; once the agent uses
// its current certificate, the previous one is no longer admitted.
func (s *Store) AgentConnected(ctx context.Context, orgID, clusterID string, r AgentReport) error {
	up := map[string]any{
		"replica": r.Replica, "connected_at": r.Since, "last_seen_at": r.At,
		"agent_version": r.AgentVersion, "kubernetes_version": r.KubernetesVersion, "nodes": r.Nodes,
		"region": r.Region, "healthy": r.Healthy, "message": r.Message,
	}
	return s.InTx(ctx, func(tx *Store) error {
		q := tx.db.WithContext(ctx).Model(&ClusterAgent{}).Where("org_id = ? AND cluster_id = ?", orgID, clusterID)
		if err := q.Updates(up).Error; err != nil {
			return translate(err)
		}
		return translate(tx.db.WithContext(ctx).Model(&ClusterAgent{}).
			Where("org_id = ? AND cluster_id = ? AND cert_serial = ?", orgID, clusterID, r.Serial).
			Update("prev_serial", "").Error)
	})
}

// AgentDisconnected records the tunnel gone, when replica was the one holding it (a
// newer connection on another replica is left alone).
func (s *Store) AgentDisconnected(ctx context.Context, orgID, clusterID, replica string, at time.Time) error {
	return translate(s.db.WithContext(ctx).Model(&ClusterAgent{}).
		Where("org_id = ? AND cluster_id = ? AND replica = ?", orgID, clusterID, replica).
		Updates(map[string]any{"replica": "", "last_seen_at": at}).Error)
}

// MarkAgentRegistered records the first connection's outcome on the cluster too
// (version, region), once.
func (s *Store) MarkAgentRegistered(ctx context.Context, orgID, clusterID string, at time.Time) error {
	return translate(s.db.WithContext(ctx).Model(&ClusterAgent{}).
		Where("org_id = ? AND cluster_id = ? AND registered_at IS NULL", orgID, clusterID).
		Update("registered_at", at).Error)
}

// TombstoneClusterAgent refuses the agent from now on (unregister with agent-only).
func (s *Store) TombstoneClusterAgent(ctx context.Context, orgID, clusterID string) error {
	return translate(s.db.WithContext(ctx).Model(&ClusterAgent{}).
		Where("org_id = ? AND cluster_id = ?", orgID, clusterID).
		Updates(map[string]any{"tombstoned": true, "replica": "", "cert_serial": "", "prev_serial": ""}).Error)
}

// DeleteClusterAgent removes the agent's record (unregister with full cleanup).
func (s *Store) DeleteClusterAgent(ctx context.Context, orgID, clusterID string) error {
	err := s.db.WithContext(ctx).Where("org_id = ? AND cluster_id = ?", orgID, clusterID).Delete(&ClusterAgent{}).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil
	}
	return translate(err)
}

// RecordAgentRegistration ends a registration that saw its agent connect: the agent
// is registered at at, and the cluster READY with its Kubernetes version and region.
func (s *Store) RecordAgentRegistration(ctx context.Context, orgID, clusterID, kubeVersion, region, message string, at time.Time) error {
	return s.InTx(ctx, func(tx *Store) error {
		if err := tx.MarkAgentRegistered(ctx, orgID, clusterID, at); err != nil {
			return err
		}
		if err := tx.RecordClusterOutcome(ctx, orgID, clusterID, "READY", message, ClusterFacts{KubernetesVersion: kubeVersion}); err != nil {
			return err
		}
		if region == "" {
			return nil
		}
		return translate(tx.db.WithContext(ctx).Model(&Cluster{}).Where("org_id = ? AND id = ?", orgID, clusterID).
			Update("region", region).Error)
	})
}
