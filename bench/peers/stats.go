package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// median returns the middle of xs (the mean of the two middle values for an even
// count), 0 for none. xs is not reordered.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// versus says how x compares with ref, both times: "12.3x faster" (ref/x) when x
// took less, "1.9x slower" (x/ref) when it took more, so the number is always >= 1
// and the word gives the direction.
func versus(ref, x float64) string {
	switch {
	case ref <= 0 || x <= 0:
		return "n/a"
	case x <= ref:
		return fmt.Sprintf("%.1fx faster", ref/x)
	default:
		return fmt.Sprintf("%.1fx slower", x/ref)
	}
}

// seconds formats a time in seconds, with more digits for short ones so the
// cron-check commands (milliseconds) keep their precision.
func seconds(s float64) string {
	if s < 1 {
		return fmt.Sprintf("%.3f s", s)
	}
	return fmt.Sprintf("%.2f s", s)
}

// megabytes formats a byte count in MB (10^6 bytes), the unit of the RSS target.
func megabytes(b int64) string {
	return fmt.Sprintf("%.1f MB", float64(b)/1e6)
}

// micro formats a unit cost, whose range (microseconds for an ECDSA key, a tenth of
// a second for a keystore derivation) no single unit prints well.
func micro(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
	default:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
}

// parseInts reads a comma-separated list of positive integers ("100,1000").
func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q: want positive integers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// thousands writes n with a comma every three digits, as the targets name the sizes.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
