// Package deploy holds the production deployment files' checks.
package deploy
