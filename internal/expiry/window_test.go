package expiry

import (
	"testing"
	"time"
)

func TestWindowDecidesWhenACertificateIsDue(t *testing.T) {
	leaf := cert(t, "CN=node1", false, issued, issued.AddDate(1, 0, 0))
	cases := []struct {
		name string
		w    Window
		now  time.Time
		due  bool
	}{
		{"fresh", DefaultWindow, issued, false},
		{"expires in 40 days", DefaultWindow, leaf.NotAfter.AddDate(0, 0, -40), false},
		{"expires in 10 days", DefaultWindow, leaf.NotAfter.AddDate(0, 0, -10), true},
		{"expired", DefaultWindow, leaf.NotAfter.Add(time.Hour), true},
		{"half of the life at 2/3", Window{Fraction: 2.0 / 3}, issued.AddDate(0, 6, 0), false},
		{"three quarters at 2/3", Window{Fraction: 2.0 / 3}, issued.AddDate(0, 9, 0), true},
		{"--warn-days 60 with 50 days left", Days(60), leaf.NotAfter.AddDate(0, 0, -50), true},
		{"--warn-days 0 with a day left", Days(0), leaf.NotAfter.AddDate(0, 0, -1), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.w.Due(leaf, tc.now); got != tc.due {
				t.Errorf("Due = %v, want %v", got, tc.due)
			}
		})
	}
}

func TestParseWindowFlags(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 720 * time.Hour, "2w": 336 * time.Hour, "12h": 12 * time.Hour, "1.5d": 36 * time.Hour} {
		if got, err := ParseBefore(in); err != nil || got != want {
			t.Errorf("ParseBefore(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "d", "-3d", "soon"} {
		if _, err := ParseBefore(bad); err == nil {
			t.Errorf("ParseBefore(%q) accepted", bad)
		}
	}
	for in, want := range map[string]float64{"2/3": 2.0 / 3, "0.75": 0.75} {
		if got, err := ParseFraction(in); err != nil || got != want {
			t.Errorf("ParseFraction(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"1", "0", "3/2", "1/0", "x"} {
		if _, err := ParseFraction(bad); err == nil {
			t.Errorf("ParseFraction(%q) accepted", bad)
		}
	}
}

func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"30d", "2/3", "0.5", "12h", "1e9d", "-1/2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseBefore(s); err == nil && d < 0 {
			t.Fatalf("ParseBefore(%q) = negative %v", s, d)
		}
		if v, err := ParseFraction(s); err == nil && (v <= 0 || v >= 1) {
			t.Fatalf("ParseFraction(%q) = %v outside (0,1)", s, v)
		}
	})
}
