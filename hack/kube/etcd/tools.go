//go:build tools

// Package tools pins etcd for `go build` (see go.mod).
package tools

import _ "go.etcd.io/etcd/server/v3"
