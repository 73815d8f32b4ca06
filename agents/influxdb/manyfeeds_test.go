package influxdb_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/internal/influxtest"
)

// TestManyFeeds: 150 000 distinct agent/feed pairs published through the
// router leave record's session data far below the router's 16 MiB
// message limit (README: under 1 MiB), the status reply is answered
// without the agent losing its session, and every point is written. (Before,
// every pair kept an entry: at 150 000 the reply exceeded the router's
// limit, the router closed the agent's connection and events were lost.)
func TestManyFeeds(t *testing.T) {
	if testing.Short() {
		t.Skip("needs influxd")
	}
	srv := influxtest.Start(t)
	r := startRouter(t)
	const db, n = "manyfeeds", 150000
	ia := startInflux(t, r, testOptions(srv.URL, db, "record"), "", nil)
	ia.waitRecording(t)

	c, err := r.ConnectLocal(client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// 150 agents of 1000 feeds each (InfluxDB 1.x refuses more than
	// 100 000 values of one tag per measurement: max-values-per-tag).
	received := func() int64 {
		d, _ := ia.ops(t, "status", nil, nil).Session["data"].(map[string]any)
		v, _ := asInt(d["points_received"])
		return v
	}
	for i := range n {
		agent, feed := fmt.Sprintf("%s.flood%d", testRoot, i/1000), fmt.Sprintf("f%d", i%1000)
		info := map[string]any{
			"agent_address": agent, "agg_params": map[string]any{}, "feed_name": feed,
			"address": agent + ".feeds." + feed, "record": true, "session_id": "1795294463.0", "agent_class": "FloodAgent",
		}
		msg := map[string]any{"b": map[string]any{"block_name": "b", "timestamps": []any{1.8e9 + float64(i)},
			"data": map[string]any{"x": []any{int64(i)}}}}
		if err := c.Publish(agent+".feeds."+feed, nil, wamp.List{wamp.List{msg, info}}, nil); err != nil {
			t.Fatal(err)
		}
		if i%5000 == 4999 { // paced like a site, not faster than the router delivers
			waitFor(t, 60*time.Second, "the agent to receive the published points", func() bool {
				return received() >= int64(i+1)
			})
		}
	}
	rep := ia.ops(t, "status", nil, nil)
	data, err := json.Marshal(rep.Session)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 1<<20 {
		t.Errorf("status reply session is %d bytes, want at most 1 MiB", len(data))
	}
	d, _ := rep.Session["data"].(map[string]any)
	feeds, _ := d["feeds"].(map[string]any)
	entries := 0
	for _, f := range feeds {
		m, _ := f.(map[string]any)
		entries += len(m)
	}
	if entries > 1000 {
		t.Errorf("%d feeds in the session data, want at most --max-feeds (1000)", entries)
	}
	waitCountAll(t, srv, db, testRoot+".flood", n)
	if lost := ia.logs.lines("lost the WAMP session"); len(lost) > 0 {
		t.Errorf("the agent lost its session: %q", lost)
	}
	t.Logf("session of status record: %d bytes", len(data))
}

// waitCountAll waits until the measurements named prefix* hold n points
// of field x in all.
func waitCountAll(t *testing.T, srv *influxtest.Server, db, prefix string, n int64) {
	t.Helper()
	var sum int64
	waitFor(t, 60*time.Second, fmt.Sprintf("%d points in %s*", n, prefix), func() bool {
		sum = 0
		for _, row := range queryRows(t, srv, db, fmt.Sprintf(`SELECT count("x") FROM /^%s/`, regexp.QuoteMeta(prefix))) {
			for _, v := range row.Values {
				c, _ := asInt(v[1])
				sum += c
			}
		}
		return sum == n
	})
}
