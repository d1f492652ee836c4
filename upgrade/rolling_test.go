package upgrade

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBatches(t *testing.T) {
	tests := []struct {
		name                  string
		nodes                 int
		unavailable, surge    string
		wantSize, wantBatches int
	}{
		{"defaults 1 and 1", 5, "1", "1", 2, 3},
		{"25% unavailable of 8 plus surge 1", 8, "25%", "1", 3, 3},
		{"25% unavailable of 8, no surge", 8, "25%", "0", 2, 4},
		{"25% both of 8", 8, "25%", "25%", 4, 2},
		{"unavailable rounds down, surge up", 10, "15%", "15%", 3, 4}, // 1 + 2
		{"percentages rounding to 0 still move 1 node", 3, "10%", "0%", 1, 3},
		{"batch never exceeds the group", 4, "10", "10", 4, 1},
		{"100% surge replaces at once", 6, "0", "100%", 6, 1},
		{"single node", 1, "1", "1", 1, 1},
		{"empty group still counts one pass", 0, "1", "1", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := parseIntOrPercent(tt.unavailable)
			require.NoError(t, err)
			s, err := parseIntOrPercent(tt.surge)
			require.NoError(t, err)
			size, batches := rollout{unavailable: u, surge: s}.batches(tt.nodes)
			assert.Equal(t, tt.wantSize, size, "size")
			assert.Equal(t, tt.wantBatches, batches, "batches")
		})
	}
}

func TestParseIntOrPercent(t *testing.T) {
	for _, ok := range []string{"0", "1", "12", "0%", "25%", "100%"} {
		_, err := parseIntOrPercent(ok)
		assert.NoError(t, err, ok)
	}
	for _, bad := range []string{"", "%", "-1", "+1", "1.5", "101%", "25 %", "abc", "1e3"} {
		_, err := parseIntOrPercent(bad)
		assert.Error(t, err, bad)
	}
}
