// Package idempotency decides what a request carrying an Idempotency-Key means: a new
// operation, a repeat of the earlier request (answered with the earlier operation), or
// a reuse of the key for another request (refused). The server stores the key and
// the request's hash with each operation.
package idempotency

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

// ErrKeyReused means the key was used before with a different request (422).
var ErrKeyReused = errors.New("idempotency key was already used with a different request")

// RequestHash returns the hex SHA-256 fingerprint of a request: its method, path and
// body, as "METHOD PATH\nBODY". Stored hashes are compared with new ones, so the
// format never changes.
func RequestHash(method, path string, body []byte) string {
	sum := sha256.Sum256(append([]byte(method+" "+path+"\n"), body...))
	return hex.EncodeToString(sum[:])
}

// Check decides about a request of hash whose key was seen before with the request
// of priorHash: nil when it is the same request, to be answered with the earlier
// operation, ErrKeyReused when it is another.
func Check(priorHash, hash string) error {
	if priorHash != hash {
		return ErrKeyReused
	}
	return nil
}
