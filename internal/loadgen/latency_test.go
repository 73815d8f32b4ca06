package loadgen_test

import (
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/internal/loadgen"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1 // 1..100 ms
	}
	for _, c := range []struct {
		vals []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(1, 2), 50, 1 * time.Millisecond}, // nearest rank: ceil(0.5·2) = 1st
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 75, 3 * time.Millisecond},
		{ms(1, 2, 3, 4), 76, 4 * time.Millisecond},
		{ms(1, 2, 3, 4), 100, 4 * time.Millisecond},
		{ms(hundred...), 50, 50 * time.Millisecond},
		{ms(hundred...), 99, 99 * time.Millisecond},
		{ms(hundred...), 99.5, 100 * time.Millisecond},
		{ms(hundred...), 0.1, 1 * time.Millisecond},
	} {
		if got := loadgen.Percentile(c.vals, c.p); got != c.want {
			t.Errorf("Percentile(%v, %g) = %s, want %s", c.vals, c.p, got, c.want)
		}
	}
}
