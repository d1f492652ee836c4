package aws

// EKSZone is eksZone, for the tests.
var EKSZone = eksZone
