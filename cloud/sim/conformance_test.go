package sim_test

import (
	"testing"
	"time"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/conformance"
	"github.com/astropulse/astroplane/cloud/sim"
)

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay time.Duration
	}{{"instant", 0}, {"slow", 20 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			conformance.Run(t, conformance.Harness{
				New: func(*testing.T) cloud.Provider { return sim.New(tc.delay) },
				Inject: func(t *testing.T, p cloud.Provider, step string, err error) {
					s := p.(*sim.Provider)
					s.Inject(step, err)
					t.Cleanup(func() { s.Inject(step, nil) })
				},
			})
		})
	}
}
