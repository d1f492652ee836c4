// Package sim is the old import path of the simulated cloud, kept while callers
// move to cloud/sim.
//
// Deprecated: use github.com/astropulse/astroplane/cloud/sim.
package sim

import (
	"time"

	"github.com/astropulse/astroplane/cloud/sim"
)

// Tags that inject faults (see cloud/sim).
const (
	TagFailStep  = sim.TagFailStep
	TagFlakyStep = sim.TagFlakyStep
	TagHoldStep  = sim.TagHoldStep
)

// Provider is the simulated cloud.
type Provider = sim.Provider

// New returns a simulated cloud whose calls each take stepDelay.
func New(stepDelay time.Duration) *Provider { return sim.New(stepDelay) }
