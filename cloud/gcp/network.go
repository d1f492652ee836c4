package gcp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	compute "google.golang.org/api/compute/v1"

	"github.com/astropulse/astroplane/cloud"
)

// networkMarker starts the description of every network the provider makes; only
// such networks are ever deleted.
const networkMarker = "Astro Plane network"

// hashOf is the hex SHA-256 of a token, cut to fit a label value.
func hashOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])[:40]
}

// networkFor is the name of the network a create with token makes.
func networkFor(token string) string { return "astro-" + hashOf(token)[:24] }

// requestID is the Compute request ID of a token's insert: a UUID, the same on
// every retry, so Compute runs the insert once.
func requestID(token string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("astro-plane:"+token)).String()
}

// splitNetwork returns the project and name of a network reference: a resource name
// projects/P/global/networks/N or a bare name in the session's project.
func (p *Provider) splitNetwork(id string) (project, name string) {
	if seg := strings.Split(id, "/"); len(seg) == 5 && seg[0] == "projects" {
		return seg[1], seg[4]
	}
	return p.project, id
}

// CreateNetwork makes the cluster's VPC network (auto mode: a subnet in every
// region), or checks the one the spec brings.
func (p *Provider) CreateNetwork(ctx context.Context, c cloud.Call, spec cloud.ClusterSpec) (cloud.NetworkRef, error) {
	if spec.Name == "" {
		return cloud.NetworkRef{}, cloud.Errorf(cloud.ErrInvalid, "create network: the spec names no cluster")
	}
	if err := ctx.Err(); err != nil {
		return cloud.NetworkRef{}, err
	}
	project := p.projectOf(spec)
	if g := spec.GKE; g != nil && g.NetworkID != "" {
		nproject, name := p.splitNetwork(g.NetworkID)
		if nproject == p.project {
			nproject = project
		}
		c.Report(fmt.Sprintf("checking the spec's network %s in project %s", name, nproject))
		_, err := p.gce.Networks.Get(nproject, name).Context(ctx).Do()
		if err = typed(ctx, fmt.Sprintf("get network %q", name), err); errors.Is(err, cloud.ErrNotFound) {
			return cloud.NetworkRef{}, cloud.Errorf(cloud.ErrInvalid, "the network %q the spec names does not exist in project %s", g.NetworkID, nproject)
		} else if err != nil {
			return cloud.NetworkRef{}, err
		}
		c.Report(fmt.Sprintf("using the spec's network %s (it is never deleted)", g.NetworkID))
		return cloud.NetworkRef{ID: g.NetworkID}, nil
	}
	name := networkFor(c.Token)
	ref := cloud.NetworkRef{ID: "projects/" + project + "/global/networks/" + name}
	what := fmt.Sprintf("create network %s for cluster %q", name, spec.Name)
	net := &compute.Network{
		Name: name, AutoCreateSubnetworks: true, ForceSendFields: []string{"AutoCreateSubnetworks"},
		Description:   fmt.Sprintf("%s of cluster %s (%s=%s)", networkMarker, spec.Name, LabelToken, hashOf(c.Token)),
		RoutingConfig: &compute.NetworkRoutingConfig{RoutingMode: "REGIONAL"},
	}
	c.Report(fmt.Sprintf("creating VPC network %s in project %s", name, project))
	op, err := p.gce.Networks.Insert(project, net).RequestId(requestID(c.Token)).Context(ctx).Do()
	if err != nil {
		err = typed(ctx, what, err)
		if !errors.Is(err, cloud.ErrAlreadyExists) {
			return cloud.NetworkRef{}, err
		}
		existing, gerr := p.gce.Networks.Get(project, name).Context(ctx).Do()
		if gerr != nil || !strings.Contains(existing.Description, LabelToken+"="+hashOf(c.Token)) {
			return cloud.NetworkRef{}, err
		}
		c.Report(fmt.Sprintf("network %s was already created with this token", name))
		return ref, nil
	}
	if err := p.waitComputeOp(ctx, c, project, what, op); err != nil {
		return cloud.NetworkRef{}, err
	}
	return ref, nil
}

// DeleteNetwork deletes a network the provider made (found by the create's token
// when net is empty); a network it did not make (brought by the spec) is kept, and
// one already gone is fine. A network still used by a cluster being deleted is a
// transient error: the retry finds it free.
func (p *Provider) DeleteNetwork(ctx context.Context, c cloud.Call, net cloud.NetworkRef) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id := net.ID
	if id == "" {
		id = networkFor(c.Token)
	}
	project, name := p.splitNetwork(id)
	what := fmt.Sprintf("delete network %s", name)
	c.Report(fmt.Sprintf("deleting VPC network %s of project %s", name, project))
	n, err := p.gce.Networks.Get(project, name).Context(ctx).Do()
	if err = typed(ctx, what, err); errors.Is(err, cloud.ErrNotFound) {
		c.Report(fmt.Sprintf("network %s is already gone", name))
		return nil
	} else if err != nil {
		return err
	}
	if !strings.HasPrefix(n.Description, networkMarker) {
		c.Report(fmt.Sprintf("network %s was not made by Astro Plane: kept", name))
		return nil
	}
	op, err := p.gce.Networks.Delete(project, name).Context(ctx).Do()
	if err = typed(ctx, what, err); errors.Is(err, cloud.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if err := p.waitComputeOp(ctx, c, project, what, op); err != nil && !errors.Is(err, cloud.ErrNotFound) {
		return err
	}
	return nil
}
