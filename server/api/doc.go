// Package api is generated from openapi.yaml: the Echo server interface with one
// method per operation, the request and response models, and the embedded spec.
// Do not edit api.gen.go; change openapi.yaml and run `make generate`.
package api

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../../openapi.yaml
//go:generate go run ./genunimpl api.gen.go ../httpx/unimplemented.gen.go
