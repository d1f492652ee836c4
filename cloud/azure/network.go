package azure

import (
	"context"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/astropulse/astroplane/cloud"
)

// existingPrefix starts the NetworkRef of a resource group that existed before the
// cluster: used as it is, never deleted.
const existingPrefix = "existing:"

func groupID(sub, name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s", sub, name)
}

// subscription is the spec's subscription: the AKS sub-spec's, else the account's.
func subscription(spec cloud.ClusterSpec) string {
	if spec.AKS != nil && spec.AKS.SubscriptionID != "" {
		return spec.AKS.SubscriptionID
	}
	return spec.AccountRef().AccountID
}

// resourceGroup is the spec's resource group; specs without one (recorded before
// the AKS sub-spec existed) get astro-<cluster name>.
func resourceGroup(spec cloud.ClusterSpec) string {
	if spec.AKS != nil && spec.AKS.ResourceGroup != "" {
		return spec.AKS.ResourceGroup
	}
	return "astro-" + spec.Name
}

// parseGroup reads a NetworkRef's ID: a resource group's ID, after existingPrefix
// for a group we did not create; a bare name is a group of the session's
// subscription.
func (p *Provider) parseGroup(id string) (sub, name string, existing bool) {
	id, existing = strings.CutPrefix(id, existingPrefix)
	parts := strings.Split(strings.Trim(id, "/"), "/")
	if len(parts) == 4 && strings.EqualFold(parts[0], "subscriptions") && strings.EqualFold(parts[2], "resourceGroups") {
		return parts[1], parts[3], existing
	}
	return p.sub, id, existing
}

// CreateNetwork makes sure the cluster's resource group exists: it creates it (tagged
// with c's token) when it does not, and uses an existing one as it is. AKS puts the
// cluster's VNet in the node resource group it manages itself.
func (p *Provider) CreateNetwork(ctx context.Context, c cloud.Call, spec cloud.ClusterSpec) (cloud.NetworkRef, error) {
	if err := ctx.Err(); err != nil {
		return cloud.NetworkRef{}, err
	}
	sub, name := subscription(spec), resourceGroup(spec)
	if spec.Region == "" {
		return cloud.NetworkRef{}, cloud.Errorf(cloud.ErrInvalid, "resource group %q: the cluster has no region", name)
	}
	cl, err := p.in(sub)
	if err != nil {
		return cloud.NetworkRef{}, err
	}
	got, err := cl.groups.Get(ctx, name, nil)
	switch {
	case err == nil:
		if str(got.Tags[TagToken]) == c.Token {
			c.Report(fmt.Sprintf("resource group %q was created by this operation", name))
			return cloud.NetworkRef{ID: groupID(sub, name)}, nil
		}
		c.Report(fmt.Sprintf("using the existing resource group %q (it stays when the cluster is deleted)", name))
		return cloud.NetworkRef{ID: existingPrefix + groupID(sub, name)}, nil
	case !notFound(err):
		return cloud.NetworkRef{}, classify(err, fmt.Sprintf("get resource group %q", name))
	}
	c.Report(fmt.Sprintf("creating resource group %q in %s (the cluster's VNet is AKS's managed VNet)", name, spec.Region))
	_, err = cl.groups.CreateOrUpdate(ctx, name, armresources.ResourceGroup{
		Location: ptr(spec.Region),
		Tags:     azureTags(spec.Tags, TagToken, c.Token, TagCluster, spec.Name),
	}, nil)
	if err != nil {
		return cloud.NetworkRef{}, classify(err, fmt.Sprintf("create resource group %q", name))
	}
	c.Report(fmt.Sprintf("resource group %q created", name))
	return cloud.NetworkRef{ID: groupID(sub, name)}, nil
}

// DeleteNetwork deletes the resource group CreateNetwork created, once it holds
// nothing else: a group that existed before, or that still holds resources we did not
// make, is kept. An empty net finds the groups created with c's token.
func (p *Provider) DeleteNetwork(ctx context.Context, c cloud.Call, net cloud.NetworkRef) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if net.ID == "" {
		cl, err := p.in("")
		if err != nil {
			return err
		}
		filter := fmt.Sprintf("tagName eq '%s' and tagValue eq '%s'", TagToken, strings.ReplaceAll(c.Token, "'", "''"))
		pager := cl.groups.NewListPager(&armresources.ResourceGroupsClientListOptions{Filter: &filter})
		var names []string
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return classify(err, "list resource groups by token")
			}
			for _, g := range page.Value {
				if g != nil && str(g.Tags[TagToken]) == c.Token {
					names = append(names, str(g.Name))
				}
			}
		}
		if len(names) == 0 {
			c.Report("no resource group was created with this operation's token: nothing to delete")
		}
		for _, name := range names {
			if err := p.deleteGroup(ctx, c, p.sub, name); err != nil {
				return err
			}
		}
		return nil
	}
	sub, name, existing := p.parseGroup(net.ID)
	if existing {
		c.Report(fmt.Sprintf("resource group %q existed before the cluster: kept", name))
		return nil
	}
	return p.deleteGroup(ctx, c, sub, name)
}

func (p *Provider) deleteGroup(ctx context.Context, c cloud.Call, sub, name string) error {
	cl, err := p.in(sub)
	if err != nil {
		return err
	}
	got, err := cl.groups.Get(ctx, name, nil)
	if notFound(err) {
		c.Report(fmt.Sprintf("resource group %q is already gone", name))
		return nil
	}
	if err != nil {
		return classify(err, fmt.Sprintf("get resource group %q", name))
	}
	if got.Tags[TagToken] == nil {
		c.Report(fmt.Sprintf("resource group %q was not created by the platform: kept", name))
		return nil
	}
	pager := cl.resources.NewListByResourceGroupPager(name, nil)
	var left []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if notFound(err) {
			return nil
		}
		if err != nil {
			return classify(err, fmt.Sprintf("list the resources of resource group %q", name))
		}
		for _, r := range page.Value {
			if r != nil {
				left = append(left, str(r.Type)+"/"+str(r.Name))
			}
		}
	}
	if len(left) > 0 {
		c.Report(fmt.Sprintf("resource group %q kept: it still holds %d resources the cluster did not make (%s)", name, len(left), strings.Join(left, ", ")))
		return nil
	}
	poller, err := cl.groups.BeginDelete(ctx, name, nil)
	if err == nil {
		_, err = await(ctx, p, c, fmt.Sprintf("delete resource group %q", name), poller)
	}
	if err != nil && !notFound(err) {
		return classify(err, fmt.Sprintf("delete resource group %q", name))
	}
	c.Report(fmt.Sprintf("resource group %q deleted", name))
	return nil
}
