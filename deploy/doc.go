// Package deploy holds the checks of the production deployment files: the Dockerfile,
// docker-compose.yml, and the Helm chart in helm/astroplane (linted, rendered and
// applied by server-side dry run to a real kube-apiserver).
package deploy
