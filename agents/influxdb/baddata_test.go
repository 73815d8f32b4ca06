package influxdb_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/internal/influxtest"
)

// TestBadFeedData: what cannot be written is dropped, counted in the
// session data and logged with agent, feed, block and field names, and
// the rest of the message is written (checklist 47): an event that is not
// a feed event, a null value, and a NaN timestamp.
func TestBadFeedData(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	r := startRouter(t)
	const db = "bad"
	ia := startInflux(t, r, testOptions(srv.URL, db, "record"), "", nil)
	ia.waitRecording(t)

	c, err := r.ConnectLocal(client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	const agent = testRoot + ".bad"
	info := map[string]any{
		"agent_address": agent, "agg_params": map[string]any{}, "feed_name": "nulls",
		"address": agent + ".feeds.nulls", "record": true, "session_id": "1795294463.0", "agent_class": "BadAgent",
	}
	msg := map[string]any{
		"blk": map[string]any{"block_name": "blk", "timestamps": []any{1795294463.5, 1795294464.5, math.NaN()},
			"data": map[string]any{"v": []any{nil, 1.5, 2.5}, "ok": []any{int64(1), int64(2), int64(3)}}},
	}
	// Published until the subscription is surely in place (one of each
	// lands at least once; the points are the same each time).
	next := time.Now()
	waitFor(t, 10*time.Second, "problems logged", func() bool {
		if time.Now().Before(next) {
			return false
		}
		next = time.Now().Add(200 * time.Millisecond)
		if err := c.Publish(agent+".feeds.x", nil, wamp.List{"not", "a pair"}, nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Publish(agent+".feeds.nulls", nil, wamp.List{wamp.List{msg, info}}, nil); err != nil {
			t.Fatal(err)
		}
		return len(ia.logs.lines("feed data dropped", "feed_agent="+agent, "feed=nulls", "block=blk", "field=v")) > 0 &&
			len(ia.logs.lines("feed data dropped", "feed_agent="+agent, "feed=nulls", "block=blk", "dropped=sample")) > 0 &&
			len(ia.logs.lines("cannot decode", "topic="+agent+".feeds.x")) > 0
	})
	ia.waitSession(t, "problems counted", 5*time.Second, func(s map[string]any) bool {
		d, _ := s["data"].(map[string]any)
		ev, _ := asInt(d["events_dropped"])
		rej, _ := asInt(d["points_rejected"])
		by, _ := d["rejected_by_reason"].(map[string]any)
		dec, _ := asInt(by["dropped by decoder"])
		return ev >= 1 && rej >= 1 && dec >= 1
	})
	// Both good samples are written, v only where it was not null.
	q := fmt.Sprintf(`SELECT "ok", "v" FROM %q WHERE "feed" = 'nulls' ORDER BY time`, agent)
	var rows [][]any
	waitFor(t, 5*time.Second, "good samples written", func() bool {
		rs, err := srv.QueryRowsErr(t.Context(), db, q)
		if err != nil || len(rs) != 1 {
			return false
		}
		rows = rs[0].Values
		return len(rows) == 2
	})
	if got := fmt.Sprint(rows[0][1:], rows[1][1:]); got != "[1 <nil>] [2 1.5]" {
		t.Errorf("written %s, want [1 <nil>] [2 1.5]", got)
	}
}
