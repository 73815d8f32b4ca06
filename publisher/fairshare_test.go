package publisher_test

import (
	"strings"
	"testing"

	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/publisher"
)

// TestFairShare: while the server does not answer, one agent flooding
// large messages fills at most its share of MaxPendingBytes; another
// agent's points are still accepted, and every refusal is counted and
// named for the flooding agent. (Before, the flood filled the whole bound
// and the other agent's next point was dropped.)
func TestFairShare(t *testing.T) {
	f := newFake(t, false)
	hold := make(chan struct{})
	f.script(func(n int, _ request) reply { return reply{Hold: hold} }, nil)
	cfg := testConfig(f)
	cfg.MaxPendingBytes = 1 << 20
	cfg.BatchBytes = 64 << 10
	r := start(t, cfg)
	<-r.Connected()
	flood := func(k, n int) *feeds.Message { // about n KB of line protocol
		m := msg("obs.flood", "f", nil, field("s"))
		for i := range n {
			m.Blocks[0].Timestamps = append(m.Blocks[0].Timestamps, 1.8e9+float64(k*1000+i))
			m.Blocks[0].Fields[0].Values = append(m.Blocks[0].Fields[0].Values, feeds.String(strings.Repeat("x", 1000)))
		}
		return m
	}
	// Large messages, then small ones that would fill every byte left.
	refused, sent := 0, 0
	for k := range 2000 {
		n := 150
		if k >= 20 {
			n = 1
		}
		sent += n
		if !r.Enqueue(flood(k, n)) {
			refused += n
		}
	}
	if refused == 0 {
		t.Fatalf("the flood was never refused: %+v", r.Stats())
	}
	for i := range 10 {
		if !r.Enqueue(msg("obs.quiet", "g", []float64{1.8e9 + float64(i)}, field("x", feeds.Int(int64(i))))) {
			t.Errorf("the quiet agent's point %d was refused: %+v", i, r.Stats().Rejected)
		}
	}
	st := r.Stats()
	if st.Rejected[publisher.ReasonQueueFull] != uint64(refused) {
		t.Errorf("queue full %d, want %d (the flood's refused points)", st.Rejected[publisher.ReasonQueueFull], refused)
	}
	if st.PendingBytes > cfg.MaxPendingBytes {
		t.Errorf("pending bytes %d over the bound %d", st.PendingBytes, cfg.MaxPendingBytes)
	}
	close(hold)
	want := uint64(sent - refused + 10)
	waitFor(t, "the accepted points written", func() bool { return r.Stats().Written == want })
	if st := r.Stats(); st.PendingBytes != 0 || st.PendingPoints != 0 {
		t.Errorf("after the writes: pending %d bytes, %d points (the shares must return to zero)", st.PendingBytes, st.PendingPoints)
	}
}
