package loadgen_test

import (
	"math"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/internal/loadgen"
)

func TestMessagesDue(t *testing.T) {
	for _, c := range []struct {
		rate    int64
		samples int
		elapsed time.Duration
		want    int64
	}{
		{1000, 10, time.Second, 100},
		{1000, 10, 10 * time.Second, 1000},
		{1000, 10, 9999 * time.Microsecond, 0},  // 0.9999 messages
		{1000, 10, 10 * time.Millisecond, 1},    // exactly one
		{1000, 10, 19999 * time.Microsecond, 1}, // floor, not round
		{50000, 10, 10 * time.Second, 50000},
		{5, 10, time.Second, 0},
		{5, 10, 2 * time.Second, 1},
		{200, 1, 1500 * time.Millisecond, 300},
		{3, 1, time.Second / 3, 0}, // 333333333 ns × 3/s = 0.999999999 messages: none yet
		{7, 3, time.Second, 2},     // 7/3
		{0, 10, time.Second, 0},
		{1000, 0, time.Second, 0},
		{1000, 10, -time.Second, 0},
		// rate·elapsed does not fit in 64 bits: still exact.
		{1e9, 1, 100 * time.Hour, 1e9 * 360000},
		{math.MaxInt64, 1, math.MaxInt64, math.MaxInt64}, // saturates
	} {
		if got := loadgen.MessagesDue(c.rate, c.samples, c.elapsed); got != c.want {
			t.Errorf("MessagesDue(%d, %d, %s) = %d, want %d", c.rate, c.samples, c.elapsed, got, c.want)
		}
	}
}

// TestAgentShare: the shares of all agents add up to the total at every
// count, no share exceeds another by more than one, and shares only grow.
func TestAgentShare(t *testing.T) {
	for _, agents := range []int{1, 2, 3, 8} {
		prev := make([]int64, agents)
		for total := int64(0); total <= 50; total++ {
			var sum, lo, hi int64 = 0, math.MaxInt64, 0
			for k := range agents {
				s := loadgen.AgentShare(total, k, agents)
				if s < prev[k] {
					t.Errorf("agents %d total %d: agent %d share went down from %d to %d", agents, total, k, prev[k], s)
				}
				prev[k] = s
				sum += s
				lo, hi = min(lo, s), max(hi, s)
			}
			if sum != total {
				t.Errorf("agents %d total %d: shares add up to %d", agents, total, sum)
			}
			if hi-lo > 1 {
				t.Errorf("agents %d total %d: shares range %d..%d", agents, total, lo, hi)
			}
		}
	}
	// Message j is agent j mod K's: with 10 messages and 8 agents, agents
	// 0 and 1 have two, the others one.
	for k, want := range []int64{2, 2, 1, 1, 1, 1, 1, 1} {
		if got := loadgen.AgentShare(10, k, 8); got != want {
			t.Errorf("AgentShare(10, %d, 8) = %d, want %d", k, got, want)
		}
	}
	for _, c := range [][3]int{{5, -1, 2}, {5, 2, 2}, {5, 0, 0}} {
		if got := loadgen.AgentShare(int64(c[0]), c[1], c[2]); got != 0 {
			t.Errorf("AgentShare(%d, %d, %d) = %d, want 0", c[0], c[1], c[2], got)
		}
	}
}

// TestStepTotals: over a whole step the agents send exactly
// MessagesDue(rate, samples, D) messages for the default and test rates.
func TestStepTotals(t *testing.T) {
	for _, rate := range []int64{200, 1000, 5000, 20000, 50000, 100000, 1234} {
		for _, agents := range []int{1, 2, 8} {
			d := 10 * time.Second
			total := loadgen.MessagesDue(rate, 10, d)
			var sum int64
			for k := range agents {
				sum += loadgen.AgentShare(total, k, agents)
			}
			if want := rate; sum != want { // rate·10 s / 10 samples
				t.Errorf("rate %d agents %d: %d messages in 10 s, want %d", rate, agents, sum, want)
			}
		}
	}
}
