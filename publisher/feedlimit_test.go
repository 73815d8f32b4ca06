package publisher_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/publisher"
)

// TestFeedsBounded: 150 000 distinct agent/feed pairs leave at most
// MaxFeeds entries in Stats.Feeds, the rest folded into OtherFeeds with
// exact totals, so memory and the session data stay flat whatever the
// number of feeds published. (Before, every pair kept an entry forever.)
func TestFeedsBounded(t *testing.T) {
	f := newFake(t, false)
	cfg := testConfig(f)
	cfg.MaxFeeds = 100
	r := start(t, cfg)
	<-r.Connected()
	const n = 150000
	for i := range n {
		if !r.Enqueue(msg(fmt.Sprintf("obs.agent%d", i%1000), fmt.Sprintf("feed%d", i), []float64{1.8e9 + float64(i)},
			field("x", feeds.Int(int64(i))))) {
			t.Fatalf("message %d refused: %+v", i, r.Stats().Rejected)
		}
		if i%10000 == 9999 { // a flood, paced so that memory is not the limit here
			waitFor(t, "the pending points written", func() bool { return r.Stats().PendingPoints == 0 })
		}
	}
	waitFor(t, "every point written", func() bool { return r.Stats().Written == n })
	st := r.Stats()
	if len(st.Feeds) > cfg.MaxFeeds {
		t.Errorf("%d feeds with their own counters, want at most %d", len(st.Feeds), cfg.MaxFeeds)
	}
	var received uint64
	for _, fs := range st.Feeds {
		received += fs.Received
	}
	if received+st.OtherFeeds.Received != n || st.FoldedFeeds < n-uint64(cfg.MaxFeeds) {
		t.Errorf("received %d in Feeds + %d in OtherFeeds, %d folded; want %d in all, at least %d folded",
			received, st.OtherFeeds.Received, st.FoldedFeeds, n, n-cfg.MaxFeeds)
	}
	// The most recent feeds keep their entries.
	if !slices.ContainsFunc(st.Feeds, func(fs publisher.FeedStats) bool { return fs.Feed == fmt.Sprintf("feed%d", n-1) }) {
		t.Errorf("the last feed published has no entry: %+v", st.Feeds)
	}
}

func TestFeedLimitValidated(t *testing.T) {
	cfg := publisher.DefaultConfig()
	cfg.MaxFeeds = -1
	if _, err := publisher.New(cfg, nil); err == nil {
		t.Error("New accepted MaxFeeds -1")
	}
}
