package httpx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseJSONDuration reads a duration field in either form clients send: a JSON
// string such as "720h", "90m" or "30d", or a JSON integer of nanoseconds (the
// reference's Go time.Duration). given is false when the field is absent or null.
// Callers apply their own default and bounds.
func ParseJSONDuration(raw json.RawMessage) (d time.Duration, given bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false, nil
	}
	if raw[0] == '"' {
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return 0, true, err
		}
		d, err := parseText(v)
		return d, true, err
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, true, fmt.Errorf("%s is neither a duration string nor an integer of nanoseconds", raw)
	}
	return time.Duration(n), true, nil
}

// parseText is time.ParseDuration with days ("30d", "1d12h").
func parseText(v string) (time.Duration, error) {
	var total time.Duration
	rest := v
	for {
		i := strings.IndexByte(rest, 'd')
		if i < 0 {
			break
		}
		days, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil || days < 0 || strings.ContainsAny(rest[:i], "hmsun") {
			// "d" is not the first unit: no day count before it.
			return 0, fmt.Errorf("%q: days come first, as in 30d or 1d12h", v)
		}
		total += time.Duration(days * float64(24*time.Hour))
		rest = rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration such as 720h or 30d", v)
		}
		total += d
	}
	return total, nil
}
