package cli

import (
	"testing"
	"time"
)

func TestExpandPlaceholders(t *testing.T) {
	now := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	got, err := expand([]byte(`{"year": ${year}, "due": "${now+2d}", "id": "${x}"}`), map[string]string{"x": "abc"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"year": 2027, "due": "2027-01-04T03:04:05Z", "id": "abc"}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if got, _ := expand([]byte(`${year}`), map[string]string{"year": "1999"}, now); string(got) != "1999" {
		t.Fatalf("--var year does not win: %s", got)
	}
	if _, err := expand([]byte(`${year+1d}`), nil, now); err == nil {
		t.Fatal("an offset on year was accepted")
	}
}
