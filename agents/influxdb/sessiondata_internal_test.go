package influxdb

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/publisher"
)

// maxSessionData is the bound README states for record's session data:
// far below the router's 16 MiB message limit, whatever is published.
const maxSessionData = 1 << 20

// TestSessionDataBounded builds the largest session data record can
// have with the default --max-feeds: every feed entry and dead-letter entry
// with names of 64 KiB (the longest InfluxDB key), several outputs with the
// longest degraded reasons, and asserts its JSON size.
func TestSessionDataBounded(t *testing.T) {
	long := func(c byte) string { return strings.Repeat(string(c), 64<<10) }
	var st publisher.Stats
	st.Degraded = long('d')
	for i := range publisher.DefaultMaxFeeds {
		st.Feeds = append(st.Feeds, publisher.FeedStats{Agent: long('a') + string(rune('a'+i%26)), Feed: long('f') + strings.Repeat("x", i),
			Received: 1 << 62, Written: 1 << 62, LastWritten: time.Now()})
	}
	st.Rejected = map[publisher.Reason]uint64{}
	for _, r := range []publisher.Reason{publisher.ReasonQueueFull, publisher.ReasonStopped, publisher.ReasonTypeConflict} {
		st.Rejected[r] = 1 << 62
	}
	for i := range 100 {
		st.DeadLetters = append(st.DeadLetters, publisher.DeadLetterStats{Agent: publisher.ShortName(long('m')) + strings.Repeat("y", i),
			Field: publisher.ShortName(long('k')), Reason: publisher.ReasonRefused, Count: 1 << 62})
	}
	for _, name := range []string{"influxdb", "vm", "home"} {
		st.Outputs = append(st.Outputs, publisher.OutputStats{Name: name, Target: long('u')[:2048], Stats: publisher.Stats{Degraded: long('r')[:4096]}})
	}
	data, err := json.Marshal(snapshot{st: st}.sessionData(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > maxSessionData {
		t.Errorf("session data is %d bytes, want at most %d", len(data), maxSessionData)
	}
	t.Logf("largest session data: %d bytes", len(data))
}
