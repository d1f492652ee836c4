//go:build tools

// Package tools pins helm for `go build` (see go.mod).
package tools

import _ "helm.sh/helm/v3/cmd/helm"
