// Package chaos is the chaos suite of issue 11 (make chaos, and a CI-sized run in
// make test): operations of mixed kinds — deploys, deploys that fail and roll back,
// deploys through a flaky step, node group scale-ups, upgrades, deletes — sent to
// the real api and worker binaries on PostgreSQL and a Temporal dev server on its
// file store, while the worker is SIGKILLed every few seconds, the API is SIGKILLed
// and started again, the Temporal server is restarted and PostgreSQL is stopped like
// a crash and started again. A client that gets no answer, or a 5xx, sends the same
// request again with the same Idempotency-Key, as a client must for exactly-once.
//
// It then checks that every accepted operation ended (none lost), ran once (one
// workflow run, no operation nobody asked for, the same operation for every retry of
// a request, no change applied twice in the simulated cloud), that no cluster is left
// in a transitional state, that the simulated cloud holds no duplicate resource
// (sim.AuditLedger) and nothing a deleted or failed cluster left behind, and prints
// the figures: accepted, completed by outcome, lost, run twice, duplicated, left
// behind, transitional, and the time to recover after each kind of fault.
//
// The test is in chaos_test.go; ASTRO_CHAOS=full selects the full run (100
// operations), otherwise it runs the CI size.
package chaos
