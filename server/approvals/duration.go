package approvals

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads a duration as people write it: Go's units (s, m, h, and the
// smaller ones) plus days, "d" being 24 hours ("3d", "1d12h"). Its errors are
// sentences naming the value and the units accepted.
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("%q is not a duration: write a number and a unit (s, m, h or d), e.g. \"72h\" or \"3d\"", s)
	}
	var days time.Duration
	if i := strings.IndexByte(in, 'd'); i >= 0 {
		n, err := strconv.ParseUint(in[:i], 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration: days are a whole number before \"d\" (e.g. \"3d\" or \"1d12h\")", s)
		}
		days, in = time.Duration(n)*24*time.Hour, in[i+1:]
		if in == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(in)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration: write a number and a unit (s, m, h or d), e.g. \"72h\", \"90m\" or \"3d\"", s)
	}
	return days + d, nil
}

// FormatDuration writes d without zero units: "72h", "1h30m", "5m", "90s" (Go's
// String gives "72h0m0s").
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
