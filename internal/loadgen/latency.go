package loadgen

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Latency method. Every sample's timestamp is its message's publish wall
// time (µs, made strictly increasing per agent), so the newest timestamp
// InfluxDB holds for an agent's measurement says which of its messages are
// queryable. Each message is a marker: (newest sample's timestamp, publish
// time). A poller asks InfluxDB every Poll for the newest timestamp per
// measurement; when it sees an agent's newest timestamp reach a marker, the
// message became queryable at the latest when that reply arrived, and its
// latency is reply time − publish time. The figures are therefore upper
// bounds, late by at most one poll interval plus one query round trip (the
// resolution the report states).

// marker is one published message awaiting visibility.
type marker struct {
	us   int64     // newest sample's timestamp, µs since the epoch
	sent time.Time // publish time
}

// markers are one agent's messages of a step in publish order, and the
// latencies of those seen so far. The publishing goroutine adds, the
// poller resolves.
type markers struct {
	mu        sync.Mutex
	pending   []marker
	head      int
	latencies []time.Duration
}

func (m *markers) add(us int64, sent time.Time) {
	m.mu.Lock()
	m.pending = append(m.pending, marker{us, sent})
	m.mu.Unlock()
}

// seen records that every message up to timestamp newestUs is queryable
// at time at.
func (m *markers) seen(newestUs int64, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.head < len(m.pending) && m.pending[m.head].us <= newestUs {
		m.latencies = append(m.latencies, at.Sub(m.pending[m.head].sent))
		m.head++
	}
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method: the smallest value with at least p % of the values
// at or below it. It returns 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// LatencySummary are the latency figures of a step.
type LatencySummary struct {
	P50, P99, Max time.Duration
	Seen, Unseen  int // messages whose visibility was / was not observed
}

// summarize sorts the latencies of all agents and summarizes them.
func summarize(ms []*markers) LatencySummary {
	var all []time.Duration
	var s LatencySummary
	for _, m := range ms {
		m.mu.Lock()
		all = append(all, m.latencies...)
		s.Unseen += len(m.pending) - m.head
		m.mu.Unlock()
	}
	slices.Sort(all)
	s.Seen = len(all)
	if len(all) > 0 {
		s.P50, s.P99, s.Max = Percentile(all, 50), Percentile(all, 99), all[len(all)-1]
	}
	return s
}
