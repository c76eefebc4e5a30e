// Package human writes times and durations the way normledger's readable
// outputs (the CLI's text, the monitor's event summaries) show them.
package human

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// Time is a timestamp in RFC 3339 (UTC), "-" when unset.
func Time(t *timestamppb.Timestamp) string {
	if t == nil {
		return "-"
	}
	return t.AsTime().UTC().Format(time.RFC3339)
}

// Duration is a duration in its two largest units: 3d4h, 2h5m, 7m30s, 42s
// (the sign dropped).
func Duration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	s := int64(d / time.Second)
	two := func(a int64, ua string, b int64, ub string) string {
		if b == 0 {
			return fmt.Sprintf("%d%s", a, ua)
		}
		return fmt.Sprintf("%d%s%d%s", a, ua, b, ub)
	}
	switch {
	case s >= 86400:
		return two(s/86400, "d", s%86400/3600, "h")
	case s >= 3600:
		return two(s/3600, "h", s%3600/60, "m")
	case s >= 60:
		return two(s/60, "m", s%60, "s")
	}
	return fmt.Sprintf("%ds", s)
}
