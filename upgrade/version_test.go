package upgrade

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMinor(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"1.31", 31, true},
		{"v1.31", 31, true},
		{"1.31.2", 31, true},
		{"1.31.2-gke.100", 31, true},
		{"1.30.5-gke.1443001", 30, true},
		{"1.29.8-eks-a737599", 29, true},
		{"v1.28.3+k3s1", 28, true},
		{" 1.30 ", 30, true},
		{"", 0, false},
		{"1", 0, false},
		{"latest", 0, false},
		{"1.x", 0, false},
		{"2.0", 0, false},
		{"1.31.", 0, false},
		{"1.31-", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseMinor(tt.in)
			if !tt.ok {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSupportedMinors(t *testing.T) {
	got := supportedMinors([]string{"1.31.2-gke.100", "v1.29", "bogus", "1.31", "1.30.1"})
	assert.Equal(t, []int{29, 30, 31}, got)
	assert.Equal(t, "1.29, 1.30, 1.31", joinMinors(got))
	assert.Equal(t, "none", joinMinors(nil))
}
