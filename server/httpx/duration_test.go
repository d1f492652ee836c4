package httpx

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseJSONDuration(t *testing.T) {
	for _, tc := range []struct {
		raw   string
		want  time.Duration
		given bool
		bad   bool
	}{
		{``, 0, false, false},
		{`null`, 0, false, false},
		{`"1h"`, time.Hour, true, false},
		{`"30m"`, 30 * time.Minute, true, false},
		{`"1d12h"`, 36 * time.Hour, true, false},
		{`3600000000000`, time.Hour, true, false},
		{`"soon"`, 0, true, true},
		{`"12h1d"`, 0, true, true},
		{`1.5`, 0, true, true},
		{`true`, 0, true, true},
	} {
		d, given, err := ParseJSONDuration(json.RawMessage(tc.raw))
		if (err != nil) != tc.bad || given != tc.given || (!tc.bad && d != tc.want) {
			t.Errorf("%s: %v, given %v, err %v; want %v, given %v, bad %v", tc.raw, d, given, err, tc.want, tc.given, tc.bad)
		}
	}
}
