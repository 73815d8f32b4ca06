package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// Pacing. A step's messages are numbered 0, 1, 2, ... across all agents;
// message j is agent j mod K's. At elapsed time t since the step started,
// MessagesDue(rate, samples, t) messages are due in total, and agent k has
// sent its share of them (AgentShare). Every agent's ticker publishes, at
// each tick, the batch of its messages that became due since the previous
// tick. A late tick therefore catches up, and the total sent over a step of
// duration D is exactly MessagesDue(rate, samples, D) messages of samples
// points each when the bench keeps up.

// MessagesDue is the number of messages of samples points each that are
// due after elapsed at rate points per second: floor(rate·elapsed/samples),
// computed exactly. It is 0 for a non-positive argument.
func MessagesDue(rate int64, samples int, elapsed time.Duration) int64 {
	if rate <= 0 || samples <= 0 || elapsed <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(rate), uint64(elapsed))
	div := uint64(samples) * uint64(time.Second)
	if hi >= div { // beyond any real run; saturate instead of panicking
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, div)
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}

// AgentShare is how many of the first total messages (numbered from 0) are
// agent k's out of agents, when message j is agent j mod agents's.
func AgentShare(total int64, k, agents int) int64 {
	if agents <= 0 || k < 0 || k >= agents || total <= int64(k) {
		return 0
	}
	return (total-int64(k)-1)/int64(agents) + 1
}
