package influxdb_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/internal/influxtest"
)

// TestInfluxDBTags: feed messages as OCS v0.12.1 agents publish them reach
// a real influxd with OCS's schema. A block with influxdb_tags (PR #467)
// is written one point per value, to measurement = agent_class, with the
// tags feed, address_root, instance_id and the field's own, and the field
// named by '_field'; a block with "timestamp" and single values (PR #466)
// is written as the one-sample block; influxdb_tags null keeps the older
// schema; a malformed tag set drops its block with a logged problem naming
// agent, feed, block and field. Two agents record the same events, one
// with --protocol line, one with --protocol json (times to the µs).
func TestInfluxDBTags(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	r := startRouter(t)
	const dbLine, dbJSON = "tags_line", "tags_json"
	line := startInflux(t, r, testOptions(srv.URL, dbLine, "record"), "influxline", nil)
	optsJSON := testOptions(srv.URL, dbJSON, "record")
	optsJSON.Protocol = "json"
	jsn := startInflux(t, r, optsJSON, "influxjson", nil)
	line.waitRecording(t)
	jsn.waitRecording(t)

	c, err := r.ConnectLocal(client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	const (
		agent = testRoot + ".cryo1"
		class = "CryoAgent"
		t0    = 1795294463.25
	)
	info := func(feed string) map[string]any {
		return map[string]any{
			"agent_address": agent, "agg_params": map[string]any{}, "feed_name": feed,
			"address": agent + ".feeds." + feed, "record": true, "session_id": "1795294400.5", "agent_class": class,
		}
	}
	// As ocs_feed.Block.encoded() with the FakeDataAgent's tags added.
	temps := map[string]any{"temps": map[string]any{
		"block_name": "temps",
		"data": map[string]any{
			"channel_00": []any{0.25, 0.5},
			"channel_01": []any{1.25, 1.5},
		},
		"influxdb_tags": map[string]any{
			"channel_00": map[string]any{"channel": int64(0), "_field": "temperature"},
			"channel_01": map[string]any{"channel": int64(1), "_field": "temperature"},
		},
		"timestamps": []any{t0, t0 + 1},
	}}
	// Single samples: one tagged, one not (with OCS v0.12.1's null tags).
	pressure := map[string]any{"pressure": map[string]any{
		"block_name":    "pressure",
		"timestamp":     t0 + 2,
		"data":          map[string]any{"p_main": 1e-05},
		"influxdb_tags": map[string]any{"p_main": map[string]any{"gauge": "main", "_field": "pressure"}},
	}}
	status := map[string]any{"status": map[string]any{
		"block_name":    "status",
		"timestamp":     t0 + 3,
		"data":          map[string]any{"mode": "auto", "count": int64(3)},
		"influxdb_tags": nil,
	}}
	// A tag set without '_field': that block is dropped, the other kept.
	bad := map[string]any{
		"bad": map[string]any{"block_name": "bad", "timestamps": []any{t0 + 4}, "data": map[string]any{"x": []any{int64(1)}},
			"influxdb_tags": map[string]any{"x": map[string]any{"k": "v"}}},
		"good": map[string]any{"block_name": "good", "timestamps": []any{t0 + 4}, "data": map[string]any{"y": []any{int64(2)}},
			"influxdb_tags": map[string]any{"y": map[string]any{"k": "w", "_field": "value"}}},
	}
	events := []struct {
		feed string
		msg  map[string]any
	}{{"temps", temps}, {"pressure", pressure}, {"status", status}, {"bad", bad}}

	// Published until both agents have written everything (the points
	// are the same each time): the subscriptions may not be in place yet.
	next := time.Now()
	for _, ia := range []*influxAgent{line, jsn} {
		waitFor(t, 15*time.Second, "tagged points written and problem logged", func() bool {
			if time.Now().After(next) {
				next = time.Now().Add(300 * time.Millisecond)
				for _, e := range events {
					if err := c.Publish(agent+".feeds."+e.feed, nil, wamp.List{wamp.List{e.msg, info(e.feed)}}, nil); err != nil {
						t.Fatal(err)
					}
				}
			}
			return countOf(srv, dbLine, class, "temperature") == 4 && countOf(srv, dbJSON, class, "temperature") == 4 &&
				countOf(srv, dbLine, class, "value") == 1 && countOf(srv, dbJSON, class, "value") == 1 &&
				countOf(srv, dbLine, class, "pressure") == 1 && countOf(srv, dbJSON, class, "pressure") == 1 &&
				countOf(srv, dbLine, agent, "mode") == 1 && countOf(srv, dbJSON, agent, "mode") == 1 &&
				len(ia.logs.lines("feed data dropped", "feed_agent="+agent, "feed=bad", "block=bad", "field=x",
					"dropped=block", "_field")) > 0
		})
	}

	for _, db := range []string{dbLine, dbJSON} {
		var meas []string
		for _, v := range srv.Query(t, db, "SHOW MEASUREMENTS") {
			meas = append(meas, v[0].(string))
		}
		// The stats feeds of the two agents are there too.
		if !slices.Contains(meas, class) || !slices.Contains(meas, agent) {
			t.Errorf("%s: measurements %v, want %s and %s", db, meas, class, agent)
		}
		var tagKeys []string
		for _, v := range srv.Query(t, db, fmt.Sprintf("SHOW TAG KEYS FROM %q", class)) {
			tagKeys = append(tagKeys, v[0].(string))
		}
		if want := []string{"address_root", "channel", "feed", "gauge", "instance_id", "k"}; !slices.Equal(tagKeys, want) {
			t.Errorf("%s: tag keys of %s %v, want %v", db, class, tagKeys, want)
		}
		if got, want := fieldTypes(t, srv, db, class), map[string]string{"temperature": "float", "pressure": "float", "value": "integer"}; !maps.Equal(got, want) {
			t.Errorf("%s: field keys of %s %v, want %v", db, class, got, want)
		}
		// The untagged single sample keeps the older schema.
		if got, want := fieldTypes(t, srv, db, agent), map[string]string{"mode": "string", "count": "integer"}; !maps.Equal(got, want) {
			t.Errorf("%s: field keys of %s %v, want %v", db, agent, got, want)
		}
		var agentTags []string
		for _, v := range srv.Query(t, db, fmt.Sprintf("SHOW TAG KEYS FROM %q", agent)) {
			agentTags = append(agentTags, v[0].(string))
		}
		if !slices.Equal(agentTags, []string{"feed"}) {
			t.Errorf("%s: tag keys of %s %v, want [feed]", db, agent, agentTags)
		}

		// The points, with their tags.
		rows := queryRows(t, srv, db, fmt.Sprintf(
			`SELECT "temperature", "pressure", "value" FROM %q GROUP BY * ORDER BY time`, class))
		var got []string
		for _, row := range rows {
			for _, v := range row.Values {
				got = append(got, fmt.Sprintf("%v %s %v %v %v", tagString(row.Tags), v[0], v[1], v[2], v[3]))
			}
		}
		// Line protocol: int(t*1e9); json: t rounded to the µs (Python's
		// datetime).
		ts := func(dt float64) string {
			ns := int64((t0 + dt) * 1e9)
			if db == dbJSON {
				ns = int64(math.Round((t0+dt)*1e6)) * 1000
			}
			return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
		}
		tagsOf := func(feed, k, v string) string {
			return tagString(map[string]string{"address_root": testRoot, "instance_id": "cryo1", "feed": feed, k: v})
		}
		want := []string{
			tagsOf("bad", "k", "w") + " " + ts(4) + " <nil> <nil> 2",
			tagsOf("pressure", "gauge", "main") + " " + ts(2) + " <nil> 0.00001 <nil>",
			tagsOf("temps", "channel", "0") + " " + ts(0) + " 0.25 <nil> <nil>",
			tagsOf("temps", "channel", "0") + " " + ts(1) + " 0.5 <nil> <nil>",
			tagsOf("temps", "channel", "1") + " " + ts(0) + " 1.25 <nil> <nil>",
			tagsOf("temps", "channel", "1") + " " + ts(1) + " 1.5 <nil> <nil>",
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: points of %s\n got %q\nwant %q", db, class, got, want)
		}
		st := queryRows(t, srv, db, fmt.Sprintf(`SELECT "mode", "count" FROM %q WHERE "feed" = 'status'`, agent))
		if len(st) != 1 || fmt.Sprint(st[0].Values) != fmt.Sprintf("[[%s auto 3]]", ts(3)) {
			t.Errorf("%s: status %v", db, st)
		}
	}
}

// countOf returns SELECT count(field) FROM measurement, 0 on any error.
func countOf(srv *influxtest.Server, db, measurement, field string) int64 {
	rows, err := srv.QueryRowsErr(context.Background(), db, fmt.Sprintf(`SELECT count(%q) FROM %q`, field, measurement))
	if err != nil || len(rows) == 0 || len(rows[0].Values) == 0 {
		return 0
	}
	n, _ := rows[0].Values[0][1].(json.Number).Int64()
	return n
}

// tagString renders tags sorted by key, leaving out empty ones (GROUP BY *
// gives every tag key of the measurement).
func tagString(tags map[string]string) string {
	keys := slices.Sorted(maps.Keys(tags))
	s := ""
	for _, k := range keys {
		if tags[k] != "" {
			s += k + "=" + tags[k] + ";"
		}
	}
	return s
}
