// Package apiclient is astroctl's client of the Astro Plane API, generated from
// openapi.yaml: one method per operation, the request and response models. Do not edit
// apiclient.gen.go; change openapi.yaml and run `make generate` (a test fails when
// the two disagree).
package apiclient

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../../../../openapi.yaml
