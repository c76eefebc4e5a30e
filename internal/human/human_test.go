package human

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestText(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Duration(50 * time.Second), "50s"},
		{Duration(7*time.Minute + 30*time.Second), "7m30s"},
		{Duration(2 * time.Hour), "2h"},
		{Duration(-(52*time.Hour + 30*time.Minute)), "2d4h"},
		{Time(nil), "-"},
		{Time(timestamppb.New(time.Date(2026, 12, 1, 9, 0, 0, 0, time.FixedZone("X", 3600)))), "2026-12-01T08:00:00Z"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
