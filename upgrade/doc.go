// Package upgrade plans K8sClusterUpdate requests: it turns the current state of a
// cluster and the requested changes into preflight checks, an ordered list of steps
// and a report. The same Plan answers dry runs and generate-report requests and is
// the script the update workflow follows.
//
// Build is a pure function: no I/O, no clock, no randomness, and every list it
// returns is in a fixed order (node groups by name, map keys sorted), so it may be
// called from workflow code and two calls with equal inputs return equal plans.
//
// # Version skew
//
// The plan follows the Kubernetes version-skew policy (1.28 and later):
//
//   - the control plane moves one minor per hop (1.28 → 1.31 is three hops);
//   - a kubelet is never newer than the API server and at most 3 minors older.
//     Before a hop that would leave a node group 4 minors behind, the node group is
//     upgraded to the control plane's current minor (the highest it may reach, so it
//     rolls as rarely as possible). After the last hop every older node group jumps
//     straight to the target; then add-ons are upgraded once.
//   - a downgrade (only with AllowDowngrade) also moves one minor per hop, node
//     groups first: before each hop every node group newer than the next minor is
//     moved down to it.
//
// Step order: version steps (hops interleaved with the node-group rollouts they
// need, then the final node-group upgrades), addons-upgrade, node-group-create,
// node-group-scale, node-group-update-config, node-group-replace,
// ami-family-update, tags-update, cluster-settings; within one kind, node groups by
// name. New node groups are created after the version steps so they start at the
// target version. cluster-settings comes last, one step for every cluster-wide
// setting that changes (the eks AMI family, which the cluster records for node
// groups created later; gke's release channel, maintenance window, authorized
// networks and node image type): what it sets applies to the cluster as it ends up.
//
// # Rolling replacements
//
// Rolling steps (node-group-upgrade, node-group-replace, ami-family-update) replace
// nodes = MaxNode nodes (the most the group can hold; the planner cannot see the
// autoscaler's current count). With maxSurge and maxUnavailable resolved against
// that count — a percentage of surge rounds up, a percentage of unavailable rounds
// down, integers are taken as they are —
//
//	batchSize = clamp(surge + unavailable, 1, nodes)
//	Batches   = ceil(nodes / batchSize)
//
// because surge nodes and unavailable nodes are replaced at the same time (GKE's
// surge upgrades document exactly this sum). Example: 8 nodes, maxUnavailable
// "25%" (2), maxSurge "1": batch 3, 3 batches.
//
// # Estimates
//
// EstimatedMinutes per step: control-plane hop 12 (eks), 8 (gke), 10 (aks), 15
// (selfHosted); rolling steps 4 per batch; node-group-create 10; node-group-scale 3;
// node-group-update-config 1; addons-upgrade 5; tags-update 1; cluster-settings 2,
// plus 4 per batch of every node pool when a gke image type change recreates their
// nodes (rolled as rolling steps are, from MaxNode after scaling). The report's total
// is the sum, as steps run one after another.
//
// # Errors
//
// Every error belongs to a FAIL preflight check and every check warning is also
// listed in Warnings. Errors make ValidationPassed false, but Build still plans
// everything that is valid: an invalid part (a blocked downgrade, an unsupported
// target, a bad size) contributes no steps, the rest of the request does.
package upgrade
